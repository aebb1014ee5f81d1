"""Property: any duplication and any order of a sync's S3 events stores exactly what
delivering each once, in order, stores.

Hypothesis draws how often each object of the reference sync (tests/support/reference.py:
three syncs, deletions, a deletion of a sample never uploaded, a resent sample) is delivered,
one to three times, and in which order; the whole content of the pipeline's tables must then
equal the in-order run's, except the columns that legitimately depend on order (listed, with
the reason, in reference.ORDER_DEPENDENT_COLUMNS). Derandomized: the same examples every run.
"""

from __future__ import annotations

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hksync_tools.local.notifier import CreatedObject
from tests.support.pipeline import Pipeline
from tests.support.reference import REFERENCE, counter_problems, read_state, table_contents

TABLES = "health_samples, sync_chunks, sync_anchors, sync_sessions"


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
