"""The read side's contract: pages of samples, daily summaries, the app's source priority.

A day's summary is stored as the JSON of these models (daily_summaries.summary) and answered as
it is, so the document, the table and the API agree by construction.
"""

from __future__ import annotations

import datetime as dt
from datetime import date, datetime
from typing import Annotated, Any, Final, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

#: GET /v1/samples and GET /v1/summaries/daily limits.
SAMPLE_PAGE_MAX: Final = 1000
SAMPLE_PAGE_DEFAULT: Final = 200
SUMMARY_DAYS_MAX: Final = 366
SUMMARY_TYPES_MAX: Final = 16
SAMPLE_TYPE_PATTERN: Final = r"^HK[A-Za-z0-9]{1,126}$"
#: ?types= of GET /v1/summaries/daily: up to SUMMARY_TYPES_MAX identifiers, comma-separated.
SUMMARY_TYPES_PATTERN: Final = (
    rf"^HK[A-Za-z0-9]{{1,126}}(,HK[A-Za-z0-9]{{1,126}}){{0,{SUMMARY_TYPES_MAX - 1}}}$"
)
#: ?after= of GET /v1/samples: a previous page's next_after (start instant and uuid).
SAMPLE_CURSOR_PATTERN: Final = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+\+00:00~[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$"
)


class _View(BaseModel):
    model_config = ConfigDict(frozen=True)


class SampleSource(_View):
    bundle_id: str | None
    name: str | None
    version: str | None
    product_type: str | None
    device_kind: str | None = Field(
        description="watch, phone, scale, ring, app or manual: inferred from the source."
    )


class SampleView(_View):
    """One stored sample; a deleted one (include_deleted) keeps only its type and times."""

    uuid: UUID
    sample_type: str
    kind: str | None
    start_date: datetime | None
    end_date: datetime | None
    start_offset_s: int | None = Field(description="UTC offset the start was sent with.")
    end_offset_s: int | None
    time_zone: str | None
    zone_source: str | None = Field(description="metadata, offset, profile or none.")
    local_date: date | None
    value: float | None = Field(description="In the type's canonical unit (unit).")
    unit: str | None
    original_value: float | None = Field(description="As the app sent it (original_unit).")
    original_unit: str | None
    count: int | None
    category_value: int | None
    activity_type: str | None
    duration_s: float | None
    total_energy_kcal: float | None
    total_distance_m: float | None
    correlation_uuid: UUID | None = Field(description="The correlation this sample belongs to.")
    normalised: bool | None = Field(description="False: a type this server does not know yet.")
    source: SampleSource | None
    device: dict[str, Any] | None
    metadata: dict[str, Any] | None
    details: Any = Field(description="The kind's own content (workout events, ECG voltages...).")
    deleted_at: datetime | None
    updated_at: datetime


class SamplesPage(_View):
    samples: list[SampleView]
    next_after: str | None = Field(description="Pass as ?after= for the next page; null: last.")


class SourceTotal(_View):
    source_key: str
    bundle_id: str | None
    name: str | None
    device_kind: str | None
    total: float = Field(description="This source's own total, before merging.")


class CumulativeDay(_View):
    kind: Literal["cumulative"] = "cumulative"
    total: float = Field(
        description="Overlapping sources merged by priority, interval by interval, as Apple's "
        "statistics do: the figure the Health app shows."
    )
    naive_total: float = Field(description="Every source's samples summed: double counts.")
    unit: str
    by_source: list[SourceTotal]


class DiscreteDay(_View):
    kind: Literal["discrete"] = "discrete"
    minimum: float
    maximum: float
    average: float = Field(description="Time-weighted where the type's aggregation says so.")
    latest: float
    count: int
    unit: str


class SleepNight(_View):
    kind: Literal["sleep"] = "sleep"
    asleep_total_min: float
    asleep_min: dict[str, float] = Field(description="By stage: core, deep, rem, unspecified.")
    awake_min: float
    in_bed_min: float


class WorkoutActivity(_View):
    count: int
    duration_s: float
    energy_kcal: float | None
    distance_m: float | None


class WorkoutsDay(_View):
    kind: Literal["workouts"] = "workouts"
    activities: dict[str, WorkoutActivity]


DaySummary = Annotated[
    CumulativeDay | DiscreteDay | SleepNight | WorkoutsDay, Field(discriminator="kind")
]


class DailyEntry(_View):
    date: dt.date = Field(description="The local day (sleep: the night that ends on it).")
    summary: DaySummary


class TypeSummaries(_View):
    sample_type: str
    days: list[DailyEntry] = Field(description="Days with data only, in order.")


class DailySummariesView(_View):
    start: date
    end: date
    summaries: list[TypeSummaries]


#: CFBundleIdentifier's characters (HKSource.bundleIdentifier): letters, digits, "-" and ".".
BundleId = Annotated[str, Field(pattern=r"^[A-Za-z0-9.-]{1,255}$")]


class SourcePriority(_View):
    """The app's order of sources for a type ('*': every type), highest first, by bundle id
    (HKSource.bundleIdentifier: iOS does not tell apps the order set in the Health app).
    Sources not named follow in the default order: manual entry, Apple Watch, iPhone, ring,
    scale, other apps."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sample_type: Annotated[str, Field(pattern=r"^(\*|HK[A-Za-z0-9]{1,126})$")]
    bundle_ids: Annotated[list[BundleId], Field(max_length=64)]
