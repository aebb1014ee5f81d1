"""The processor under at-least-once delivery: duplicates, disorder, failures, anchors."""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime
from typing import Any

import boto3
import psycopg

from hksync_tools.local.functions import FakeLambdaContext
from tests.conftest import TEST_BUCKET
from tests.support.builders import HEART_RATE, chunk, commit, heart_rate, heart_rates
from tests.support.pipeline import Pipeline

SampleRow = tuple[Any, ...]


def _rows(db: psycopg.Connection) -> list[SampleRow]:
    return db.execute(
        """SELECT user_id, uuid, sample_type, start_at, value, unit, time_zone, metadata,
                  deleted_at IS NOT NULL
           FROM health_samples ORDER BY user_id, uuid"""
    ).fetchall()


def _physical_versions(db: psycopg.Connection) -> list[tuple[Any, ...]]:
    """xmin changes whenever PostgreSQL rewrites a row: equal lists mean nothing was written."""
    return db.execute(
        "SELECT uuid, xmin::text, updated_at FROM health_samples ORDER BY uuid"
    ).fetchall()


def _sync(db: psycopg.Connection, user: str, sync_id: uuid.UUID) -> dict[str, Any]:
    row = db.execute(
        """SELECT state, chunk_count, chunks_processed, chunks_failed, samples_received,
                  samples_inserted, samples_updated, samples_unchanged, samples_deleted
           FROM sync_sessions WHERE user_id = %s AND sync_id = %s""",
        (user, sync_id),
    ).fetchone()
    assert row is not None
    names = (
        "state",
        "chunk_count",
        "processed",
        "failed",
        "received",
        "inserted",
        "updated",
        "unchanged",
        "deleted",
    )
    return dict(zip(names, row, strict=True))


def _anchors(db: psycopg.Connection, user: str) -> dict[str, tuple[str, uuid.UUID]]:
    rows = db.execute(
        "SELECT sample_type, anchor, sync_id FROM sync_anchors WHERE user_id = %s", (user,)
    ).fetchall()
    return {sample_type: (anchor, sync_id) for sample_type, anchor, sync_id in rows}


def _three_chunk_sync(sync_id: uuid.UUID) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    samples = heart_rates(30)
    chunks = [chunk(sync_id, seq, samples[seq * 10 : (seq + 1) * 10]) for seq in range(3)]
    return chunks, commit(3, "anchor-after-first-sync")


def _upload(
    pipeline: Pipeline, user: str, chunks: list[dict[str, Any]], sync_commit: dict[str, Any]
) -> None:
    for body in chunks:
        assert pipeline.put_chunk(user, body).status == 202
    assert pipeline.commit(user, chunks[0]["sync_id"], sync_commit).status == 202


def test_a_sync_is_stored_and_its_anchor_advanced(
    pipeline: Pipeline, db: psycopg.Connection
) -> None:
    sync_id = uuid.uuid4()
    chunks, sync_commit = _three_chunk_sync(sync_id)
    _upload(pipeline, "alice", chunks, sync_commit)

    pipeline.drain()

    assert len(_rows(db)) == 30
    assert _sync(db, "alice", sync_id) == {
        "state": "complete",
        "chunk_count": 3,
        "processed": 3,
        "failed": 0,
        "received": 30,
        "inserted": 30,
        "updated": 0,
        "unchanged": 0,
        "deleted": 0,
    }
    assert _anchors(db, "alice") == {HEART_RATE: ("anchor-after-first-sync", sync_id)}


def test_every_event_delivered_twice_changes_nothing_the_second_time(
    pipeline: Pipeline, db: psycopg.Connection
) -> None:
    sync_id = uuid.uuid4()
    chunks, sync_commit = _three_chunk_sync(sync_id)
    _upload(pipeline, "alice", chunks, sync_commit)
    objects = pipeline.pending()
    pipeline.deliver(objects)
    rows, versions, sync = _rows(db), _physical_versions(db), _sync(db, "alice", sync_id)

    second = pipeline.deliver(objects)

    assert {result["outcome"] for result in second} == {"duplicate", "committed"}
    assert _rows(db) == rows
    assert _physical_versions(db) == versions
    assert _sync(db, "alice", sync_id) == sync


def _final_state(db: psycopg.Connection) -> tuple[Any, ...]:
    return (
        _rows(db),
        db.execute(
            """SELECT sync_id, state, chunks_processed, chunks_failed, samples_received,
                      samples_inserted, samples_deleted FROM sync_sessions ORDER BY sync_id"""
        ).fetchall(),
        db.execute(
            "SELECT user_id, sample_type, anchor, sync_id FROM sync_anchors ORDER BY 1, 2"
        ).fetchall(),
    )


def _scenario_with_deletions(pipeline: Pipeline) -> None:
    """Sync 1 stores 20 samples; sync 2 deletes 3 of them and adds 5 more."""
    first, second = uuid.uuid4(), uuid.uuid4()
    samples = heart_rates(20)
    _upload(
        pipeline,
        "alice",
        [chunk(first, 0, samples[:10]), chunk(first, 1, samples[10:])],
        commit(2, "a1"),
    )
    gone = [samples[index]["uuid"] for index in (0, 7, 15)]
    later = heart_rates(5, start=datetime(2026, 11, 21, tzinfo=UTC))
    _upload(
        pipeline,
        "alice",
        [chunk(second, 0, later, anchor="a1"), chunk(second, 1, deleted=gone, anchor="a1")],
        commit(2, "a2"),
    )


def test_order_of_delivery_does_not_matter(pipeline: Pipeline, db: psycopg.Connection) -> None:
    _scenario_with_deletions(pipeline)
    objects = pipeline.pending()
    pipeline.deliver(objects)
    in_order = _final_state(db)

    for scenario in ("reverse", "commits-first", "shuffled-with-duplicates"):
        db.execute("TRUNCATE health_samples, sync_chunks, sync_anchors, sync_sessions CASCADE")
        if scenario == "reverse":
            deliveries = list(reversed(objects))
        elif scenario == "commits-first":
            deliveries = sorted(objects, key=lambda obj: not obj.key.endswith("commit.json"))
        else:
            rng = random.Random(7)
            deliveries = objects + [obj for obj in objects if rng.random() < 0.5]
            rng.shuffle(deliveries)
        pipeline.deliver(deliveries)
        # Counter columns depend on order only through "inserted vs tombstoned first": the
        # rows and the anchors never do.
        assert _final_state(db)[0] == in_order[0], scenario
        assert _final_state(db)[2] == in_order[2], scenario
        states = {row[1] for row in _final_state(db)[1]}
        assert states == {"complete"}, scenario


def test_a_deletion_before_its_insert_still_wins(
    pipeline: Pipeline, db: psycopg.Connection
) -> None:
    sample = heart_rate()
    first, second = uuid.uuid4(), uuid.uuid4()
    _upload(pipeline, "alice", [chunk(first, 0, [sample])], commit(1, "a1"))
    _upload(pipeline, "alice", [chunk(second, 0, deleted=[sample["uuid"]])], commit(1, "a2"))
    insert, insert_commit, delete, delete_commit = sorted(
        pipeline.pending(), key=lambda obj: obj.key
    )
    by_sync = {str(first): [], str(second): []}  # type: dict[str, list[Any]]
    for obj in (insert, insert_commit, delete, delete_commit):
        by_sync[obj.key.split("/")[2]].append(obj)

    pipeline.deliver(by_sync[str(second)])  # the deletion arrives first
    pipeline.deliver(by_sync[str(first)])  # then the (replayed, late) insert

    rows = db.execute("SELECT deleted_at IS NOT NULL, value FROM health_samples").fetchall()
    assert rows == [(True, None)]


def test_a_bad_chunk_fails_with_its_reason_and_the_rest_is_stored(
    pipeline: Pipeline, db: psycopg.Connection
) -> None:
    sync_id = uuid.uuid4()
    good = chunk(sync_id, 0, heart_rates(5))
    assert pipeline.put_chunk("alice", good).status == 202
    # A presigned upload bypasses the API's envelope check: the processor must catch it. (A bad
    # sample only rejects itself: tests/integration/test_every_kind.py.)
    bad_envelope = {**chunk(sync_id, 1, heart_rates(1)), "deletions": []}
    boto3.client("s3").put_object(
        Bucket=TEST_BUCKET,
        Key=f"raw/alice/{sync_id}/chunks/000001.json",
        Body=json.dumps(bad_envelope).encode(),
    )
    assert pipeline.commit("alice", sync_id, commit(2)).status == 202

    pipeline.drain()

    assert len(_rows(db)) == 5
    assert _sync(db, "alice", sync_id)["state"] == "failed"
    assert _anchors(db, "alice") == {}
    status = pipeline.status("alice", sync_id).body
    assert status["state"] == "failed"
    assert status["chunks_processed"] == 1
    assert status["chunks_failed"] == 1
    assert status["failed_chunks"][0]["seq"] == 1
    assert "deletions" in status["failed_chunks"][0]["reason"]
    assert "unknown field" in status["failed_chunks"][0]["reason"]


def test_status_tells_all_unchanged_apart_from_failed(
    pipeline: Pipeline, db: psycopg.Connection
) -> None:
    samples = heart_rates(10)
    first, again = uuid.uuid4(), uuid.uuid4()
    _upload(pipeline, "alice", [chunk(first, 0, samples)], commit(1, "a1"))
    pipeline.drain()
    versions = _physical_versions(db)

    _upload(pipeline, "alice", [chunk(again, 0, samples)], commit(1, "a2"))
    pipeline.drain()

    status = pipeline.status("alice", again).body
    assert status["state"] == "complete"
    assert status["samples"] == {
        "received": 10,
        "inserted": 0,
        "updated": 0,
        "unchanged": 10,
        "deleted": 0,
        "reconciled": 0,
        "rejected": 0,
    }
    assert status["failed_chunks"] == []
    assert _physical_versions(db) == versions  # zero rows rewritten


def test_a_changed_sample_is_updated(pipeline: Pipeline, db: psycopg.Connection) -> None:
    sample = heart_rate(bpm=70)
    first, second = uuid.uuid4(), uuid.uuid4()
    _upload(pipeline, "alice", [chunk(first, 0, [sample, heart_rate()])], commit(1, "a1"))
    pipeline.drain()

    _upload(pipeline, "alice", [chunk(second, 0, [{**sample, "value": 71}])], commit(1, "a2"))
    pipeline.drain()

    assert _sync(db, "alice", second)["updated"] == 1
    assert db.execute(
        "SELECT value FROM health_samples WHERE uuid = %s", (sample["uuid"],)
    ).fetchone() == (71.0,)


def test_an_older_sync_finishing_late_never_moves_the_anchor_back(
    pipeline: Pipeline, db: psycopg.Connection
) -> None:
    older, newer = uuid.uuid4(), uuid.uuid4()
    _upload(pipeline, "alice", [chunk(older, 0, heart_rates(3))], commit(1, "old-anchor"))
    older_objects = pipeline.pending()
    _upload(
        pipeline,
        "alice",
        [chunk(newer, 0, heart_rates(3, start=datetime(2026, 11, 22, tzinfo=UTC)))],
        commit(1, "new-anchor"),
    )
    newer_objects = pipeline.pending()

    pipeline.deliver(newer_objects)
    pipeline.deliver(older_objects)

    assert _sync(db, "alice", older)["state"] == "complete"
    assert _anchors(db, "alice") == {HEART_RATE: ("new-anchor", newer)}


def test_the_anchor_waits_for_every_chunk(pipeline: Pipeline, db: psycopg.Connection) -> None:
    sync_id = uuid.uuid4()
    chunks, sync_commit = _three_chunk_sync(sync_id)
    _upload(pipeline, "alice", chunks, sync_commit)
    objects = sorted(pipeline.pending(), key=lambda obj: obj.key)
    commit_object = next(obj for obj in objects if obj.key.endswith("commit.json"))
    chunk_objects = [obj for obj in objects if obj is not commit_object]

    pipeline.deliver([commit_object, *chunk_objects[:2]])
    assert _sync(db, "alice", sync_id)["state"] == "committed"
    assert _anchors(db, "alice") == {}

    pipeline.deliver(chunk_objects[2:])
    assert _anchors(db, "alice") == {HEART_RATE: ("anchor-after-first-sync", sync_id)}


def test_users_are_isolated(pipeline: Pipeline, db: psycopg.Connection) -> None:
    sync_id = uuid.uuid4()
    alice_samples = heart_rates(4)
    _upload(pipeline, "alice", [chunk(sync_id, 0, alice_samples)], commit(1, "alice-anchor"))
    pipeline.drain()

    # Bob uses Alice's sync id and seq, and even her sample UUIDs: it lands in his own space.
    bob_upload = pipeline.put_chunk("bob", chunk(sync_id, 0, [{**alice_samples[0], "value": 180}]))
    bob_status = pipeline.status("bob", sync_id)
    bob_anchors = pipeline.anchors("bob")
    pipeline.drain()

    assert bob_upload.status == 202
    assert bob_upload.body["created"] is True
    assert bob_status.status == 200
    assert bob_status.body["state"] == "uploading"
    assert bob_status.body["chunks_uploaded"] == 1
    assert bob_anchors.body == {"anchors": []}
    alice_values = db.execute(
        "SELECT value FROM health_samples WHERE user_id = 'alice' ORDER BY uuid"
    ).fetchall()
    assert sorted(value for (value,) in alice_values) == sorted(s["value"] for s in alice_samples)
    assert pipeline.status("carol", sync_id).status == 404
    assert _anchors(db, "alice") == {HEART_RATE: ("alice-anchor", sync_id)}


def test_a_missing_object_is_skipped(pipeline: Pipeline, db: psycopg.Connection) -> None:
    sync_id = uuid.uuid4()
    assert pipeline.put_chunk("alice", chunk(sync_id, 0, heart_rates(2))).status == 202
    objects = pipeline.pending()
    boto3.client("s3").delete_object(Bucket=TEST_BUCKET, Key=objects[0].key)

    assert pipeline.deliver(objects) == [
        {"key": objects[0].key, "outcome": "missing", "sync_state": None}
    ]
    assert _rows(db) == []


def test_unrelated_keys_and_test_events_are_ignored(
    pipeline: Pipeline, db: psycopg.Connection
) -> None:
    test_event = {
        "Service": "Amazon S3",
        "Event": "s3:TestEvent",
        "Time": datetime.now(UTC).isoformat(),
        "Bucket": "x",
    }

    assert pipeline.processor(test_event, FakeLambdaContext("processor")) == {"results": []}
    assert _rows(db) == []


def test_a_refused_chunk_fails_its_sync_at_once_before_the_commit(
    pipeline: Pipeline, db: psycopg.Connection
) -> None:
    """Issue 16: a sync with a refused chunk waited (receiving, then committed) although it
    can never complete: the chunk is immutable. It is failed as soon as the chunk is refused."""
    sync_id = uuid.uuid4()
    bad_envelope = {**chunk(sync_id, 0, heart_rates(1)), "deletions": []}
    boto3.client("s3").put_object(  # a presigned upload: no API validation
        Bucket=TEST_BUCKET,
        Key=f"raw/alice/{sync_id}/chunks/000000.json",
        Body=json.dumps(bad_envelope).encode(),
    )

    pipeline.drain()

    status = pipeline.status("alice", sync_id).body
    assert (status["state"], status["chunk_count"]) == ("failed", None)
    assert [failed["seq"] for failed in status["failed_chunks"]] == [0]


def test_a_committed_sync_with_a_chunk_never_uploaded_says_incomplete_until_it_is(
    pipeline: Pipeline, db: psycopg.Connection
) -> None:
    """Issue 16: a chunk refused at upload (422) left its committed sync waiting for ever,
    with nothing to tell the app. The status names the missing chunk at once."""
    sync_id = uuid.uuid4()
    assert pipeline.put_chunk("alice", chunk(sync_id, 0, heart_rates(3))).status == 202
    refused = {**chunk(sync_id, 1, heart_rates(1)), "deletions": []}
    assert pipeline.put_chunk("alice", refused).status == 422
    assert pipeline.put_chunk("alice", chunk(sync_id, 2, heart_rates(3))).status == 202
    assert pipeline.commit("alice", sync_id, commit(3)).status == 202
    pipeline.drain()

    waiting = pipeline.status("alice", sync_id).body
    assert pipeline.put_chunk("alice", chunk(sync_id, 1, [heart_rate()])).status == 202
    pipeline.drain()
    done = pipeline.status("alice", sync_id).body

    assert (waiting["state"], waiting["missing_chunks"]) == ("incomplete", [1])
    assert (done["state"], done["missing_chunks"]) == ("complete", [])
