"""The HealthKit vocabulary the simulator writes: sample types, units, raw values, sample dicts."""

from __future__ import annotations

from typing import Any, Final

from hksync.contract.types import SAMPLE_TYPES, WORKOUT_TYPE

HEART_RATE: Final = "HKQuantityTypeIdentifierHeartRate"
RESTING_HEART_RATE: Final = "HKQuantityTypeIdentifierRestingHeartRate"
WALKING_HEART_RATE: Final = "HKQuantityTypeIdentifierWalkingHeartRateAverage"
HRV_SDNN: Final = "HKQuantityTypeIdentifierHeartRateVariabilitySDNN"
STEP_COUNT: Final = "HKQuantityTypeIdentifierStepCount"
DISTANCE_WALKING: Final = "HKQuantityTypeIdentifierDistanceWalkingRunning"
DISTANCE_CYCLING: Final = "HKQuantityTypeIdentifierDistanceCycling"
ACTIVE_ENERGY: Final = "HKQuantityTypeIdentifierActiveEnergyBurned"
BASAL_ENERGY: Final = "HKQuantityTypeIdentifierBasalEnergyBurned"
FLIGHTS_CLIMBED: Final = "HKQuantityTypeIdentifierFlightsClimbed"
EXERCISE_TIME: Final = "HKQuantityTypeIdentifierAppleExerciseTime"
OXYGEN_SATURATION: Final = "HKQuantityTypeIdentifierOxygenSaturation"
RESPIRATORY_RATE: Final = "HKQuantityTypeIdentifierRespiratoryRate"
BODY_MASS: Final = "HKQuantityTypeIdentifierBodyMass"
SLEEP_ANALYSIS: Final = "HKCategoryTypeIdentifierSleepAnalysis"
STAND_HOUR: Final = "HKCategoryTypeIdentifierAppleStandHour"
WORKOUT: Final = WORKOUT_TYPE
WORKOUT_ROUTE: Final = "HKWorkoutRouteTypeIdentifier"
BLOOD_PRESSURE: Final = "HKCorrelationTypeIdentifierBloodPressure"
SYSTOLIC: Final = "HKQuantityTypeIdentifierBloodPressureSystolic"
DIASTOLIC: Final = "HKQuantityTypeIdentifierBloodPressureDiastolic"
FOOD: Final = "HKCorrelationTypeIdentifierFood"
DIETARY_ENERGY: Final = "HKQuantityTypeIdentifierDietaryEnergyConsumed"
CARBOHYDRATES: Final = "HKQuantityTypeIdentifierDietaryCarbohydrates"
PROTEIN: Final = "HKQuantityTypeIdentifierDietaryProtein"
FAT: Final = "HKQuantityTypeIdentifierDietaryFatTotal"
DIETARY_WATER: Final = "HKQuantityTypeIdentifierDietaryWater"
#: A type of a future SDK, unknown to the contract's table: the server must store it as sent.
FUTURE_SLEEP_SCORE: Final = "HKQuantityTypeIdentifierAppleSleepScore"

#: The unit the simulated app asks HealthKit for, per quantity type (the canonical ones).
UNITS: Final[dict[str, str]] = {
    identifier: spec.canonical_unit
    for identifier, spec in SAMPLE_TYPES.items()
    if spec.canonical_unit is not None
}

_TABLE_ORDER: Final = {identifier: index for index, identifier in enumerate(SAMPLE_TYPES)}


def type_order(identifier: str) -> tuple[int, str]:
    """Chunks list types in the contract table's order, types it does not know after them."""
    return _TABLE_ORDER.get(identifier, len(_TABLE_ORDER)), identifier


# HKCategoryValueSleepAnalysis raw values.
IN_BED: Final = 0
AWAKE: Final = 2
CORE: Final = 3
DEEP: Final = 4
REM: Final = 5
# HKCategoryValueAppleStandHour raw values.
STOOD: Final = 0
IDLE: Final = 1

#: A sample as the contract takes it (see docs/simulator.md for its fields).
Sample = dict[str, Any]


def copy_sample(sample: Sample) -> Sample:
    """A copy that shares nothing mutable with the simulator's own record (correlation members,
    workout events and statistics, route locations included)."""
    return {key: _copied(value) for key, value in sample.items()}


def _copied(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _copied(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copied(item) for item in value]
    return value
