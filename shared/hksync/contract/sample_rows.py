"""What a decoded chunk hands to the database: one row per sample, one per source, one per
rejected sample. The decoder (contract/decoding.py) builds them straight from the chunk's
bytes, and the write path (db/samples.py) copies them as they are: no model objects between.

The field order of ``SampleRow`` is the COPY column order of the staging table.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import NamedTuple
from uuid import UUID


class ZoneSource(StrEnum):
    """Where a sample's time zone came from, most trusted first."""

    METADATA = "metadata"  # HealthKit's HKTimeZone metadata key (or the sample's time_zone)
    OFFSET = "offset"  # only the UTC offset sent with its dates: local time, but no zone
    PROFILE = "profile"  # the user's default zone (reserved: no profile setting yet)
    NONE = "none"  # nothing known: local dates are the UTC dates


class DeviceKind(StrEnum):
    """What recorded a sample, inferred from its source and device (for source priority)."""

    WATCH = "watch"
    PHONE = "phone"
    SCALE = "scale"
    RING = "ring"
    APP = "app"
    MANUAL = "manual"


class SourceRow(NamedTuple):
    """One distinct HKSourceRevision + HKDevice of a user. ``source_key`` is a digest of the
    other fields, so the same source always gets the same key, on every chunk, with no
    round trip to the database."""

    source_key: str
    bundle_id: str
    name: str
    version: str | None
    product_type: str | None
    device_model: str | None
    device_name: str | None
    device_kind: DeviceKind


def source_key(
    bundle_id: str,
    name: str,
    version: str | None,
    product_type: str | None,
    device_model: str | None,
    device_name: str | None,
) -> str:
    """The key of a source: the same fields always give the same key (migration 0006 computes
    it in SQL the same way for rows stored before)."""
    fields = (bundle_id, name, version, product_type, device_model, device_name)
    return hashlib.sha256("\x1f".join(f or "" for f in fields).encode()).hexdigest()[:32]


class SampleRow(NamedTuple):
    """One sample as stored in ``health_samples`` (user_id and sync_id are added by the
    writer). JSON columns are serialised text, cast to jsonb by the upsert."""

    uuid: UUID
    sample_type: str
    #: contract.types.SampleKind value, or "unknown" for a type the table does not know.
    kind: str
    start_at: datetime
    end_at: datetime
    #: UTC offsets sent with the dates, in seconds east of UTC.
    start_offset_s: int | None
    end_offset_s: int | None
    time_zone: str | None
    zone_source: str
    #: The local calendar date of start_at (from the zone if known, else the offset).
    local_date: date
    #: Quantity samples: the value in the type's canonical unit, and that unit.
    value: float | None
    unit: str | None
    #: What the app sent, as it sent it.
    original_value: float | None
    original_unit: str | None
    #: HealthKit's count of a series sample (quantity samples bundling several readings).
    sample_count: int | None
    category_value: int | None
    activity_type: str | None
    duration_s: float | None
    total_energy_kcal: float | None
    total_distance_m: float | None
    #: A member of a correlation (blood pressure, food): the correlation's UUID.
    correlation_uuid: UUID | None
    #: False for a type the table does not know: stored as sent, not converted or checked.
    normalised: bool
    source_key: str
    device: str | None
    metadata: str | None
    #: Kind-specific content as JSON text: workout events, statistics and route; ECG
    #: classification and voltages; audiogram points; heartbeats; state of mind; a whole
    #: unknown sample as sent.
    details: str | None


class Rejection(NamedTuple):
    """A sample refused on its own: the rest of its chunk is stored."""

    sample_index: int
    uuid: UUID | None
    field: str
    reason: str


class ReconcileWindow(NamedTuple):
    """The complete set of UUIDs HealthKit holds for the chunk's type in [start, end)."""

    start: datetime
    end: datetime
    uuids: list[UUID]


@dataclass(slots=True)
class DecodedChunk:
    """A chunk as the processor stores it. ``received`` counts every sample in the body,
    stored, repeated or rejected."""

    sync_id: UUID
    seq: int
    sample_type: str
    anchor: str | None
    received: int
    rows: list[SampleRow] = field(default_factory=list)
    sources: list[SourceRow] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    deleted: list[UUID] = field(default_factory=list)
    reconcile: ReconcileWindow | None = None
