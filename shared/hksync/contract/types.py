"""The HealthKit sample types hksync accepts, with their canonical units.

Values are stored in the canonical unit, so a heart rate sent as ``count/s`` and one sent as
``count/min`` land in the same column on the same scale. A unit not listed for a type is a
contract error: it usually means the client read the wrong type.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Final


class SampleKind(StrEnum):
    QUANTITY = "quantity"
    CATEGORY = "category"
    WORKOUT = "workout"


@dataclass(frozen=True, slots=True)
class SampleTypeSpec:
    """What hksync knows about one HealthKit type identifier."""

    identifier: str
    kind: SampleKind
    #: Unit the value is stored in (HealthKit's unit string syntax).
    canonical_unit: str | None = None
    #: Accepted unit -> factor that converts a value in it to the canonical unit.
    units: MappingProxyType[str, float] = field(default_factory=lambda: MappingProxyType({}))
    #: Largest plausible value in the canonical unit (None: unbounded).
    max_value: float | None = None
    #: Category types: raw value -> HealthKit's name for it.
    category_values: MappingProxyType[int, str] = field(
        default_factory=lambda: MappingProxyType({})
    )


def _quantity(
    identifier: str,
    canonical: str,
    extra_units: dict[str, float] | None = None,
    max_value: float | None = None,
) -> SampleTypeSpec:
    units = {canonical: 1.0, **(extra_units or {})}
    return SampleTypeSpec(
        identifier, SampleKind.QUANTITY, canonical, MappingProxyType(units), max_value
    )


def _category(identifier: str, values: dict[int, str]) -> SampleTypeSpec:
    return SampleTypeSpec(identifier, SampleKind.CATEGORY, category_values=MappingProxyType(values))


_PER_MINUTE = {"count/s": 60.0}
_DISTANCE = {"km": 1000.0, "mi": 1609.344, "ft": 0.3048, "yd": 0.9144}
_ENERGY = {"Cal": 1.0, "kJ": 1 / 4.184}

WORKOUT_TYPE: Final = "HKWorkoutTypeIdentifier"

SAMPLE_TYPES: Final[MappingProxyType[str, SampleTypeSpec]] = MappingProxyType(
    {
        spec.identifier: spec
        for spec in (
            _quantity("HKQuantityTypeIdentifierHeartRate", "count/min", _PER_MINUTE),
            _quantity("HKQuantityTypeIdentifierRestingHeartRate", "count/min", _PER_MINUTE),
            _quantity("HKQuantityTypeIdentifierWalkingHeartRateAverage", "count/min", _PER_MINUTE),
            _quantity("HKQuantityTypeIdentifierHeartRateVariabilitySDNN", "ms", {"s": 1000.0}),
            _quantity("HKQuantityTypeIdentifierStepCount", "count"),
            _quantity("HKQuantityTypeIdentifierDistanceWalkingRunning", "m", _DISTANCE),
            _quantity("HKQuantityTypeIdentifierDistanceCycling", "m", _DISTANCE),
            _quantity("HKQuantityTypeIdentifierActiveEnergyBurned", "kcal", _ENERGY),
            _quantity("HKQuantityTypeIdentifierBasalEnergyBurned", "kcal", _ENERGY),
            _quantity("HKQuantityTypeIdentifierFlightsClimbed", "count"),
            _quantity(
                "HKQuantityTypeIdentifierAppleExerciseTime", "min", {"s": 1 / 60, "hr": 60.0}
            ),
            # HealthKit's "%" unit is a fraction: 0.97 means 97 %.
            _quantity("HKQuantityTypeIdentifierOxygenSaturation", "%", max_value=1.0),
            _quantity("HKQuantityTypeIdentifierRespiratoryRate", "count/min", _PER_MINUTE),
            _quantity("HKQuantityTypeIdentifierBodyMass", "kg", {"g": 0.001, "lb": 0.45359237}),
            _category(
                "HKCategoryTypeIdentifierSleepAnalysis",
                {
                    0: "inBed",
                    1: "asleepUnspecified",
                    2: "awake",
                    3: "asleepCore",
                    4: "asleepDeep",
                    5: "asleepREM",
                },
            ),
            _category("HKCategoryTypeIdentifierMindfulSession", {0: "notApplicable"}),
            _category("HKCategoryTypeIdentifierAppleStandHour", {0: "stood", 1: "idle"}),
            SampleTypeSpec(WORKOUT_TYPE, SampleKind.WORKOUT),
        )
    }
)

#: HKWorkoutActivityType names (Apple's enum case names) that hksync accepts.
WORKOUT_ACTIVITY_TYPES: Final = frozenset(
    {
        "americanFootball",
        "archery",
        "badminton",
        "baseball",
        "basketball",
        "bowling",
        "boxing",
        "climbing",
        "cooldown",
        "coreTraining",
        "cricket",
        "crossCountrySkiing",
        "crossTraining",
        "cycling",
        "dance",
        "downhillSkiing",
        "elliptical",
        "functionalStrengthTraining",
        "golf",
        "gymnastics",
        "handCycling",
        "hiking",
        "highIntensityIntervalTraining",
        "hockey",
        "jumpRope",
        "kickboxing",
        "martialArts",
        "mindAndBody",
        "mixedCardio",
        "other",
        "paddleSports",
        "pilates",
        "rowing",
        "rugby",
        "running",
        "sailing",
        "skatingSports",
        "snowboarding",
        "soccer",
        "socialDance",
        "stairClimbing",
        "stairs",
        "stepTraining",
        "surfingSports",
        "swimming",
        "tableTennis",
        "tennis",
        "traditionalStrengthTraining",
        "volleyball",
        "walking",
        "waterFitness",
        "waterPolo",
        "wheelchairRunPace",
        "wheelchairWalkPace",
        "yoga",
    }
)


def kind_of(identifier: str) -> SampleKind | None:
    """The kind of a supported type identifier, or None for an unsupported one."""
    spec = SAMPLE_TYPES.get(identifier)
    return spec.kind if spec else None
