"""The chunk contract as it travels: msgspec structs for the envelope and each kind of sample.

These structs are the single source of what a chunk may hold: the decoder validates bytes
against them, the OpenAPI document is generated from them (msgspec's JSON Schema). msgspec
rather than pydantic here because a chunk is decoded one sample at a time, so that one bad
sample is rejected alone, at about three times pydantic's speed from the same bytes (ADR 0004).

Field names and shapes follow HealthKit's classes (HKQuantitySample, HKCategorySample,
HKCorrelation, HKWorkout, HKElectrocardiogram, HKAudiogramSample, HKHeartbeatSeriesSample,
HKWorkoutRoute, HKStateOfMind, HKScoredAssessment, HKMedicationDoseEvent) in snake case.
What the server only stores (never computes with) is checked for shape and size, not meaning.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Final
from uuid import UUID

import msgspec
from msgspec import Meta, Raw, Struct

#: Most samples (plus deletions) in one chunk. Sized so that decoding the largest chunk stays far
#: below the processor's memory (see docs/benchmarks.md).
MAX_CHUNK_ITEMS: Final = 20_000
#: Largest sync in chunks.
MAX_CHUNKS_PER_SYNC: Final = 10_000
#: Most metadata entries on one sample (HealthKit's own keys number about 80).
MAX_METADATA_KEYS: Final = 64
METADATA_TIME_ZONE_KEY: Final = "HKTimeZone"

ShortText = Annotated[str, Meta(min_length=1, max_length=256)]
Identifier = Annotated[
    str,
    Meta(
        pattern=r"^HK[A-Za-z0-9]{1,126}$",
        description="A HealthKit type identifier, e.g. HKQuantityTypeIdentifierStepCount. "
        "Types this server does not know yet are stored as sent.",
    ),
]
AnchorToken = Annotated[str, Meta(min_length=1, max_length=4096)]
AwareDateTime = Annotated[
    datetime, Meta(tz=True, description="ISO 8601 with the UTC offset the device was at.")
]
MetadataValue = Annotated[str, Meta(max_length=1024)] | int | float | bool
Metadata = Annotated[dict[ShortText, MetadataValue], Meta(max_length=MAX_METADATA_KEYS)]
NonNegative = Annotated[float, Meta(ge=0)]


class _Contract(Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """Unknown fields are refused: a misspelt field would otherwise be lost silently."""


class SourceIn(_Contract, kw_only=True, frozen=True):
    """HKSourceRevision: the app or device that wrote the sample."""

    name: ShortText
    bundle_id: ShortText
    version: ShortText | None = None
    #: HKSourceRevision.productType, e.g. "Watch7,2" or "iPhone16,1".
    product_type: ShortText | None = None
    operating_system_version: ShortText | None = None


class DeviceIn(_Contract, kw_only=True, frozen=True):
    """HKDevice, as far as HealthKit reports it."""

    name: ShortText | None = None
    manufacturer: ShortText | None = None
    model: ShortText | None = None
    hardware_version: ShortText | None = None
    firmware_version: ShortText | None = None
    software_version: ShortText | None = None
    local_identifier: ShortText | None = None
    udi_device_identifier: ShortText | None = None


class SampleIn(_Contract, kw_only=True, frozen=True):
    """What every HKSample has."""

    uuid: UUID
    sample_type: Identifier
    #: Optional, and checked against the type's kind when sent.
    kind: ShortText | None = None
    start_date: AwareDateTime
    end_date: AwareDateTime
    source: SourceIn
    device: DeviceIn | None = None
    metadata: Metadata = {}
    #: IANA zone the sample was recorded in; HealthKit keeps it in metadata["HKTimeZone"].
    time_zone: ShortText | None = None


class QuantityIn(SampleIn, kw_only=True, frozen=True):
    """An HKQuantitySample (or HKCumulativeQuantitySample / HKDiscreteQuantitySample)."""

    unit: ShortText
    value: float
    #: HKQuantitySample.count: how many readings a series sample bundles (its value is their
    #: sum or mean, by the type's aggregation style).
    count: Annotated[int, Meta(ge=1, le=1_000_000)] | None = None


class CategoryIn(SampleIn, kw_only=True, frozen=True):
    """An HKCategorySample: sleep stages, symptoms, cycle tracking, events."""

    value: int


class CorrelationIn(SampleIn, kw_only=True, frozen=True):
    """An HKCorrelation (blood pressure, food): its members are ordinary samples of their own
    types, which point to it; they may also arrive through their own types' queries."""

    objects: Annotated[list[Raw], Meta(min_length=1, max_length=256)]


class WorkoutEventIn(_Contract, kw_only=True, frozen=True):
    """An HKWorkoutEvent (pause, resume, lap, segment, marker...)."""

    type: ShortText
    start_date: AwareDateTime
    end_date: AwareDateTime | None = None
    metadata: Metadata = {}


class WorkoutStatisticIn(_Contract, kw_only=True, frozen=True):
    """HKWorkout.statistics(for:): one quantity type's figures over the workout."""

    sample_type: Identifier
    unit: ShortText
    sum: float | None = None
    average: float | None = None
    minimum: float | None = None
    maximum: float | None = None


class WorkoutIn(SampleIn, kw_only=True, frozen=True):
    """An HKWorkout, with its totals, events and per-quantity statistics."""

    activity_type: ShortText
    #: Active time: the span less its pauses.
    duration_s: NonNegative
    total_energy_kcal: NonNegative | None = None
    total_distance_m: NonNegative | None = None
    events: Annotated[list[WorkoutEventIn], Meta(max_length=10_000)] = []
    statistics: Annotated[list[WorkoutStatisticIn], Meta(max_length=256)] = []
    #: The HKWorkoutRoute sample of this workout, uploaded with its own type.
    route_uuid: UUID | None = None


class LocationIn(_Contract, kw_only=True, frozen=True):
    """One CLLocation of a workout route."""

    timestamp: AwareDateTime
    latitude: Annotated[float, Meta(ge=-90, le=90)]
    longitude: Annotated[float, Meta(ge=-180, le=180)]
    altitude_m: float | None = None
    horizontal_accuracy_m: NonNegative | None = None
    vertical_accuracy_m: NonNegative | None = None
    speed_m_s: float | None = None
    course_deg: float | None = None


class WorkoutRouteIn(SampleIn, kw_only=True, frozen=True):
    """An HKWorkoutRoute: the locations of an outdoor workout."""

    locations: Annotated[list[LocationIn], Meta(max_length=100_000)]
    workout_uuid: UUID | None = None


class ElectrocardiogramIn(SampleIn, kw_only=True, frozen=True):
    """An HKElectrocardiogram, with its voltage measurements when the app read them."""

    classification: ShortText
    symptoms_status: ShortText | None = None
    average_heart_rate: NonNegative | None = None
    sampling_frequency_hz: NonNegative | None = None
    #: Lead I voltages in microvolts, one per sample at the sampling frequency.
    voltages_uv: Annotated[list[float], Meta(max_length=40_000)] = []


class AudiogramPointIn(_Contract, kw_only=True, frozen=True):
    """HKAudiogramSensitivityPoint: hearing level per ear at one frequency."""

    frequency_hz: Annotated[float, Meta(gt=0, le=100_000)]
    left_ear_db_hl: float | None = None
    right_ear_db_hl: float | None = None


class AudiogramIn(SampleIn, kw_only=True, frozen=True):
    """An HKAudiogramSample."""

    sensitivity_points: Annotated[list[AudiogramPointIn], Meta(min_length=1, max_length=64)]


class HeartbeatIn(_Contract, kw_only=True, frozen=True):
    time_since_start_s: NonNegative
    preceded_by_gap: bool = False


class HeartbeatSeriesIn(SampleIn, kw_only=True, frozen=True):
    """An HKHeartbeatSeriesSample: the time of each beat (for heart rate variability)."""

    beats: Annotated[list[HeartbeatIn], Meta(max_length=20_000)]


class StateOfMindIn(SampleIn, kw_only=True, frozen=True):
    """An HKStateOfMind: a momentary emotion or a daily mood."""

    state_kind: ShortText
    valence: Annotated[float, Meta(ge=-1, le=1)]
    labels: Annotated[list[ShortText], Meta(max_length=64)] = []
    associations: Annotated[list[ShortText], Meta(max_length=64)] = []


class ScoredAssessmentIn(SampleIn, kw_only=True, frozen=True):
    """An HKScoredAssessment (GAD-7, PHQ-9): the answers, score and risk."""

    score: Annotated[int, Meta(ge=0, le=1000)]
    risk: ShortText | None = None
    answers: Annotated[list[Annotated[int, Meta(ge=0, le=100)]], Meta(max_length=64)] = []


class MedicationDoseIn(SampleIn, kw_only=True, frozen=True):
    """An HKMedicationDoseEvent: a logged (or skipped) dose of a tracked medication."""

    medication_concept: ShortText
    log_status: ShortText
    dose_quantity: NonNegative | None = None
    scheduled_dose_quantity: NonNegative | None = None
    unit: ShortText | None = None
    scheduled_date: AwareDateTime | None = None


class UnknownSampleIn(SampleIn, kw_only=True, frozen=True, forbid_unknown_fields=False):
    """A sample of a type this server does not know (next year's SDK): its common fields are
    checked, the rest is kept as sent."""


class DeletedIn(_Contract, kw_only=True, frozen=True):
    """An HKDeletedObject from an anchored query: the sample with this UUID is gone."""

    uuid: UUID


class ReconcileIn(_Contract, kw_only=True, frozen=True):
    """Window reconciliation: for the chunk's type and the window [start, end), every sample
    UUID HealthKit holds there. A stored live sample of that type starting in the window and
    missing from the set becomes a tombstone, unless a later upload brought it (HealthKit
    purges old deletion records, so a phone offline for long never reports some deletions)."""

    start: AwareDateTime
    end: AwareDateTime
    uuids: Annotated[list[UUID], Meta(max_length=MAX_CHUNK_ITEMS)]


class ChunkIn(_Contract, kw_only=True, frozen=True):
    """One uploaded piece of a sync: samples and deletions of a single HealthKit type. Samples
    stay raw here: each is decoded on its own, so that one bad sample is rejected alone."""

    sync_id: UUID
    seq: Annotated[int, Meta(ge=0, lt=MAX_CHUNKS_PER_SYNC)]
    sample_type: Identifier
    #: The anchor this sync's query started from (None on the first backfill).
    anchor: AnchorToken | None = None
    samples: list[Raw] = []
    deleted: list[DeletedIn] = []
    reconcile: ReconcileIn | None = None


#: Where the decoded fields of a kind end up: everything a struct has beyond SampleIn's common
#: fields goes to the row's ``details`` JSON (kinds with columns of their own build theirs).
COMMON_FIELDS: Final = frozenset(SampleIn.__struct_fields__)


def details_json(sample: SampleIn) -> str | None:
    """The kind-specific fields of a sample: everything beyond the common ones."""
    extra = {
        name: getattr(sample, name)
        for name in sample.__struct_fields__
        if name not in COMMON_FIELDS
    }
    return msgspec.json.encode(extra).decode() if extra else None
