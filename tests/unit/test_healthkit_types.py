"""The HealthKit type table against its source, its bounds, and the files generated from it.

The source is the vendored schema of @kingstinct/react-native-healthkit (generated from the
HealthKit SDK headers): every identifier there must be in the table with the same unit,
aggregation and values; the committed table and client page must be what `make types` writes
today; every quantity type must have finite bounds.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path
from typing import Final

import pytest

from hksync.contract.bounds import BOUNDS
from hksync.contract.types import (
    SAMPLE_TYPES,
    SOURCE_VERSION,
    WORKOUT_ACTIVITY_TYPES,
    WORKOUT_EVENT_TYPES,
    WORKOUT_TYPE,
    Aggregation,
    SampleKind,
    kind_of,
)
from hksync.contract.units import conversion
from hksync_tools import typegen

SCHEMA: Final = typegen.load_schema()
ENUMS: Final = typegen.enum_members(SCHEMA)
QUANTITY_SOURCE: Final = {str(entry["name"]): entry for entry in SCHEMA["quantityIdentifiers"]}
CATEGORY_SOURCE: Final = {str(entry["name"]): entry for entry in SCHEMA["categoryIdentifiers"]}
CORRELATION_SOURCE: Final = re.findall(
    r"'(HKCorrelationTypeIdentifier\w+)'",
    (typegen.SOURCE_DIR / "CorrelationType.ts").read_text(encoding="utf-8"),
)

#: The header's aggregation comments, spelled out here rather than taken from the generator.
SOURCE_AGGREGATIONS: Final = {
    "Cumulative": Aggregation.CUMULATIVE,
    "Discrete (Arithmetic)": Aggregation.DISCRETE_ARITHMETIC,
    "Discrete (Temporally Weighted)": Aggregation.DISCRETE_TEMPORALLY_WEIGHTED,
    "Discrete (Equivalent Continuous Level)": Aggregation.DISCRETE_EQUIVALENT_CONTINUOUS_LEVEL,
}

#: The 18 types of the hand-typed table this one replaced: stored rows carry them.
EARLIER_TYPES: Final = {
    "HKQuantityTypeIdentifierHeartRate",
    "HKQuantityTypeIdentifierRestingHeartRate",
    "HKQuantityTypeIdentifierWalkingHeartRateAverage",
    "HKQuantityTypeIdentifierHeartRateVariabilitySDNN",
    "HKQuantityTypeIdentifierStepCount",
    "HKQuantityTypeIdentifierDistanceWalkingRunning",
    "HKQuantityTypeIdentifierDistanceCycling",
    "HKQuantityTypeIdentifierActiveEnergyBurned",
    "HKQuantityTypeIdentifierBasalEnergyBurned",
    "HKQuantityTypeIdentifierFlightsClimbed",
    "HKQuantityTypeIdentifierAppleExerciseTime",
    "HKQuantityTypeIdentifierOxygenSaturation",
    "HKQuantityTypeIdentifierRespiratoryRate",
    "HKQuantityTypeIdentifierBodyMass",
    "HKCategoryTypeIdentifierSleepAnalysis",
    "HKCategoryTypeIdentifierMindfulSession",
    "HKCategoryTypeIdentifierAppleStandHour",
    "HKWorkoutTypeIdentifier",
}

QUANTITY_TYPES: Final = sorted(i for i, s in SAMPLE_TYPES.items() if s.kind is SampleKind.QUANTITY)


def test_every_source_identifier_is_in_the_table_with_its_kind() -> None:
    expected = (
        dict.fromkeys(QUANTITY_SOURCE, SampleKind.QUANTITY)
        | dict.fromkeys(CATEGORY_SOURCE, SampleKind.CATEGORY)
        | dict.fromkeys(CORRELATION_SOURCE, SampleKind.CORRELATION)
    )
    assert {identifier: kind_of(identifier) for identifier in expected} == expected
    assert len(QUANTITY_SOURCE) >= 120
    assert len(CATEGORY_SOURCE) >= 70
    assert set(CORRELATION_SOURCE) == {
        "HKCorrelationTypeIdentifierBloodPressure",
        "HKCorrelationTypeIdentifierFood",
    }


def test_the_table_adds_only_the_kinds_the_source_lacks() -> None:
    from_source = {*QUANTITY_SOURCE, *CATEGORY_SOURCE, *CORRELATION_SOURCE}
    extra_kinds = {SAMPLE_TYPES[i].kind for i in SAMPLE_TYPES.keys() - from_source}
    assert extra_kinds == set(SampleKind) - {
        SampleKind.QUANTITY,
        SampleKind.CATEGORY,
        SampleKind.CORRELATION,
    }


def test_the_earlier_types_remain() -> None:
    assert SAMPLE_TYPES.keys() >= EARLIER_TYPES
    assert kind_of(WORKOUT_TYPE) is SampleKind.WORKOUT
    assert kind_of("HKQuantityTypeIdentifierFromNextYearsSDK") is None


@pytest.mark.parametrize("identifier", sorted(QUANTITY_SOURCE))
def test_canonical_unit_and_aggregation_are_the_sources(identifier: str) -> None:
    entry, spec = QUANTITY_SOURCE[identifier], SAMPLE_TYPES[identifier]
    unit = entry["canonicalUnit"]
    if identifier in typegen.STORAGE_UNITS:  # stored in another unit of the same dimension
        assert spec.canonical_unit == typegen.STORAGE_UNITS[identifier]
        assert conversion(str(unit), spec.canonical_unit).factor > 0
    elif unit is None:  # the header leaves it blank: the generator's fill, and only then
        assert spec.canonical_unit == typegen.UNIT_FILLS[identifier]
    else:
        assert spec.canonical_unit == typegen.UNIT_NOTATION.get(str(unit), unit)
    assert spec.aggregation is SOURCE_AGGREGATIONS[str(entry["aggregationStyle"])]


def test_unit_notation_fixes_change_notation_only() -> None:
    def spelled(unit: str) -> str:
        return unit.replace("(", "").replace(")", "").lower()

    for header, hkunit in typegen.UNIT_NOTATION.items():
        assert spelled(header) == spelled(hkunit)
        assert "(" not in hkunit
    assert all(QUANTITY_SOURCE[i]["canonicalUnit"] is None for i in typegen.UNIT_FILLS)


def test_well_known_canonical_units() -> None:
    units = {i: SAMPLE_TYPES[i].canonical_unit for i in SAMPLE_TYPES if i in QUANTITY_SOURCE}
    q = typegen.QUANTITY_PREFIX
    # HealthKit's canonical unit is count/s; stored per minute, as the Health app shows it.
    assert units[q + "HeartRate"] == "count/min"
    assert units[q + "RespiratoryRate"] == "count/min"
    assert units[q + "RestingHeartRate"] == "count/min"
    assert units[q + "OxygenSaturation"] == "%"
    assert units[q + "BloodGlucose"] == "mg/dL"
    assert units[q + "BodyTemperature"] == "degC"
    assert units[q + "VO2Max"] == "mL/kg*min"


@pytest.mark.parametrize("identifier", sorted(CATEGORY_SOURCE))
def test_category_values_are_the_sources(identifier: str) -> None:
    enum = CATEGORY_SOURCE[identifier]["valueEnum"] or typegen.CATEGORY_ENUM_FILLS[identifier]
    members = ENUMS[str(enum)]
    values = SAMPLE_TYPES[identifier].category_values
    assert set(values) == {raw for raw, _ in members}
    # Where two names share a raw value (a deprecated alias), the first listed is kept.
    assert values == {raw: next(n for r, n in members if r == raw) for raw in values}


def test_category_values_of_the_earlier_types() -> None:
    c = "HKCategoryTypeIdentifier"
    assert dict(SAMPLE_TYPES[c + "SleepAnalysis"].category_values) == {
        0: "inBed",
        1: "asleepUnspecified",
        2: "awake",
        3: "asleepCore",
        4: "asleepDeep",
        5: "asleepREM",
    }
    assert dict(SAMPLE_TYPES[c + "MindfulSession"].category_values) == {0: "notApplicable"}
    assert dict(SAMPLE_TYPES[c + "AppleStandHour"].category_values) == {0: "stood", 1: "idle"}


def test_correlation_members_are_quantity_types() -> None:
    q = typegen.QUANTITY_PREFIX
    blood_pressure = SAMPLE_TYPES["HKCorrelationTypeIdentifierBloodPressure"].members
    assert blood_pressure == {q + "BloodPressureSystolic", q + "BloodPressureDiastolic"}
    food = SAMPLE_TYPES["HKCorrelationTypeIdentifierFood"].members
    assert {q + "DietaryEnergyConsumed", q + "DietaryProtein", q + "DietaryWater"} <= food
    for identifier in food | blood_pressure:
        assert kind_of(identifier) is SampleKind.QUANTITY


def test_workout_activity_and_event_types_are_the_sources() -> None:
    assert {name for _, name in ENUMS["HKWorkoutActivityType"]} == WORKOUT_ACTIVITY_TYPES
    assert len(WORKOUT_ACTIVITY_TYPES) >= 84
    assert {"running", "highIntensityIntervalTraining", "wheelchairRunPace", "other"} <= (
        WORKOUT_ACTIVITY_TYPES
    )
    assert {
        "pause",
        "resume",
        "lap",
        "marker",
        "segment",
        "motionPaused",
        "motionResumed",
        "pauseOrResumeRequest",
    } == WORKOUT_EVENT_TYPES


def test_only_quantity_types_have_units_and_only_categories_have_values() -> None:
    for spec in SAMPLE_TYPES.values():
        is_quantity = spec.kind is SampleKind.QUANTITY
        assert (spec.canonical_unit is not None) is is_quantity, spec.identifier
        assert (spec.aggregation is not None) is is_quantity, spec.identifier
        assert (spec.bounds is not None) is is_quantity, spec.identifier
        assert bool(spec.category_values) is (spec.kind is SampleKind.CATEGORY), spec.identifier
        assert bool(spec.members) is (spec.kind is SampleKind.CORRELATION), spec.identifier


def test_every_quantity_type_has_finite_ordered_bounds_with_a_reason() -> None:
    assert set(BOUNDS) == set(QUANTITY_TYPES), "bounds.py and the quantity types differ"
    for identifier in QUANTITY_TYPES:
        bounds = SAMPLE_TYPES[identifier].bounds
        assert bounds is not None, f"{identifier} has no bounds: add them to bounds.py"
        assert math.isfinite(bounds.low), identifier
        assert math.isfinite(bounds.high), identifier
        assert bounds.low <= bounds.high, identifier
        assert bounds.reason.strip(), identifier


def test_bounds_admit_legitimate_values() -> None:
    def admits(name: str, value: float) -> bool:
        bounds = BOUNDS[typegen.QUANTITY_PREFIX + name]
        return bounds.low <= value <= bounds.high

    assert admits("AppleSleepingWristTemperature", -0.8)  # an app writing a deviation
    assert admits("AppleSleepingWristTemperature", 34.6)  # the watch's absolute reading
    assert admits("HeartRate", 180)  # stored per minute
    assert not admits("HeartRate", 180 * 60)  # a rate per second sent as if per minute
    assert admits("OxygenSaturation", 0.97)
    assert not admits("OxygenSaturation", 97)  # "%" is a fraction
    assert admits("StepCount", 25_000)
    assert not admits("StepCount", 1e308)


def test_source_version_is_the_vendored_one() -> None:
    assert (typegen.SOURCE_DIR / "VERSION").read_text().strip() == SOURCE_VERSION
    assert re.fullmatch(r"\d+\.\d+\.\d+", SOURCE_VERSION)


def test_generated_files_are_current(tmp_path: Path) -> None:
    written = typegen.write(tmp_path)
    assert written == [tmp_path / typegen.TABLE_PATH, tmp_path / typegen.DOC_PATH]
    for path in written:
        committed = typegen.REPO_ROOT / path.relative_to(tmp_path)
        assert committed.read_text() == path.read_text(), f"{committed} is stale: `make types`"


def test_client_page_lists_every_type_and_is_linked_from_the_readme() -> None:
    page = (typegen.REPO_ROOT / typegen.DOC_PATH).read_text()
    for identifier in SAMPLE_TYPES:
        assert f"`{identifier}`" in page, identifier
    assert str(typegen.DOC_PATH) in (typegen.REPO_ROOT / "README.md").read_text()


def test_the_table_imports_without_pydantic() -> None:
    probe = "import sys, hksync.contract.types; print('pydantic' in sys.modules)"
    completed = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert completed.stdout.strip() == "False"
