"""Daily summaries of stored samples: the figures a person sees in Apple's Health app.

Pure functions over plain rows, no database or Lambda. The read side hands them every sample
(of every source) overlapping the requested local dates widened by 14 hours on each side, the
widest UTC offsets, and for sleep nights by one day more before them; rows outside the range
are harmless, they are simply not reported.

Rules, the same for every function:

- A sample's local day is cut at midnight of ITS OWN zone (``SummarySample.zone``), so a
  traveller's days are right and a DST day has 23 or 25 hours.
- Overlapping cumulative and sleep samples of several sources are merged the way HealthKit's
  statistics merge sources, by priority: time is split into elementary intervals and, in each,
  only the samples of the highest-priority source covering it count; where that source has no
  data the next one down fills the gap. The merge runs on absolute time, so a Berlin sample
  hides a New York one at the same instant even where their local dates differ. A source is
  never picked for a whole day (picking per day is how other systems come out thousands of
  steps short).
- A sample that crosses a day (or another source's sample) counts pro rata by time; a
  zero-length sample counts whole at its instant, unless a higher-priority source covers it.
- Days (or nights) without any sample overlapping them are absent from the result, not zero:
  "no data" and "a measured zero" stay apart.
- Intervals are half open: a sample ending at midnight belongs to the day before only.
"""

from __future__ import annotations

import heapq
import itertools
import math
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from enum import StrEnum
from functools import cache
from operator import itemgetter
from typing import Final
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hksync.contract.sample_rows import DeviceKind
from hksync.contract.types import SAMPLE_TYPES, Aggregation

__all__ = [
    "DEFAULT_KIND_ORDER",
    "NIGHT_CUT_OFF",
    "CumulativeDay",
    "DiscreteDay",
    "SleepNight",
    "SleepStage",
    "SummarySample",
    "WorkoutDay",
    "daily_cumulative",
    "daily_discrete",
    "daily_workouts",
    "rank_sources",
    "sleep_nights",
    "zone_for",
]

#: The default source priority, highest first: what a person typed in by hand, then the Watch
#: (worn, so it sees every step), then the iPhone, then dedicated devices, then other apps.
DEFAULT_KIND_ORDER: Final = (
    DeviceKind.MANUAL,
    DeviceKind.WATCH,
    DeviceKind.PHONE,
    DeviceKind.RING,
    DeviceKind.SCALE,
    DeviceKind.APP,
)
_KIND_RANK: Final = {kind: rank for rank, kind in enumerate(DEFAULT_KIND_ORDER)}

#: A night runs from 18:00 local time the day before its wake-up day to 18:00 on it: late
#: enough that an afternoon nap counts on its own day, early enough that an early bedtime
#: falls into the night it starts.
NIGHT_CUT_OFF: Final = time(18)
_MIDNIGHT: Final = time(0)


@dataclass(frozen=True, slots=True, kw_only=True)
class SummarySample:
    """One stored sample, as much of it as a summary reads."""

    uuid: UUID
    start: datetime
    end: datetime
    source_key: str
    #: Where the sample was recorded: see ``zone_for``.
    zone: tzinfo = UTC
    #: Quantity samples: the value in the type's canonical unit.
    value: float | None = None
    #: Category samples: HealthKit's raw value.
    category_value: int | None = None
    # Workouts.
    activity_type: str | None = None
    #: Active time (the span less its pauses); the span when unknown.
    duration_s: float | None = None
    total_energy_kcal: float | None = None
    total_distance_m: float | None = None

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("sample dates must be time-zone aware")
        if self.end < self.start:
            raise ValueError("a sample cannot end before it starts")


def zone_for(time_zone: str | None, utc_offset_s: int | None) -> tzinfo:
    """A sample's zone: its IANA zone when known, else the fixed UTC offset it was sent with,
    else UTC (its local days are then the UTC days)."""
    if time_zone is not None:
        try:
            return _iana_zone(time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            pass  # a zone name this zone database lacks: the offset is still right locally
    if utc_offset_s is not None:
        return _fixed_zone(utc_offset_s)
    return UTC


@cache
def _iana_zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@cache
def _fixed_zone(offset_s: int) -> timezone:
    return timezone(timedelta(seconds=offset_s))


def rank_sources(sources: Mapping[str, DeviceKind], explicit: Sequence[str] = ()) -> list[str]:
    """Source keys, highest priority first: the user's explicit order (kept even for a source
    with no samples in ``sources``: a setting may name one that is quiet this week), then the
    rest by ``DEFAULT_KIND_ORDER``, ties by source key so that the order never depends on the
    order rows came back in."""
    chosen = list(dict.fromkeys(explicit))
    rest = sorted(set(sources).difference(chosen), key=lambda key: (_KIND_RANK[sources[key]], key))
    return chosen + rest


# --- local periods -------------------------------------------------------------------------


class _Periods:
    """Consecutive local periods (days or nights), labelled ``first + i``, each starting at
    ``cut`` local time on the day ``starts_before`` days before its label; their boundaries in
    each zone as POSIX seconds, computed once per zone and kept in ``grids`` at the zone's
    slot (a small int travels in a span where a list would make it garbage-collector work)."""

    def __init__(self, first: date, last: date, cut: time, starts_before: int) -> None:
        self.first = first
        self.count = max((last - first).days + 1, 0)
        self.grids: list[list[float]] = []
        self._first_start = first - timedelta(days=starts_before)
        self._cut = cut
        self._slots: dict[tzinfo, int] = {}

    def slot(self, zone: tzinfo) -> int:
        found = self._slots.get(zone)
        if found is None:
            found = self._slots[zone] = len(self.grids)
            # combine() with fold 0: a local time a DST gap skips maps to the instant the gap
            # opens, which is exactly where the new period begins.
            self.grids.append(
                [
                    datetime.combine(
                        self._first_start + timedelta(days=i), self._cut, zone
                    ).timestamp()
                    for i in range(self.count + 1)
                ]
            )
        return found

    def boundaries(self, zone: tzinfo) -> list[float]:
        return self.grids[self.slot(zone)]

    def label(self, index: int) -> date:
        return self.first + timedelta(days=index)


def _days(first_day: date, last_day: date) -> _Periods:
    return _Periods(first_day, last_day, _MIDNIGHT, starts_before=0)


def _overlaps(boundaries: list[float], start: float, end: float) -> list[tuple[int, float]]:
    """(period index, seconds of overlap) for each period [start, end) overlaps; a zero-length
    span yields the period holding its instant with zero seconds. Periods outside the range
    are left out."""
    periods = len(boundaries) - 1
    index = bisect_right(boundaries, start) - 1
    if start == end:
        return [(index, 0.0)] if 0 <= index < periods else []
    index = max(index, 0)
    found = []
    while index < periods and boundaries[index] < end:
        low = boundaries[index]
        high = boundaries[index + 1]
        seconds = (end if end < high else high) - (start if start > low else low)
        if seconds > 0:
            found.append((index, seconds))
        index += 1
    return found


def _rank_of(priority: Sequence[str], sources: Iterable[str]) -> dict[str, int]:
    """Each source's rank, 0 the highest; sources the priority omits come after it, by key."""
    rank = {key: position for position, key in enumerate(dict.fromkeys(priority))}
    unranked = sorted(set(sources).difference(rank))
    rank.update((key, rank_) for rank_, key in enumerate(unranked, start=len(rank)))
    return rank


# --- cumulative types ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CumulativeDay:
    """One local day of a cumulative type (steps, distance, energy...)."""

    #: Every source merged by priority: the figure the Health app shows.
    total: float
    #: Each source's own total before merging (their sum double counts overlaps).
    by_source: dict[str, float]


# (start, end, value, the index of the one day holding all of it or -1, the slot of the
# sample's zone in _Periods.grids)
_Span = tuple[float, float, float, int, int]


@dataclass(slots=True)
class _SourceTally:
    """One source's own daily totals, and its spans for the merge."""

    totals: list[float]
    seen: list[bool]
    spans: list[_Span]


def daily_cumulative(
    samples: Iterable[SummarySample],
    priority: Sequence[str],
    first_day: date,
    last_day: date,
) -> dict[date, CumulativeDay]:
    """Per local day, the merged total and each source's own total.

    Sources are taken one at a time, highest first; each sample counts the part of its span
    that no higher-priority sample covers, pro rata (samples of one source do not hide each
    other: each is that source's own account). A sample without a value is skipped. One pass
    over the samples, one sort per source, one linear sweep per source: a year of a heavy
    Watch user's steps takes well under a second.
    """
    days = _days(first_day, last_day)
    grouped: dict[str, list[SummarySample]] = defaultdict(list)
    for sample in samples:
        grouped[sample.source_key].append(sample)
    tallies = {source: _tally(days, of_source) for source, of_source in grouped.items()}
    rank = _rank_of(priority, tallies)
    ordered = sorted(tallies, key=rank.__getitem__)
    merged = [0.0] * days.count
    # The union of the spans of the sources merged so far: disjoint, sorted.
    covered_starts: list[float] = []
    covered_ends: list[float] = []
    for position, source in enumerate(ordered):
        tally = tallies[source]
        tally.spans.sort(key=itemgetter(0))
        if position == 0:  # nothing above the first source: all of it counts
            merged = list(tally.totals)
        else:
            _add_uncovered(tally.spans, covered_starts, covered_ends, days.grids, merged)
        if position < len(ordered) - 1:
            covered_starts, covered_ends = _union(covered_starts, covered_ends, tally.spans)
    result: dict[date, CumulativeDay] = {}
    for index in range(days.count):
        by_source = {
            source: tally.totals[index] for source, tally in tallies.items() if tally.seen[index]
        }
        if by_source:
            result[days.label(index)] = CumulativeDay(merged[index], by_source)
    return result


def _tally(days: _Periods, samples: list[SummarySample]) -> _SourceTally:
    """One source's own daily totals (pro rata across midnight) and its spans."""
    count = days.count
    totals = [0.0] * count
    seen = [False] * count
    spans: list[_Span] = []
    zone: tzinfo | None = None
    slot = 0
    boundaries: list[float] = []
    # The day of the previous sample, [day_start, day_end): the next is most likely in it too.
    day = -1
    day_start = day_end = math.nan
    for sample in samples:
        value = sample.value
        if value is None:
            continue
        if sample.zone is not zone:  # a person's samples share a handful of zones, in runs
            zone = sample.zone
            slot = days.slot(zone)
            boundaries = days.grids[slot]
            day_start = day_end = math.nan
        start = sample.start.timestamp()
        end = sample.end.timestamp()
        if not day_start <= start < day_end:
            day = bisect_right(boundaries, start) - 1
            if 0 <= day < count:
                day_start = boundaries[day]
                day_end = boundaries[day + 1]
            else:
                day_start = day_end = math.nan
        if end <= day_end:  # within one day of the range (False when outside: NaN)
            totals[day] += value
            seen[day] = True
            spans.append((start, end, value, day, slot))
        else:
            duration = end - start
            for index, seconds in _overlaps(boundaries, start, end):
                totals[index] += value * seconds / duration if duration else value
                seen[index] = True
            spans.append((start, end, value, -1, slot))
    return _SourceTally(totals, seen, spans)


def _add_uncovered(
    spans: list[_Span],
    covered_starts: list[float],
    covered_ends: list[float],
    grids: list[list[float]],
    merged: list[float],
) -> None:
    """Adds to the merged daily totals the part of each span (sorted by start) that the
    covered union leaves free, pro rata; an instant counts unless covered."""
    # A last covered interval at infinity ends every walk below without a bounds check.
    starts = [*covered_starts, math.inf]
    ends = [*covered_ends, math.inf]
    # The first covered interval ending after the current span's start: spans come sorted by
    # start, so it only moves forward.
    next_cover = 0
    for start, end, value, day, slot in spans:
        while ends[next_cover] <= start:
            next_cover += 1
        duration = end - start
        if not duration:
            if starts[next_cover] > start and day >= 0:
                merged[day] += value
            continue
        if starts[next_cover] >= end:
            if day >= 0:
                merged[day] += value
            else:
                _spread(grids[slot], start, end, value / duration, merged)
            continue
        rate = value / duration
        free_seconds = 0.0
        cursor = start
        cover = next_cover
        while cursor < end:
            gap_end = starts[cover]
            if gap_end > end:
                gap_end = end
            if gap_end > cursor:
                if day >= 0:
                    free_seconds += gap_end - cursor
                else:
                    _spread(grids[slot], cursor, gap_end, rate, merged)
            if ends[cover] > cursor:
                cursor = ends[cover]
            cover += 1
        if day >= 0:
            merged[day] += rate * free_seconds


def _spread(
    boundaries: list[float], start: float, end: float, rate: float, into: list[float]
) -> None:
    for index, seconds in _overlaps(boundaries, start, end):
        into[index] += rate * seconds


def _union(
    starts: list[float], ends: list[float], spans: list[_Span]
) -> tuple[list[float], list[float]]:
    """The union of disjoint sorted intervals and spans sorted by start, disjoint and sorted.
    Instants cover nothing; touching intervals join."""
    union_starts: list[float] = []
    union_ends: list[float] = []
    intervals = heapq.merge(
        zip(starts, ends, strict=True), ((span[0], span[1]) for span in spans if span[1] > span[0])
    )
    for start, end in intervals:
        if union_ends and start <= union_ends[-1]:
            if end > union_ends[-1]:
                union_ends[-1] = end
        else:
            union_starts.append(start)
            union_ends.append(end)
    return union_starts, union_ends


# --- discrete types ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DiscreteDay:
    """One local day of a discrete type (heart rate, weight, audio exposure...)."""

    minimum: float
    maximum: float
    average: float
    #: The value of the sample that ended last (ties: the later start, then the larger uuid).
    latest: float
    count: int


@dataclass(slots=True)
class _DiscreteTally:
    minimum: float = math.inf
    maximum: float = -math.inf
    count: int = 0
    latest: float = math.nan
    latest_sample: SummarySample | None = None
    latest_end: float = -math.inf
    # Sums of the averaged quantity: the value itself, or its sound energy for levels in dB.
    plain_sum: float = 0.0
    weight: float = 0.0
    weighted_sum: float = 0.0


def daily_discrete(
    samples: Iterable[SummarySample],
    aggregation: Aggregation,
    first_day: date,
    last_day: date,
) -> dict[date, DiscreteDay]:
    """Per local day, the minimum, maximum, average, latest value and count of the samples
    overlapping that day (a reading taken across midnight is a reading of both days). No
    priority merge: a discrete value is a reading, not an amount, so two sources' readings of
    one moment do not add up to anything.

    The average follows the type's aggregation style:

    - ``DISCRETE_ARITHMETIC``: the mean of the values.
    - ``DISCRETE_TEMPORALLY_WEIGHTED``: each value weighted by the time its sample spends in the
      day. A zero-length sample has no duration, so it weighs nothing beside samples that have
      one; on a day when every sample is an instant the mean is arithmetic.
    - ``DISCRETE_EQUIVALENT_CONTINUOUS_LEVEL`` (sound levels in dB): the energy average,
      ``10 * log10(mean(10 ** (v / 10)))``, weighted by time the same way.
    """
    if aggregation is Aggregation.CUMULATIVE:
        raise ValueError("cumulative types are summed: use daily_cumulative")
    in_decibels = aggregation is Aggregation.DISCRETE_EQUIVALENT_CONTINUOUS_LEVEL
    weighted = aggregation is not Aggregation.DISCRETE_ARITHMETIC
    days = _days(first_day, last_day)
    tallies: dict[int, _DiscreteTally] = {}
    zone: tzinfo | None = None
    boundaries: list[float] = []
    for sample in samples:
        value = sample.value
        if value is None:
            continue
        if sample.zone is not zone:  # a person's samples share a handful of zones, in runs
            zone = sample.zone
            boundaries = days.boundaries(zone)
        averaged = 10 ** (value / 10) if in_decibels else value
        start = sample.start.timestamp()
        end = sample.end.timestamp()
        day = bisect_right(boundaries, start) - 1
        # Most samples lie within one day: no splitting (and no list of pieces) for those.
        if 0 <= day < days.count and end <= boundaries[day + 1]:
            pieces: Iterable[tuple[int, float]] = ((day, end - start),)
        else:
            pieces = _overlaps(boundaries, start, end)
        for index, seconds in pieces:
            tally = tallies.get(index)
            if tally is None:
                tally = tallies[index] = _DiscreteTally()
            if value < tally.minimum:
                tally.minimum = value
            if value > tally.maximum:
                tally.maximum = value
            tally.count += 1
            if end > tally.latest_end or (
                end == tally.latest_end and _later(sample, tally.latest_sample)
            ):
                tally.latest = value
                tally.latest_sample = sample
                tally.latest_end = end
            tally.plain_sum += averaged
            tally.weight += seconds
            tally.weighted_sum += averaged * seconds
    result: dict[date, DiscreteDay] = {}
    for index in sorted(tallies):
        tally = tallies[index]
        if weighted and tally.weight > 0:
            mean = tally.weighted_sum / tally.weight
        else:
            mean = tally.plain_sum / tally.count
        average = 10 * math.log10(mean) if in_decibels else mean
        result[days.label(index)] = DiscreteDay(
            tally.minimum, tally.maximum, average, tally.latest, tally.count
        )
    return result


def _later(sample: SummarySample, than: SummarySample | None) -> bool:
    """Between two samples ending at the same instant: the later start, then the larger uuid,
    so that "latest" never depends on the order rows came back in."""
    return than is None or (sample.start, sample.uuid) > (than.start, than.uuid)


# --- sleep ---------------------------------------------------------------------------------


class SleepStage(StrEnum):
    CORE = "core"
    DEEP = "deep"
    REM = "rem"
    UNSPECIFIED = "unspecified"


_SLEEP_VALUES: Final = {
    name: raw
    for raw, name in SAMPLE_TYPES["HKCategoryTypeIdentifierSleepAnalysis"].category_values.items()
}
_IN_BED: Final = _SLEEP_VALUES["inBed"]
_AWAKE: Final = _SLEEP_VALUES["awake"]
_STAGE_OF_VALUE: Final = {
    _SLEEP_VALUES["asleepCore"]: SleepStage.CORE,
    _SLEEP_VALUES["asleepDeep"]: SleepStage.DEEP,
    _SLEEP_VALUES["asleepREM"]: SleepStage.REM,
    _SLEEP_VALUES["asleepUnspecified"]: SleepStage.UNSPECIFIED,
}
#: Where one source's own sleep samples overlap, the more specific statement wins: being
#: awake inside a longer asleep sample, then a measured stage over "asleep".
_STAGE_LAYER_PRECEDENCE: Final = {
    value: precedence
    for precedence, value in enumerate(
        (
            _AWAKE,
            _SLEEP_VALUES["asleepREM"],
            _SLEEP_VALUES["asleepDeep"],
            _SLEEP_VALUES["asleepCore"],
            _SLEEP_VALUES["asleepUnspecified"],
        )
    )
}


@dataclass(frozen=True, slots=True)
class SleepNight:
    """One night, labelled with its wake-up day; minutes."""

    asleep_min: dict[SleepStage, float]
    awake_min: float
    in_bed_min: float
    asleep_total_min: float


def sleep_nights(
    samples: Iterable[SummarySample],
    priority: Sequence[str],
    first_night: date,
    last_night: date,
) -> dict[date, SleepNight]:
    """Per night, minutes asleep by stage, awake and in bed, no minute counted twice.

    The night of date D is [D-1 18:00, D 18:00) local time of each sample's zone
    (``NIGHT_CUT_OFF``). Sleep stages and awake form one layer and in bed another (in bed
    overlaps sleep by nature), each merged on its own: every instant goes to the
    highest-priority source covering it and, within that source, to its most specific sample
    (``_STAGE_LAYER_PRECEDENCE``). Category values HealthKit may add later are skipped.
    """
    nights = _Periods(first_night, last_night, NIGHT_CUT_OFF, starts_before=1)
    chosen = [
        (sample, category)
        for sample in samples
        if (category := sample.category_value) is not None
        and (category == _IN_BED or category in _STAGE_LAYER_PRECEDENCE)
        and sample.end > sample.start  # an instant has no minutes to count
    ]
    rank = _rank_of(priority, (sample.source_key for sample, _ in chosen))
    stage_layer: list[_Claim] = []
    in_bed_layer: list[_Claim] = []
    for sample, category in chosen:
        claim: _Claim = (
            sample.start.timestamp(),
            sample.end.timestamp(),
            # In bed is alone on its layer: only the source's rank orders it.
            (rank[sample.source_key], _STAGE_LAYER_PRECEDENCE.get(category, 0), str(sample.uuid)),
            category,
            sample.zone,
        )
        (in_bed_layer if category == _IN_BED else stage_layer).append(claim)
    seconds: dict[int, dict[int, float]] = defaultdict(lambda: defaultdict(float))
    for layer in (stage_layer, in_bed_layer):
        for start, end, category, zone in _winning_segments(layer):
            for index, overlap in _overlaps(nights.boundaries(zone), start, end):
                seconds[index][category] += overlap
    result: dict[date, SleepNight] = {}
    for index in sorted(seconds):
        by_value = seconds[index]
        asleep = {stage: by_value.get(value, 0.0) / 60 for value, stage in _STAGE_OF_VALUE.items()}
        result[nights.label(index)] = SleepNight(
            asleep_min={stage: asleep[stage] for stage in SleepStage},
            awake_min=by_value.get(_AWAKE, 0.0) / 60,
            in_bed_min=by_value.get(_IN_BED, 0.0) / 60,
            asleep_total_min=sum(asleep.values()),
        )
    return result


# (start, end, key: the lowest covering claim wins, category value, zone)
_Claim = tuple[float, float, tuple[int, int, str], int, tzinfo]


def _winning_segments(claims: list[_Claim]) -> list[tuple[float, float, int, tzinfo]]:
    """The timeline of overlapping claims cut where any starts or ends, each piece given to the
    covering claim with the lowest key: (start, end, its category value, its zone)."""
    claims.sort(key=lambda claim: claim[0])
    points = sorted({point for claim in claims for point in (claim[0], claim[1])})
    active: list[tuple[tuple[int, int, str], float, int]] = []
    segments: list[tuple[float, float, int, tzinfo]] = []
    upcoming = 0
    for here, following in itertools.pairwise(points):
        while upcoming < len(claims) and claims[upcoming][0] <= here:
            heapq.heappush(active, (claims[upcoming][2], claims[upcoming][1], upcoming))
            upcoming += 1
        # Expired claims leave only when they surface: one beneath the top changes nothing.
        while active and active[0][1] <= here:
            heapq.heappop(active)
        if active:
            _, _, _, category, zone = claims[active[0][2]]
            segments.append((here, following, category, zone))
    return segments


# --- workouts ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WorkoutDay:
    """One activity type's workouts of one local day."""

    count: int
    duration_s: float
    #: None when no workout of the group reported it (a yoga session has no distance).
    energy_kcal: float | None
    distance_m: float | None


def daily_workouts(
    samples: Iterable[SummarySample], first_day: date, last_day: date
) -> dict[date, dict[str, WorkoutDay]]:
    """Per local day of each workout's start, per activity type: count and total duration,
    energy and distance. A workout is whole on its start day (a run is one event, not an
    amount to spread), and workouts are not merged by source: two apps recording one run are
    two workouts."""
    groups: dict[date, dict[str, list[SummarySample]]] = defaultdict(lambda: defaultdict(list))
    for sample in samples:
        if sample.activity_type is None:
            continue
        day = sample.start.astimezone(sample.zone).date()
        if first_day <= day <= last_day:
            groups[day][sample.activity_type].append(sample)
    return {
        day: {activity: _workout_day(workouts) for activity, workouts in sorted(by_type.items())}
        for day, by_type in sorted(groups.items())
    }


def _workout_day(workouts: list[SummarySample]) -> WorkoutDay:
    energies = [w.total_energy_kcal for w in workouts if w.total_energy_kcal is not None]
    distances = [w.total_distance_m for w in workouts if w.total_distance_m is not None]
    return WorkoutDay(
        count=len(workouts),
        duration_s=sum(
            w.duration_s if w.duration_s is not None else (w.end - w.start).total_seconds()
            for w in workouts
        ),
        energy_kcal=sum(energies) if energies else None,
        distance_m=sum(distances) if distances else None,
    )
