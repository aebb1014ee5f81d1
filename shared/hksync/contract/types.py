"""Every HealthKit sample type hksync knows: kind, canonical unit, aggregation, bounds, values.

The identifiers, units, aggregation styles and category values are generated from a maintained
source (hksync.contract.healthkit_types, written by `make types` from the schema of the npm
package @kingstinct/react-native-healthkit, itself generated from the HealthKit SDK headers);
the plausibility bounds are hand-kept in hksync.contract.bounds, each with its reason. Values
are stored in the type's canonical unit, so a heart rate sent as ``count/min`` and one sent as
``count/s`` land on the same scale. docs/healthkit-types.md is the same table for clients.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from hksync.contract import healthkit_types as _generated
from hksync.contract.bounds import BOUNDS, Bounds

__all__ = [
    "SAMPLE_TYPES",
    "SOURCE_VERSION",
    "WORKOUT_ACTIVITY_TYPES",
    "WORKOUT_EVENT_TYPES",
    "WORKOUT_TYPE",
    "Aggregation",
    "Bounds",
    "SampleKind",
    "SampleTypeSpec",
    "kind_of",
]


class SampleKind(StrEnum):
    QUANTITY = "quantity"
    CATEGORY = "category"
    CORRELATION = "correlation"
    WORKOUT = "workout"
    WORKOUT_ROUTE = "workout_route"
    ELECTROCARDIOGRAM = "electrocardiogram"
    AUDIOGRAM = "audiogram"
    HEARTBEAT_SERIES = "heartbeat_series"
    STATE_OF_MIND = "state_of_mind"
    SCORED_ASSESSMENT = "scored_assessment"
    MEDICATION_DOSE = "medication_dose"


class Aggregation(StrEnum):
    """HKQuantityAggregationStyle: how samples of a quantity type combine over time."""

    CUMULATIVE = "cumulative"
    DISCRETE_ARITHMETIC = "discrete_arithmetic"
    DISCRETE_TEMPORALLY_WEIGHTED = "discrete_temporally_weighted"
    DISCRETE_EQUIVALENT_CONTINUOUS_LEVEL = "discrete_equivalent_continuous_level"


def _no_values() -> Mapping[int, str]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class SampleTypeSpec:
    """What hksync knows about one HealthKit type identifier."""

    identifier: str
    kind: SampleKind
    #: Quantity types: the unit values are stored in, as a HealthKit unit string.
    canonical_unit: str | None = None
    #: Quantity types: HealthKit's aggregation style.
    aggregation: Aggregation | None = None
    #: Quantity types: the plausible range in the canonical unit (every quantity type has one).
    bounds: Bounds | None = None
    #: Category types: raw value -> HealthKit's case name for it.
    category_values: Mapping[int, str] = field(default_factory=_no_values)
    #: Correlations: the type identifiers of their member samples.
    members: frozenset[str] = frozenset()


def _build_table() -> dict[str, SampleTypeSpec]:
    specs = [
        SampleTypeSpec(
            identifier,
            SampleKind.QUANTITY,
            canonical_unit=unit,
            aggregation=Aggregation(aggregation),
            bounds=BOUNDS.get(identifier),
        )
        for identifier, (unit, aggregation) in _generated.QUANTITY_TYPES.items()
    ]
    # One read-only mapping per value enum, shared by the category types that use it.
    enums = {
        name: MappingProxyType(dict(values))
        for name, values in _generated.CATEGORY_VALUE_ENUMS.items()
    }
    specs.extend(
        SampleTypeSpec(identifier, SampleKind.CATEGORY, category_values=enums[enum])
        for identifier, enum in _generated.CATEGORY_TYPES.items()
    )
    specs.extend(
        SampleTypeSpec(identifier, SampleKind.CORRELATION, members=frozenset(members))
        for identifier, members in _generated.CORRELATION_TYPES.items()
    )
    specs.extend(
        SampleTypeSpec(identifier, SampleKind(kind))
        for identifier, kind in _generated.OTHER_TYPES.items()
    )
    return {spec.identifier: spec for spec in specs}


#: Every HealthKit sample type identifier, of every kind.
SAMPLE_TYPES: Final[Mapping[str, SampleTypeSpec]] = MappingProxyType(_build_table())

WORKOUT_TYPE: Final = "HKWorkoutTypeIdentifier"

#: HKWorkoutActivityType case names (Apple's enum case names: "running", "yoga").
WORKOUT_ACTIVITY_TYPES: Final[frozenset[str]] = frozenset(_generated.WORKOUT_ACTIVITY_TYPES)

#: HKWorkoutEventType case names ("pause", "lap", "segment").
WORKOUT_EVENT_TYPES: Final[frozenset[str]] = frozenset(_generated.WORKOUT_EVENT_TYPES)

#: The version of @kingstinct/react-native-healthkit the table was generated from.
SOURCE_VERSION: Final[str] = _generated.SOURCE_VERSION


def kind_of(identifier: str) -> SampleKind | None:
    """The kind of a known type identifier, or None for one the table does not know."""
    spec = SAMPLE_TYPES.get(identifier)
    return spec.kind if spec else None
