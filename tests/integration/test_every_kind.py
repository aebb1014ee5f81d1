"""Every kind of HealthKit sample through upload, processor and PostgreSQL (issue 14).

The realistic chunks of tests/fixtures/healthkit (one per type: quantities, categories, blood
pressure and food correlations, a workout with events and statistics and its route, ECG,
audiogram, heartbeat series, state of mind, GAD-7, medication doses, and a type from a newer
SDK) are uploaded as one sync through the ingest handler, processed from their S3 events, and
read back from the database: each row against the sample as the fixture sent it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from hksync.contract.types import SAMPLE_TYPES, SampleKind
from hksync.contract.units import conversion
from tests.support.healthkit_fixtures import FUTURE_TYPE, fixture_chunk, fixture_types
from tests.support.pipeline import Pipeline

USER = "every-kind"
#: The fields of a sample every kind has; the rest is the kind's own (columns or details).
COMMON = {"uuid", "sample_type", "kind", "start_date", "end_date", "source", "device"}
COMMON |= {"metadata", "time_zone"}
#: Fields a kind stores in columns of their own rather than in details.
COLUMNS = {
    "quantity": {"value", "unit", "count"},
    "category": {"value"},
    "workout": {"activity_type", "duration_s", "total_energy_kcal", "total_distance_m"},
}


@pytest.fixture(scope="module")
def uploaded() -> dict[str, dict[str, Any]]:
    """Every fixture chunk, by sample type, renumbered into one sync."""
    sync_id = str(uuid.uuid4())
    return {
        sample_type: {**fixture_chunk(sample_type), "sync_id": sync_id, "seq": seq}
        for seq, sample_type in enumerate(fixture_types())
    }


@pytest.fixture
def stored(
    pipeline: Pipeline, db: psycopg.Connection, uploaded: dict[str, dict[str, Any]]
) -> dict[uuid.UUID, dict[str, Any]]:
    """Uploads and processes the sync; returns every row of the user by UUID."""
    sync_id = next(iter(uploaded.values()))["sync_id"]
    for body in uploaded.values():
        result = pipeline.put_chunk(USER, body)
        assert result.status == 202, result.body
    anchors = {sample_type: f"anchor-{sample_type}" for sample_type in uploaded}
    assert pipeline.commit(USER, sync_id, {"chunk_count": len(uploaded), "anchors": anchors})
    pipeline.drain()
    status = pipeline.status(USER, sync_id).body
    assert status["state"] == "complete", status
    assert status["samples"]["rejected"] == 0
    served = {
        item["sample_type"]: item["anchor"] for item in pipeline.anchors(USER).body["anchors"]
    }
    assert served == anchors
    with db.cursor(row_factory=dict_row) as cursor:
        rows = cursor.execute(
            """SELECT h.*, s.bundle_id, s.name AS source_name, s.product_type, s.device_kind
               FROM health_samples h LEFT JOIN sources s USING (user_id, source_key)
               WHERE h.user_id = %s""",
            (USER,),
        ).fetchall()
    return {row["uuid"]: row for row in rows}


def _offset_s(text: str) -> int:
    offset = datetime.fromisoformat(text).utcoffset()
    assert offset is not None
    return int(offset.total_seconds())


def _check_common(row: dict[str, Any], sample: dict[str, Any]) -> None:
    assert row["sample_type"] == sample["sample_type"]
    assert row["start_at"] == datetime.fromisoformat(sample["start_date"])
    assert row["end_at"] == datetime.fromisoformat(sample["end_date"])
    assert row["start_offset_s"] == _offset_s(sample["start_date"])
    assert row["end_offset_s"] == _offset_s(sample["end_date"])
    assert (row["bundle_id"], row["source_name"]) == (
        sample["source"]["bundle_id"],
        sample["source"]["name"],
    )
    assert row["metadata"] == (sample.get("metadata") or None)
    assert row["deleted_at"] is None


def _check_quantity(row: dict[str, Any], sample: dict[str, Any]) -> None:
    spec = SAMPLE_TYPES[sample["sample_type"]]
    assert spec.canonical_unit is not None
    expected = conversion(sample["unit"], spec.canonical_unit).apply(sample["value"])
    assert row["value"] == pytest.approx(expected, rel=1e-12)
    assert row["unit"] == spec.canonical_unit
    assert (row["original_value"], row["original_unit"]) == (sample["value"], sample["unit"])
    assert row["sample_count"] == sample.get("count")


def _check_details(row: dict[str, Any], sample: dict[str, Any], kind: str) -> None:
    """What a kind has beyond the common fields and its own columns is kept in details, as
    sent (workout statistics are kept converted: compared apart)."""
    own = {
        name: value
        for name, value in sample.items()
        if name not in COMMON | COLUMNS.get(kind, set()) | {"objects", "statistics"}
    }
    details = row["details"] or {}
    for name, value in own.items():
        assert _holds(details[name], value), name


def _holds(stored: Any, sent: Any) -> bool:
    """Whether the stored JSON holds everything sent, unchanged (it may also spell out the
    fields the app left at their defaults)."""
    if isinstance(sent, dict):
        return isinstance(stored, dict) and all(
            _holds(stored.get(key), item) for key, item in sent.items() if item is not None
        )
    if isinstance(sent, list):
        return (
            isinstance(stored, list)
            and len(stored) == len(sent)
            and all(_holds(kept, item) for kept, item in zip(stored, sent, strict=True))
        )
    if isinstance(sent, str) and isinstance(stored, str) and _is_uuid(sent):
        return _is_uuid(stored) and uuid.UUID(stored) == uuid.UUID(sent)  # kept lower case
    return bool(stored == sent)


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return len(text) == 36


def test_every_kind_is_stored_faithfully(
    stored: dict[uuid.UUID, dict[str, Any]], uploaded: dict[str, dict[str, Any]]
) -> None:
    seen_kinds = set()
    for sample_type, body in uploaded.items():
        spec = SAMPLE_TYPES.get(sample_type)
        for sample in body["samples"]:
            row = stored[uuid.UUID(sample["uuid"])]
            _check_common(row, sample)
            kind = spec.kind.value if spec else "unknown"
            seen_kinds.add(kind)
            assert row["kind"] == kind
            if spec is None:
                assert row["normalised"] is False
                assert row["details"] == sample  # the whole sample, exactly as sent
                continue
            assert row["normalised"] is True
            if spec.kind is SampleKind.QUANTITY:
                _check_quantity(row, sample)
            elif spec.kind is SampleKind.CATEGORY:
                assert row["category_value"] == sample["value"]
            elif spec.kind is SampleKind.WORKOUT:
                assert row["activity_type"] == sample["activity_type"]
                assert row["duration_s"] == sample["duration_s"]
                assert row["total_energy_kcal"] == sample.get("total_energy_kcal")
                assert row["total_distance_m"] == sample.get("total_distance_m")
            if spec.kind is not SampleKind.QUANTITY:
                _check_details(row, sample, kind)
        for deleted in body.get("deleted", []):
            tombstone = stored[uuid.UUID(deleted["uuid"])]
            assert tombstone["deleted_at"] is not None
            assert tombstone["value"] is None
            assert tombstone["details"] is None
    assert seen_kinds == {kind.value for kind in SampleKind} | {"unknown"}


def test_a_correlations_members_are_samples_of_their_own_types_pointing_to_it(
    stored: dict[uuid.UUID, dict[str, Any]], uploaded: dict[str, dict[str, Any]]
) -> None:
    for correlation_type in (
        "HKCorrelationTypeIdentifierBloodPressure",
        "HKCorrelationTypeIdentifierFood",
    ):
        for correlation in uploaded[correlation_type]["samples"]:
            members = correlation["objects"]
            assert members
            for member in members:
                row = stored[uuid.UUID(member["uuid"])]
                assert row["correlation_uuid"] == uuid.UUID(correlation["uuid"])
                assert row["sample_type"] == member["sample_type"] != correlation_type
                _check_common(row, member)
                _check_quantity(row, member)


def test_a_workouts_statistics_are_kept_in_their_canonical_units(
    stored: dict[uuid.UUID, dict[str, Any]], uploaded: dict[str, dict[str, Any]]
) -> None:
    workouts = [
        sample
        for sample in uploaded["HKWorkoutTypeIdentifier"]["samples"]
        if sample.get("statistics")
    ]
    assert workouts
    for workout in workouts:
        kept = {
            statistic["sample_type"]: statistic
            for statistic in stored[uuid.UUID(workout["uuid"])]["details"]["statistics"]
        }
        for sent in workout["statistics"]:
            spec = SAMPLE_TYPES[sent["sample_type"]]
            assert spec.canonical_unit is not None
            convert = conversion(sent["unit"], spec.canonical_unit)
            statistic = kept[sent["sample_type"]]
            for figure in ("sum", "average", "minimum", "maximum"):
                if sent.get(figure) is not None:
                    assert statistic[figure] == pytest.approx(convert.apply(sent[figure]))


def test_sources_are_kept_once_each_with_the_kind_of_device_that_recorded(
    stored: dict[uuid.UUID, dict[str, Any]], db: psycopg.Connection
) -> None:
    live = [row for row in stored.values() if row["deleted_at"] is None]
    keys = {row["source_key"] for row in live}
    rows = db.execute(
        "SELECT source_key, device_kind FROM sources WHERE user_id = %s", (USER,)
    ).fetchall()
    assert {key for key, _ in rows} == keys  # one row per source, no orphan
    watch_rows = [row for row in live if (row["product_type"] or "").startswith("Watch")]
    assert watch_rows
    assert {row["device_kind"] for row in watch_rows} == {"watch"}
    assert any(row["sample_type"] == FUTURE_TYPE for row in live)
