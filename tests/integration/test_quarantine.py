"""Per-sample quarantine (issue 14, docs/adr/0004): one bad sample never blocks a sync.

Through the real handlers, the processor and PostgreSQL: the bad sample is kept aside with its
index, UUID, field and reason, everything else is stored, the sync completes and its anchor
advances; replaying the chunk changes nothing.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from tests.support.builders import HEART_RATE, chunk, commit, heart_rate, heart_rates
from tests.support.pipeline import Pipeline


def _live_count(db: psycopg.Connection, user: str) -> int:
    row = db.execute(
        "SELECT count(*) FROM health_samples WHERE user_id = %s AND deleted_at IS NULL", (user,)
    ).fetchone()
    assert row is not None
    return int(row[0])


def _versions(db: psycopg.Connection) -> list[tuple[Any, ...]]:
    """xmin changes whenever PostgreSQL rewrites a row: equal lists mean nothing was written."""
    return db.execute("SELECT uuid, xmin::text FROM health_samples ORDER BY uuid").fetchall()


def test_one_bad_sample_among_a_thousand_is_set_aside_and_the_sync_completes(
    pipeline: Pipeline, db: psycopg.Connection
) -> None:
    sync_id = uuid.uuid4()
    samples = heart_rates(1000, start=datetime(2026, 11, 1, tzinfo=UTC))
    bad_uuid = samples[417]["uuid"]
    # Dated two days ahead, as by a drifting clock: the sample that used to stall its type.
    ahead = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    samples[417] = {**samples[417], "start_date": ahead, "end_date": ahead}
    body = chunk(sync_id, 0, samples)

    assert pipeline.put_chunk("alice", body).status == 202
    assert pipeline.commit("alice", sync_id, commit(1, "anchor-after")).status == 202
    events = pipeline.pending()
    pipeline.deliver(events)

    status = pipeline.status("alice", sync_id).body
    assert status["state"] == "complete"
    assert status["samples"]["inserted"] == 999
    assert status["samples"]["rejected"] == 1
    assert status["samples"]["received"] == 1000
    assert _live_count(db, "alice") == 999
    assert pipeline.anchors("alice").body["anchors"][0]["anchor"] == "anchor-after"
    page = pipeline.rejected("alice", sync_id).body
    assert page["next_after"] is None
    (rejected,) = page["rejected"]
    assert (rejected["seq"], rejected["sample_index"]) == (0, 417)
    assert rejected["uuid"].upper() == bad_uuid
    assert rejected["sample_type"] == HEART_RATE
    assert rejected["field"] == "start_date"
    assert "future" in rejected["reason"]

    versions = _versions(db)
    pipeline.deliver(events)  # every S3 event again: the ledger makes them no-ops
    assert _versions(db) == versions
    assert pipeline.status("alice", sync_id).body["samples"]["rejected"] == 1
    assert len(pipeline.rejected("alice", sync_id).body["rejected"]) == 1

    # The app sends the same chunk again in a new sync: nothing is rewritten.
    again = uuid.uuid4()
    assert pipeline.put_chunk("alice", {**body, "sync_id": str(again)}).status == 202
    assert pipeline.commit("alice", again, commit(1, "anchor-again")).status == 202
    pipeline.drain()
    assert _versions(db) == versions
    counts = pipeline.status("alice", again).body["samples"]
    assert (counts["unchanged"], counts["inserted"], counts["rejected"]) == (999, 0, 1)


def test_rejected_samples_are_paged_in_chunk_order_for_their_owner_only(
    pipeline: Pipeline,
) -> None:
    sync_id = uuid.uuid4()
    chunks = []
    for seq in range(2):
        samples = heart_rates(6, start=datetime(2026, 11, 2 + seq, tzinfo=UTC))
        for index in (1, 4):
            samples[index] = {**samples[index], "unit": "kg"}  # wrong dimension
        chunks.append(chunk(sync_id, seq, samples))
    for body in chunks:
        assert pipeline.put_chunk("alice", body).status == 202
    assert pipeline.commit("alice", sync_id, commit(2)).status == 202
    pipeline.drain()

    seen = []
    after: dict[str, str] = {}
    while True:
        page = pipeline.rejected("alice", sync_id, limit="3", **after).body
        seen += [(item["seq"], item["sample_index"], item["field"]) for item in page["rejected"]]
        if page["next_after"] is None:
            break
        after = {"after": page["next_after"]}
    assert seen == [(0, 1, "unit"), (0, 4, "unit"), (1, 1, "unit"), (1, 4, "unit")]
    assert pipeline.status("alice", sync_id).body["state"] == "complete"
    # Another user's sync is simply not found, as on every read.
    assert pipeline.rejected("mallory", sync_id).status == 404


def test_a_bad_cursor_or_limit_is_422_naming_the_parameter(pipeline: Pipeline) -> None:
    sync_id = uuid.uuid4()
    assert pipeline.put_chunk("alice", chunk(sync_id, 0, [heart_rate()])).status == 202
    pipeline.drain()

    for query, name in (({"after": "x"}, "after"), ({"limit": "0"}, "limit")):
        result = pipeline.rejected("alice", sync_id, **query)
        assert result.status == 422, result.body
        assert [detail["field"] for detail in result.body["details"]] == [f"query.{name}"]
