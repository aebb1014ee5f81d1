"""HealthKit unit strings: the grammar of HKUnit.h (and what HealthKit itself emits), every
canonical unit of the type table's source, conversions apps need, refusals that name both units,
and every factor cross-checked against pint for the units both libraries understand."""

from __future__ import annotations

import itertools
import math
from collections import defaultdict

import pint
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hksync.contract.units import (
    Conversion,
    UnitError,
    conversion,
    dimension_name,
    parse_unit,
)

GLUCOSE = "mmol<180.15588000005408>"  # HKUnitMolarMassBloodGlucose

# Every canonical unit in healthkit-schema.json of @kingstinct/react-native-healthkit 16.0.0
# (quantityIdentifiers[].canonicalUnit, deduplicated).
SCHEMA_CANONICAL_UNITS = [
    "%",
    "IU",
    "L",
    "L/min",
    "S",
    "W",
    "appleEffortScore",
    "cm",
    "count",
    "count/min",
    "count/s",
    "dBASPL",
    "degC",
    "g",
    "kcal",
    "kcal/(kg*hr)",
    "kg",
    "m",
    "m/s",
    "mL",
    "mg/dL",
    "min",
    "ml/(kg*min)",
    "mmHg",
    "ms",
]


@pytest.mark.parametrize("unit", SCHEMA_CANONICAL_UNITS)
def test_every_canonical_unit_of_the_schema_parses_and_converts_to_itself(unit: str) -> None:
    parse_unit(unit)
    assert conversion(unit, unit) == Conversion(1.0)


@pytest.mark.parametrize(
    ("unit", "same_as"),
    [
        # Multiplication binds before the only '/': kg/m.s^2 is kg/(m*s^2), a pascal.
        ("kg/m.s^2", "Pa"),
        ("kg/(m.s^2)", "Pa"),
        ("kg.m^-1.s^-2", "Pa"),
        ("kg*m^-1*s^-2", "Pa"),
        ("(kg/m.s^2)", "Pa"),  # the whole unit parenthesised
        # The middle dot of Health exports, and HealthKit's own parentheses.
        ("mL/min·kg", "ml/(kg*min)"),
        ("mL.min^-1.kg^-1", "ml/(kg*min)"),
        ("kcal/hr·kg", "kcal/(kg*hr)"),
        ("(kg.min)^-1", "1/kg.min"),
        ("1/s", "Hz"),
        ("count/s", "Hz"),  # HealthKit converts hertz and count per second into each other
        ("()", "count"),  # HealthKit's spelling of the null unit
        (" kg / m . s ^ 2 ", "Pa"),  # spaces between tokens are skipped
        ("l", "L"),
        ("m^2.m", "m^3"),
        ("s.s^-1", "count"),
        ("mcg", "1e-6 g"),
        ("dag", "10 g"),
        ("fL", "1e-15 L"),
        ("pg", "1e-12 g"),
        ("ng", "1e-9 g"),
        ("cg", "1e-2 g"),
        ("dg", "1e-1 g"),
        ("hPa", "100 Pa"),
        ("MJ", "1e6 J"),
        ("GHz", "1e9 Hz"),
        ("TW", "1e12 W"),
        ("mV", "1e-3 V"),
        ("mcS", "1e-6 S"),
        ("klx", "1e3 lx"),
        ("mrad", "1e-3 rad"),
        ("kK", "1e3 K"),
        ("mmol<180.15588000005408>", "0.18015588000005408 g"),
        ("mol<2>.mol<3>^-1", "0.6666666666666666 count"),  # each mol<M> is M grams
    ],
)
def test_grammar(unit: str, same_as: str) -> None:
    """``same_as`` is a unit string, or "<factor> <unit>" for a prefix's size."""
    scale, _, reference = same_as.rpartition(" ")
    parsed, expected = parse_unit(unit), parse_unit(reference)
    assert parsed.dimension == expected.dimension
    assert parsed.factor == pytest.approx(float(scale or 1) * expected.factor, rel=1e-12)


@pytest.mark.parametrize(
    ("unit", "why"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("kg/m/s", "only one '/'"),
        ("kg/(m/s)", "'/' cannot stand inside parentheses"),
        ("(kg/m).s", "'/' cannot stand inside parentheses"),
        ("foo", "unknown unit 'foo'"),
        ("kcount", "unknown unit 'kcount'"),  # prefixes apply to SI atoms only
        ("mcal", "unknown unit 'mcal'"),
        ("kmin", "unknown unit 'kmin'"),
        ("k g", "unknown unit 'k'"),  # no space between a prefix and its atom
        ("µg", "unexpected 'µg'"),  # HealthKit spells micro "mc"
        ("s^", "ends too early"),
        ("s^1.5", "unexpected '5'"),  # s^1 . 5
        ("s^x", "'^' needs an integer power"),
        ("kg)", "unexpected ')'"),
        ("((kg)", "ends too early"),
        ("*kg", "unexpected '*'"),
        ("kg*", "ends too early"),
        ("kg//s", "unexpected '/'"),
        ("2/s", "unexpected '2'"),
        ("mol", "needs its molar mass"),
        ("mol<>", "positive molar mass"),
        ("mol<-180>", "positive molar mass"),
        ("mol<nan>", "positive molar mass"),
        ("mol<inf>", "positive molar mass"),
        ("degC/min", "degC only stands alone"),
        ("degF^2", "degF only stands alone"),
        ("dBASPL.s", "dBASPL only stands alone"),
    ],
)
def test_outside_the_grammar_is_a_unit_error_saying_why(unit: str, why: str) -> None:
    with pytest.raises(UnitError, match=r"^unit ") as raised:
        parse_unit(unit)
    assert why in str(raised.value)


@pytest.mark.parametrize(
    ("sent", "canonical", "value", "expected"),
    [
        ("count/s", "count/min", 1.5, 90.0),
        ("Hz", "count/min", 1.0, 60.0),
        ("km", "m", 1.2, 1200.0),
        ("mi", "m", 1.0, 1609.344),
        ("ft", "m", 10.0, 3.048),
        ("in", "cm", 1.0, 2.54),
        ("yd", "m", 1.0, 0.9144),
        ("kJ", "kcal", 4.184, 1.0),
        ("Cal", "kcal", 250.0, 250.0),
        ("cal", "kcal", 1000.0, 1.0),
        ("lb", "kg", 1.0, 0.45359237),
        ("st", "kg", 1.0, 6.35029318),
        ("oz", "g", 1.0, 28.349523125),
        ("mcg", "g", 1.0, 1e-6),
        ("degF", "degC", 98.6, 37.0),
        ("degF", "degC", 32.0, 0.0),
        ("degC", "degF", 100.0, 212.0),
        ("K", "degC", 273.15, 0.0),
        (f"{GLUCOSE}/L", "mg/dL", 5.5, 5.5 * 18.015588000005408),
        (f"{GLUCOSE}/L", "mg/dL", 1.0, 18.015588000005408),
        ("mL/min·kg", "ml/(kg*min)", 42.0, 42.0),
        ("L/min·kg", "ml/(kg*min)", 0.042, 42.0),
        ("kcal/hr·kg", "kcal/(kg*hr)", 3.5, 3.5),
        ("fl_oz_us", "mL", 1.0, 29.5735295625),
        ("fl_oz_imp", "mL", 1.0, 28.4130625),
        ("cup_us", "mL", 1.0, 236.5882365),
        ("pt_imp", "L", 1.0, 0.56826125),
        ("s", "min", 90.0, 1.5),
        ("hr", "min", 1.5, 90.0),
        ("d", "min", 1.0, 1440.0),
        ("s", "ms", 0.8, 800.0),
        ("km/hr", "m/s", 36.0, 10.0),
        ("kPa", "mmHg", 133.322387415 / 1000, 1.0),
        ("inHg", "mmHg", 1.0, 25.4),
        ("cmAq", "mmHg", 1.0, 98.0665 / 133.322387415),
        ("kW", "W", 0.25, 250.0),
        ("mS", "S", 1500.0, 1.5),
        ("%", "%", 0.97, 0.97),  # a 0-1 fraction, never scaled by 100
        ("count", "%", 0.5, 0.5),
        ("dBASPL", "dBASPL", 71.2, 71.2),
        ("appleEffortScore", "appleEffortScore", 7.0, 7.0),
        ("IU", "IU", 4.0, 4.0),
    ],
)
def test_app_units_convert_to_the_canonical_unit(
    sent: str, canonical: str, value: float, expected: float
) -> None:
    assert conversion(sent, canonical).apply(value) == pytest.approx(expected, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize(
    ("sent", "canonical", "names"),
    [
        ("kg", "count/min", ["'kg' is mass", "'count/min' is frequency"]),
        ("m/s", "m", ["'m/s' is length/time", "'m' is length"]),
        ("mg/dL", "mmHg", ["'mg/dL' is mass/volume", "'mmHg' is pressure"]),
        ("IU", "mg", ["'IU' is international units (IU)", "'mg' is mass"]),
        ("count", "kcal", ["'count' is dimensionless", "'kcal' is energy"]),
        ("dBHL", "dBASPL", ["'dBHL' is hearing level (dBHL)", "'dBASPL' is sound pressure"]),
        ("dBASPL", "Pa", ["'dBASPL' is sound pressure level (dBASPL)", "'Pa' is pressure"]),
        ("degC", "kcal/(kg*hr)", ["'degC' is temperature", "is energy/(mass·time)"]),
    ],
)
def test_a_different_dimension_is_a_unit_error_naming_both(
    sent: str, canonical: str, names: list[str]
) -> None:
    with pytest.raises(UnitError) as raised:
        conversion(sent, canonical)
    for name in names:
        assert name in str(raised.value)


@pytest.mark.parametrize("unit", ["(" * 5000 + "kg" + ")" * 5000, "kg." * 40 + "kg"])
def test_a_unit_longer_than_the_limit_is_refused_before_parsing(unit: str) -> None:
    with pytest.raises(UnitError, match="longer than 100 characters") as raised:
        parse_unit(unit)
    assert len(str(raised.value)) < 100


def test_a_bad_unit_on_either_side_is_a_unit_error() -> None:
    with pytest.raises(UnitError, match="unknown unit 'bpm'"):
        conversion("bpm", "count/min")
    with pytest.raises(UnitError, match="only one '/'"):
        conversion("count/min", "count/min/s")


@pytest.mark.parametrize(
    ("unit", "name"),
    [
        ("kg", "mass"),
        ("m/s", "length/time"),
        ("m/s^2", "length/time^2"),
        ("count/min", "frequency"),
        ("mL", "volume"),
        ("mg/dL", "mass/volume"),
        (f"{GLUCOSE}/L", "mass/volume"),
        ("kcal/(kg*hr)", "energy/(mass·time)"),
        ("count/m", "1/length"),
        ("kcal", "energy"),
        ("W", "power"),
        ("mmHg", "pressure"),
        ("degF", "temperature"),
        ("%", "dimensionless"),
        ("S", "electrical conductance"),
        ("lx", "illuminance"),
        ("deg", "angle"),
        ("appleEffortScore", "Apple effort score"),
        ("bpm", "not a HealthKit unit"),
    ],
)
def test_dimension_names(unit: str, name: str) -> None:
    assert dimension_name(unit) == name


# --- cross-check against pint ----------------------------------------------------------------

_PINT_PREFIX = {"mc": "u"}  # pint spells micro "u"; the other HealthKit prefixes are pint's too
_SI_ROOTS = ["g", "m", "L", "l", "Pa", "s", "J", "K", "S", "Hz", "V", "W", "lx", "rad"]
_PREFIXES = ["", "f", "p", "n", "mc", "m", "c", "d", "da", "h", "k", "M", "G", "T"]
# HealthKit spelling -> the same unit in pint's spelling, where pint does not read HealthKit's.
_PINT_SPELLING = {
    "st": "stone",
    "cmAq": "cmH2O",
    "Cal": "kcal",
    "fl_oz_us": "US_fluid_ounce",
    "fl_oz_imp": "imperial_fluid_ounce",
    "pt_us": "pint",
    "pt_imp": "imperial_pint",
    "cup_us": "cup",
    "cup_imp": "imperial_cup",
    "kg/m.s^2": "kg/(m*s**2)",
    "mL/min·kg": "mL/(min*kg)",
    "kcal/(kg*hr)": "kcal/(kg*hr)",
    "ml/(kg*min)": "ml/(kg*min)",
}
_LINEAR_ATOMS = ["oz", "lb", "in", "ft", "yd", "mi", "mmHg", "atm", "inHg", "min", "hr", "d"]
_LINEAR_ATOMS += ["cal", "kcal", "deg"]
_COMPOUNDS = ["L/min", "m/s", "km/hr", "mi/hr", "mg/dL", "g/L", "m/s^2", "kJ/hr"]
# Left out: count (its own dimension in pint), % (0.01 in pint), mol<...>, IU, dB, the effort
# score and diopters (pint has none of them).
_AFFINE = ["degC", "degF", "K"]


def _pint_spelling(unit: str) -> str:
    if unit in _PINT_SPELLING:
        return _PINT_SPELLING[unit]
    for hk_prefix, pint_prefix in _PINT_PREFIX.items():
        if unit.startswith(hk_prefix) and unit[len(hk_prefix) :] in _SI_ROOTS:
            return pint_prefix + unit[len(hk_prefix) :]
    return unit


_CROSS_CHECKED = sorted(
    {prefix + root for prefix in _PREFIXES for root in _SI_ROOTS}
    | set(_LINEAR_ATOMS)
    | set(_COMPOUNDS)
    | set(_PINT_SPELLING)
)


@pytest.fixture(scope="module")
def registry() -> pint.UnitRegistry:
    return pint.UnitRegistry()


def test_every_factor_agrees_with_pint(registry: pint.UnitRegistry) -> None:
    """Over every pair of units both read: the same dimension exactly when pint's dimensions
    match (the two partitions into dimensions are equal), and then the same factor."""
    ours: dict[tuple[int, ...], set[str]] = defaultdict(set)
    theirs: dict[object, set[str]] = defaultdict(set)
    for unit in _CROSS_CHECKED:
        ours[parse_unit(unit).dimension].add(unit)
        theirs[registry.Unit(_pint_spelling(unit)).dimensionality].add(unit)
    assert sorted(map(sorted, ours.values())) == sorted(map(sorted, theirs.values()))
    compared = 0
    for group in ours.values():
        for sent, canonical in itertools.permutations(sorted(group), 2):
            pint_sent = registry.Quantity(1.0, _pint_spelling(sent))
            expected = pint_sent.to(_pint_spelling(canonical)).magnitude
            assert conversion(sent, canonical).factor == pytest.approx(expected, rel=1e-9), (
                sent,
                canonical,
            )
            compared += 1
    assert compared > 2000  # the pairs really were compared


@pytest.mark.parametrize(("sent", "canonical"), list(itertools.permutations(_AFFINE, 2)))
@pytest.mark.parametrize("value", [-40.0, 0.0, 36.6, 100.0])
def test_temperatures_agree_with_pint(
    registry: pint.UnitRegistry, sent: str, canonical: str, value: float
) -> None:
    expected = registry.Quantity(value, sent).to(canonical).magnitude
    assert conversion(sent, canonical).apply(value) == pytest.approx(expected, rel=1e-9, abs=1e-9)


# --- there and back ----------------------------------------------------------------------------

_GROUPS = [
    ["g", "kg", "mcg", "oz", "lb", "st", GLUCOSE, "mol<58.44>"],
    ["m", "cm", "km", "in", "ft", "yd", "mi"],
    ["L", "mL", "fl_oz_us", "fl_oz_imp", "pt_us", "pt_imp", "cup_us", "cup_imp"],
    ["s", "ms", "min", "hr", "d"],
    ["count/min", "count/s", "Hz", "1/hr"],
    ["J", "kJ", "cal", "kcal", "Cal"],
    ["Pa", "kPa", "mmHg", "cmAq", "atm", "inHg"],
    ["degC", "degF", "K"],
    ["mg/dL", f"{GLUCOSE}/L", "g/L"],
    ["ml/(kg*min)", "mL/min·kg", "L/hr·lb"],
    ["m/s", "km/hr", "mi/hr", "ft/s"],
    ["count", "%", "()"],
]


@st.composite
def _unit_pairs(draw: st.DrawFn) -> tuple[str, str]:
    group = draw(st.sampled_from(_GROUPS))
    return draw(st.sampled_from(group)), draw(st.sampled_from(group))


_VALUES = st.one_of(
    st.just(0.0),
    st.floats(min_value=1e-6, max_value=1e9),
    st.floats(min_value=-1e9, max_value=-1e-6),
)


@given(pair=_unit_pairs(), value=_VALUES)
def test_there_and_back_is_identity(pair: tuple[str, str], value: float) -> None:
    sent, canonical = pair
    there = conversion(sent, canonical).apply(value)
    back = conversion(canonical, sent).apply(there)
    # The absolute tolerance only matters for degC/degF near zero, where the offset dominates.
    assert math.isclose(back, value, rel_tol=1e-9, abs_tol=1e-12)
