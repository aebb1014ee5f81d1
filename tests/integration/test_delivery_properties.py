"""Property: any duplication and any order of a sync's S3 events stores exactly what
delivering each once, in order, stores.

Hypothesis draws how often each object of the reference sync (tests/support/reference.py:
three syncs, deletions, a deletion of a sample never uploaded, a resent sample) is delivered,
one to three times, and in which order; the whole content of the pipeline's tables must then
equal the in-order run's, except the columns that legitimately depend on order (listed, with
the reason, in reference.ORDER_DEPENDENT_COLUMNS). Derandomized: the same examples every run.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import boto3
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hksync.keys import ChunkKey
from hksync_tools.local.notifier import CreatedObject
from tests.support.builders import chunk, commit, heart_rates
from tests.support.pipeline import Pipeline
from tests.support.reference import REFERENCE, counter_problems, read_state, table_contents

TABLES = (
    "health_samples, sync_chunks, sync_anchors, sync_sessions, rejected_samples, sources, "
    "change_events"
)


@st.composite
def deliveries(draw: st.DrawFn, objects: list[CreatedObject]) -> list[CreatedObject]:
    """Every object at least once, some up to three times, in any order."""
    counts = draw(st.lists(st.integers(1, 3), min_size=len(objects), max_size=len(objects)))
    repeated = [obj for obj, count in zip(objects, counts, strict=True) for _ in range(count)]
    return draw(st.permutations(repeated))


@pytest.mark.slow
def test_any_duplication_and_order_stores_what_one_in_order_delivery_stores(
    pipeline: Pipeline, db: psycopg.Connection
) -> None:
    REFERENCE.upload(pipeline)
    objects = REFERENCE.in_plan_order(pipeline.pending())
    pipeline.deliver(objects)
    in_order = table_contents(db)
    assert read_state(db) == REFERENCE.expected

    @settings(
        max_examples=25,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(deliveries(objects))
    def stores_the_same(delivered: list[CreatedObject]) -> None:
        db.execute(f"TRUNCATE {TABLES}")
        pipeline.deliver(delivered)
        assert table_contents(db) == in_order
        assert counter_problems(db) == []

    stores_the_same()


# --- one rule for chunk_count, whatever the order ---------------------------------------------

UNEVEN_USER = "uneven-user"


@dataclass(frozen=True)
class UnevenSync:
    """A sync whose commit need not match its uploads: ``uploaded`` chunks (0, 1, ...) sent,
    the commit (``chunk_count``) sent after the first ``commit_after`` of them, and maybe a
    chunk beyond chunk_count put straight into the bucket after the commit (a presigned
    upload, which no ingest check sees)."""

    uploaded: int
    chunk_count: int
    commit_after: int
    late_extra: bool

    @property
    def commit_accepted(self) -> bool:
        # Refused while a chunk at or beyond chunk_count is stored.
        return self.commit_after <= self.chunk_count

    def chunk_accepted(self, seq: int) -> bool:
        # Refused at or beyond chunk_count once the commit is stored.
        return not self.commit_accepted or seq < self.commit_after or seq < self.chunk_count

    @property
    def expected_state(self) -> str:
        if not self.commit_accepted:
            return "receiving"
        return "complete" if self.uploaded >= self.chunk_count else "committed"


@st.composite
def uneven_syncs(draw: st.DrawFn) -> UnevenSync:
    uploaded = draw(st.integers(1, 4))
    return UnevenSync(
        uploaded=uploaded,
        chunk_count=draw(st.integers(0, 5)),
        commit_after=draw(st.integers(0, uploaded)),
        late_extra=draw(st.booleans()),
    )


def _upload_uneven(pipeline: Pipeline, plan: UnevenSync) -> tuple[uuid.UUID, list[int]]:
    """Sends the plan through the ingest function; (the sync id, every answer's status)."""
    sync_id = uuid.uuid4()
    statuses = []
    commit_body = commit(plan.chunk_count)
    for seq in range(plan.uploaded + 1):
        if seq == plan.commit_after:
            statuses.append(pipeline.commit(UNEVEN_USER, sync_id, commit_body).status)
        if seq < plan.uploaded:
            body = chunk(
                sync_id, seq, heart_rates(3, start=datetime(2026, 11, 1 + seq, tzinfo=UTC))
            )
            statuses.append(pipeline.put_chunk(UNEVEN_USER, body).status)
    if plan.late_extra and plan.commit_accepted:
        seq = max(plan.uploaded, plan.chunk_count)
        boto3.client("s3").put_object(
            Bucket=pipeline.bucket,
            Key=str(ChunkKey(UNEVEN_USER, sync_id, seq)),
            Body=json.dumps(chunk(sync_id, seq, heart_rates(2))).encode(),
        )
    return sync_id, statuses


@pytest.mark.slow
def test_chunk_count_against_the_uploads_ends_the_same_in_every_order(
    pipeline: Pipeline, db: psycopg.Connection
) -> None:
    """Issue 16: with chunk_count lower than the chunks uploaded, the same uploads ended
    failed or complete depending on when the commit was processed, and a complete sync kept
    storing later chunks. Now: chunks at or beyond chunk_count are refused once the commit is
    stored, a commit is refused while such chunks are stored, and the processor never stores
    one that got into the bucket anyway: every processing order (and duplication) stores what
    the in-order one does, which is what the rule says."""

    @settings(
        max_examples=40,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(plan=uneven_syncs(), data=st.data())
    def ends_the_same(plan: UnevenSync, data: st.DataObject) -> None:
        sync_id, statuses = _upload_uneven(pipeline, plan)
        objects = sorted(pipeline.pending(), key=lambda obj: obj.key)  # chunks, then commit
        pipeline.deliver(objects)
        in_order = table_contents(db)
        state, seqs = _sync_outcome(db, sync_id)
        db.execute(f"TRUNCATE {TABLES}")
        pipeline.deliver(data.draw(deliveries(objects)))
        shuffled = table_contents(db)
        db.execute(f"TRUNCATE {TABLES}")

        expected_statuses = []
        for seq in range(plan.uploaded + 1):
            if seq == plan.commit_after:
                expected_statuses.append(202 if plan.commit_accepted else 409)
            if seq < plan.uploaded:
                expected_statuses.append(202 if plan.chunk_accepted(seq) else 409)
        assert statuses == expected_statuses
        assert shuffled == in_order
        assert state == plan.expected_state
        assert seqs == [seq for seq in range(plan.uploaded) if plan.chunk_accepted(seq)]

    ends_the_same()


def _sync_outcome(db: psycopg.Connection, sync_id: uuid.UUID) -> tuple[str, list[int]]:
    row = db.execute("SELECT state FROM sync_sessions WHERE sync_id = %s", (sync_id,)).fetchone()
    seqs = db.execute(
        "SELECT seq FROM sync_chunks WHERE sync_id = %s ORDER BY seq", (sync_id,)
    ).fetchall()
    return (row[0] if row else "none"), [seq for (seq,) in seqs]
