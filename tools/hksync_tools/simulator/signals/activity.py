"""Activity: steps and distance (watch and iPhone), flights, exercise minutes, stand hours."""

from __future__ import annotations

from datetime import datetime, timedelta

from hksync_tools.simulator.activities import (
    BRISK,
    OFF_WRIST,
    RUNNING,
    SEDENTARY,
    WORKOUT_MINUTE,
)
from hksync_tools.simulator.factory import SampleFactory
from hksync_tools.simulator.healthkit import (
    DISTANCE_WALKING,
    EXERCISE_TIME,
    FLIGHTS_CLIMBED,
    IDLE,
    STAND_HOUR,
    STEP_COUNT,
    STOOD,
)
from hksync_tools.simulator.planner import HOUR, MINUTE, DayPlan, runs


def watch_steps(factory: SampleFactory, day: DayPlan) -> None:
    """Steps and distance from the watch: windows within runs of one activity level.

    Sums the workout's distance into ``day`` for the HKWorkout's total.
    """
    rng = factory.rng
    watch = factory.writers.watch
    s = day.start
    for first, stop, state in runs(day.watch_state):
        if state == OFF_WRIST:
            continue
        m = first
        while m < stop:
            size = rng.randint(3, 12) if state == SEDENTARY else rng.randint(1, 5)
            window = range(m, min(stop, m + size))
            m = window.stop
            count = sum(day.steps[i] for i in window)
            if count == 0:
                continue
            moving = [i for i in window if day.steps[i]]
            start = s + moving[0] * MINUTE
            end = s + (moving[-1] + 1) * MINUTE
            distance = round(sum(day.metres[i] for i in window), 2)
            factory.quantity(STEP_COUNT, start, end, float(count), watch, day.added(end))
            factory.quantity(DISTANCE_WALKING, start, end, distance, watch, day.added(end))
            if state == WORKOUT_MINUTE and factory.within_history(start):
                day.workout_metres += distance


def phone_steps(factory: SampleFactory, day: DayPlan) -> None:
    """Steps and distance from the iPhone while it is carried on walks (HealthKit keeps both)."""
    rng = factory.rng
    p = factory.profile
    iphone = factory.writers.iphone
    s = day.start
    for first, stop, state in runs(day.phone_state):
        if state == OFF_WRIST:
            continue
        m = first
        while m < stop:
            window = range(m, min(stop, m + rng.randint(2, 8)))
            m = window.stop
            count = round(sum(day.steps[i] for i in window) * rng.gauss(1.0, 0.03))
            if count <= 0:
                continue
            start = s + window.start * MINUTE
            end = s + window.stop * MINUTE
            running = state == WORKOUT_MINUTE and day.workout_kind == RUNNING
            stride = p.run_stride_m if running else p.walk_stride_m
            distance = round(count * stride, 2)
            factory.quantity(STEP_COUNT, start, end, float(count), iphone, day.added(end))
            factory.quantity(DISTANCE_WALKING, start, end, distance, iphone, day.added(end))


def flights_climbed(factory: SampleFactory, day: DayPlan) -> None:
    """Flights of stairs on some walks, from the iPhone if carried, else the watch."""
    rng = factory.rng
    s = day.start
    for first, length, carried in day.walks:
        if rng.random() < 0.3:
            start = s + (first + rng.randint(0, length - 1)) * MINUTE + rng.randint(0, 30)
            writer = factory.writers.iphone if carried else factory.writers.watch
            if carried or day.worn[first]:
                floors = float(rng.randint(1, 3))
                factory.quantity(
                    FLIGHTS_CLIMBED, start, start + rng.randint(20, 90), floors, writer
                )


def exercise_minutes(factory: SampleFactory, day: DayPlan) -> None:
    """Exercise minutes: one per brisk-walking or workout minute with the watch on."""
    watch = factory.writers.watch
    for m in range(day.minutes):
        if day.worn[m] and day.level[m] >= BRISK:
            start = day.start + m * MINUTE
            factory.quantity(
                EXERCISE_TIME, start, start + MINUTE, 1.0, watch, day.added(start + MINUTE)
            )


def stand_hours(factory: SampleFactory, day: DayPlan) -> None:
    """Stand hours: every local clock hour awake with the watch on for at least half of it."""
    rng = factory.rng
    s, e = day.start, day.end
    offset = int(
        (datetime.fromtimestamp(s, factory.zone).utcoffset() or timedelta()).total_seconds()
    )
    hour = s + (HOUR - (s + offset) % HOUR) % HOUR
    while hour + HOUR <= e:
        first = (hour - s) // MINUTE
        minutes = range(first, min(day.minutes, first + 60))
        if sum(day.worn[m] for m in minutes) >= 30:
            moved = any(day.level[m] > SEDENTARY for m in minutes)
            pottered = any(day.steps[m] for m in minutes)
            stood = moved or (pottered and rng.random() < 0.6)
            value = STOOD if stood else IDLE
            factory.category(
                STAND_HOUR, hour, hour + HOUR, value, factory.writers.watch, hour + HOUR
            )
        hour += HOUR
