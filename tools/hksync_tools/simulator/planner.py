"""The day planner: when the user sleeps, works out, walks, charges the watch, carries the phone.

It works in epoch seconds and, within a waking day, in minutes from get-up. The plans it makes
are what the signal modules (`hksync_tools.simulator.signals`) turn into samples.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cached_property
from typing import Final, NamedTuple
from zoneinfo import ZoneInfo

from hksync_tools.simulator.activities import (
    BRISK,
    BRISK_MET,
    OFF_WRIST,
    POTTERING_MET,
    RUNNING,
    SEDENTARY,
    SITTING_MET,
    STRENGTH,
    WALK,
    WALK_MET,
    WALKING,
    WORKOUT_KINDS,
    WORKOUT_METS,
    WORKOUT_MINUTE,
    WORKOUT_MINUTES,
)
from hksync_tools.simulator.profile import Profile
from hksync_tools.simulator.random_streams import clamp

MINUTE: Final = 60
HOUR: Final = 3600


@dataclass(frozen=True, slots=True)
class NightPlan:
    """One night, in epoch seconds: in bed, asleep, awake for good, up."""

    bed: int
    onset: int
    final_wake: int
    up: int

    @property
    def asleep_from(self) -> int:
        """Start of the span the watch takes its night-time readings in (well asleep)."""
        return self.onset + 30 * MINUTE

    @property
    def asleep_to(self) -> int:
        """End of that span: a little before the final wake (and after its start)."""
        return max(self.asleep_from + 1, self.final_wake - 10 * MINUTE)


@dataclass(frozen=True, slots=True)
class WorkoutPlan:
    """The day's workout, in minutes from get-up."""

    kind: str
    first_minute: int
    end_minute: int
    intensity: float


class Walk(NamedTuple):
    """A walk outside the workout, in minutes from get-up."""

    first: int
    length: int
    carried: bool


@dataclass
class DayPlan:
    """One waking day, minute by minute, from get-up (``start``) to bedtime (``end``).

    ``workout_kcal`` and ``workout_metres`` are filled in by the energy and step signals: the
    HKWorkout's totals are the sums of the samples recorded during it.
    """

    day: date
    start: int
    end: int
    workout: WorkoutPlan | None
    level: list[int]
    worn: list[bool]
    phone: list[bool]
    walks: list[Walk]
    steps: list[int]
    metres: list[float]
    workout_kcal: float = 0.0
    workout_metres: float = 0.0

    @property
    def minutes(self) -> int:
        """How many whole minutes the day has."""
        return len(self.level)

    @property
    def workout_kind(self) -> str:
        """The workout's kind, "" on a day without one."""
        return self.workout.kind if self.workout is not None else ""

    @property
    def workout_start(self) -> int:
        """The workout's start in epoch seconds (0 without one)."""
        return self.start + self.workout.first_minute * MINUTE if self.workout else 0

    @property
    def workout_end(self) -> int:
        """The workout's end in epoch seconds (0 without one)."""
        return self.start + self.workout.end_minute * MINUTE if self.workout else 0

    @cached_property
    def watch_state(self) -> list[int]:
        """Per minute: the activity level, or `OFF_WRIST` while the watch charges."""
        return [self.level[m] if self.worn[m] else OFF_WRIST for m in range(self.minutes)]

    @cached_property
    def phone_state(self) -> list[int]:
        """Per minute: the activity level while the carried iPhone counts steps, or `OFF_WRIST`."""
        return [
            self.level[m]
            if self.phone[m] and self.level[m] != SEDENTARY and self.steps[m]
            else OFF_WRIST
            for m in range(self.minutes)
        ]

    def minute_at(self, t: float) -> int:
        """The minute of the day an instant falls in."""
        return min(self.minutes - 1, int((t - self.start) // MINUTE))

    def met(self, m: int) -> float:
        """The energy cost of minute ``m`` in METs."""
        activity = self.level[m]
        if activity == WORKOUT_MINUTE:
            assert self.workout is not None
            return WORKOUT_METS[self.workout.kind] * self.workout.intensity
        if activity == BRISK:
            return BRISK_MET
        if activity == WALK:
            return WALK_MET
        return POTTERING_MET if self.steps[m] else SITTING_MET

    def added(self, end: float) -> float:
        """When a sample ending at ``end`` reaches the phone: what is recorded during the
        workout arrives when the workout is saved."""
        workout_start, workout_end = self.workout_start, self.workout_end
        return workout_end if workout_start < end <= workout_end else end


def local_instant(zone: ZoneInfo, day: date, hours: float) -> int:
    """Epoch seconds of ``hours`` of wall-clock time after local midnight of ``day`` in ``zone``."""
    midnight = datetime.combine(day, time(), zone)
    return int((midnight + timedelta(hours=hours)).timestamp())


def runs(states: list[int]) -> list[tuple[int, int, int]]:
    """(first, stop, state) for each run of equal consecutive states."""
    found: list[tuple[int, int, int]] = []
    first = 0
    for index in range(1, len(states) + 1):
        if index == len(states) or states[index] != states[first]:
            found.append((first, index, states[first]))
            first = index
    return found


class DayPlanner:
    """Plans nights and waking days from the life stream, in the order the timeline asks."""

    def __init__(self, rng: random.Random, profile: Profile, zone: ZoneInfo) -> None:
        self._rng = rng
        self._profile = profile
        self._zone = zone
        self._workout_weeks: dict[tuple[int, int], frozenset[int]] = {}

    def local(self, day: date, hours: float) -> int:
        """Epoch seconds of ``hours`` of wall-clock time after local midnight of ``day``."""
        return local_instant(self._zone, day, hours)

    def get_up(self, morning: date) -> int:
        """When the user gets up on ``morning``: an hour later at weekends."""
        weekend = 1.0 if morning.weekday() >= 5 else 0.0
        hours = clamp(self._profile.get_up_h + self._rng.gauss(0, 0.25) + weekend, 5.5, 10.0)
        return self.local(morning, hours)

    def night(self, evening: date) -> NightPlan:
        """The night that starts on ``evening``: 5-10 h in bed, later on Friday and Saturday."""
        rng = self._rng
        late = 0.7 if evening.weekday() in (4, 5) else 0.0  # Friday and Saturday nights
        bed = self.local(
            evening, clamp(self._profile.bedtime_h + rng.gauss(0, 0.35) + late, 21.5, 25.5)
        )
        up = self.get_up(evening + timedelta(days=1))
        up = min(max(up, bed + 5 * HOUR), bed + 10 * HOUR)
        onset = bed + rng.randint(4 * MINUTE, 25 * MINUTE)
        final_wake = up - rng.randint(2 * MINUTE, 15 * MINUTE)
        return NightPlan(bed=bed, onset=onset, final_wake=final_wake, up=up)

    def day(self, day: date, start: int, end: int) -> DayPlan:
        """The waking day from ``start`` to ``end``: workout, charging, walks, steps a minute."""
        rng = self._rng
        n = (end - start) // MINUTE
        workout = self._workout(day, start, n)
        level = [SEDENTARY] * n
        worn = [True] * n
        phone = [False] * n
        if workout is not None:
            for m in range(workout.first_minute, workout.end_minute):
                level[m] = WORKOUT_MINUTE
            carried = rng.random() < (0.5 if workout.kind in (RUNNING, WALKING) else 0.1)
            for m in range(workout.first_minute, workout.end_minute):
                phone[m] = carried
        self._charge(level, worn)
        walks = self._walks(level, phone)
        steps, metres = self._steps(level, workout)
        return DayPlan(day, start, end, workout, level, worn, phone, walks, steps, metres)

    def _workout_days(self, day: date) -> frozenset[int]:
        """The weekdays of ``day``'s ISO week with a workout: 3-5, drawn once per week."""
        year, week, _ = day.isocalendar()
        key = (year, week)
        if key not in self._workout_weeks:
            count = self._rng.randint(3, 5)
            self._workout_weeks[key] = frozenset(self._rng.sample(range(7), count))
        return self._workout_weeks[key]

    def _workout(self, day: date, start: int, minutes: int) -> WorkoutPlan | None:
        rng = self._rng
        if day.weekday() not in self._workout_days(day):
            return None
        kind = rng.choices(WORKOUT_KINDS, weights=self._profile.workout_weights)[0]
        duration = rng.randint(*WORKOUT_MINUTES[kind])
        if day.weekday() >= 5:
            begin = self.local(day, rng.uniform(9.5, 11.5))
        elif rng.random() < self._profile.morning_workouts:
            begin = start + rng.randint(15, 60) * MINUTE
        else:
            begin = self.local(day, rng.uniform(17.0, 19.5))
        first = max(10, (begin - start) // MINUTE)
        if first + duration > minutes - 30:
            return None
        return WorkoutPlan(kind, first, first + duration, rng.uniform(0.9, 1.08))

    def _charge(self, level: list[int], worn: list[bool]) -> None:
        """Takes the watch off the wrist to charge, morning or evening, on most days."""
        rng = self._rng
        n = len(level)
        if rng.random() < 0.85:
            length = rng.randint(25, 60)
            slots = [rng.randint(0, 30), n - length - rng.randint(10, 40)]
            if rng.random() < 0.3:
                slots.reverse()
            for first in slots:
                if first >= 0 and WORKOUT_MINUTE not in level[first : first + length]:
                    for m in range(first, first + length):
                        worn[m] = False
                    break

    def _walks(self, level: list[int], phone: list[bool]) -> list[Walk]:
        """Walks outside the workout, some brisk, some with the phone in a pocket."""
        rng = self._rng
        n = len(level)
        walks: list[Walk] = []
        for _ in range(rng.randint(6, 12)):
            brisk = rng.random() < 0.2
            length = rng.randint(8, 25) if brisk else rng.randint(2, 12)
            first = rng.randint(0, n - length - 1)
            if WORKOUT_MINUTE in level[first : first + length]:
                continue
            carried = rng.random() < self._profile.carries_phone
            for m in range(first, first + length):
                level[m] = max(level[m], BRISK if brisk else WALK)
                phone[m] = phone[m] or carried
            walks.append(Walk(first, length, carried))
        return walks

    def _steps(
        self, level: list[int], workout: WorkoutPlan | None
    ) -> tuple[list[int], list[float]]:
        """Steps and metres of each minute, from its activity level and the workout's kind."""
        rng = self._rng
        p = self._profile
        n = len(level)
        kind = workout.kind if workout is not None else ""
        steps = [0] * n
        metres = [0.0] * n
        for m in range(n):
            activity = level[m]
            if activity == SEDENTARY:
                if rng.random() < 0.15:
                    steps[m] = rng.randint(4, 40)
                    metres[m] = steps[m] * p.walk_stride_m * 0.8
            elif activity == WALK:
                steps[m] = rng.randint(70, 105)
                metres[m] = steps[m] * p.walk_stride_m
            elif activity == BRISK or kind == WALKING:
                steps[m] = rng.randint(105, 125)
                metres[m] = steps[m] * p.walk_stride_m * 1.08
            elif kind == RUNNING:
                steps[m] = rng.randint(150, 175)
                metres[m] = steps[m] * p.run_stride_m * rng.uniform(0.97, 1.03)
            elif kind == STRENGTH and rng.random() < 0.4:
                steps[m] = rng.randint(3, 15)
                metres[m] = steps[m] * p.walk_stride_m * 0.8
        return steps, metres
