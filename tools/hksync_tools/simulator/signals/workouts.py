"""Workouts: the day's HKWorkout with its dense heart rate and (cycling) distance."""

from __future__ import annotations

from typing import Any

from hksync.contract.models import METADATA_TIME_ZONE_KEY
from hksync_tools.simulator.activities import (
    CYCLING,
    INDOOR,
    RUNNING,
    WALKING,
    WORKOUT_METS,
)
from hksync_tools.simulator.factory import SampleFactory
from hksync_tools.simulator.healthkit import DISTANCE_CYCLING, WORKOUT
from hksync_tools.simulator.planner import DayPlan, WorkoutPlan
from hksync_tools.simulator.signals.heart import workout_heart_rate


def workout(factory: SampleFactory, day: DayPlan) -> None:
    """The day's workout, if any: heart rate, cycling distance, then the HKWorkout itself.

    Its energy and distance are the sums of its own samples: the active energy and walking or
    running distance the other day signals recorded during it, or its cycling distance.
    """
    plan = day.workout
    if plan is None:
        return
    start, end = day.workout_start, day.workout_end
    workout_heart_rate(factory, plan, start, end)
    metres = day.workout_metres
    if plan.kind == CYCLING:
        metres = _cycling_distance(factory, plan, start, end)
    metadata = _metadata(factory, plan, metres)
    if factory.within_history(start):
        sample = factory.sample(WORKOUT, start, end, factory.writers.watch, metadata)
        sample["activity_type"] = plan.kind
        sample["duration_s"] = float(end - start)
        sample["total_energy_kcal"] = round(day.workout_kcal, 3)
        if plan.kind in (RUNNING, WALKING, CYCLING):
            sample["total_distance_m"] = round(metres, 2)
        factory.add(sample, end)


def _cycling_distance(factory: SampleFactory, plan: WorkoutPlan, start: int, end: int) -> float:
    """~1 min distance windows at ~24 km/h; returns the sum of those within the history."""
    rng = factory.rng
    metres = 0.0
    speed = rng.gauss(24.0, 2.0) / 3.6 * plan.intensity
    t = float(start)
    while t < end:
        stop = min(t + rng.uniform(50, 70), float(end))
        distance = round(speed * (stop - t) * rng.uniform(0.9, 1.1), 2)
        if int(stop) > int(t):
            factory.quantity(DISTANCE_CYCLING, t, stop, distance, factory.writers.watch, end)
            if factory.within_history(t):
                metres += distance
        t = stop
    return metres


def _metadata(factory: SampleFactory, plan: WorkoutPlan, metres: float) -> dict[str, Any]:
    """The metadata HealthKit writes on a workout, elevation only outdoors."""
    kind = plan.kind
    metadata: dict[str, Any] = {
        METADATA_TIME_ZONE_KEY: factory.time_zone,
        "HKIndoorWorkout": kind in INDOOR,
        "HKAverageMETs": f"{WORKOUT_METS[kind] * plan.intensity:.1f} kcal/hr·kg",
    }
    if kind not in INDOOR:
        climbed = metres / 1000 * factory.rng.uniform(3, 15)
        metadata["HKElevationAscended"] = f"{round(climbed * 100)} cm"
    return metadata
