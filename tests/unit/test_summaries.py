"""Daily summaries against an independent reference and the cases that break naive ones.

The reference is a minute grid written here: every minute goes to the highest-priority source
covering it, and each covering sample of that source gives it its value per minute; the day of
a minute is read with datetime.fromtimestamp in the sample's own zone. Every sample boundary
and every local midnight of the zones drawn falls on a whole minute, so the grid is exact.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hksync.contract.sample_rows import DeviceKind
from hksync.contract.types import Aggregation
from hksync.summaries import (
    DEFAULT_KIND_ORDER,
    CumulativeDay,
    SleepStage,
    SummarySample,
    daily_cumulative,
    daily_discrete,
    daily_workouts,
    rank_sources,
    sleep_nights,
    zone_for,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
KOLKATA = ZoneInfo("Asia/Kolkata")  # +05:30: midnights on the half hour
WATCH = "watch-key"
PHONE = "phone-key"
APP = "app-key"
WATCH_FIRST = [WATCH, PHONE, APP]

# Sleep analysis raw values (HKCategoryValueSleepAnalysis).
IN_BED, ASLEEP_UNSPECIFIED, AWAKE, ASLEEP_CORE, ASLEEP_DEEP, ASLEEP_REM = range(6)


def local(
    zone: tzinfo, year: int, month: int, day: int, hour: int = 0, minute: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=zone)


def quantity(
    start: datetime,
    end: datetime,
    value: float,
    source: str = WATCH,
    zone: tzinfo | None = None,
) -> SummarySample:
    return SummarySample(
        uuid=uuid4(),
        start=start,
        end=end,
        value=value,
        source_key=source,
        zone=zone if zone is not None else start.tzinfo or UTC,
    )


def sleep(start: datetime, end: datetime, category: int, source: str = WATCH) -> SummarySample:
    return SummarySample(
        uuid=uuid4(),
        start=start,
        end=end,
        category_value=category,
        source_key=source,
        zone=start.tzinfo or UTC,
    )


def naive_sum(day: CumulativeDay) -> float:
    return sum(day.by_source.values())


# --- the independent reference -----------------------------------------------------------

BASE = datetime(2024, 10, 26, 20, tzinfo=UTC)  # hours before Berlin leaves summer time
ZONES: list[tzinfo] = [BERLIN, NEW_YORK, KOLKATA, timezone(timedelta(hours=-3)), UTC]


@dataclass(frozen=True)
class Drawn:
    """A sample on the minute grid: minutes after BASE."""

    source: str
    start_minute: int
    minutes: int
    value: float
    zone: tzinfo
    category: int = 0

    @property
    def end_minute(self) -> int:
        return self.start_minute + self.minutes

    def as_sample(self, uuid: UUID) -> SummarySample:
        return SummarySample(
            uuid=uuid,
            start=BASE + timedelta(minutes=self.start_minute),
            end=BASE + timedelta(minutes=self.end_minute),
            value=self.value,
            category_value=self.category,
            source_key=self.source,
            zone=self.zone,
        )


def day_of_minute(minute: int, zone: tzinfo) -> date:
    return datetime.fromtimestamp((BASE + timedelta(minutes=minute)).timestamp(), zone).date()


def reference_cumulative(
    drawn: list[Drawn], priority: list[str]
) -> tuple[dict[date, float], dict[date, dict[str, float]]]:
    rank = {source: position for position, source in enumerate(priority)}
    merged: dict[date, float] = defaultdict(float)
    own: dict[date, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    spans = [d for d in drawn if d.minutes]
    for minute in sorted({m for d in spans for m in range(d.start_minute, d.end_minute)}):
        covering = [d for d in spans if d.start_minute <= minute < d.end_minute]
        top = min(rank[d.source] for d in covering)
        for d in covering:
            day = day_of_minute(minute, d.zone)
            own[day][d.source] += d.value / d.minutes
            if rank[d.source] == top:
                merged[day] += d.value / d.minutes
    for d in drawn:
        if d.minutes:
            continue
        day = day_of_minute(d.start_minute, d.zone)
        own[day][d.source] += d.value
        hidden = any(
            s.start_minute <= d.start_minute < s.end_minute and rank[s.source] < rank[d.source]
            for s in spans
        )
        if not hidden:
            merged[day] += d.value
    return merged, own


drawn_quantities = st.builds(
    Drawn,
    source=st.sampled_from(WATCH_FIRST),
    start_minute=st.integers(0, 3 * 24 * 60),
    minutes=st.one_of(st.just(0), st.integers(1, 240)),
    value=st.floats(0, 5000, allow_nan=False),
    zone=st.sampled_from(ZONES),
)


@settings(max_examples=150, deadline=None)
@given(
    drawn=st.lists(drawn_quantities, max_size=25),
    explicit=st.permutations(WATCH_FIRST),
    range_start=st.integers(-1, 2),
    range_days=st.integers(0, 4),
)
def test_the_merge_matches_a_minute_grid_by_priority(
    drawn: list[Drawn], explicit: list[str], range_start: int, range_days: int
) -> None:
    first_day = BASE.date() + timedelta(days=range_start)
    last_day = first_day + timedelta(days=range_days)
    merged, own = reference_cumulative(drawn, explicit)

    days = daily_cumulative([d.as_sample(uuid4()) for d in drawn], explicit, first_day, last_day)

    expected_days = {day for day in own if first_day <= day <= last_day}
    assert set(days) == expected_days
    for day, summary in days.items():
        assert summary.total == pytest.approx(merged.get(day, 0.0), rel=1e-9, abs=1e-6)
        assert summary.by_source == pytest.approx(dict(own[day]), rel=1e-9, abs=1e-6)
        assert summary.total <= naive_sum(summary) + 1e-6


def test_a_walk_both_devices_counted_is_counted_once() -> None:
    walk = local(BERLIN, 2024, 5, 14, 18)
    samples = [
        quantity(walk, walk + timedelta(minutes=10), 1100),
        quantity(walk + timedelta(minutes=10), walk + timedelta(minutes=20), 1000),
        quantity(walk + timedelta(minutes=20), walk + timedelta(minutes=30), 900),
        quantity(walk, walk + timedelta(minutes=30), 2900, source=PHONE),
    ]

    day = daily_cumulative(samples, WATCH_FIRST, date(2024, 5, 14), date(2024, 5, 14))[
        date(2024, 5, 14)
    ]

    assert day.total == pytest.approx(3000)
    assert day.by_source == pytest.approx({WATCH: 3000, PHONE: 2900})
    assert naive_sum(day) == pytest.approx(5900)


def test_a_gap_in_the_watch_is_filled_from_the_phone_pro_rata() -> None:
    walk = local(BERLIN, 2024, 5, 14, 10)
    samples = [
        quantity(walk, walk + timedelta(minutes=10), 300),
        # The phone carried on for 10 minutes after the Watch came off: half its sample.
        quantity(walk, walk + timedelta(minutes=20), 400, source=PHONE),
    ]

    day = daily_cumulative(samples, WATCH_FIRST, date(2024, 5, 14), date(2024, 5, 14))

    assert day[date(2024, 5, 14)].total == pytest.approx(300 + 200)


def test_the_priority_picks_per_interval_not_per_day() -> None:
    morning = local(BERLIN, 2024, 5, 14, 8)
    evening = local(BERLIN, 2024, 5, 14, 19)
    samples = [
        # Watch worn in the morning only; the phone counted both walks.
        quantity(morning, morning + timedelta(hours=1), 4000),
        quantity(morning, morning + timedelta(hours=1), 3500, source=PHONE),
        quantity(evening, evening + timedelta(hours=1), 10_000, source=PHONE),
    ]

    day = daily_cumulative(samples, WATCH_FIRST, date(2024, 5, 14), date(2024, 5, 14))

    # One source for the whole day would give 4,000 (Watch) or 13,500 (phone).
    assert day[date(2024, 5, 14)].total == pytest.approx(14_000)


def test_an_explicit_priority_overrides_the_default() -> None:
    walk = local(BERLIN, 2024, 5, 14, 10)
    samples = [
        quantity(walk, walk + timedelta(minutes=30), 3000),
        quantity(walk, walk + timedelta(minutes=30), 2800, source=PHONE),
    ]
    sources = {WATCH: DeviceKind.WATCH, PHONE: DeviceKind.PHONE}
    the_day = date(2024, 5, 14)

    by_default = daily_cumulative(samples, rank_sources(sources), the_day, the_day)
    phone_first = daily_cumulative(samples, rank_sources(sources, [PHONE]), the_day, the_day)

    assert by_default[the_day].total == pytest.approx(3000)
    assert phone_first[the_day].total == pytest.approx(2800)


def test_a_sample_across_midnight_counts_pro_rata_on_both_days() -> None:
    start = local(BERLIN, 2024, 5, 14, 23, 30)
    samples = [quantity(start, start + timedelta(hours=1), 600)]

    days = daily_cumulative(samples, WATCH_FIRST, date(2024, 5, 14), date(2024, 5, 15))

    assert days[date(2024, 5, 14)].total == pytest.approx(300)
    assert days[date(2024, 5, 15)].total == pytest.approx(300)


def test_days_outside_the_range_or_without_data_are_absent() -> None:
    start = local(BERLIN, 2024, 5, 14, 23, 30)
    samples = [
        quantity(start, start + timedelta(hours=1), 600),
        quantity(local(BERLIN, 2024, 5, 20, 9), local(BERLIN, 2024, 5, 20, 10), 50),
    ]

    days = daily_cumulative(samples, WATCH_FIRST, date(2024, 5, 15), date(2024, 5, 19))

    assert list(days) == [date(2024, 5, 15)]
    assert days[date(2024, 5, 15)].total == pytest.approx(300)


def test_a_sample_ending_at_midnight_belongs_to_the_day_before() -> None:
    samples = [quantity(local(BERLIN, 2024, 5, 14, 23), local(BERLIN, 2024, 5, 15), 120)]

    days = daily_cumulative(samples, WATCH_FIRST, date(2024, 5, 14), date(2024, 5, 15))

    assert list(days) == [date(2024, 5, 14)]


def test_a_measured_zero_is_a_day_with_a_zero_total() -> None:
    samples = [quantity(local(BERLIN, 2024, 5, 14, 9), local(BERLIN, 2024, 5, 14, 10), 0)]

    days = daily_cumulative(samples, WATCH_FIRST, date(2024, 5, 14), date(2024, 5, 14))

    assert days[date(2024, 5, 14)].total == 0


@pytest.mark.parametrize(
    ("zone", "the_day", "hours"),
    [
        (BERLIN, date(2024, 3, 31), 23),
        (BERLIN, date(2024, 10, 27), 25),
        (BERLIN, date(2024, 10, 26), 24),
        # Havana springs forward at midnight itself: the day starts at 01:00.
        (ZoneInfo("America/Havana"), date(2024, 3, 10), 23),
        (ZoneInfo("America/Havana"), date(2024, 3, 9), 24),
        # Santiago falls back at midnight: 23:00 comes twice on the 6th.
        (ZoneInfo("America/Santiago"), date(2024, 4, 6), 25),
    ],
)
def test_a_dst_change_day_has_the_hours_it_had(zone: tzinfo, the_day: date, hours: int) -> None:
    # One sample per UTC hour, 60 each, over three days around the day.
    first = datetime.combine(the_day - timedelta(days=1), datetime.min.time(), UTC)
    samples = [
        quantity(first + timedelta(hours=h), first + timedelta(hours=h + 1), 60, zone=zone)
        for h in range(72)
    ]

    days = daily_cumulative(samples, WATCH_FIRST, the_day, the_day)

    assert days[the_day].total == pytest.approx(60 * hours)


def test_a_traveller_s_days_follow_each_sample_s_own_zone() -> None:
    # Berlin Monday to Wednesday morning, then New York from Wednesday on.
    samples = [
        quantity(local(BERLIN, 2024, 6, 3, 18), local(BERLIN, 2024, 6, 3, 19), 1000),
        quantity(local(BERLIN, 2024, 6, 5, 7), local(BERLIN, 2024, 6, 5, 8), 2000),
        # Wednesday evening in New York is Thursday 03:00 in Berlin and 01:00 UTC.
        quantity(local(NEW_YORK, 2024, 6, 5, 21), local(NEW_YORK, 2024, 6, 5, 22), 3000),
        quantity(local(NEW_YORK, 2024, 6, 6, 8), local(NEW_YORK, 2024, 6, 6, 9), 4000),
    ]

    days = daily_cumulative(samples, WATCH_FIRST, date(2024, 6, 3), date(2024, 6, 9))

    assert {day: summary.total for day, summary in days.items()} == pytest.approx(
        {date(2024, 6, 3): 1000, date(2024, 6, 5): 5000, date(2024, 6, 6): 4000}
    )


def test_an_instant_counts_whole_unless_a_higher_source_covers_it() -> None:
    walk = local(BERLIN, 2024, 5, 14, 10)
    samples = [
        quantity(walk, walk + timedelta(minutes=30), 3000),
        # Same instant, same source as the covering span: its own account, counted.
        quantity(walk + timedelta(minutes=5), walk + timedelta(minutes=5), 7),
        # A lower source inside the Watch's span: hidden.
        quantity(walk + timedelta(minutes=6), walk + timedelta(minutes=6), 11, source=PHONE),
        # A lower source where the Watch has no data: counted.
        quantity(walk + timedelta(hours=2), walk + timedelta(hours=2), 13, source=PHONE),
    ]

    day = daily_cumulative(samples, WATCH_FIRST, date(2024, 5, 14), date(2024, 5, 14))

    assert day[date(2024, 5, 14)].total == pytest.approx(3000 + 7 + 13)
    assert day[date(2024, 5, 14)].by_source == pytest.approx({WATCH: 3007, PHONE: 24})


def test_sources_the_priority_omits_rank_below_it_by_key() -> None:
    walk = local(BERLIN, 2024, 5, 14, 10)
    samples = [
        quantity(walk, walk + timedelta(minutes=30), 100, source="b-unknown"),
        quantity(walk, walk + timedelta(minutes=30), 200, source="a-unknown"),
        quantity(walk, walk + timedelta(minutes=10), 30, source=PHONE),
    ]

    day = daily_cumulative(samples, [PHONE], date(2024, 5, 14), date(2024, 5, 14))

    # The phone's 10 minutes, then "a-unknown" for the other 20 of its 30.
    assert day[date(2024, 5, 14)].total == pytest.approx(30 + 200 * 2 / 3)


# --- source priority ---------------------------------------------------------------------


def test_the_default_order_is_manual_watch_phone_ring_scale_app() -> None:
    sources = {
        "z-app": DeviceKind.APP,
        "scale": DeviceKind.SCALE,
        "b-watch": DeviceKind.WATCH,
        "a-watch": DeviceKind.WATCH,
        "ring": DeviceKind.RING,
        "phone": DeviceKind.PHONE,
        "typed": DeviceKind.MANUAL,
    }

    assert rank_sources(sources) == [
        "typed", "a-watch", "b-watch", "phone", "ring", "scale", "z-app",
    ]  # fmt: skip
    assert DEFAULT_KIND_ORDER[0] is DeviceKind.MANUAL
    assert set(DEFAULT_KIND_ORDER) == set(DeviceKind)


def test_an_explicit_order_comes_first_once_each() -> None:
    sources = {"watch": DeviceKind.WATCH, "phone": DeviceKind.PHONE, "app": DeviceKind.APP}

    ranked = rank_sources(sources, ["app", "quiet-source", "app"])

    assert ranked == ["app", "quiet-source", "watch", "phone"]


# --- discrete types ----------------------------------------------------------------------


def test_the_average_is_time_weighted_or_arithmetic_by_the_aggregation_style() -> None:
    start = local(BERLIN, 2024, 5, 14, 10)
    samples = [
        quantity(start, start + timedelta(hours=1), 60),
        quantity(start + timedelta(hours=2), start + timedelta(hours=2, minutes=1), 120),
    ]
    the_day = date(2024, 5, 14)

    weighted = daily_discrete(samples, Aggregation.DISCRETE_TEMPORALLY_WEIGHTED, the_day, the_day)
    arithmetic = daily_discrete(samples, Aggregation.DISCRETE_ARITHMETIC, the_day, the_day)

    assert weighted[the_day].average == pytest.approx((60 * 3600 + 120 * 60) / 3660)
    assert arithmetic[the_day].average == pytest.approx(90)
    for summary in (weighted[the_day], arithmetic[the_day]):
        assert (summary.minimum, summary.maximum, summary.latest, summary.count) == (
            60,
            120,
            120,
            2,
        )


def test_a_day_of_instants_averages_arithmetically_when_time_weighted() -> None:
    moment = local(BERLIN, 2024, 5, 14, 10)
    samples = [quantity(moment + timedelta(minutes=m), moment + timedelta(minutes=m), v)
               for m, v in ((0, 50), (1, 70), (30, 90))]  # fmt: skip
    the_day = date(2024, 5, 14)

    days = daily_discrete(samples, Aggregation.DISCRETE_TEMPORALLY_WEIGHTED, the_day, the_day)

    assert days[the_day].average == pytest.approx(70)


def test_instants_weigh_nothing_beside_samples_with_a_duration() -> None:
    moment = local(BERLIN, 2024, 5, 14, 10)
    samples = [
        quantity(moment, moment + timedelta(minutes=10), 60),
        quantity(moment + timedelta(hours=1), moment + timedelta(hours=1), 200),
    ]
    the_day = date(2024, 5, 14)

    days = daily_discrete(samples, Aggregation.DISCRETE_TEMPORALLY_WEIGHTED, the_day, the_day)

    assert days[the_day].average == pytest.approx(60)
    assert days[the_day].maximum == 200
    assert days[the_day].count == 2


def test_sound_levels_average_by_energy_weighted_by_time() -> None:
    start = local(BERLIN, 2024, 5, 14, 10)
    samples = [
        quantity(start, start + timedelta(hours=1), 60),
        quantity(start + timedelta(hours=1), start + timedelta(hours=4), 80),
    ]
    the_day = date(2024, 5, 14)

    days = daily_discrete(
        samples, Aggregation.DISCRETE_EQUIVALENT_CONTINUOUS_LEVEL, the_day, the_day
    )

    assert days[the_day].average == pytest.approx(10 * math.log10((1e6 * 1 + 1e8 * 3) / 4))


def test_the_latest_is_the_sample_that_ended_last_and_midnight_splits_the_weight() -> None:
    samples = [
        quantity(local(BERLIN, 2024, 5, 14, 23), local(BERLIN, 2024, 5, 15, 1), 40),
        quantity(local(BERLIN, 2024, 5, 14, 20), local(BERLIN, 2024, 5, 14, 22), 100),
    ]

    days = daily_discrete(
        samples, Aggregation.DISCRETE_TEMPORALLY_WEIGHTED, date(2024, 5, 14), date(2024, 5, 15)
    )

    first, second = days[date(2024, 5, 14)], days[date(2024, 5, 15)]
    # The midnight sample is in both days, with one hour of weight in each.
    assert first.latest == 40
    assert first.average == pytest.approx((100 * 2 + 40 * 1) / 3)
    assert (second.count, second.average, second.latest) == (1, 40, 40)


@settings(max_examples=100, deadline=None)
@given(
    drawn=st.lists(drawn_quantities, min_size=1, max_size=20),
    aggregation=st.sampled_from(
        [
            Aggregation.DISCRETE_ARITHMETIC,
            Aggregation.DISCRETE_TEMPORALLY_WEIGHTED,
            Aggregation.DISCRETE_EQUIVALENT_CONTINUOUS_LEVEL,
        ]
    ),
)
def test_discrete_days_match_a_minute_grid(drawn: list[Drawn], aggregation: Aggregation) -> None:
    in_decibels = aggregation is Aggregation.DISCRETE_EQUIVALENT_CONTINUOUS_LEVEL
    drawn = [Drawn(d.source, d.start_minute, d.minutes, d.value / 50, d.zone) for d in drawn]
    uuids = [UUID(int=index) for index in range(len(drawn))]
    # Per day: (the reading, its uuid, its minutes in the day).
    minutes_in_day: dict[date, list[tuple[Drawn, UUID, int]]] = defaultdict(list)
    for d, uuid in zip(drawn, uuids, strict=True):
        if not d.minutes:
            minutes_in_day[day_of_minute(d.start_minute, d.zone)].append((d, uuid, 0))
            continue
        per_day: dict[date, int] = defaultdict(int)
        for minute in range(d.start_minute, d.end_minute):
            per_day[day_of_minute(minute, d.zone)] += 1
        for day, minutes in per_day.items():
            minutes_in_day[day].append((d, uuid, minutes))
    first_day, last_day = BASE.date() - timedelta(days=1), BASE.date() + timedelta(days=4)

    days = daily_discrete(
        [d.as_sample(uuid) for d, uuid in zip(drawn, uuids, strict=True)],
        aggregation,
        first_day,
        last_day,
    )

    assert set(days) == set(minutes_in_day)
    for day, summary in days.items():
        readings = minutes_in_day[day]
        values = [d.value for d, _, _ in readings]
        levels = [10 ** (v / 10) if in_decibels else v for v in values]
        weights = [minutes for _, _, minutes in readings]
        if aggregation is Aggregation.DISCRETE_ARITHMETIC or not sum(weights):
            mean = sum(levels) / len(levels)
        else:
            mean = sum(lv * w for lv, w in zip(levels, weights, strict=True)) / sum(weights)
        latest = max(((d.end_minute, d.start_minute, uuid), d.value) for d, uuid, _ in readings)[1]
        assert summary.count == len(readings)
        assert (summary.minimum, summary.maximum) == (min(values), max(values))
        assert summary.latest == latest
        assert summary.average == pytest.approx(
            10 * math.log10(mean) if in_decibels else mean, rel=1e-9, abs=1e-9
        )


def test_a_cumulative_type_is_not_averaged() -> None:
    with pytest.raises(ValueError, match="daily_cumulative"):
        daily_discrete([], Aggregation.CUMULATIVE, date(2024, 5, 14), date(2024, 5, 14))


# --- sleep -------------------------------------------------------------------------------


def test_a_night_of_watch_stages_over_a_phone_s_estimate() -> None:
    night = date(2024, 6, 4)

    def at(hour: int, minute: int = 0) -> datetime:
        day = 3 if hour >= 18 else 4
        return local(BERLIN, 2024, 6, day, hour, minute)

    samples = [
        sleep(at(23), at(1), ASLEEP_CORE),
        sleep(at(1), at(2), ASLEEP_DEEP),
        sleep(at(2), at(3), ASLEEP_REM),
        sleep(at(3), at(3, 10), AWAKE),
        sleep(at(3, 10), at(6), ASLEEP_CORE),
        sleep(at(22, 30), at(6, 30), IN_BED, source=PHONE),
        sleep(at(23), at(6, 15), ASLEEP_UNSPECIFIED, source=PHONE),
    ]

    nights = sleep_nights(samples, WATCH_FIRST, night, night)

    summary = nights[night]
    assert summary.asleep_min == pytest.approx(
        {
            SleepStage.CORE: 120 + 170,
            SleepStage.DEEP: 60,
            SleepStage.REM: 60,
            # Only the phone's quarter hour after the Watch stopped.
            SleepStage.UNSPECIFIED: 15,
        }
    )
    assert summary.awake_min == pytest.approx(10)
    assert summary.in_bed_min == pytest.approx(480)
    assert summary.asleep_total_min == pytest.approx(290 + 60 + 60 + 15)


def test_in_bed_of_two_sources_is_merged_on_its_own_layer() -> None:
    samples = [
        sleep(local(BERLIN, 2024, 6, 3, 23), local(BERLIN, 2024, 6, 4, 6), IN_BED),
        sleep(local(BERLIN, 2024, 6, 3, 22, 30), local(BERLIN, 2024, 6, 4, 6, 30), IN_BED, PHONE),
        sleep(local(BERLIN, 2024, 6, 3, 23), local(BERLIN, 2024, 6, 4, 6), ASLEEP_CORE),
    ]

    summary = sleep_nights(samples, WATCH_FIRST, date(2024, 6, 4), date(2024, 6, 4))[
        date(2024, 6, 4)
    ]

    assert summary.in_bed_min == pytest.approx(480)
    assert summary.asleep_total_min == pytest.approx(420)


def test_within_one_source_awake_inside_asleep_counts_once() -> None:
    samples = [
        sleep(local(BERLIN, 2024, 6, 3, 23), local(BERLIN, 2024, 6, 4, 7), ASLEEP_UNSPECIFIED),
        sleep(local(BERLIN, 2024, 6, 4, 2), local(BERLIN, 2024, 6, 4, 2, 30), AWAKE),
    ]

    summary = sleep_nights(samples, WATCH_FIRST, date(2024, 6, 4), date(2024, 6, 4))[
        date(2024, 6, 4)
    ]

    assert summary.awake_min == pytest.approx(30)
    assert summary.asleep_min[SleepStage.UNSPECIFIED] == pytest.approx(450)


def test_an_explicit_sleep_priority_prefers_the_phone() -> None:
    samples = [
        sleep(local(BERLIN, 2024, 6, 3, 23), local(BERLIN, 2024, 6, 4, 6), ASLEEP_CORE),
        sleep(
            local(BERLIN, 2024, 6, 3, 23), local(BERLIN, 2024, 6, 4, 7), ASLEEP_UNSPECIFIED, PHONE
        ),
    ]

    summary = sleep_nights(samples, [PHONE, WATCH], date(2024, 6, 4), date(2024, 6, 4))[
        date(2024, 6, 4)
    ]

    assert summary.asleep_min[SleepStage.CORE] == 0
    assert summary.asleep_min[SleepStage.UNSPECIFIED] == pytest.approx(480)


def test_a_night_ends_at_six_in_the_evening_of_its_wake_up_day() -> None:
    samples = [
        # An afternoon nap belongs to that day's night, an early bedtime to the next.
        sleep(local(BERLIN, 2024, 6, 4, 14), local(BERLIN, 2024, 6, 4, 15), ASLEEP_CORE),
        sleep(local(BERLIN, 2024, 6, 4, 19), local(BERLIN, 2024, 6, 4, 20), ASLEEP_CORE),
        # A sleep across the cut-off counts pro rata on both nights.
        sleep(local(BERLIN, 2024, 6, 5, 17), local(BERLIN, 2024, 6, 5, 19), ASLEEP_DEEP),
    ]

    nights = sleep_nights(samples, WATCH_FIRST, date(2024, 6, 4), date(2024, 6, 6))

    assert {night: summary.asleep_total_min for night, summary in nights.items()} == (
        pytest.approx({date(2024, 6, 4): 60, date(2024, 6, 5): 60 + 60, date(2024, 6, 6): 60})
    )


SLEEP_VALUES = [IN_BED, ASLEEP_UNSPECIFIED, AWAKE, ASLEEP_CORE, ASLEEP_DEEP, ASLEEP_REM]
# Within one source: awake, then REM, deep, core, unspecified.
LAYER_PRECEDENCE = {AWAKE: 0, ASLEEP_REM: 1, ASLEEP_DEEP: 2, ASLEEP_CORE: 3, ASLEEP_UNSPECIFIED: 4}


def night_of_minute(minute: int, zone: tzinfo) -> date:
    moment = datetime.fromtimestamp((BASE + timedelta(minutes=minute)).timestamp(), zone)
    return moment.date() + timedelta(days=1) if moment.hour >= 18 else moment.date()


@settings(max_examples=100, deadline=None)
@given(
    drawn=st.lists(
        st.builds(
            Drawn,
            source=st.sampled_from(WATCH_FIRST),
            start_minute=st.integers(0, 3 * 24 * 60),
            minutes=st.integers(0, 9 * 60),
            value=st.just(0.0),
            zone=st.sampled_from(ZONES),
            category=st.sampled_from(SLEEP_VALUES),
        ),
        max_size=15,
    ),
    explicit=st.permutations(WATCH_FIRST),
)
def test_sleep_minutes_match_a_minute_grid_by_priority(
    drawn: list[Drawn], explicit: list[str]
) -> None:
    uuids = {index: UUID(int=index) for index in range(len(drawn))}
    rank = {source: position for position, source in enumerate(explicit)}
    expected: dict[date, dict[int, float]] = defaultdict(lambda: defaultdict(float))
    for in_bed_layer in (True, False):
        layer = [
            (index, d)
            for index, d in enumerate(drawn)
            if d.minutes and (d.category == IN_BED) == in_bed_layer
        ]
        for minute in {m for _, d in layer for m in range(d.start_minute, d.end_minute)}:
            _, winner = min(
                (
                    (rank[d.source], LAYER_PRECEDENCE.get(d.category, 0), str(uuids[index])),
                    d,
                )
                for index, d in layer
                if d.start_minute <= minute < d.end_minute
            )
            expected[night_of_minute(minute, winner.zone)][winner.category] += 1
    first_night, last_night = BASE.date(), BASE.date() + timedelta(days=4)

    nights = sleep_nights(
        [d.as_sample(uuids[index]) for index, d in enumerate(drawn)],
        explicit,
        first_night,
        last_night,
    )

    assert set(nights) == {night for night in expected if first_night <= night <= last_night}
    for night, summary in nights.items():
        minutes = expected[night]
        assert summary.in_bed_min == pytest.approx(minutes[IN_BED])
        assert summary.awake_min == pytest.approx(minutes[AWAKE])
        assert summary.asleep_min == pytest.approx(
            {
                SleepStage.UNSPECIFIED: minutes[ASLEEP_UNSPECIFIED],
                SleepStage.CORE: minutes[ASLEEP_CORE],
                SleepStage.DEEP: minutes[ASLEEP_DEEP],
                SleepStage.REM: minutes[ASLEEP_REM],
            }
        )


# --- workouts ----------------------------------------------------------------------------


def workout(
    start: datetime,
    minutes: int,
    activity: str,
    energy: float | None = None,
    distance: float | None = None,
    duration_s: float | None = None,
) -> SummarySample:
    return SummarySample(
        uuid=uuid4(),
        start=start,
        end=start + timedelta(minutes=minutes),
        source_key=WATCH,
        zone=start.tzinfo or UTC,
        activity_type=activity,
        duration_s=duration_s,
        total_energy_kcal=energy,
        total_distance_m=distance,
    )


def test_workouts_add_up_per_activity_on_the_local_day_they_start() -> None:
    samples = [
        workout(local(BERLIN, 2024, 5, 14, 7), 30, "running", 300, 5000, duration_s=1700),
        workout(local(BERLIN, 2024, 5, 14, 18), 45, "running", 450, 8000, duration_s=2700),
        workout(local(BERLIN, 2024, 5, 14, 12), 20, "walking", distance=1500),
        # Starts before midnight: all of it on the 14th.
        workout(local(BERLIN, 2024, 5, 14, 23, 30), 60, "yoga", 120),
        workout(local(BERLIN, 2024, 5, 15, 8), 30, "running", 280, duration_s=1800),
    ]

    days = daily_workouts(samples, date(2024, 5, 14), date(2024, 5, 15))

    first = days[date(2024, 5, 14)]
    assert set(first) == {"running", "walking", "yoga"}
    assert first["running"].count == 2
    assert first["running"].duration_s == 1700 + 2700
    assert first["running"].energy_kcal == 750
    assert first["running"].distance_m == 13_000
    # No energy reported: unknown, not zero; no duration reported: the span.
    assert first["walking"].energy_kcal is None
    assert first["walking"].duration_s == 20 * 60
    assert first["yoga"].distance_m is None
    assert days[date(2024, 5, 15)]["running"].count == 1


def test_workouts_outside_the_range_are_left_out() -> None:
    samples = [workout(local(NEW_YORK, 2024, 5, 13, 21), 30, "running")]

    # 21:00 in New York is the 14th in UTC: the workout's own zone decides.
    assert daily_workouts(samples, date(2024, 5, 14), date(2024, 5, 20)) == {}


# --- zones and samples -------------------------------------------------------------------


def test_the_zone_is_the_iana_zone_then_the_offset_then_utc() -> None:
    assert zone_for("Europe/Berlin", 7200) is BERLIN
    assert zone_for("Mars/Olympus_Mons", -3600) == timezone(timedelta(hours=-1))
    assert zone_for(None, 19800) == timezone(timedelta(hours=5, minutes=30))
    assert zone_for(None, None) is UTC


def test_a_sample_must_be_aware_and_in_order() -> None:
    moment = datetime(2024, 5, 14, 10, tzinfo=UTC)
    with pytest.raises(ValueError, match="aware"):
        SummarySample(uuid=uuid4(), start=moment.replace(tzinfo=None), end=moment, source_key=WATCH)
    with pytest.raises(ValueError, match="before"):
        SummarySample(uuid=uuid4(), start=moment, end=moment - timedelta(1), source_key=WATCH)
