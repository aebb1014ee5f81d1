"""The HealthKit chunk contract: what the app uploads, as strict pydantic v2 models.

A *sync* is one run of the app's anchored queries. It is uploaded as numbered *chunks*, each
holding samples (and deletions) of a single HealthKit type, then *committed* with its chunk
count and the new anchor per type. These models are the single source of that contract: the
ingest function validates request bodies with them, the processor validates stored chunks with
them, and the OpenAPI document is generated from them.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Annotated, Any, Final, Literal
from uuid import UUID
from zoneinfo import available_timezones

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    ModelWrapValidatorHandler,
    StringConstraints,
    Tag,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from hksync.contract.field_errors import NO_NUL_PATTERN
from hksync.contract.types import (
    SAMPLE_TYPES,
    WORKOUT_ACTIVITY_TYPES,
    SampleKind,
)

#: iOS 8, the first release with HealthKit. Earlier dates are a client bug.
HEALTHKIT_EPOCH: Final = datetime(2014, 9, 17, tzinfo=UTC)
#: How far ahead of the server clock a sample may end (phone clocks drift).
MAX_CLOCK_SKEW: Final = timedelta(days=1)
#: Most samples (plus deletions) in one chunk. Sized so that parsing the largest chunk stays far
#: below the processor's memory (see docs/benchmarks.md).
MAX_CHUNK_ITEMS: Final = 20_000
#: Largest sync in chunks.
MAX_CHUNKS_PER_SYNC: Final = 10_000
METADATA_TIME_ZONE_KEY: Final = "HKTimeZone"


@contextmanager
def gc_paused() -> Iterator[None]:
    """Suspends CPython's cyclic garbage collector for a bulk operation that allocates many
    long-lived objects and no reference cycles (validating a chunk, encoding its rows).

    Otherwise the collector runs every 700 allocations and, as the objects pile up, rescans
    them all in its older generations: on a 20,000-sample chunk that is about a third of the
    validation time, and finds no garbage (docs/benchmarks.md). Plain reference counting still
    frees everything as usual; a cycle made meanwhile is collected after the block.
    """
    if not gc.isenabled():  # nested, or disabled by the caller: leave it as it is
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


ShortText = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=NO_NUL_PATTERN)]
AnchorToken = Annotated[
    str, StringConstraints(min_length=1, max_length=4096, pattern=NO_NUL_PATTERN)
]
MetadataValue = (
    Annotated[str, StringConstraints(max_length=1024, pattern=NO_NUL_PATTERN)] | int | float | bool
)


def _supported_sample_type(identifier: str) -> str:
    if identifier not in SAMPLE_TYPES:
        raise ValueError(f"{identifier!r} is not a HealthKit type this service supports")
    return identifier


SupportedSampleType = Annotated[
    str,
    AfterValidator(_supported_sample_type),
    WithJsonSchema({"type": "string", "enum": sorted(SAMPLE_TYPES)}),
]


@cache
def _iana_zones() -> frozenset[str]:
    # Read on first use, not at import: listing the zone database takes tens of milliseconds,
    # a cost every function's cold start paid, though most never check a time zone.
    return frozenset(available_timezones())


def is_iana_time_zone(name: str) -> bool:
    return name in _iana_zones()


def _from_iso_text(value: Any) -> Any:
    # Samples are validated in Python mode (the type discriminator needs the parsed dict), where
    # strict mode takes no strings for dates or UUIDs: parse those here, and only from text, so
    # that numbers are still refused.
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            raise ValueError("must be an ISO 8601 date-time with a UTC offset") from None
    return value


def _uuid_from_text(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return UUID(value)
        except ValueError:
            raise ValueError("must be a UUID") from None
    return value


Timestamp = Annotated[AwareDatetime, BeforeValidator(_from_iso_text)]
Uuid = Annotated[UUID, BeforeValidator(_uuid_from_text)]


class StrictModel(BaseModel):
    """Contract base: strict types, unknown fields rejected, NaN and infinity rejected."""

    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False, frozen=True)


class Source(StrictModel):
    """HKSourceRevision: the app or device that wrote the sample."""

    name: ShortText
    bundle_id: ShortText
    version: ShortText | None = None


class Device(StrictModel):
    """HKDevice, as far as HealthKit reports it."""

    name: ShortText | None = None
    manufacturer: ShortText | None = None
    model: ShortText | None = None
    hardware_version: ShortText | None = None
    software_version: ShortText | None = None


class _SampleBase(StrictModel):
    uuid: Uuid
    sample_type: str
    start_date: Timestamp
    end_date: Timestamp
    source: Source
    device: Device | None = None
    metadata: dict[ShortText, MetadataValue] = Field(default_factory=dict, max_length=64)
    #: IANA zone the sample was recorded in; HealthKit keeps it in metadata["HKTimeZone"].
    time_zone: str | None = Field(default=None, validate_default=True)

    @field_validator("start_date", "end_date")
    @classmethod
    def _within_healthkit_era(cls, value: datetime) -> datetime:
        if value < HEALTHKIT_EPOCH:
            raise ValueError(f"is before HealthKit existed ({HEALTHKIT_EPOCH.date()})")
        if value > datetime.now(UTC) + MAX_CLOCK_SKEW:
            raise ValueError("is more than a day in the future")
        return value

    @field_validator("time_zone")
    @classmethod
    def _known_time_zone(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            from_metadata = info.data.get("metadata", {}).get(METADATA_TIME_ZONE_KEY)
            if not isinstance(from_metadata, str):
                return None
            if not is_iana_time_zone(from_metadata):
                raise ValueError(
                    f"metadata.{METADATA_TIME_ZONE_KEY} {from_metadata!r} is not an IANA time zone"
                )
            return from_metadata
        if not is_iana_time_zone(value):
            raise ValueError(f"{value!r} is not an IANA time zone")
        return value

    @field_validator("end_date")
    @classmethod
    def _not_before_start(cls, value: datetime, info: ValidationInfo) -> datetime:
        start = info.data.get("start_date")
        if start is not None and value < start:
            raise ValueError("end_date is before start_date")
        return value


class QuantitySample(_SampleBase):
    """An HKQuantitySample: heart rate, steps, energy, distance..."""

    kind: Literal["quantity"] = "quantity"
    unit: ShortText
    value: float = Field(ge=0)

    @field_validator("unit")
    @classmethod
    def _unit_fits_type(cls, value: str, info: ValidationInfo) -> str:
        spec = SAMPLE_TYPES[info.data["sample_type"]]
        if value not in spec.units:
            raise ValueError(
                f"unit {value!r} does not fit {spec.identifier}; "
                f"expected one of {sorted(spec.units)}"
            )
        return value

    @field_validator("value")
    @classmethod
    def _plausible(cls, value: float, info: ValidationInfo) -> float:
        spec = SAMPLE_TYPES[info.data["sample_type"]]
        unit = info.data.get("unit")
        if (
            spec.max_value is not None
            and unit is not None
            and value * spec.units[unit] > spec.max_value
        ):
            raise ValueError(f"{value} {unit} is above {spec.max_value} {spec.canonical_unit}")
        return value

    @property
    def canonical_value(self) -> float:
        return self.value * SAMPLE_TYPES[self.sample_type].units[self.unit]


class CategorySample(_SampleBase):
    """An HKCategorySample: sleep stages, mindful minutes, stand hours."""

    kind: Literal["category"] = "category"
    value: int

    @field_validator("value")
    @classmethod
    def _value_known(cls, value: int, info: ValidationInfo) -> int:
        spec = SAMPLE_TYPES[info.data["sample_type"]]
        if value not in spec.category_values:
            raise ValueError(
                f"category value {value} is not defined for {spec.identifier}; "
                f"expected one of {sorted(spec.category_values)}"
            )
        return value


class Workout(_SampleBase):
    """An HKWorkout, with the totals HealthKit reports for it."""

    kind: Literal["workout"] = "workout"
    activity_type: str
    duration_s: float = Field(ge=0)
    total_energy_kcal: float | None = Field(default=None, ge=0)
    total_distance_m: float | None = Field(default=None, ge=0)

    @field_validator("activity_type")
    @classmethod
    def _known_activity(cls, value: str) -> str:
        if value not in WORKOUT_ACTIVITY_TYPES:
            raise ValueError(f"{value!r} is not an HKWorkoutActivityType this service knows")
        return value


#: Type identifier -> the union tag of its model, looked up once per sample.
_KIND_TAGS: Final = {identifier: spec.kind.value for identifier, spec in SAMPLE_TYPES.items()}


def _sample_kind(data: Any) -> str | None:
    """Picks the sample model from the type identifier (HealthKit's own discriminator)."""
    identifier = (
        data.get("sample_type") if isinstance(data, dict) else getattr(data, "sample_type", None)
    )
    return _KIND_TAGS.get(identifier) if isinstance(identifier, str) else None


Sample = Annotated[
    Annotated[QuantitySample, Tag(SampleKind.QUANTITY.value)]
    | Annotated[CategorySample, Tag(SampleKind.CATEGORY.value)]
    | Annotated[Workout, Tag(SampleKind.WORKOUT.value)],
    Discriminator(
        _sample_kind,
        custom_error_type="unsupported_sample_type",
        custom_error_message="sample_type is not a HealthKit type this service supports",
    ),
]


class DeletedObject(StrictModel):
    """An HKDeletedObject from an anchored query: the sample with this UUID is gone."""

    uuid: Uuid


class Chunk(StrictModel):
    """One uploaded piece of a sync: samples and deletions of a single HealthKit type."""

    sync_id: Uuid
    seq: int = Field(ge=0, lt=MAX_CHUNKS_PER_SYNC)
    sample_type: SupportedSampleType
    #: The anchor this sync's query started from (None on the first backfill).
    anchor: AnchorToken | None = None
    samples: list[Sample] = Field(default_factory=list)
    deleted: list[DeletedObject] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _not_oversized(cls, data: Any, info: ValidationInfo) -> Any:
        # Checked before the items are validated: an oversized chunk costs nothing to refuse.
        if isinstance(data, dict):
            items = len(data.get("samples") or ()) + len(data.get("deleted") or ())
            if items > MAX_CHUNK_ITEMS:
                raise ValueError(
                    f"chunk holds {items} samples and deletions; at most {MAX_CHUNK_ITEMS}"
                )
        return data

    @model_validator(mode="wrap")
    @classmethod
    def _without_gc_passes(cls, data: Any, handler: ModelWrapValidatorHandler[Chunk]) -> Chunk:
        # Defined after _not_oversized, so it runs first and wraps all of the validation.
        with gc_paused():
            return handler(data)

    @field_validator("samples")
    @classmethod
    def _coherent(cls, samples: list[Sample], info: ValidationInfo) -> list[Sample]:
        chunk_type = info.data.get("sample_type")
        first_seen: dict[UUID, int] = {}
        for index, sample in enumerate(samples):
            # chunk_type is None when sample_type itself was refused: that error is reported.
            if chunk_type is not None and sample.sample_type != chunk_type:
                raise ValueError(
                    f"samples[{index}].sample_type is {sample.sample_type}, "
                    f"but the chunk is {chunk_type}"
                )
            earlier = first_seen.setdefault(sample.uuid, index)
            if earlier != index and samples[earlier] != sample:
                raise ValueError(
                    f"samples[{index}].uuid {sample.uuid} repeats samples[{earlier}] "
                    "with different content"
                )
        return samples

    def unique_samples(self) -> list[QuantitySample | CategorySample | Workout]:
        """Samples with exact repeats dropped (the validator already refused conflicting ones)."""
        unique = {sample.uuid: sample for sample in self.samples}
        return list(unique.values())

    def deleted_uuids(self) -> list[UUID]:
        return sorted({deleted.uuid for deleted in self.deleted})


class SyncCommit(StrictModel):
    """Closes a sync: how many chunks it has and the anchor per type it ends at."""

    chunk_count: int = Field(ge=0, le=MAX_CHUNKS_PER_SYNC)
    anchors: dict[SupportedSampleType, AnchorToken] = Field(min_length=1)


class StoredCommit(SyncCommit):
    """The commit as kept in the raw bucket: the client's commit plus the server's time.

    ``committed_at`` orders syncs, so that a late, older sync never moves an anchor back.
    """

    committed_at: datetime = Field(strict=False)
