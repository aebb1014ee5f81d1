"""Heart: background heart rate day and night, dense workout readings, HRV, daily summaries."""

from __future__ import annotations

import math
from bisect import bisect_right
from typing import Final

from hksync_tools.simulator.activities import (
    BRISK,
    CYCLING,
    RUNNING,
    SEDENTARY,
    STRENGTH,
    WALK,
    WORKOUT_HRR,
)
from hksync_tools.simulator.factory import SampleFactory
from hksync_tools.simulator.healthkit import (
    AWAKE,
    CORE,
    DEEP,
    HEART_RATE,
    HRV_SDNN,
    REM,
    RESTING_HEART_RATE,
    WALKING_HEART_RATE,
)
from hksync_tools.simulator.planner import MINUTE, DayPlan, WorkoutPlan
from hksync_tools.simulator.random_streams import clamp
from hksync_tools.simulator.signals.sleep import Sleep

#: The watch keeps measuring heart rate densely for 3 minutes after a workout (recovery).
RECOVERY_S: Final = 180


def day_heart_rate(factory: SampleFactory, day: DayPlan) -> None:
    """Background heart rate every 4-10 min, except during the workout (`workout_heart_rate`)."""
    rng = factory.rng
    resting_hr = factory.profile.resting_hr
    sedentary = {"HKMetadataKeyHeartRateMotionContext": 1}
    active = {"HKMetadataKeyHeartRateMotionContext": 2}
    t = day.start + rng.uniform(30, 300)
    while t < day.end:
        state = day.watch_state[day.minute_at(t)]
        if state in (SEDENTARY, WALK, BRISK):
            bump = (14.0, 30.0, 45.0)[state]
            value = float(round(resting_hr + bump + rng.gauss(0, 5)))
            metadata = sedentary if state == SEDENTARY else active
            factory.quantity(HEART_RATE, t, t, value, factory.writers.watch, metadata=metadata)
        t += rng.uniform(240, 600)


def day_variability(factory: SampleFactory, day: DayPlan) -> None:
    """Heart rate variability at rest by day: 0-2 one-minute readings."""
    rng = factory.rng
    for _ in range(rng.choice((0, 1, 1, 2))):
        m = rng.randrange(day.minutes)
        if day.watch_state[m] == SEDENTARY:
            t = day.start + m * MINUTE + rng.uniform(0, 60)
            value = round(factory.profile.hrv_ms * 0.85 * rng.lognormvariate(0, 0.2), 3)
            factory.quantity(HRV_SDNN, t, t + 60, value, factory.writers.watch)


def daily_heart_rates(factory: SampleFactory, day: DayPlan) -> None:
    """Daily resting and (with >= 10 walking minutes) walking heart rate, at the day's end."""
    rng = factory.rng
    resting_hr = factory.profile.resting_hr
    watch = factory.writers.watch
    resting = float(round(resting_hr + rng.gauss(0, 1.5)))
    factory.quantity(RESTING_HEART_RATE, day.start, day.end, resting, watch)
    if sum(1 for x in day.level if x in (WALK, BRISK)) >= 10:
        value = float(round(resting_hr + 38 + rng.gauss(0, 3)))
        factory.quantity(WALKING_HEART_RATE, day.start, day.end, value, watch)


def night_heart_rate(factory: SampleFactory, sleep: Sleep) -> None:
    """Background heart rate in bed: below resting while asleep, by stage."""
    rng = factory.rng
    resting_hr = factory.profile.resting_hr
    night, stages = sleep.night, sleep.stages
    stage_starts = [stage.start for stage in stages]
    offsets = {CORE: 0.0, DEEP: -3.0, REM: 5.0, AWAKE: 8.0}
    sedentary = {"HKMetadataKeyHeartRateMotionContext": 1}
    t = night.bed + rng.uniform(60, 300)
    while t < night.up:
        index = bisect_right(stage_starts, t) - 1
        if index >= 0 and t < stages[index].end:
            base = resting_hr - 4.0 + offsets[stages[index].stage]
        else:
            base = resting_hr + 6.0  # in bed, awake
        value = float(round(max(38.0, base + rng.gauss(0, 2.5))))
        factory.quantity(HEART_RATE, t, t, value, factory.writers.watch, metadata=sedentary)
        t += rng.uniform(240, 600)


def night_variability(factory: SampleFactory, sleep: Sleep) -> None:
    """Heart rate variability asleep: 2-4 one-minute readings, higher than by day."""
    rng = factory.rng
    night = sleep.night
    for _ in range(rng.randint(2, 4)):
        t = rng.uniform(night.asleep_from, night.asleep_to)
        value = round(factory.profile.hrv_ms * 1.15 * rng.lognormvariate(0, 0.2), 3)
        factory.quantity(HRV_SDNN, t, t + 60, value, factory.writers.watch)


def workout_heart_rate(
    factory: SampleFactory, plan: WorkoutPlan, start: int, end: int, pauses: list[tuple[int, int]]
) -> list[float]:
    """Every 4-6 s during the workout (Karvonen target, warm-up, drift, cool-down) except while
    it is paused, then for `RECOVERY_S` after it; all added when the workout (or the recovery)
    is saved. Returns the readings during the workout, for its statistics."""
    rng = factory.rng
    p = factory.profile
    watch = factory.writers.watch
    kind = plan.kind
    reserve = p.max_hr - p.resting_hr
    target = p.resting_hr + WORKOUT_HRR[kind] * plan.intensity * reserve
    duration = end - start
    warm_up = rng.uniform(180, 360)
    cool_down = 120.0
    drift = 6.0 if kind in (RUNNING, CYCLING) else 2.0
    noise = 0.0
    readings: list[float] = []
    t = start + rng.uniform(1, 5)
    while t < end:
        elapsed = t - start
        if elapsed < warm_up:
            base = p.resting_hr + 20 + (target - p.resting_hr - 20) * elapsed / warm_up
        else:
            base = target + drift * elapsed / duration
        if kind == STRENGTH:
            base += 12 * math.sin(2 * math.pi * elapsed / 180)
        remaining = end - t
        if remaining < cool_down:
            base -= (target - p.resting_hr - 25) * (1 - remaining / cool_down)
        noise = 0.9 * noise + rng.gauss(0, 1.5)
        value = float(round(clamp(base + noise, p.resting_hr - 5, p.max_hr)))
        if not any(paused <= t < resumed for paused, resumed in pauses):
            factory.quantity(HEART_RATE, t, t, value, watch, end)
            readings.append(value)
        t += rng.uniform(4.0, 6.0)
    # ... and for 3 minutes after it, for the heart-rate recovery.
    recovered = end + RECOVERY_S
    settle = p.resting_hr + 15
    level = p.resting_hr + 25 + noise
    while t < recovered:
        level = settle + (level - settle) * 0.95
        value = float(round(clamp(level + rng.gauss(0, 1.0), p.resting_hr - 5, p.max_hr)))
        factory.quantity(HEART_RATE, t, t, value, watch, recovered)
        t += rng.uniform(4.0, 6.0)
    return readings
