"""A 30-day Apple Watch backfill and two incremental syncs with deletions, through the real
handlers (API Gateway v2 events, moto S3, the real PostgreSQL), checked row by row against an
expectation computed independently from the simulator's own record of what it uploaded."""

from __future__ import annotations

import random
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import psycopg
import pytest

from hksync.contract.types import SAMPLE_TYPES
from hksync.contract.units import conversion
from hksync_tools.simulator.user import AppleWatchUser
from tests.support.pipeline import Pipeline

USER = "watch-wearer-1"


def _expected_row(sample: dict[str, Any]) -> tuple[Any, ...]:
    """What the row of one uploaded sample must hold, from the sample as sent. The unit
    conversion is the contract's (cross-checked against pint in tests/unit/test_units.py)."""
    spec = SAMPLE_TYPES.get(sample["sample_type"])
    metadata = sample.get("metadata") or None
    start = datetime.fromisoformat(sample["start_date"])
    end = datetime.fromisoformat(sample["end_date"])
    zone = sample.get("time_zone") or (metadata or {}).get("HKTimeZone")
    local_start = start.astimezone(ZoneInfo(zone)) if zone else start
    value = unit = original = original_unit = None
    category = activity = duration = energy = distance = None
    if spec is None:  # a type from a newer SDK: stored as sent, nothing converted
        pass
    elif spec.kind == "quantity":
        assert spec.canonical_unit is not None
        convert = conversion(sample["unit"], spec.canonical_unit)
        value, unit = round(convert.apply(sample["value"]), 6), spec.canonical_unit
        original, original_unit = sample["value"], sample["unit"]
    elif spec.kind == "category":
        category = sample["value"]
    elif spec.kind == "workout":
        activity, duration = sample["activity_type"], sample["duration_s"]
        energy, distance = sample.get("total_energy_kcal"), sample.get("total_distance_m")
    return (
        sample["sample_type"],
        spec.kind.value if spec else "unknown",
        spec is not None,
        start,
        end,
        _offset_s(start),
        _offset_s(end),
        zone,
        "metadata" if zone else "offset",
        local_start.date(),
        value,
        unit,
        original,
        original_unit,
        category,
        activity,
        duration,
        energy,
        distance,
        sample["source"]["name"],
        sample["source"]["bundle_id"],
        sample["source"].get("version"),
        metadata,
    )


def _uuids_in(samples: list[dict[str, Any]], rejected: Collection[str] = ()) -> set[str]:
    """The UUIDs of samples and of their correlations' members (a rejected correlation is one
    rejected sample: its members are not read)."""
    return {
        uuid
        for sample in samples
        for uuid in (
            sample["uuid"],
            *(
                member["uuid"]
                for member in sample.get("objects", [])
                if sample["uuid"] not in rejected
            ),
        )
    }


def _offset_s(moment: datetime) -> int | None:
    offset = moment.utcoffset()
    return None if offset is None else int(offset.total_seconds())


def _stored_rows(db: psycopg.Connection) -> dict[UUID, tuple[Any, ...]]:
    rows = db.execute(
        """SELECT h.uuid, h.sample_type, h.kind, h.normalised, h.start_at, h.end_at,
                  h.start_offset_s, h.end_offset_s, h.time_zone, h.zone_source, h.local_date,
                  round(h.value::numeric, 6)::float8, h.unit, h.original_value,
                  h.original_unit, h.category_value, h.activity_type, h.duration_s,
                  h.total_energy_kcal, h.total_distance_m, s.name, s.bundle_id, s.version,
                  h.metadata
           FROM health_samples h JOIN sources s USING (user_id, source_key)
           WHERE h.user_id = %s AND h.deleted_at IS NULL""",
        (USER,),
    ).fetchall()
    return {row[0]: tuple(row[1:]) for row in rows}


@pytest.mark.slow
def test_backfill_and_incremental_syncs_end_in_exactly_the_expected_state(
    pipeline: Pipeline, db: psycopg.Connection
) -> None:
    user = AppleWatchUser(11, now=datetime(2026, 11, 1, 21, 30, tzinfo=UTC), chunk_size=5000)
    syncs = [
        user.backfill(30),
        user.incremental(12, delete_fraction=0.01),
        user.incremental(12, delete_fraction=0.01),
    ]
    backfill_samples = len(syncs[0].samples())
    assert backfill_samples >= 50_000
    assert len({sample["sample_type"] for sample in syncs[0].samples()}) >= 5
    assert all(sync.deleted() for sync in syncs[1:])

    rng = random.Random(3)
    for sync in syncs:
        pipeline.upload(USER, sync)
        # Deliver each sync's events at least once, out of order, before the next sync.
        pipeline.drain(rng=rng, duplicate_rate=0.2)

    live, deleted = user.live_samples(), user.deleted_uuids()
    expected = {UUID(uuid): _expected_row(sample) for uuid, sample in live.items()}
    stored = _stored_rows(db)
    assert stored.keys() == expected.keys()
    mismatched = [uuid for uuid in expected if stored[uuid] != expected[uuid]]
    assert mismatched == [], (
        f"{len(mismatched)} rows differ, e.g. {stored[mismatched[0]]} != {expected[mismatched[0]]}"
    )

    tombstones = db.execute(
        """SELECT uuid, value, metadata FROM health_samples
           WHERE user_id = %s AND deleted_at IS NOT NULL""",
        (USER,),
    ).fetchall()
    assert {uuid for uuid, _, _ in tombstones} == {UUID(uuid) for uuid in deleted}
    assert all(value is None and metadata is None for _, value, metadata in tombstones)

    rejected = db.execute(
        "SELECT uuid, field FROM rejected_samples WHERE user_id = %s", (USER,)
    ).fetchall()
    assert dict(rejected) == {UUID(uuid): field for uuid, field in user.rejected_samples().items()}
    assert rejected, "the simulator plants bad samples in every backfill"
    members = {
        UUID(member["uuid"]): UUID(sample["uuid"])
        for sample in live.values()
        for member in sample.get("objects", [])
    }
    assert members, "the backfill holds correlations"
    pointing = db.execute(
        """SELECT uuid, correlation_uuid FROM health_samples
           WHERE user_id = %s AND correlation_uuid IS NOT NULL""",
        (USER,),
    ).fetchall()
    assert dict(pointing) == members

    inserted = 0
    for sync in syncs:
        status = pipeline.status(USER, sync.sync_id).body
        counts = status["samples"]
        assert status["state"] == "complete"
        assert (
            status["chunk_count"]
            == status["chunks_processed"]
            == status["chunks_uploaded"]
            == len(sync.chunks)
        )
        # Each chunk counts its samples once, a correlation's members among them (a member
        # comes again, unchanged, in its own type's chunk).
        received = sum(
            len(_uuids_in(chunk["samples"], user.rejected_samples())) for chunk in sync.chunks
        )
        planted = {uuid for uuid in _uuids_in(sync.samples()) if uuid in user.rejected_samples()}
        assert counts["received"] == received
        assert counts["rejected"] == len(planted)
        assert (
            counts["inserted"] + counts["updated"] + counts["unchanged"] + counts["rejected"]
            == received
        )
        assert counts["deleted"] == len(set(sync.deleted()))
        inserted += counts["inserted"]
    assert inserted == len(live) + len(deleted)  # each stored sample inserted exactly once

    expected_anchors: dict[str, str] = {}
    for sync in syncs:
        expected_anchors.update(sync.commit["anchors"])
    assert {
        item["sample_type"]: item["anchor"] for item in pipeline.anchors(USER).body["anchors"]
    } == expected_anchors
