"""Energy: basal energy day and night, active energy while the watch is worn."""

from __future__ import annotations

from hksync_tools.simulator.activities import OFF_WRIST, SEDENTARY, WORKOUT_MINUTE
from hksync_tools.simulator.factory import SampleFactory
from hksync_tools.simulator.healthkit import ACTIVE_ENERGY, BASAL_ENERGY
from hksync_tools.simulator.planner import MINUTE, DayPlan, runs


def basal_energy(factory: SampleFactory, start: int, end: int, factor: float) -> None:
    """Contiguous ~hourly basal energy windows over [start, end); ``factor`` 0.95 asleep."""
    rng = factory.rng
    per_second = factory.profile.bmr_kcal_per_day / 86_400 * factor
    t = start
    while t < end:
        stop = min(end, t + rng.randint(45 * MINUTE, 75 * MINUTE))
        if end - stop < 10 * MINUTE:
            stop = end
        value = round(per_second * (stop - t) * rng.uniform(0.97, 1.03), 3)
        factory.quantity(BASAL_ENERGY, t, stop, value, factory.writers.watch)
        t = stop


def active_energy(factory: SampleFactory, day: DayPlan) -> None:
    """Active energy in contiguous small windows while worn; sums the workout's into ``day``."""
    rng = factory.rng
    watch = factory.writers.watch
    s = day.start
    kcal_per_kg_min = factory.profile.weight_kg / 60.0
    for first, stop, state in runs(day.watch_state):
        if state == OFF_WRIST:
            continue
        t = float(s + first * MINUTE)
        run_end = float(s + stop * MINUTE)
        while t < run_end:
            if state == WORKOUT_MINUTE:
                duration = rng.uniform(3.0, 8.0)
            elif state == SEDENTARY:
                duration = rng.uniform(45, 110)
            else:
                duration = rng.uniform(40, 80)
            end = min(t + duration, run_end)
            if run_end - end < 5:
                end = run_end
            rate = (day.met(day.minute_at(t)) - 1.0) * kcal_per_kg_min
            value = round(rate * (end - t) / MINUTE * rng.uniform(0.85, 1.15), 3)
            if int(end) > int(t):
                factory.quantity(ACTIVE_ENERGY, t, end, value, watch, day.added(end))
                if state == WORKOUT_MINUTE and factory.within_history(t):
                    day.workout_kcal += value
            t = end
