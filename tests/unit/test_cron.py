"""Scheduler's cron syntax, parsed strictly (moto accepts anything, so this is the only check
before AWS), and its occurrences in a time zone, daylight saving time included.

Dates are fixed: Europe/Berlin springs forward on 2027-03-28 (02:00 -> 03:00) and falls back
on 2026-10-25 (03:00 -> 02:00); America/New_York springs forward on 2027-03-14.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import islice
from zoneinfo import ZoneInfo

import pytest

from hksync.cron import CronError, CronExpression, local_instant

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
UTC_ZONE = ZoneInfo("UTC")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def upcoming(expression: str, zone: ZoneInfo, after: datetime, count: int) -> list[datetime]:
    return list(islice(CronExpression.parse(expression).occurrences(zone, after), count))


# ------------------------------------------------------------------------------------------
# The grammar
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "expression",
    [
        "0 8 * * ? *",
        "0/15 * * * ? *",
        "5/15 8-17 ? * MON-FRI *",
        "0 18 ? * MON-FRI *",
        "0 8 1 * ? *",
        "0 10 L * ? *",
        "0 10 LW * ? *",
        "0 10 15W * ? *",
        "0 10 ? * 6L *",
        "0 10 ? * 2#1 *",
        "0 10 ? * L *",
        "0,30 7,19 ? JAN,MAR-MAY SUN,SAT 2027-2030",
        "59 23 31 DEC ? 2199",
        "0 0 1/2 */3 ? 1970/10",
        "  0   8 *  * ?  *  ",  # any amount of whitespace between fields
    ],
)
def test_valid_expressions_parse(expression: str) -> None:
    parsed = CronExpression.parse(expression)
    assert parsed.text == " ".join(expression.split())


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("0 8 * * ?", "has 5 field(s)"),
        ("0 8 * * ? * *", "has 7 field(s)"),
        ("", "has 0 field(s)"),
        ("0 8 * * * *", "exactly one of day-of-month and day-of-week must be '?'"),
        ("0 8 ? * ? *", "exactly one of day-of-month and day-of-week must be '?'"),
        ("0 8 1 * MON *", "exactly one of"),
        ("60 8 * * ? *", "minutes: 60 is outside 0-59"),
        ("0 24 * * ? *", "hours: 24 is outside 0-23"),
        ("0 8 0 * ? *", "day-of-month: 0 is outside 1-31"),
        ("0 8 32 * ? *", "day-of-month: 32 is outside 1-31"),
        ("0 8 * 13 ? *", "month: 13 is outside 1-12"),
        ("0 8 ? * 0 *", "day-of-week: 0 is outside 1-7"),
        ("0 8 ? * 8 *", "day-of-week: 8 is outside 1-7"),
        ("0 8 * * ? 1969", "year: 1969 is outside 1970-2199"),
        ("0 8 * * ? 2200", "year: 2200 is outside 1970-2199"),
        ("0 8 * jan ? *", "month: 'jan' is not a value (1-12 or JAN-DEC)"),
        ("0 8 ? * mon *", "day-of-week: 'mon' is not a value (1-7 or SUN-SAT)"),
        ("0 8 * JANUARY ? *", "'JANUARY' is not a value"),
        ("0 8 ? * FRI-MON *", "day-of-week: range FRI-MON runs backwards"),
        ("0 17-9 * * ? *", "hours: range 17-9 runs backwards"),
        ("0 8 ? * MON/2 *", "day-of-week: '/' is not allowed"),
        ("0/0 8 * * ? *", "minutes: increment '0' is not a number from 1 to 59"),
        ("0/x 8 * * ? *", "increment 'x'"),
        ("0,,30 8 * * ? *", "minutes: empty item"),
        ("-5 8 * * ? *", "minutes: '' is not a value"),
        ("0 8 L-3 * ? *", "L and W stand alone"),
        ("0 8 1,L * ? *", "L and W stand alone"),
        ("0 8 32W * ? *", "day-of-month: 32 is outside 1-31"),
        ("0 8 ? * 2#6 *", "'#' takes one day and its week"),
        ("0 8 ? * 2#1,3#2 *", "'#' takes one day"),
        ("0 8 ? * MON-FRI#1 *", "'#' takes one day"),
        ("0 8 ? * 1,6L *", "L stands alone"),
        ("0 8 L * L *", "exactly one of"),
        ("0 8 ? * 9L *", "day-of-week: 9 is outside 1-7"),
        ("0 ٨ * * ? *", "hours: '٨' is not a value"),  # a digit, but not an ASCII one
        ("rate(5 minutes)", "has 2 field(s)"),
    ],
)
def test_invalid_expressions_are_refused_with_the_reason(expression: str, reason: str) -> None:
    with pytest.raises(CronError) as refused:
        CronExpression.parse(expression)
    assert reason in str(refused.value)


# ------------------------------------------------------------------------------------------
# Which days
# ------------------------------------------------------------------------------------------
def days(expression: str, first: date, count: int) -> list[date]:
    after = datetime(first.year, first.month, first.day, tzinfo=UTC) - timedelta(seconds=1)
    return [instant.date() for instant in upcoming(expression, UTC_ZONE, after, count)]


def test_day_of_week_counts_from_sunday() -> None:
    # 2026-11-29 is a Sunday.
    assert days("0 12 ? * 1 *", date(2026, 11, 26), 2) == [date(2026, 11, 29), date(2026, 12, 6)]
    assert days("0 12 ? * MON-FRI *", date(2026, 11, 27), 3) == [
        date(2026, 11, 27),
        date(2026, 11, 30),
        date(2026, 12, 1),
    ]


def test_last_day_last_weekday_and_nearest_weekday_of_the_month() -> None:
    assert days("0 12 L * ? *", date(2027, 1, 1), 3) == [
        date(2027, 1, 31),
        date(2027, 2, 28),
        date(2027, 3, 31),
    ]
    # 2027-01-31 is a Sunday, 2027-07-31 a Saturday: the last weekday is the Friday before.
    assert days("0 12 LW 1,7 ? 2027", date(2027, 1, 1), 2) == [date(2027, 1, 29), date(2027, 7, 30)]
    # The 15th of May 2027 is a Saturday (-> Friday 14th); of August 2027 a Sunday (-> Monday
    # 16th); 1 May 2027 is a Saturday and the nearest weekday does not leave the month (-> 3rd).
    assert days("0 12 15W 5,8 ? 2027", date(2027, 1, 1), 2) == [
        date(2027, 5, 14),
        date(2027, 8, 16),
    ]
    assert days("0 12 1W 5 ? 2027", date(2027, 1, 1), 1) == [date(2027, 5, 3)]
    # 31W: only months with a 31st.
    assert days("0 12 31W * ? 2027", date(2027, 4, 1), 2) == [date(2027, 5, 31), date(2027, 7, 30)]


def test_last_and_nth_day_of_week_in_the_month() -> None:
    # Last Friday of the month; the first Monday; the fifth Tuesday (only some months have one).
    assert days("0 12 ? * 6L *", date(2026, 12, 1), 2) == [date(2026, 12, 25), date(2027, 1, 29)]
    assert days("0 12 ? * 2#1 *", date(2026, 12, 1), 2) == [date(2026, 12, 7), date(2027, 1, 4)]
    assert days("0 12 ? * 3#5 *", date(2026, 12, 1), 2) == [date(2026, 12, 29), date(2027, 3, 30)]
    # L alone in day-of-week is the last day of the week: Saturday.
    assert days("0 12 ? * L *", date(2026, 11, 26), 1) == [date(2026, 11, 28)]


def test_years_and_an_expression_that_never_fires_again() -> None:
    assert days("0 0 29 FEB ? *", date(2026, 11, 26), 2) == [date(2028, 2, 29), date(2032, 2, 29)]
    assert CronExpression.parse("0 8 30 FEB ? *").next_after(UTC_ZONE, utc(2026, 1, 1)) is None
    assert CronExpression.parse("0 8 * * ? 2020").next_after(UTC_ZONE, utc(2026, 1, 1)) is None


def test_increments_start_from_their_first_value() -> None:
    first_hour = upcoming("5/20 10 * * ? *", UTC_ZONE, utc(2026, 11, 26), 4)
    assert [instant.minute for instant in first_hour] == [5, 25, 45, 5]


# ------------------------------------------------------------------------------------------
# Time zones and daylight saving time
# ------------------------------------------------------------------------------------------
def test_0800_berlin_stays_0800_across_spring_forward() -> None:
    assert upcoming("0 8 * * ? *", BERLIN, utc(2027, 3, 26), 4) == [
        utc(2027, 3, 26, 7),  # CET, UTC+1
        utc(2027, 3, 27, 7),
        utc(2027, 3, 28, 6),  # CEST, UTC+2, from 02:00 that morning
        utc(2027, 3, 29, 6),
    ]


def test_0800_berlin_stays_0800_across_fall_back() -> None:
    assert upcoming("0 8 * * ? *", BERLIN, utc(2026, 10, 23), 4) == [
        utc(2026, 10, 23, 6),
        utc(2026, 10, 24, 6),
        utc(2026, 10, 25, 7),
        utc(2026, 10, 26, 7),
    ]


def test_a_skipped_local_time_does_not_fire_that_day() -> None:
    # 02:30 does not exist in Berlin on 2027-03-28: Scheduler skips the invocation.
    assert upcoming("30 2 * * ? *", BERLIN, utc(2027, 3, 27), 2) == [
        utc(2027, 3, 27, 1, 30),
        utc(2027, 3, 29, 0, 30),
    ]


def test_a_repeated_local_time_fires_once_at_its_first_instance() -> None:
    # 02:30 happens twice in Berlin on 2026-10-25 (CEST, then CET): it fires once, in CEST.
    assert upcoming("30 2 * * ? *", BERLIN, utc(2026, 10, 24, 12), 2) == [
        utc(2026, 10, 25, 0, 30),
        utc(2026, 10, 26, 1, 30),
    ]
    every_minute = upcoming("* 2 * * ? *", BERLIN, utc(2026, 10, 24, 23), 61)
    assert every_minute[0] == utc(2026, 10, 25, 0, 0)
    assert every_minute[59] == utc(2026, 10, 25, 0, 59)
    assert every_minute[60] == utc(2026, 10, 26, 1, 0)  # not the second pass of 02:xx


def test_occurrences_are_strictly_after_and_in_order() -> None:
    instants = upcoming("0,30 * * * ? *", NEW_YORK, utc(2027, 3, 14, 6, 0), 6)
    assert instants[0] == utc(2027, 3, 14, 6, 30)
    assert instants == sorted(instants)
    # New York springs forward at 02:00 on 2027-03-14: 02:00 and 02:30 are skipped.
    assert [i.astimezone(NEW_YORK).strftime("%H:%M") for i in instants] == [
        "01:30",
        "03:00",
        "03:30",
        "04:00",
        "04:30",
        "05:00",
    ]


def test_local_instant() -> None:
    assert local_instant(datetime(2027, 3, 28, 2, 30), BERLIN) is None
    assert local_instant(datetime(2026, 10, 25, 2, 30), BERLIN) == utc(2026, 10, 25, 0, 30)
    assert local_instant(datetime(2026, 11, 26, 8, 0), ZoneInfo("Asia/Kolkata")) == utc(
        2026, 11, 26, 2, 30
    )
    with pytest.raises(ValueError, match="naive"):
        local_instant(datetime(2026, 11, 26, 8, 0, tzinfo=UTC), BERLIN)


@pytest.mark.parametrize(
    ("expression", "minutes"),
    [
        ("* * * * ? *", 1),
        ("0/2 * * * ? *", 2),
        ("0/15 * * * ? *", 15),
        ("0 8 * * ? *", 24 * 60),
        ("0 8,20 ? * MON-FRI *", 12 * 60),
        ("0,55 0,23 * * ? *", 5),  # 23:55 to 00:00 the next day
        ("30 9 ? * 2#1 *", 24 * 60),
    ],
)
def test_the_shortest_interval_between_occurrences(expression: str, minutes: int) -> None:
    assert CronExpression.parse(expression).shortest_interval() == timedelta(minutes=minutes)
