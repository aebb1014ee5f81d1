"""The read side through the query handler: daily summaries merged by source priority,
samples paged back, the app's source priority (issue 15)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.support.builders import WATCH, chunk
from tests.support.pipeline import Pipeline

STEPS = "HKQuantityTypeIdentifierStepCount"
PHONE = {
    "name": "Anna's iPhone",
    "bundle_id": "com.apple.health.81A7",
    "product_type": "iPhone16,1",
}
WATCH_SOURCE = {**WATCH, "product_type": "Watch7,2"}


def _steps(source: dict[str, Any], start: datetime, minutes: int, count: float) -> dict[str, Any]:
    return {
        "uuid": str(uuid.uuid4()),
        "sample_type": STEPS,
        "start_date": start.isoformat(),
        "end_date": (start + timedelta(minutes=minutes)).isoformat(),
        "source": source,
        "unit": "count",
        "value": count,
    }


def _summaries(pipeline: Pipeline, user: str, **query: str) -> Any:
    result = pipeline.call(pipeline.query, "GET", "/v1/summaries/daily", {}, user=user, query=query)
    assert result.status == 200, result.body
    return result.body


def test_a_walk_counted_by_watch_and_phone_counts_once(pipeline: Pipeline) -> None:
    walk = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    samples = [
        _steps(WATCH_SOURCE, walk, 10, 1000),
        _steps(PHONE, walk, 10, 900),  # the same walk, from the phone in the pocket
        _steps(PHONE, walk + timedelta(hours=2), 10, 500),  # the watch was off: counts
    ]
    sync_id = uuid.uuid4()
    assert pipeline.put_chunk("anna", chunk(sync_id, 0, samples, sample_type=STEPS)).status == 202
    assert (
        pipeline.commit("anna", sync_id, {"chunk_count": 1, "anchors": {STEPS: "a"}}).status == 202
    )
    pipeline.drain()

    body = _summaries(pipeline, "anna", types=STEPS, start="2026-11-20", end="2026-11-20")
    (day,) = body["summaries"][0]["days"]
    assert day["date"] == "2026-11-20"
    assert day["summary"]["total"] == 1500
    assert day["summary"]["naive_total"] == 2400
    assert (
        _summaries(pipeline, "bob", types=STEPS, start="2026-11-20", end="2026-11-20")["summaries"][
            0
        ]["days"]
        == []
    )
