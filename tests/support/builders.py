"""Small, explicit HealthKit chunks for tests that need to see every sample they send."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

HEART_RATE = "HKQuantityTypeIdentifierHeartRate"
STEPS = "HKQuantityTypeIdentifierStepCount"
SLEEP = "HKCategoryTypeIdentifierSleepAnalysis"
WATCH = {
    "name": "Apple Watch",
    "bundle_id": "com.apple.health.6E2C1F43-7D0A-4B47-9C4E-2B1D1B8B0A11",
}


def heart_rate(
    sample_uuid: uuid.UUID | None = None, *, bpm: float = 72.0, at: datetime | None = None
) -> dict[str, Any]:
    start = at or datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    return {
        "uuid": str(sample_uuid or uuid.uuid4()).upper(),
        "sample_type": HEART_RATE,
        "start_date": start.isoformat(),
        "end_date": start.isoformat(),
        "source": WATCH,
        "device": {"name": "Apple Watch", "manufacturer": "Apple Inc.", "model": "Watch"},
        "value": bpm,
        "unit": "count/min",
        "metadata": {"HKTimeZone": "Europe/Berlin", "HKMetadataKeyHeartRateMotionContext": 1},
    }


def heart_rates(count: int, *, start: datetime | None = None) -> list[dict[str, Any]]:
    first = start or datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
    return [
        heart_rate(bpm=60 + index % 40, at=first + timedelta(minutes=5 * index))
        for index in range(count)
    ]


def chunk(
    sync_id: uuid.UUID,
    seq: int,
    samples: list[dict[str, Any]] | None = None,
    *,
    deleted: list[str] | None = None,
    sample_type: str = HEART_RATE,
    anchor: str | None = None,
) -> dict[str, Any]:
    return {
        "sync_id": str(sync_id),
        "seq": seq,
        "sample_type": sample_type,
        "anchor": anchor,
        "samples": samples or [],
        "deleted": [{"uuid": value} for value in (deleted or [])],
    }


def commit(
    chunk_count: int, anchor: str = "anchor-1", sample_type: str = HEART_RATE
) -> dict[str, Any]:
    return {"chunk_count": chunk_count, "anchors": {sample_type: anchor}}
