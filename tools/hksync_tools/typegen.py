"""Generates the HealthKit type table and its client page from the vendored source.

`make types` runs it. It reads tools/hksync_tools/healthkit_source/ (the MIT-licensed schema of
the npm package @kingstinct/react-native-healthkit, generated from the HealthKit SDK headers)
and writes shared/hksync/contract/healthkit_types.py (plain literals, fast to import) and
docs/healthkit-types.md (what a client may send). Tests regenerate both and fail when the
committed files differ, and check the table against the source.

What the source lacks is kept in the small tables below, each with why.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

SOURCE_DIR: Final = Path(__file__).resolve().parent / "healthkit_source"
REPO_ROOT: Final = Path(__file__).resolve().parents[2]
TABLE_PATH: Final = Path("shared/hksync/contract/healthkit_types.py")
DOC_PATH: Final = Path("docs/healthkit-types.md")
PACKAGE: Final = "@kingstinct/react-native-healthkit"

QUANTITY_PREFIX: Final = "HKQuantityTypeIdentifier"
_LINE_LENGTH: Final = 100

#: The header's aggregation comment -> hksync.contract.types.Aggregation value.
AGGREGATIONS: Final = {
    "Cumulative": "cumulative",
    "Discrete (Arithmetic)": "discrete_arithmetic",
    "Discrete (Temporally Weighted)": "discrete_temporally_weighted",
    "Discrete (Equivalent Continuous Level)": "discrete_equivalent_continuous_level",
}

#: The header comments write some units with grouping parentheses and a lower-case "ml";
#: HKUnit's string grammar has neither (one "/" binding after the products, millilitre "mL").
UNIT_NOTATION: Final = {
    "ml/(kg*min)": "mL/kg*min",
    "kcal/(kg*hr)": "kcal/kg*hr",
}

#: Storage units that differ from HealthKit's canonical one (same dimension; values converted
#: on the way in): rates per minute, as the Health app shows them and as rows stored before
#: this table were kept.
STORAGE_UNITS: Final = {
    QUANTITY_PREFIX + "HeartRate": "count/min",
    QUANTITY_PREFIX + "RespiratoryRate": "count/min",
}

#: Units the header leaves blank: HealthKit reads the UV index as a plain count (HKUnit.count()).
UNIT_FILLS: Final = {QUANTITY_PREFIX + "UVExposure": "count"}

#: The header lists the deprecated AudioExposureEvent without its value-enum comment.
CATEGORY_ENUM_FILLS: Final = {
    "HKCategoryTypeIdentifierAudioExposureEvent": "HKCategoryValueAudioExposureEvent",
}

#: No machine-readable file lists a correlation's members; HealthKit's documentation does
#: (HKCorrelationType): blood pressure holds a systolic and a diastolic sample, food holds
#: dietary samples.
_BLOOD_PRESSURE_MEMBERS: Final = (
    QUANTITY_PREFIX + "BloodPressureSystolic",
    QUANTITY_PREFIX + "BloodPressureDiastolic",
)
_DIETARY_PREFIX: Final = QUANTITY_PREFIX + "Dietary"

#: The sample types that are neither quantity, category nor correlation, by the identifier
#: HealthKit reports in sampleType.identifier (the SDK headers' constants). Kept by hand: the
#: schema has none of them, and the package's TypeScript constants for several are its own
#: labels ("HKElectrocardiogramType", "HKAudiogramSampleType"), not HealthKit's identifiers.
OTHER_TYPES: Final = {
    "HKWorkoutTypeIdentifier": "workout",
    "HKWorkoutRouteTypeIdentifier": "workout_route",
    "HKDataTypeIdentifierElectrocardiogram": "electrocardiogram",
    "HKDataTypeIdentifierAudiogram": "audiogram",
    "HKDataTypeIdentifierHeartbeatSeries": "heartbeat_series",
    "HKDataTypeIdentifierStateOfMind": "state_of_mind",
    "HKScoredAssessmentTypeIdentifierGAD7": "scored_assessment",
    "HKScoredAssessmentTypeIdentifierPHQ9": "scored_assessment",
    "HKMedicationDoseEventTypeIdentifierMedicationDoseEvent": "medication_dose",
}

_CORRELATION_PATTERN: Final = re.compile(r"'(HKCorrelationTypeIdentifier\w+)'")
_PLAIN_TEXT: Final = re.compile(r"[A-Za-z0-9_%/*.()^ -]*")


@dataclass(frozen=True, slots=True)
class Source:
    """The type table as read from the vendored files, before it is written out."""

    package: str
    version: str
    #: Quantity type -> (canonical unit, Aggregation value).
    quantities: Mapping[str, tuple[str, str]]
    #: Category value enum -> ((raw value, case name), ...), one name per raw value.
    category_enums: Mapping[str, tuple[tuple[int, str], ...]]
    #: Category type -> the name of its value enum.
    categories: Mapping[str, str]
    #: Correlation type -> the types of its member samples.
    correlations: Mapping[str, tuple[str, ...]]
    #: The other sample types -> their SampleKind value.
    others: Mapping[str, str]
    workout_activity_types: tuple[str, ...]
    workout_event_types: tuple[str, ...]


def load_schema(directory: Path = SOURCE_DIR) -> dict[str, list[dict[str, object]]]:
    schema: dict[str, list[dict[str, object]]] = json.loads(
        (directory / "healthkit-schema.json").read_text(encoding="utf-8")
    )
    return schema


def enum_members(schema: Mapping[str, list[dict[str, object]]]) -> dict[str, list[tuple[int, str]]]:
    """Every enum of the schema, by its Objective-C name (the schema drops the "HK" prefix)."""
    return {
        "HK" + str(enum["name"]): [
            (int(str(member["rawValue"])), str(member["name"]))
            for member in enum["members"]  # type: ignore[attr-defined]
        ]
        for enum in schema["enums"]
    }


def canonical_unit(identifier: str, source_unit: str | None) -> str:
    """The HKUnit string of a quantity type's storage unit: the header's canonical unit, unless
    STORAGE_UNITS says otherwise."""
    if identifier in STORAGE_UNITS:
        return STORAGE_UNITS[identifier]
    if source_unit is None:
        return UNIT_FILLS[identifier]
    return UNIT_NOTATION.get(source_unit, source_unit)


def _first_name_per_value(members: Iterable[tuple[int, str]]) -> tuple[tuple[int, str], ...]:
    """One case name per raw value: the first listed, which the headers give the current name
    (asleepUnspecified before the deprecated asleep, luteinizingHormoneSurge before positive)."""
    names: dict[int, str] = {}
    for raw, name in members:
        names.setdefault(raw, name)
    return tuple(sorted(names.items()))


def _correlation_members(identifier: str, quantities: Iterable[str]) -> tuple[str, ...]:
    if identifier == "HKCorrelationTypeIdentifierBloodPressure":
        return _BLOOD_PRESSURE_MEMBERS
    if identifier == "HKCorrelationTypeIdentifierFood":
        return tuple(sorted(q for q in quantities if q.startswith(_DIETARY_PREFIX)))
    raise ValueError(f"{identifier}: no member rule for this correlation; add one to typegen")


def read_source(directory: Path = SOURCE_DIR) -> Source:
    schema = load_schema(directory)
    enums = enum_members(schema)
    quantities: dict[str, tuple[str, str]] = {}
    for entry in schema["quantityIdentifiers"]:
        identifier = str(entry["name"])
        style = str(entry["aggregationStyle"])
        if style not in AGGREGATIONS:
            raise ValueError(f"{identifier}: unknown aggregation style {style!r}")
        unit = entry["canonicalUnit"]
        quantities[identifier] = (
            canonical_unit(identifier, None if unit is None else str(unit)),
            AGGREGATIONS[style],
        )
    categories = {
        str(entry["name"]): str(entry["valueEnum"] or CATEGORY_ENUM_FILLS[str(entry["name"])])
        for entry in schema["categoryIdentifiers"]
    }
    correlation_ids = _CORRELATION_PATTERN.findall(
        (directory / "CorrelationType.ts").read_text(encoding="utf-8")
    )
    return Source(
        package=PACKAGE,
        version=(directory / "VERSION").read_text(encoding="utf-8").strip(),
        quantities=dict(sorted(quantities.items())),
        category_enums={
            name: _first_name_per_value(enums[name]) for name in sorted(set(categories.values()))
        },
        categories=dict(sorted(categories.items())),
        correlations={
            identifier: _correlation_members(identifier, quantities)
            for identifier in sorted(correlation_ids)
        },
        others=OTHER_TYPES,
        workout_activity_types=tuple(name for _, name in enums["HKWorkoutActivityType"]),
        workout_event_types=tuple(name for _, name in enums["HKWorkoutEventType"]),
    )


# --- healthkit_types.py ---------------------------------------------------------------------


def _literal(value: object) -> str:
    """A Python literal of a str, int or tuple of them, in the formatter's style."""
    if isinstance(value, str):
        if not _PLAIN_TEXT.fullmatch(value):
            raise ValueError(f"unexpected characters in {value!r}")
        return f'"{value}"'
    if isinstance(value, int):
        return str(value)
    if isinstance(value, tuple):
        items = [_literal(item) for item in value]
        return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
    raise TypeError(type(value))


def _exploded(value: tuple[object, ...], indent: str) -> list[str]:
    """A tuple one item a line with a trailing comma, which the formatter keeps exploded."""
    return ["(", *(f"{indent}    {_literal(item)}," for item in value), f"{indent})"]


def _entry(key: str, value: object, indent: str = "    ") -> list[str]:
    line = f"{indent}{_literal(key)}: {_literal(value)},"
    if len(line) <= _LINE_LENGTH or not isinstance(value, tuple):
        return [line]
    first, *rest = _exploded(value, indent)
    return [f"{indent}{_literal(key)}: {first}", *rest[:-1], f"{rest[-1]},"]


def _dict_block(name: str, annotation: str, comment: str, items: Mapping[str, object]) -> str:
    lines = [f"#: {comment}", f"{name}: Final[{annotation}] = {{"]
    for key, value in items.items():
        lines.extend(_entry(key, value))
    return "\n".join([*lines, "}"])


def _tuple_block(name: str, comment: str, items: tuple[str, ...]) -> str:
    lines = [f"#: {comment}", f"{name}: Final[tuple[str, ...]] = ("]
    lines.extend(f"    {_literal(item)}," for item in items)
    return "\n".join([*lines, ")"])


def render_table(source: Source) -> str:
    header = f'''"""Every HealthKit sample type. GENERATED by `make types`: do not edit.

Written by tools/hksync_tools/typegen.py from {PACKAGE} {source.version} (MIT),
vendored in tools/hksync_tools/healthkit_source/. hksync.contract.types builds the public table
from these literals and the hand-kept bounds of hksync.contract.bounds.
"""

from typing import Final

SOURCE_VERSION: Final = "{source.version}"'''
    blocks = [
        header,
        _dict_block(
            "QUANTITY_TYPES",
            "dict[str, tuple[str, str]]",
            "Quantity type -> (canonical unit as an HKUnit string, aggregation style).",
            source.quantities,
        ),
        _dict_block(
            "CATEGORY_VALUE_ENUMS",
            "dict[str, tuple[tuple[int, str], ...]]",
            "Category value enum -> ((raw value, HealthKit case name), ...).",
            source.category_enums,
        ),
        _dict_block(
            "CATEGORY_TYPES",
            "dict[str, str]",
            "Category type -> the enum of its values.",
            source.categories,
        ),
        _dict_block(
            "CORRELATION_TYPES",
            "dict[str, tuple[str, ...]]",
            "Correlation type -> the types of its member samples.",
            source.correlations,
        ),
        _dict_block(
            "OTHER_TYPES",
            "dict[str, str]",
            "The other sample types -> their kind (a hksync.contract.types.SampleKind value).",
            source.others,
        ),
        _tuple_block(
            "WORKOUT_ACTIVITY_TYPES",
            "HKWorkoutActivityType case names.",
            source.workout_activity_types,
        ),
        _tuple_block(
            "WORKOUT_EVENT_TYPES", "HKWorkoutEventType case names.", source.workout_event_types
        ),
    ]
    return "\n\n".join(blocks) + "\n"


def write(root: Path = REPO_ROOT, source_dir: Path = SOURCE_DIR) -> list[Path]:
    """Writes the table, then the client page, under ``root``; returns the paths written."""
    source = read_source(source_dir)
    table = root / TABLE_PATH
    table.parent.mkdir(parents=True, exist_ok=True)
    table.write_text(render_table(source), encoding="utf-8")
    # Imported once the table exists: the page reads the contract's limits, and importing the
    # contract imports the table, so a missing or broken table can still be regenerated.
    from hksync_tools.typegen_doc import render_doc

    doc = root / DOC_PATH
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(render_doc(source), encoding="utf-8")
    return [table, doc]


def main(argv: list[str] | None = None) -> int:
    root = Path(argv[0]) if argv else REPO_ROOT
    for path in write(root):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
