"""`hksync ops` over real state: syncs made through the handlers, the processor's dead-letter
queue in moto SQS, and the raw bucket replayed into an emptied database."""

from __future__ import annotations

import io
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import psycopg
import pytest
from psycopg import sql

from hksync.contract.erasure import ErasureRequested
from hksync.keys import ChunkKey, CommitKey, user_prefix
from hksync.processing import Outcome
from hksync_tools.cli import main
from hksync_tools.local.functions import FakeLambdaContext, load_handler
from hksync_tools.local.queues import QueueEventSource, QueuePoller
from hksync_tools.local.workers import Invocation
from hksync_tools.ops import dead_letters
from hksync_tools.ops.inspection import Inspection
from hksync_tools.ops.replay import raw_objects, replay_dead_letters, reprocess
from hksync_tools.ops.resources import OpsResources
from hksync_tools.ops.target import OpsTarget
from hksync_tools.ops.times import parse_time
from tests.conftest import TABLES_TO_RESET, TEST_BUCKET
from tests.support.builders import chunk, commit, heart_rates
from tests.support.pipeline import FUNCTIONS, Pipeline

# Columns that say when the server did something, not what it stored: a replay does the same
# work later. For tombstones and completion, *whether* it happened is compared instead.
_PROCESSING_TIMES = {"created_at", "updated_at", "processed_at", "rejected_at", "computed_at"}
#: How many times a day's summary was marked stale depends on how deliveries were grouped, not
#: on what is stored.
_WRITE_COUNTERS = {"version", "computed_version"}
_COMPARED_AS_SET = {"deleted_at", "completed_at"}


@pytest.fixture
def dead_letter_queue(pipeline: Pipeline) -> str:
    return boto3.client("sqs").create_queue(QueueName="hksync-processor-dlq-test")["QueueUrl"]


@pytest.fixture
def resources(
    pipeline: Pipeline, database_url: str, dead_letter_queue: str
) -> Iterator[OpsResources]:
    with OpsResources(OpsTarget(database_url, TEST_BUCKET, dead_letter_queue)) as opened:
        yield opened


@pytest.fixture
def inspection(resources: OpsResources) -> Inspection:
    return Inspection(resources)


def _snapshot(db: psycopg.Connection, user: str | None = None) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (of one user, or all), every column but processing times."""
    snapshot = {}
    for table in TABLES_TO_RESET:
        columns = [
            name
            for (name,) in db.execute(
                """SELECT column_name FROM information_schema.columns
                   WHERE table_name = %s ORDER BY ordinal_position""",
                (table,),
            ).fetchall()
            if name not in _PROCESSING_TIMES | _WRITE_COUNTERS
        ]
        selected = [
            sql.SQL("{} IS NOT NULL").format(sql.Identifier(name))
            if name in _COMPARED_AS_SET
            else sql.Identifier(name)
            for name in columns
        ]
        statement = sql.SQL("SELECT {} FROM {} WHERE %(user)s::text IS NULL OR user_id = %(user)s")
        rows = db.execute(
            statement.format(sql.SQL(", ").join(selected), sql.Identifier(table)),
            {"user": user},
        ).fetchall()
        snapshot[table] = sorted(rows, key=repr)
    return snapshot


def _physical_versions(db: psycopg.Connection) -> dict[str, list[tuple[Any, ...]]]:
    """xmin changes whenever PostgreSQL rewrites a row: equal lists mean nothing was written."""
    return {
        table: db.execute(
            sql.SQL("SELECT ctid::text, xmin::text FROM {} ORDER BY 1").format(
                sql.Identifier(table)
            )
        ).fetchall()
        for table in ("health_samples", "sync_chunks", "sync_anchors")
    }


def _truncate(db: psycopg.Connection) -> None:
    # What reprocessing the raw bucket restores (reminders and erasures are not in it).
    db.execute(
        "TRUNCATE health_samples, sources, daily_summaries, sync_chunks, sync_anchors, "
        "sync_sessions CASCADE"
    )


def _put_raw(key: object, body: bytes) -> None:
    """Writes straight to the bucket, as a presigned upload does (no validation at the edge)."""
    boto3.client("s3").put_object(Bucket=TEST_BUCKET, Key=str(key), Body=body)


def _next_second() -> None:
    # S3's LastModified has one-second resolution; syncs made in different seconds (as real
    # syncs, hours apart, are) are replayed in the order they were made.
    time.sleep(1.02 - time.time() % 1)


def _history(pipeline: Pipeline) -> dict[str, uuid.UUID]:
    """Alice: a backfill; an incremental sync that deletes three samples, re-sends one
    unchanged and adds five; a sync with a chunk the processor rejects. Bob: one sync."""
    syncs = {name: uuid.uuid4() for name in ("backfill", "incremental", "broken", "bob")}
    samples = heart_rates(20)
    for body in (
        chunk(syncs["backfill"], 0, samples[:10]),
        chunk(syncs["backfill"], 1, samples[10:]),
    ):
        assert pipeline.put_chunk("alice", body).status == 202
    assert pipeline.commit("alice", syncs["backfill"], commit(2, "a1")).status == 202
    pipeline.drain()
    _next_second()

    later = heart_rates(5, start=datetime(2026, 11, 21, tzinfo=UTC))
    gone = [samples[index]["uuid"] for index in (0, 7, 15)]
    incremental = syncs["incremental"]
    assert pipeline.put_chunk("alice", chunk(incremental, 0, [*later, samples[19]])).status == 202
    assert pipeline.put_chunk("alice", chunk(incremental, 1, deleted=gone)).status == 202
    assert pipeline.commit("alice", incremental, commit(2, "a2")).status == 202
    pipeline.drain()
    _next_second()

    _put_raw(ChunkKey("alice", syncs["broken"], 0), b'{"samples": "not a list"}')
    assert pipeline.commit("alice", syncs["broken"], commit(1, "a3")).status == 202
    bob = heart_rates(4, start=datetime(2026, 11, 22, tzinfo=UTC))
    assert pipeline.put_chunk("bob", chunk(syncs["bob"], 0, bob)).status == 202
    assert pipeline.commit("bob", syncs["bob"], commit(1, "b1")).status == 202
    pipeline.drain()
    return syncs


# --- the dead-letter queue --------------------------------------------------------------------


def _lambda_failure(event: dict[str, Any]) -> str:
    """A Lambda on-failure destination record, as Lambda sends it after the last retry."""
    return json.dumps(
        {
            "version": "1.0",
            "timestamp": "2026-11-26T01:00:00.000Z",
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:processor:$LATEST",
                "condition": "RetriesExhausted",
                "approximateInvokeCount": 3,
            },
            "requestPayload": event,
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "responsePayload": {
                "errorMessage": "connection timeout expired",
                "errorType": "OperationalError",
            },
        }
    )


def test_a_dead_lettered_event_replays_into_a_stored_chunk(
    pipeline: Pipeline, resources: OpsResources, dead_letter_queue: str, db: psycopg.Connection
) -> None:
    sync_id = uuid.uuid4()
    assert pipeline.put_chunk("alice", chunk(sync_id, 0, heart_rates(10))).status == 202
    assert pipeline.put_chunk("alice", chunk(sync_id, 1, heart_rates(5))).status == 202
    # The events S3 sent for them failed for good (say, the database was unreachable): in
    # direct mode Lambda's on-failure destination wraps the event; in queue mode the S3
    # notification itself is redriven.
    direct, queued = sorted(pipeline.pending(), key=lambda obj: obj.key)
    sqs = boto3.client("sqs")
    sqs.send_message(
        QueueUrl=dead_letter_queue, MessageBody=_lambda_failure(direct.event(TEST_BUCKET))
    )
    sqs.send_message(QueueUrl=dead_letter_queue, MessageBody=json.dumps(queued.event(TEST_BUCKET)))

    listed = dead_letters.show(resources)
    report = replay_dead_letters(resources)

    letters = {tuple(letter.keys): letter for letter in listed.messages}
    assert letters.keys() == {(direct.key,), (queued.key,)}
    wrapped = letters[(direct.key,)]
    assert (wrapped.condition, wrapped.invoke_count, wrapped.error_type, wrapped.problem) == (
        "RetriesExhausted",
        3,
        "OperationalError",
        None,
    )
    assert letters[(queued.key,)].problem is None
    # Listing gave the messages back at once: the replay found both.
    assert sorted((m.keys, m.outcomes, m.deleted, m.error) for m in report.messages) == [
        ([direct.key], [Outcome.STORED], True, None),
        ([queued.key], [Outcome.STORED], True, None),
    ]
    ledger = db.execute(
        "SELECT seq, state, samples_inserted FROM sync_chunks WHERE user_id = 'alice' ORDER BY seq"
    ).fetchall()
    assert ledger == [(0, "processed", 10), (1, "processed", 5)]
    assert db.execute("SELECT count(*) FROM health_samples").fetchone() == (15,)
    assert "Messages" not in sqs.receive_message(QueueUrl=dead_letter_queue)
    assert dead_letters.show(resources).messages == []


def test_a_message_that_still_fails_stays_in_the_queue(
    pipeline: Pipeline, resources: OpsResources, dead_letter_queue: str, db: psycopg.Connection
) -> None:
    sync_id = uuid.uuid4()
    # A commit the ingest function would never write: the processor raises on it every time.
    _put_raw(CommitKey("alice", sync_id), b'{"chunk_count": "many"}')
    [created] = pipeline.pending()
    sqs = boto3.client("sqs")
    sqs.send_message(
        QueueUrl=dead_letter_queue, MessageBody=_lambda_failure(created.event(TEST_BUCKET))
    )
    sqs.send_message(QueueUrl=dead_letter_queue, MessageBody='{"hello": "world"}')

    report = replay_dead_letters(resources)

    assert report.deleted == 0
    errors = {
        message.keys[0] if message.keys else None: message.error for message in report.messages
    }
    assert (errors[created.key] or "").startswith(f"{created.key}: ValidationError")
    assert errors[None] == "neither a Lambda on-failure record nor an S3 event notification"
    # Both are visible again at once, for the next look or replay.
    assert len(dead_letters.show(resources).messages) == 2
    assert db.execute("SELECT count(*) FROM sync_sessions").fetchone() == (0,)


def _garbage(queue_url: str, body: str = '{"hello": "world"}') -> None:
    boto3.client("sqs").send_message(QueueUrl=queue_url, MessageBody=body)


def test_a_purge_deletes_exactly_what_it_listed_and_only_once_confirmed(
    pipeline: Pipeline, resources: OpsResources, dead_letter_queue: str
) -> None:
    sync_id = uuid.uuid4()
    assert pipeline.put_chunk("alice", chunk(sync_id, 0, heart_rates(3))).status == 202
    [created] = pipeline.pending()
    _garbage(dead_letter_queue, _lambda_failure(created.event(TEST_BUCKET)))
    _garbage(dead_letter_queue)
    _garbage(dead_letter_queue, "not json")
    shown: list[list[dead_letters.Letter]] = []

    def decline(letters: list[dead_letters.Letter]) -> bool:
        shown.append(letters)
        return False

    declined = dead_letters.purge(resources, confirm=decline)
    unreplayable = dead_letters.purge(
        resources, unreplayable_only=True, confirm=lambda letters: shown.append(letters) or True
    )
    after_unreplayable = dead_letters.show(resources).messages

    def confirm_while_a_message_arrives(letters: list[dead_letters.Letter]) -> bool:
        _garbage(dead_letter_queue, "arrived after the listing")
        return True

    everything = dead_letters.purge(resources, confirm=confirm_while_a_message_arrives)
    left = dead_letters.show(resources).messages

    # Declined: shown everything, deleted nothing, and everything is visible again at once.
    assert (declined.confirmed, declined.deleted, len(declined.messages)) == (False, 0, 3)
    assert shown[0] == declined.messages
    # Unreplayable only: the two messages that are no S3 event went, the event stayed.
    assert sorted(letter.problem or "" for letter in unreplayable.messages) == [
        "neither a Lambda on-failure record nor an S3 event notification",
        "the body is not JSON",
    ]
    assert (unreplayable.confirmed, unreplayable.deleted) == (True, 2)
    assert [letter.keys for letter in after_unreplayable] == [[created.key]]  # type: ignore[union-attr]
    # Everything: what it listed, not what arrived while the operator read the list.
    assert [letter.message_id for letter in everything.messages] == [
        after_unreplayable[0].message_id
    ]
    assert everything.deleted == 1
    assert [letter.problem for letter in left] == ["the body is not JSON"]
    assert dead_letters.purge(resources, confirm=lambda _: True).deleted == 1
    assert dead_letters.purge(resources, confirm=decline).messages == []


# --- the erasure dead-letter queue ---------------------------------------------------------------


@dataclass
class ErasureQueues:
    """The account function over an erasure queue that dead-letters after one failed receive
    (the template allows five)."""

    queue_url: str
    dead_letter_queue_url: str
    account: Any
    worker: QueuePoller

    def request(self, pipeline: Pipeline, user: str) -> uuid.UUID:
        answer = pipeline.call(self.account, "DELETE", "/v1/me", {}, user=user)
        assert answer.status == 202
        return uuid.UUID(answer.body["erasure_id"])

    def fail_queued_erasures(self) -> None:
        """Every queued erasure fails once (its worker gave up) and moves to the DLQ."""
        sqs = boto3.client("sqs")
        sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0)
        assert "Messages" not in sqs.receive_message(QueueUrl=self.queue_url)

    def run_worker(self) -> None:
        while self.worker.poll_once():
            pass


@pytest.fixture
def erasure_queues(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> ErasureQueues:
    from hksync.settings import settings_for

    sqs = boto3.client("sqs")
    dead_letter_url = sqs.create_queue(QueueName="hksync-erasure-dlq-ops-test")["QueueUrl"]
    dead_letter_arn = sqs.get_queue_attributes(
        QueueUrl=dead_letter_url, AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    redrive = {"deadLetterTargetArn": dead_letter_arn, "maxReceiveCount": "1"}
    queue_url = sqs.create_queue(
        QueueName="hksync-erasure-ops-test", Attributes={"RedrivePolicy": json.dumps(redrive)}
    )["QueueUrl"]
    boto3.client("scheduler").create_schedule_group(Name="hksync-reminders-ops-test")
    for name, value in {
        "ERASURE_QUEUE_URL": queue_url,
        "REMINDER_SCHEDULE_GROUP": "hksync-reminders-ops-test",
    }.items():
        monkeypatch.setenv(name, value)
    settings_for.cache_clear()
    account = load_handler(FUNCTIONS / "account", "app.handler")
    worker = QueuePoller(
        sqs,
        QueueEventSource("AccountFunction", "ErasureQueue", 1, None, 0),
        {"ErasureQueue": queue_url, "ErasureQueue.Arn": "unused", "AWS::Region": "us-east-1"},
        lambda event: Invocation(result=account(event, FakeLambdaContext("account"))),
    )
    return ErasureQueues(queue_url, dead_letter_url, account, worker)


def test_dead_lettered_erasures_are_shown_replayed_to_the_worker_and_purged(
    pipeline: Pipeline, erasure_queues: ErasureQueues, database_url: str, db: psycopg.Connection
) -> None:
    queues = erasure_queues
    assert pipeline.put_chunk("alice", chunk(uuid.uuid4(), 0, heart_rates(4))).status == 202
    pipeline.drain()
    alice = queues.request(pipeline, "alice")
    queues.fail_queued_erasures()
    bob = queues.request(pipeline, "bob")
    queues.run_worker()  # bob's erasure completes; a stale copy of its request comes later
    for body in (ErasureRequested(erasure_id=bob).model_dump_json(), "{}"):
        _garbage(queues.dead_letter_queue_url, body)
    unknown = uuid.uuid4()
    _garbage(queues.dead_letter_queue_url, ErasureRequested(erasure_id=unknown).model_dump_json())
    target = OpsTarget(database_url, erasure_dead_letter_queue_url=queues.dead_letter_queue_url)

    with OpsResources(target) as resources:
        listed = dead_letters.show(resources, "erasure")
        replayed = replay_dead_letters(resources, "erasure")
        queues.run_worker()
        purged = dead_letters.purge(
            resources, "erasure", unreplayable_only=True, confirm=lambda _: True
        )
        left = dead_letters.show(resources, "erasure").messages

    letters = {letter.erasure_id: letter for letter in listed.messages}  # type: ignore[union-attr]
    assert letters.keys() == {alice, bob, unknown, None}
    assert (letters[alice].user_id, letters[alice].state, letters[alice].problem) == (
        "alice",
        "pending",
        None,
    )
    assert (letters[bob].user_id, letters[bob].state) == ("bob", "complete")
    assert letters[unknown].problem == "no such erasure in this database"
    assert (letters[None].problem or "").startswith("not an erasure request")
    outcomes = {message.erasure_id: message for message in replayed.messages}  # type: ignore[union-attr]
    assert (outcomes[alice].outcome, outcomes[alice].deleted) == ("requeued", True)
    assert (outcomes[bob].outcome, outcomes[bob].deleted) == ("already_complete", True)
    assert not outcomes[unknown].deleted
    assert not outcomes[None].deleted
    # Sent back, the erasure ran in the worker as if it had never failed.
    state = db.execute("SELECT state FROM erasures WHERE erasure_id = %s", (alice,)).fetchone()
    assert state == ("complete",)
    assert db.execute("SELECT count(*) FROM health_samples").fetchone() == (0,)
    assert sorted(str(letter.erasure_id) for letter in purged.messages) == sorted(
        [str(unknown), "None"]
    )
    assert (purged.deleted, left) == (2, [])


# --- reprocessing the raw bucket --------------------------------------------------------------


def test_reprocessing_a_user_into_an_emptied_database_restores_the_same_rows(
    pipeline: Pipeline, resources: OpsResources, db: psycopg.Connection
) -> None:
    _history(pipeline)
    before = _snapshot(db)
    alice_before = _snapshot(db, "alice")
    assert len(alice_before["health_samples"]) == 25
    _truncate(db)

    alice = reprocess(resources, raw_objects(resources, user_prefix("alice")))

    assert _snapshot(db, "alice") == alice_before
    assert _snapshot(db, "bob") == {table: [] for table in TABLES_TO_RESET}
    assert (alice.objects, alice.errors, alice.aborted) == (8, [], None)
    assert alice.outcomes[Outcome.STORED] == 4
    assert alice.outcomes[Outcome.FAILED] == 1
    assert alice.outcomes[Outcome.COMMITTED] == 3

    everyone = reprocess(resources, raw_objects(resources, "raw/"))

    assert _snapshot(db) == before
    assert everyone.outcomes[Outcome.DUPLICATE] == 5  # alice's chunks, already back
    assert everyone.outcomes[Outcome.STORED] == 1  # bob's


def test_reprocessing_twice_changes_nothing_the_second_time(
    pipeline: Pipeline, resources: OpsResources, db: psycopg.Connection
) -> None:
    _history(pipeline)
    _truncate(db)
    reprocess(resources, raw_objects(resources, "raw/"))
    rows, versions = _snapshot(db), _physical_versions(db)

    again = reprocess(resources, raw_objects(resources, "raw/"))

    assert {outcome for outcome, count in again.outcomes.items() if count} == {
        Outcome.DUPLICATE,
        Outcome.COMMITTED,  # a commit always reports itself; it is recorded only once
    }
    assert _snapshot(db) == rows
    assert _physical_versions(db) == versions


def test_reprocess_selects_objects_by_upload_time(
    pipeline: Pipeline, resources: OpsResources
) -> None:
    syncs = _history(pipeline)
    everything = raw_objects(resources, "raw/")
    newest = max(obj.last_modified for obj in everything)

    recent = raw_objects(resources, "raw/", modified_from=newest)
    older = raw_objects(resources, "raw/", modified_to=newest)

    assert {obj.key for obj in recent} | {obj.key for obj in older} == {
        obj.key for obj in everything
    }
    assert all(str(syncs["backfill"]) not in obj.key for obj in recent)
    # Replay order: each sync's chunks by number, then its commit; syncs as they were made.
    keys = [obj.key for obj in everything]
    backfill = [key for key in keys if str(syncs["backfill"]) in key]
    assert backfill == [
        str(ChunkKey("alice", syncs["backfill"], 0)),
        str(ChunkKey("alice", syncs["backfill"], 1)),
        str(CommitKey("alice", syncs["backfill"])),
    ]
    assert keys.index(backfill[-1]) < keys.index(str(CommitKey("alice", syncs["incremental"])))


# --- syncs, failures, anchors -----------------------------------------------------------------


def test_failures_lists_rejected_chunks_newest_first_with_their_reasons(
    pipeline: Pipeline, inspection: Inspection
) -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    _put_raw(ChunkKey("alice", first, 0), b'{"samples": []}')  # no sync_id, seq...
    pipeline.drain()
    mismatched = chunk(second, 1, heart_rates(2))  # the body says chunk 1 ...
    _put_raw(ChunkKey("bob", second, 3), json.dumps(mismatched).encode())  # ... the key 3
    pipeline.drain()

    view = inspection.failures()

    assert [(f.user_id, f.sync_id, f.seq) for f in view.failures] == [
        ("bob", second, 3),
        ("alice", first, 0),
    ]
    reasons = {failure.user_id: failure.failure_reason for failure in view.failures}
    assert "sync_id" in reasons["alice"]
    assert "chunk 3" in reasons["bob"]
    assert reasons["bob"] == pipeline.status("bob", second).body["failed_chunks"][0]["reason"]
    assert [f.user_id for f in inspection.failures(user_id="alice").failures] == ["alice"]
    later = datetime.now(UTC) + timedelta(minutes=1)
    assert inspection.failures(since=later).failures == []


def test_syncs_are_counted_by_state_and_listed_newest_first(
    pipeline: Pipeline, inspection: Inspection
) -> None:
    complete, committed, receiving, failed = (uuid.uuid4() for _ in range(4))
    samples = heart_rates(6)
    pipeline.put_chunk("alice", chunk(complete, 0, samples[:3]))
    pipeline.commit("alice", complete, commit(1, "a1"))
    pipeline.put_chunk("bob", chunk(committed, 0, samples[3:]))
    pipeline.put_chunk("bob", chunk(committed, 1, heart_rates(2)))
    pipeline.commit("bob", committed, commit(3, "b1"))
    pipeline.put_chunk("carol", chunk(receiving, 0, heart_rates(2)))
    _put_raw(ChunkKey("dave", failed, 0), b"[]")
    pipeline.commit("dave", failed, commit(1, "d1"))
    # Everything but bob's chunk 1 reaches the processor: it is still in flight.
    pipeline.deliver(obj for obj in pipeline.pending() if not obj.key.endswith("000001.json"))

    overview = inspection.syncs()
    only_failed = inspection.syncs(state="failed")
    alices = inspection.syncs(user_id="alice")
    newest_two = inspection.syncs(limit=2)
    bob = inspection.sync("bob", committed)

    assert overview.counts == {"receiving": 1, "committed": 1, "complete": 1, "failed": 1}
    activity = [sync.updated_at for sync in overview.syncs]
    assert activity == sorted(activity, reverse=True)
    assert [(s.user_id, s.sync_id) for s in only_failed.syncs] == [("dave", failed)]
    assert alices.counts == {"receiving": 0, "committed": 0, "complete": 1, "failed": 0}
    assert [(s.state, s.chunks_processed, s.samples_inserted) for s in alices.syncs] == [
        ("complete", 1, 3)
    ]
    assert newest_two.syncs == overview.syncs[:2]
    assert [s.user_id for s in inspection.syncs(sync_id=committed).syncs] == ["bob"]
    assert inspection.syncs(since=datetime.now(UTC) + timedelta(minutes=1)).counts == {
        "receiving": 0,
        "committed": 0,
        "complete": 0,
        "failed": 0,
    }
    # Committed with chunk_count 3, chunk 2 never uploaded: the app is told it is incomplete.
    assert (bob.status.state, bob.status.chunks_uploaded, bob.status.chunks_processed) == (
        "incomplete",
        2,
        1,
    )
    assert bob.status.missing_chunks == [2]
    assert (bob.unprocessed_seqs, bob.never_uploaded_seqs) == ([1], [2])
    assert [a.anchor for a in inspection.anchors("alice").anchors] == ["a1"]
    assert inspection.anchors("bob").anchors == []


def test_the_ops_commands_print_tables_and_json(
    pipeline: Pipeline,
    database_url: str,
    dead_letter_queue: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    syncs = _history(pipeline)
    target = [
        "--database-url",
        database_url,
        "--bucket",
        TEST_BUCKET,
        "--dlq-url",
        dead_letter_queue,
    ]
    broken = str(syncs["broken"])

    for command in (
        ["syncs"],
        ["sync", "alice", broken],
        ["failures", "--since", "1h"],
        ["anchors", "alice"],
        ["connections"],
        ["dlq", "list"],
        ["dlq", "replay"],
        ["reprocess", "--user", "bob", "--dry-run"],
        ["reprocess", "--user", "bob"],
    ):
        assert main(["ops", *command, *target]) == 0, command
        assert main(["ops", *command, *target, "--json"]) == 0, command
    output = capsys.readouterr().out

    assert "Syncs by state" in output
    assert f"Sync {broken} of alice" in output
    assert '"failure_reason": ' in output
    assert "hksync-ops" in output  # this connection, in the connections table
    assert main(["ops", "sync", "nobody", broken, *target]) == 1
    with pytest.raises(SystemExit, match="2"):
        main(["ops", "syncs", "--state", "lost", *target])
    assert main(["ops", "dlq", "list", "--database-url", database_url]) == 2
    assert "needs the processor's dead-letter queue" in capsys.readouterr().err


def test_the_dlq_commands_list_replay_and_purge_either_queue_after_asking(
    erasure_queues: ErasureQueues,
    database_url: str,
    dead_letter_queue: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    processor = ["--database-url", database_url, "--bucket", TEST_BUCKET]
    processor += ["--dlq-url", dead_letter_queue]
    erasure = ["--queue", "erasure", "--database-url", database_url]
    erasure += ["--erasure-dlq-url", erasure_queues.dead_letter_queue_url]
    _garbage(dead_letter_queue)
    _garbage(erasure_queues.dead_letter_queue_url, "{}")

    def purge(*arguments: str, answer: str) -> tuple[int, str, str]:
        monkeypatch.setattr("sys.stdin", io.StringIO(answer))
        status = main(["ops", "dlq", "purge", *arguments])
        out, err = capsys.readouterr()
        return status, out, err

    assert main(["ops", "dlq", "list", *erasure]) == 0
    listed = capsys.readouterr().out
    assert main(["ops", "dlq", "replay", *erasure]) == 1  # kept: it cannot be replayed
    replayed = capsys.readouterr().out
    declined = purge(*processor, answer="n\n")
    unanswered = purge(*processor, "--unreplayable", answer="")
    confirmed = purge(*processor, answer="yes\n")
    without_asking = purge(*erasure, "--unreplayable", "--yes", "--json", answer="")
    nothing_left = purge(*erasure, answer="")

    assert "Dead-lettered erasures" in listed
    assert "cannot replay: not an erasure request" in listed
    assert "dlq purge --queue erasure --unreplayable" in listed
    assert "0 sent back or found complete and deleted, 1 kept" in replayed
    assert declined[0] == 1
    assert "neither a Lambda on-failure record" in declined[1]
    assert "Delete these 1 message(s)?" in declined[1]
    assert "nothing deleted" in declined[1]
    assert unanswered[0] == 1  # no answer is a no
    assert (confirmed[0], "deleted 1 of 1 message(s)" in confirmed[1]) == (0, True)
    # --json: the report alone on stdout; the list (and no question) on stderr.
    report = json.loads(without_asking[1])
    assert (without_asking[0], report["confirmed"], report["deleted"]) == (0, True, 1)
    assert "not an erasure request" in without_asking[2]
    assert "Delete these" not in without_asking[2]
    assert nothing_left[0] == 0
    assert "no message(s) to purge" in nothing_left[1]
    assert main(["ops", "dlq", "list", "--queue", "erasure", "--database-url", database_url]) == 2
    assert "needs the erasure dead-letter queue" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15m", datetime(2026, 11, 26, 11, 45, tzinfo=UTC)),
        ("2h", datetime(2026, 11, 26, 10, 0, tzinfo=UTC)),
        ("1.5d", datetime(2026, 11, 25, 0, 0, tzinfo=UTC)),
        ("2026-11-20T08:00:00", datetime(2026, 11, 20, 8, 0, tzinfo=UTC)),
        ("2026-11-20T08:00:00+01:00", datetime(2026, 11, 20, 7, 0, tzinfo=UTC)),
    ],
)
def test_times_are_durations_ago_or_iso_8601(text: str, expected: datetime) -> None:
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    assert parse_time(text, now=now) == expected


def test_a_time_that_is_neither_is_refused() -> None:
    with pytest.raises(ValueError, match="neither a duration"):
        parse_time("yesterday")


def test_ops_rejected_lists_a_syncs_set_aside_samples_page_by_page(
    pipeline: Pipeline, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    sync_id = uuid.uuid4()
    samples = heart_rates(5)
    for index in (0, 3):
        samples[index] = {**samples[index], "unit": "kg"}  # wrong dimension: set aside
    assert pipeline.put_chunk("alice", chunk(sync_id, 0, samples)).status == 202
    assert pipeline.commit("alice", sync_id, commit(1)).status == 202
    pipeline.drain()
    target = ["--database-url", database_url, "--bucket", TEST_BUCKET]

    assert main(["ops", "rejected", "alice", str(sync_id), "--limit", "1", *target]) == 0
    first_page = capsys.readouterr().out
    assert (
        main(["ops", "rejected", "alice", str(sync_id), "--after", "0:0", "--json", *target]) == 0
    )
    second_page = json.loads(capsys.readouterr().out)

    assert f"Rejected samples of sync {sync_id}" in first_page
    assert "unit" in first_page
    assert "more: --after 0:0" in first_page
    assert [(item["sample_index"], item["field"]) for item in second_page["rejected"]] == [
        (3, "unit")
    ]
    assert second_page["next_after"] is None
    assert main(["ops", "rejected", "nobody", str(sync_id), *target]) == 1
    assert main(["ops", "rejected", "alice", str(sync_id), "--after", "x", *target]) == 1
