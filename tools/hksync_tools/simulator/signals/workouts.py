"""Workouts: the day's HKWorkout with its dense heart rate, (cycling) distance, pauses,
statistics and, outdoors, its route."""

from __future__ import annotations

from typing import Any, Final

from hksync.contract.models import METADATA_TIME_ZONE_KEY
from hksync_tools.simulator.activities import (
    CYCLING,
    INDOOR,
    RUNNING,
    WALKING,
    WORKOUT_METS,
)
from hksync_tools.simulator.factory import SampleFactory
from hksync_tools.simulator.healthkit import (
    ACTIVE_ENERGY,
    DISTANCE_CYCLING,
    DISTANCE_WALKING,
    HEART_RATE,
    UNITS,
    WORKOUT,
    Sample,
)
from hksync_tools.simulator.planner import DayPlan, WorkoutPlan
from hksync_tools.simulator.signals.heart import workout_heart_rate
from hksync_tools.simulator.signals.route import workout_route

#: When a workout was paused and resumed, in epoch seconds.
Pause = tuple[int, int]
#: The distance type each distance workout records.
_DISTANCE_TYPES: Final = {
    RUNNING: DISTANCE_WALKING,
    WALKING: DISTANCE_WALKING,
    CYCLING: DISTANCE_CYCLING,
}


def workout(factory: SampleFactory, day: DayPlan) -> None:
    """The day's workout, if any: heart rate, cycling distance, then the HKWorkout itself, with
    its pause and resume events, its statistics and, outdoors, its route.

    Its energy and distance are the sums of its own samples: the active energy and walking or
    running distance the other day signals recorded during it, or its cycling distance. Those
    signals keep recording through the short pauses; the heart-rate readings and the route stop.
    """
    plan = day.workout
    if plan is None:
        return
    start, end = day.workout_start, day.workout_end
    pauses = _pauses(factory, plan, start, end)
    heart_rates = workout_heart_rate(factory, plan, start, end, pauses)
    metres = day.workout_metres
    if plan.kind == CYCLING:
        metres = _cycling_distance(factory, plan, start, end)
    metadata = _metadata(factory, plan, metres)
    if not factory.within_history(start):
        return
    sample = factory.sample(WORKOUT, start, end, factory.writers.watch, metadata)
    sample["activity_type"] = plan.kind
    sample["duration_s"] = float(end - start - sum(resumed - paused for paused, resumed in pauses))
    sample["total_energy_kcal"] = round(day.workout_kcal, 3)
    distance_type = _DISTANCE_TYPES.get(plan.kind)
    if distance_type is not None:
        sample["total_distance_m"] = round(metres, 2)
    sample["events"] = [
        {"type": kind, "start_date": factory.iso(at), "end_date": factory.iso(at)}
        for pause in pauses
        for kind, at in zip(("pause", "resume"), pause, strict=True)
    ]
    sample["statistics"] = _statistics(sample, heart_rates, distance_type)
    route = None
    if plan.kind not in INDOOR:
        route = workout_route(factory, sample, start, end, pauses, metres)
        sample["route_uuid"] = route["uuid"]
    factory.add(sample, end)
    if route is not None:
        # HKWorkoutRouteBuilder finishes the route once the workout is saved.
        factory.add(route, end)


def _pauses(factory: SampleFactory, plan: WorkoutPlan, start: int, end: int) -> list[Pause]:
    """Half the outdoor workouts stop once or twice for 30 s to 3 min (a crossing, a drink;
    assumed), somewhere in the middle fifth to four fifths of the workout."""
    rng = factory.rng
    if plan.kind in INDOOR or rng.random() >= 0.5:
        return []
    pauses: list[Pause] = []
    for _ in range(rng.randint(1, 2)):
        paused = start + int((end - start) * rng.uniform(0.2, 0.8))
        resumed = paused + rng.randint(30, 180)
        if all(resumed + 60 < other or paused > again + 60 for other, again in pauses):
            pauses.append((paused, resumed))
    return sorted(pauses)


def _statistics(
    sample: Sample, heart_rates: list[float], distance_type: str | None
) -> list[dict[str, object]]:
    """HKWorkout.statistics(for:) as the watch reports them: heart rate over the active time,
    the active energy and distance totals."""
    statistics: list[dict[str, object]] = []
    if heart_rates:
        statistics.append(
            {
                "sample_type": HEART_RATE,
                "unit": UNITS[HEART_RATE],
                "average": round(sum(heart_rates) / len(heart_rates), 1),
                "minimum": min(heart_rates),
                "maximum": max(heart_rates),
            }
        )
    statistics.append(
        {
            "sample_type": ACTIVE_ENERGY,
            "unit": UNITS[ACTIVE_ENERGY],
            "sum": sample["total_energy_kcal"],
        }
    )
    if distance_type is not None:
        statistics.append(
            {
                "sample_type": distance_type,
                "unit": UNITS[distance_type],
                "sum": sample["total_distance_m"],
            }
        )
    return statistics


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
