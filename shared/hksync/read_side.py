"""Reading stored samples back: pages of samples, daily summaries, the app's source priority.

Daily summaries are computed by hksync.summaries from the stored samples and kept in
daily_summaries. A write marks the days it touched stale (``stale_days_of``, in the writer's
transaction); ``refresh`` computes stale days (the processor calls it when a sync completes,
and every read for the days it asks). So a read of settled days is one index range, and a
chunk's write costs one small upsert more.

A day is computed from every sample overlapping it in absolute time, whatever the local date
the sample starts on: one that started days before and runs into it (up to ``SAMPLE_REACH``),
and one recorded in another zone (a traveller's, whose higher-priority source hides a lower
one at the same instant).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, Final
from uuid import UUID

from hksync.contract import read_side as views
from hksync.contract.bounds import CUMULATIVE_SAMPLE_DAYS
from hksync.contract.field_errors import FieldError
from hksync.contract.sample_rows import SampleRow
from hksync.contract.types import SAMPLE_TYPES, WORKOUT_TYPE, Aggregation, SampleKind
from hksync.db.samples import TouchedDay
from hksync.db.summaries import EVERY_TYPE, StoredSource, SummaryRepository
from hksync.errors import ContractViolation
from hksync.summaries import (
    SummarySample,
    daily_cumulative,
    daily_discrete,
    daily_workouts,
    rank_sources,
    sleep_nights,
)

SLEEP_TYPE = "HKCategoryTypeIdentifierSleepAnalysis"
#: How long a sample may last and still count on every day it covers: the longest span the
#: contract expects of one sample (contract.bounds). A longer one counts on the days within
#: this reach of its start only.
SAMPLE_REACH: Final = timedelta(days=CUMULATIVE_SAMPLE_DAYS)
#: The widest UTC offset either way (UTC+14, UTC-12): a local day lies within its UTC date
#: widened by this.
_ZONE_SLACK: Final = timedelta(hours=14)
#: The shortest local day (a change to summer time): a sample lasting n of them may end n
#: local days after the one it starts on, and one more past midnight.
_SHORTEST_DAY: Final = timedelta(hours=23)
_ONE_DAY: Final = timedelta(days=1)


class SummaryStyle(StrEnum):
    CUMULATIVE = "cumulative"
    DISCRETE = "discrete"
    SLEEP = "sleep"
    WORKOUTS = "workouts"


def summary_style(sample_type: str) -> SummaryStyle | None:
    """How a type's days are summarised; None for a type without a daily summary."""
    if sample_type == SLEEP_TYPE:
        return SummaryStyle.SLEEP
    if sample_type == WORKOUT_TYPE:
        return SummaryStyle.WORKOUTS
    spec = SAMPLE_TYPES.get(sample_type)
    if spec is None or spec.kind is not SampleKind.QUANTITY:
        return None
    return (
        SummaryStyle.CUMULATIVE
        if spec.aggregation is Aggregation.CUMULATIVE
        else (SummaryStyle.DISCRETE)
    )


def touched_by(rows: Iterable[SampleRow]) -> list[TouchedDay]:
    """The days stored rows touch, one entry per type and local date: its longest sample says
    which days they reach (the days of shorter ones starting that day are among them)."""
    longest: dict[tuple[str, date], timedelta] = {}
    for row in rows:
        key, span = (row.sample_type, row.local_date), row.end_at - row.start_at
        if span >= longest.get(key, span):
            longest[key] = span
    return [TouchedDay(kind, day, span) for (kind, day), span in longest.items()]


def stale_days_of(touched: Iterable[TouchedDay]) -> set[tuple[str, date]]:
    """The days a write changes: each touched sample's local start date, the next one (it may
    run past midnight; a sleep sample belongs to the night ending next morning), and one more
    for each day it lasts (up to ``SAMPLE_REACH``); for sleep one more still, a night ending
    at 18:00 on the day after the sample's last."""
    days = set()
    for sample_type, local_date, span in touched:
        if local_date is None:
            continue
        style = summary_style(sample_type)
        if style is None:
            continue
        after = 1
        if span is not None and span >= _SHORTEST_DAY:
            after += min(span, SAMPLE_REACH) // _SHORTEST_DAY
        if style is SummaryStyle.SLEEP and span:
            after += 1
        for offset in range(after + 1):
            days.add((sample_type, local_date + timedelta(days=offset)))
    return days


def refresh(
    repository: SummaryRepository,
    user_id: str,
    sample_type: str | None = None,
    first: date | None = None,
    last: date | None = None,
) -> int:
    """Computes and stores the stale days of the user (of a type, in a range); returns how many
    days it computed. A day marked again meanwhile is left stale for the next refresh."""
    stale = repository.stale_days(user_id, sample_type, first, last)
    sources: dict[str, StoredSource] | None = None
    computed_days = 0
    for stale_type, versions in stale.items():
        style = summary_style(stale_type)
        lo, hi = min(versions), max(versions)
        summaries: dict[date, dict[str, Any]] = {}
        if style is not None:
            if sources is None:
                sources = repository.sources(user_id)
            samples = repository.samples(user_id, stale_type, *sample_window(lo, hi), SAMPLE_REACH)
            summaries = _summarise(repository, user_id, stale_type, style, samples, sources, lo, hi)
        repository.store(
            user_id,
            stale_type,
            {day: (version, summaries.get(day)) for day, version in versions.items()},
        )
        computed_days += len(versions)
    return computed_days


def sample_window(first: date, last: date) -> tuple[datetime, datetime]:
    """An instant range holding every local day (and night: from 18:00 the day before) from
    ``first`` to ``last``, in every zone."""
    return (
        datetime.combine(first - _ONE_DAY, time(0), UTC) - _ZONE_SLACK,
        datetime.combine(last + _ONE_DAY, time(0), UTC) + _ZONE_SLACK,
    )


def _summarise(
    repository: SummaryRepository,
    user_id: str,
    sample_type: str,
    style: SummaryStyle,
    samples: list[SummarySample],
    sources: dict[str, StoredSource],
    first: date,
    last: date,
) -> dict[date, dict[str, Any]]:
    spec = SAMPLE_TYPES[sample_type]
    if style is SummaryStyle.DISCRETE:
        assert spec.canonical_unit is not None
        assert spec.aggregation is not None
        return {
            day: views.DiscreteDay(
                minimum=figures.minimum,
                maximum=figures.maximum,
                average=figures.average,
                latest=figures.latest,
                count=figures.count,
                unit=spec.canonical_unit,
            ).model_dump(mode="json")
            for day, figures in daily_discrete(samples, spec.aggregation, first, last).items()
        }
    if style is SummaryStyle.WORKOUTS:
        return {
            day: views.WorkoutsDay(
                activities={
                    activity: views.WorkoutActivity(
                        count=group.count,
                        duration_s=group.duration_s,
                        energy_kcal=group.energy_kcal,
                        distance_m=group.distance_m,
                    )
                    for activity, group in activities.items()
                }
            ).model_dump(mode="json")
            for day, activities in daily_workouts(samples, first, last).items()
        }
    priority = _priority(repository, user_id, sample_type, sources)
    if style is SummaryStyle.SLEEP:
        return {
            night: views.SleepNight(
                asleep_total_min=figures.asleep_total_min,
                asleep_min={str(stage): minutes for stage, minutes in figures.asleep_min.items()},
                awake_min=figures.awake_min,
                in_bed_min=figures.in_bed_min,
            ).model_dump(mode="json")
            for night, figures in sleep_nights(samples, priority, first, last).items()
        }
    assert spec.canonical_unit is not None
    return {
        day: views.CumulativeDay(
            total=figures.total,
            naive_total=sum(figures.by_source.values()),
            unit=spec.canonical_unit,
            by_source=[
                views.SourceTotal(
                    source_key=key,
                    bundle_id=sources[key].bundle_id if key in sources else None,
                    name=sources[key].name if key in sources else None,
                    device_kind=sources[key].device_kind if key in sources else None,
                    total=total,
                )
                for key, total in sorted(figures.by_source.items())
            ],
        ).model_dump(mode="json")
        for day, figures in daily_cumulative(samples, priority, first, last).items()
    }


def _priority(
    repository: SummaryRepository, user_id: str, sample_type: str, sources: dict[str, StoredSource]
) -> list[str]:
    """Source keys highest first: those of the bundle ids the app named, in its order, then
    the default order by device kind."""
    named = repository.priority(user_id, sample_type)
    explicit = [
        key
        for bundle_id in named
        for key in sorted(key for key, source in sources.items() if source.bundle_id == bundle_id)
    ]
    return rank_sources({key: source.device_kind for key, source in sources.items()}, explicit)


def daily_summaries(
    repository: SummaryRepository, user_id: str, sample_types: list[str], start: date, end: date
) -> views.DailySummariesView:
    """The caller's daily summaries of the types over [start, end] (local dates, inclusive)."""
    problems = [
        FieldError(field="types", reason=f"{sample_type} has no daily summary")
        for sample_type in sample_types
        if summary_style(sample_type) is None
    ]
    if end < start:
        problems.append(FieldError(field="end", reason="is before start"))
    elif (end - start).days + 1 > views.SUMMARY_DAYS_MAX:
        problems.append(
            FieldError(field="end", reason=f"at most {views.SUMMARY_DAYS_MAX} days per request")
        )
    if problems:
        raise ContractViolation(problems)
    result = []
    for sample_type in dict.fromkeys(sample_types):
        refresh(repository, user_id, sample_type, start, end)
        stored = repository.summaries(user_id, sample_type, start, end)
        result.append(
            views.TypeSummaries.model_validate(
                {
                    "sample_type": sample_type,
                    "days": [{"date": day, "summary": summary} for day, summary in stored.items()],
                }
            )
        )
    return views.DailySummariesView(start=start, end=end, summaries=result)


def samples_page(
    repository: SummaryRepository,
    user_id: str,
    sample_type: str,
    start: datetime,
    end: datetime,
    *,
    include_deleted: bool,
    after: str | None,
    limit: int,
) -> views.SamplesPage:
    """One page of the caller's samples of a type starting in [start, end)."""
    if end <= start:
        raise ContractViolation([FieldError(field="end", reason="is not after start")])
    cursor = None
    if after is not None:
        moment, _, uuid = after.partition("~")
        try:
            cursor = (datetime.fromisoformat(moment), UUID(uuid))
        except ValueError:
            raise ContractViolation(
                [FieldError(field="after", reason="is not a next_after this API gave")]
            ) from None
    rows = repository.sample_page(
        user_id,
        sample_type,
        start,
        end,
        include_deleted=include_deleted,
        after=cursor,
        limit=limit + 1,
    )
    page = rows[:limit]
    next_after = None
    if len(rows) > limit:
        last = page[-1]
        next_after = f"{last['moment'].astimezone(UTC).isoformat()}~{last['uuid']}"
    return views.SamplesPage(samples=[_sample_view(row) for row in page], next_after=next_after)


def _sample_view(row: dict[str, Any]) -> views.SampleView:
    source = (
        views.SampleSource(
            bundle_id=row["bundle_id"],
            name=row["source_name"],
            version=row["source_version"],
            product_type=row["product_type"],
            device_kind=row["device_kind"],
        )
        if row["bundle_id"] is not None
        else None
    )
    return views.SampleView(
        uuid=row["uuid"],
        sample_type=row["sample_type"],
        kind=row["kind"],
        start_date=row["start_at"],
        end_date=row["end_at"],
        start_offset_s=row["start_offset_s"],
        end_offset_s=row["end_offset_s"],
        time_zone=row["time_zone"],
        zone_source=row["zone_source"],
        local_date=row["local_date"],
        value=row["value"],
        unit=row["unit"],
        original_value=row["original_value"],
        original_unit=row["original_unit"],
        count=row["sample_count"],
        category_value=row["category_value"],
        activity_type=row["activity_type"],
        duration_s=row["duration_s"],
        total_energy_kcal=row["total_energy_kcal"],
        total_distance_m=row["total_distance_m"],
        correlation_uuid=row["correlation_uuid"],
        normalised=row["normalised"],
        source=source,
        device=row["device"],
        metadata=row["metadata"],
        details=row["details"],
        deleted_at=row["deleted_at"],
        updated_at=row["updated_at"],
    )


def set_source_priority(
    repository: SummaryRepository, user_id: str, priority: views.SourcePriority
) -> views.SourcePriority:
    """Stores the app's order; the summaries it affects are computed again on their next read."""
    if priority.sample_type != EVERY_TYPE and summary_style(priority.sample_type) is None:
        raise ContractViolation(
            [FieldError(field="sample_type", reason=f"{priority.sample_type} has no daily summary")]
        )
    repository.set_priority(user_id, priority.sample_type, list(priority.bundle_ids))
    repository.mark_type_stale(user_id, priority.sample_type)
    return priority
