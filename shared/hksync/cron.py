"""EventBridge Scheduler's cron expressions: a strict parser, and their occurrences in a time zone.

Scheduler validates expressions on its side, but moto accepts anything, so a malformed
expression would pass every local test and fail only in AWS. This module refuses what Scheduler
documents as invalid, with a reason a client can act on, and computes when an expression fires:
the reminder's ``next_fire_at``, the "too far ahead" check, and the local stack's firing of the
schedules moto stores but never runs.

The grammar (the EventBridge cron reference): six fields separated by spaces,

    minutes       0-59              , - * /
    hours         0-23              , - * /
    day-of-month  1-31              , - * ? / L W
    month         1-12 or JAN-DEC   , - * /
    day-of-week   1-7 or SUN-SAT    , - * ? L #     (1 is Sunday)
    year          1970-2199         , - * /

Exactly one of day-of-month and day-of-week is ``?``. Where the reference is silent this parser
takes the stricter reading, so that whatever it accepts Scheduler accepts too: names are upper
case; a range runs forwards; ``L``, ``W`` and ``#`` stand alone in their field (``L``, ``LW``,
``15W`` in day-of-month; ``L``, ``6L``, ``2#1`` in day-of-week).

Daylight saving time, as Scheduler documents it: a local time that does not exist (the clocks
spring forward over it) is skipped; a local time that happens twice (they fall back) fires once,
at its first instance.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from typing import Final, Literal
from zoneinfo import ZoneInfo

MIN_YEAR: Final = 1970
MAX_YEAR: Final = 2199
MONTH_NAMES: Final = {
    name: number
    for number, name in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"),
        start=1,
    )
}
DAY_NAMES: Final = {
    name: number
    for number, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), start=1)
}
_NUMBER = re.compile(r"[0-9]{1,4}")


class CronError(ValueError):
    """The expression is not one Scheduler accepts; the message says which field and why."""


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    low: int
    high: int
    steps: bool
    names: Mapping[str, int] = field(default_factory=dict)


_MINUTES = _Field("minutes", 0, 59, steps=True)
_HOURS = _Field("hours", 0, 23, steps=True)
_DAY_OF_MONTH = _Field("day-of-month", 1, 31, steps=True)
_MONTH = _Field("month", 1, 12, steps=True, names=MONTH_NAMES)
_DAY_OF_WEEK = _Field("day-of-week", 1, 7, steps=False, names=DAY_NAMES)
_YEAR = _Field("year", MIN_YEAR, MAX_YEAR, steps=True)


def _value(spec: _Field, text: str) -> int:
    if text in spec.names:
        return spec.names[text]
    if not _NUMBER.fullmatch(text):
        names = f" or {next(iter(spec.names))}-{list(spec.names)[-1]}" if spec.names else ""
        raise CronError(f"{spec.name}: {text!r} is not a value ({spec.low}-{spec.high}{names})")
    number = int(text)
    if not spec.low <= number <= spec.high:
        raise CronError(f"{spec.name}: {number} is outside {spec.low}-{spec.high}")
    return number


def _values(spec: _Field, text: str) -> frozenset[int]:
    """A list of values, ranges, ``*`` and (where allowed) increments: the common syntax."""
    values: set[int] = set()
    for item in text.split(","):
        if not item:
            raise CronError(f"{spec.name}: empty item in {text!r}")
        base, slash, increment = item.partition("/")
        step = 1
        if slash:
            if not spec.steps:
                raise CronError(f"{spec.name}: '/' is not allowed in this field")
            if not _NUMBER.fullmatch(increment) or not 1 <= int(increment) <= spec.high:
                raise CronError(
                    f"{spec.name}: increment {increment!r} is not a number from 1 to {spec.high}"
                )
            step = int(increment)
        if base == "*":
            start, end = spec.low, spec.high
        elif "-" in base:
            first, _, last = base.partition("-")
            start, end = _value(spec, first), _value(spec, last)
            if start > end:
                raise CronError(f"{spec.name}: range {base} runs backwards")
        else:
            start = _value(spec, base)
            # "5/15" counts from 5 to the end of the field; a bare "5" is just 5.
            end = spec.high if slash else start
        values.update(range(start, end + 1, step))
    return frozenset(values)


def _cron_weekday(day: date) -> int:
    """Scheduler numbers days of the week from 1 (Sunday) to 7 (Saturday)."""
    return day.isoweekday() % 7 + 1


def _last_day(day: date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def _nearest_weekday(year: int, month: int, target: int) -> int | None:
    """``nW``: the weekday nearest to day n, without leaving the month (Quartz's rule)."""
    last = calendar.monthrange(year, month)[1]
    if target > last:
        return None
    weekday = date(year, month, target).weekday()  # Monday is 0
    if weekday == 5:  # Saturday: the Friday before, or the Monday after on the 1st
        return target - 1 if target > 1 else target + 2
    if weekday == 6:  # Sunday: the Monday after, or the Friday before on the last day
        return target + 1 if target < last else target - 2
    return target


_DayKind = Literal["any", "values", "last", "last_weekday", "nearest_weekday", "last_of", "nth"]


@dataclass(frozen=True, slots=True)
class _DayRule:
    """One of the two day fields: which days of a month it allows."""

    kind: _DayKind
    values: frozenset[int] = frozenset()
    number: int = 0
    nth: int = 0

    def allows(self, day: date, *, of_week: bool) -> bool:
        if self.kind == "any":
            return True
        if self.kind == "values":
            return (_cron_weekday(day) if of_week else day.day) in self.values
        if self.kind == "last":
            return day.day == _last_day(day)
        if self.kind == "last_weekday":
            last = _last_day(day)
            weekday = date(day.year, day.month, last).weekday()
            return day.day == last - max(0, weekday - 4)
        if self.kind == "nearest_weekday":
            return day.day == _nearest_weekday(day.year, day.month, self.number)
        if self.kind == "last_of":
            return _cron_weekday(day) == self.number and day.day + 7 > _last_day(day)
        return _cron_weekday(day) == self.number and (day.day - 1) // 7 + 1 == self.nth


def _day_of_month(text: str) -> _DayRule:
    if text == "?":
        return _DayRule("any")
    if text == "L":
        return _DayRule("last")
    if text == "LW":
        return _DayRule("last_weekday")
    if text.endswith("W") and _NUMBER.fullmatch(text[:-1]):
        return _DayRule("nearest_weekday", number=_value(_DAY_OF_MONTH, text[:-1]))
    if "L" in text or "W" in text:
        raise CronError(f"day-of-month: {text!r}: L and W stand alone, as L, LW or a day and W")
    return _DayRule("values", _values(_DAY_OF_MONTH, text))


def _day_of_week(text: str) -> _DayRule:
    if text == "?":
        return _DayRule("any")
    if text == "L":  # the last day of the week
        return _DayRule("values", frozenset({7}))
    if text.endswith("L") and "," not in text and "-" not in text:
        return _DayRule("last_of", number=_value(_DAY_OF_WEEK, text[:-1]))
    if "#" in text:
        weekday, _, nth = text.partition("#")
        if "," in text or "-" in weekday or not re.fullmatch(r"[1-5]", nth):
            raise CronError(
                f"day-of-week: {text!r}: '#' takes one day and its week in the month (1-5), "
                "as in 2#1, alone in the field"
            )
        return _DayRule("nth", number=_value(_DAY_OF_WEEK, weekday), nth=int(nth))
    if "L" in text:
        raise CronError(f"day-of-week: {text!r}: L stands alone, as L or a day and L (6L)")
    return _DayRule("values", _values(_DAY_OF_WEEK, text))


@dataclass(frozen=True, slots=True)
class CronExpression:
    """A parsed, valid expression (the six fields, without ``cron( )``)."""

    text: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    day_of_month: _DayRule
    months: frozenset[int]
    day_of_week: _DayRule
    years: tuple[int, ...]

    @classmethod
    def parse(cls, text: str) -> CronExpression:
        fields = text.split()
        if len(fields) != 6:
            raise CronError(
                f"has {len(fields)} field(s); Scheduler's cron has six: "
                "minutes hours day-of-month month day-of-week year"
            )
        minutes, hours, day_of_month, month, day_of_week, year = fields
        if (day_of_month == "?") == (day_of_week == "?"):
            raise CronError(
                "exactly one of day-of-month and day-of-week must be '?' "
                f"(they are {day_of_month!r} and {day_of_week!r})"
            )
        return cls(
            text=" ".join(fields),
            minutes=tuple(sorted(_values(_MINUTES, minutes))),
            hours=tuple(sorted(_values(_HOURS, hours))),
            day_of_month=_day_of_month(day_of_month),
            months=_values(_MONTH, month),
            day_of_week=_day_of_week(day_of_week),
            years=tuple(sorted(_values(_YEAR, year))),
        )

    def shortest_interval(self) -> timedelta:
        """The least wall-clock time between two of its occurrences, whatever the day: between
        two times of one day, or the last of a day and the first of the next (counted even if
        the next day does not fire, which can only make it shorter)."""
        times = sorted(hour * 60 + minute for hour in self.hours for minute in self.minutes)
        gaps = [later - earlier for earlier, later in pairwise(times)]
        gaps.append(24 * 60 - times[-1] + times[0])
        return timedelta(minutes=min(gaps))

    def fires_on(self, day: date) -> bool:
        """Whether the expression fires at some time of this local calendar day."""
        return (
            day.year in self.years
            and day.month in self.months
            and self.day_of_month.allows(day, of_week=False)
            and self.day_of_week.allows(day, of_week=True)
        )

    def _days_from(self, first: date) -> Iterator[date]:
        for year in self.years:
            if year < first.year:
                continue
            for month in sorted(self.months):
                if (year, month) < (first.year, first.month):
                    continue
                for number in range(1, calendar.monthrange(year, month)[1] + 1):
                    day = date(year, month, number)
                    if day >= first and self.fires_on(day):
                        yield day

    def occurrences(self, zone: ZoneInfo, after: datetime) -> Iterator[datetime]:
        """The instants (UTC, in order) at which the expression fires, strictly after ``after``."""
        if after.tzinfo is None:
            raise ValueError("after must be timezone-aware")
        # The day before, so that an instant whose local date is "yesterday" is not missed.
        for day in self._days_from(after.astimezone(zone).date() - timedelta(days=1)):
            for hour in self.hours:
                for minute in self.minutes:
                    instant = local_instant(
                        datetime(day.year, day.month, day.day, hour, minute), zone
                    )
                    if instant is not None and instant > after:
                        yield instant

    def next_after(self, zone: ZoneInfo, after: datetime) -> datetime | None:
        """The first instant strictly after ``after``; None when it never fires again."""
        return next(self.occurrences(zone, after), None)


def local_instant(local: datetime, zone: ZoneInfo) -> datetime | None:
    """The UTC instant of a wall-clock time in ``zone``: None when the clocks skip it, the first
    of the two when they pass it twice."""
    if local.tzinfo is not None:
        raise ValueError("local must be a naive (wall-clock) date-time")
    instant = local.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) != local:
        return None
    return instant
