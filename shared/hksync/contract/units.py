"""HealthKit's unit grammar by hand: pint misparses it and adds ~0.57 s to a cold start.

(Issue 14 measured pint: it reads ``kg/m.s^2`` as kg*s^2/m, rejects st, IU, Cal, fl_oz_us, dBASPL
and mol<...>, and treats % as 0.01 where HealthKit's % is a 0-1 fraction.)

The grammar, as HealthKit's ``unitFromString:`` accepts it:

- an atom is a unit of the tables below; the SI ones (``_SI_ATOMS``) take one metric prefix
  (p n mc m c d da h k M G T f; ``mc`` is micro), and ``mol<molar mass in g/mol>`` is a mole of a
  substance, which HealthKit counts as mass (``mmol<180.15588000005408>/L`` is blood glucose);
- a factor is an atom, an atom raised to an integer power (``s^-2``), ``1`` (as in ``1/s``), or a
  parenthesised product, optionally raised to a power (``(kg.min)^-1``);
- a product is factors joined by ``.``, ``*`` or the middle dot ``·`` of Health exports;
- a unit is a product, or two products around the only ``/`` allowed, multiplication binding
  first (``kg/m.s^2`` is kg/(m*s^2)); the whole unit may be parenthesised, and ``()`` is
  HealthKit's own spelling of the dimensionless null unit. Spaces between tokens are skipped.

Values convert by one factor (and an offset for degC/degF, which only convert on their own).
dBASPL and dBHL are logarithmic: never converted, accepted only as themselves. Not accepted: the
atoms HealthKit keeps private (titer, Eq, IU_mass, ...) and its undocumented ``10^n`` scale.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

# The dimension vector's axes. HealthKit reduces mol<M> to mass; IU, the effort score, diopters
# and the decibel levels are axes of their own, so nothing else ever converts into them.
_AXES = (
    "mass",
    "length",
    "time",
    "temperature",
    "current",
    "luminous intensity",
    "angle",
    "IU",
    "appleEffortScore",
    "diopter",
    "prism diopter",
    "sound pressure level",
    "hearing level",
)
_AXIS = {name: index for index, name in enumerate(_AXES)}

Dimension = tuple[int, ...]


def _dim(**exponents: int) -> Dimension:
    """A dimension vector from axis exponents (``mass=1, length=-3``); spaces become ``_``."""
    vector = [0] * len(_AXES)
    for axis, exponent in exponents.items():
        vector[_AXIS[axis.replace("_", " ")]] = exponent
    return tuple(vector)


DIMENSIONLESS = _dim()
_MASS, _LENGTH, _TIME = _dim(mass=1), _dim(length=1), _dim(time=1)
_VOLUME = _dim(length=3)
_ENERGY = _dim(mass=1, length=2, time=-2)
_POWER = _dim(mass=1, length=2, time=-3)
_PRESSURE = _dim(mass=1, length=-1, time=-2)
_TEMPERATURE = _dim(temperature=1)


class _Atom(NamedTuple):
    """One table entry: its dimension, its size in base units (g, m, s, K, A, ...), and for
    degC/degF the offset that makes ``value * factor + offset`` kelvin."""

    dimension: Dimension
    factor: float
    offset: float = 0.0
    logarithmic: bool = False


_LITRE = 1e-3  # m^3
_JOULE = 1e3  # g*m^2/s^2: the mass axis counts grams
_MMHG = 133.322387415  # Pa: conventional millimetre of mercury (13.5951 g/cm^3 * g0)

# SI atoms, which take a metric prefix. ``l`` is HealthKit's lower-case spelling of ``L``.
_SI_ATOMS: dict[str, _Atom] = {
    "g": _Atom(_MASS, 1.0),
    "m": _Atom(_LENGTH, 1.0),
    "L": _Atom(_VOLUME, _LITRE),
    "l": _Atom(_VOLUME, _LITRE),
    "Pa": _Atom(_PRESSURE, _JOULE),  # kg/(m*s^2) in grams
    "s": _Atom(_TIME, 1.0),
    "J": _Atom(_ENERGY, _JOULE),
    "K": _Atom(_TEMPERATURE, 1.0),
    "S": _Atom(_dim(mass=-1, length=-2, time=3, current=2), 1 / _JOULE),
    "Hz": _Atom(_dim(time=-1), 1.0),  # HealthKit converts Hz and count/s into each other
    "V": _Atom(_dim(mass=1, length=2, time=-3, current=-1), _JOULE),
    "W": _Atom(_POWER, _JOULE),
    "lx": _Atom(_dim(luminous_intensity=1, length=-2), 1.0),
    "rad": _Atom(_dim(angle=1), 1.0),
}

# Atoms without a prefix. Imperial and US factors are the exact legal definitions (HKUnit.h's
# comments round them: its "lb = 453.592 g" is 453.59237 g).
_OTHER_ATOMS: dict[str, _Atom] = {
    "oz": _Atom(_MASS, 28.349523125),
    "lb": _Atom(_MASS, 453.59237),
    "st": _Atom(_MASS, 6350.29318),
    "in": _Atom(_LENGTH, 0.0254),
    "ft": _Atom(_LENGTH, 0.3048),
    "yd": _Atom(_LENGTH, 0.9144),
    "mi": _Atom(_LENGTH, 1609.344),
    "mmHg": _Atom(_PRESSURE, _MMHG * _JOULE),
    "cmAq": _Atom(_PRESSURE, 98.0665 * _JOULE),
    "atm": _Atom(_PRESSURE, 101325.0 * _JOULE),
    "inHg": _Atom(_PRESSURE, 25.4 * _MMHG * _JOULE),
    "fl_oz_us": _Atom(_VOLUME, 0.0295735295625 * _LITRE),
    "fl_oz_imp": _Atom(_VOLUME, 0.0284130625 * _LITRE),
    "pt_us": _Atom(_VOLUME, 0.473176473 * _LITRE),
    "pt_imp": _Atom(_VOLUME, 0.56826125 * _LITRE),
    "cup_us": _Atom(_VOLUME, 0.2365882365 * _LITRE),
    "cup_imp": _Atom(_VOLUME, 0.284130625 * _LITRE),
    "min": _Atom(_TIME, 60.0),
    "hr": _Atom(_TIME, 3600.0),
    "d": _Atom(_TIME, 86400.0),
    "cal": _Atom(_ENERGY, 4.184 * _JOULE),  # small (thermochemical) calorie
    "kcal": _Atom(_ENERGY, 4184.0 * _JOULE),
    "Cal": _Atom(_ENERGY, 4184.0 * _JOULE),  # large (food) calorie = kcal
    "degC": _Atom(_TEMPERATURE, 1.0, offset=273.15),
    "degF": _Atom(_TEMPERATURE, 5 / 9, offset=459.67 * 5 / 9),
    "deg": _Atom(_dim(angle=1), math.pi / 180),
    "D": _Atom(_dim(diopter=1), 1.0),
    "pD": _Atom(_dim(prism_diopter=1), 1.0),
    "IU": _Atom(_dim(IU=1), 1.0),
    "count": _Atom(DIMENSIONLESS, 1.0),
    "%": _Atom(DIMENSIONLESS, 1.0),  # HealthKit's percent is a 0-1 fraction, not 1/100
    "appleEffortScore": _Atom(_dim(appleEffortScore=1), 1.0),
    "dBASPL": _Atom(_dim(sound_pressure_level=1), 1.0, logarithmic=True),
    "dBHL": _Atom(_dim(hearing_level=1), 1.0, logarithmic=True),
}

_MOLE = "mol"  # mol<M>: M grams per mole, so one mole is M grams
_PREFIXES: dict[str, float] = {
    "f": 1e-15,
    "p": 1e-12,
    "n": 1e-9,
    "mc": 1e-6,
    "m": 1e-3,
    "c": 1e-2,
    "d": 1e-1,
    "da": 1e1,
    "h": 1e2,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
}
_PREFIXES_LONGEST_FIRST = sorted(_PREFIXES, key=len, reverse=True)

# Human names of whole dimensions; anything else is named from its atoms ("mass/volume").
_DIMENSION_NAMES: dict[Dimension, str] = {
    DIMENSIONLESS: "dimensionless",
    _MASS: "mass",
    _LENGTH: "length",
    _VOLUME: "volume",
    _TIME: "time",
    _dim(time=-1): "frequency",
    _TEMPERATURE: "temperature",
    _ENERGY: "energy",
    _POWER: "power",
    _PRESSURE: "pressure",
    _SI_ATOMS["S"].dimension: "electrical conductance",
    _SI_ATOMS["V"].dimension: "electric potential",
    _SI_ATOMS["lx"].dimension: "illuminance",
    _dim(angle=1): "angle",
    _dim(IU=1): "international units (IU)",
    _dim(appleEffortScore=1): "Apple effort score",
    _dim(diopter=1): "optical power (diopters)",
    _dim(prism_diopter=1): "prism power (prism diopters)",
    _dim(sound_pressure_level=1): "sound pressure level (dBASPL)",
    _dim(hearing_level=1): "hearing level (dBHL)",
}

# Tokens: an atom name (with its molar mass, if any), an integer, or an operator.
_TOKEN = re.compile(
    r"\s*(?:(?P<atom>[A-Za-z_%]+(?:<[^<>]*>)?)|(?P<int>[-+]?\d+)|(?P<op>[()*.·/^]))"
)
_MULTIPLY = frozenset("*.·")
MAX_UNIT_LENGTH = 100  # HealthKit's longest in use, mmol<180.15588000005408>/L, is 26


class UnitError(ValueError):
    """A unit string outside HealthKit's grammar, or one that cannot convert to another."""


@dataclass(frozen=True, slots=True)
class Conversion:
    """``value * factor + offset``: the sent unit's value in the canonical unit. A difference of
    temperatures (not a temperature) converts by ``factor`` alone."""

    factor: float
    offset: float = 0.0

    def apply(self, value: float) -> float:
        return value * self.factor + self.offset


@dataclass(frozen=True, slots=True)
class ParsedUnit:
    """A unit reduced to its dimension vector and its size in base units. ``offset`` is non-zero
    only for degC/degF on their own; ``atoms`` keeps each root atom with its net exponent, in
    order of appearance, for naming and for the identity of logarithmic units."""

    dimension: Dimension
    factor: float
    offset: float = 0.0
    logarithmic: bool = False
    atoms: tuple[tuple[str, int], ...] = ()


# --- tokenizer and parser ------------------------------------------------------------------


def _error(text: str, why: str) -> UnitError:
    return UnitError(f"unit {text!r}: {why}")


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position, stop = 0, len(text.rstrip())
    while position < stop:
        match = _TOKEN.match(text, position)
        if match is None:
            raise _error(text, f"unexpected {text[position:stop].lstrip()!r}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


class _Factors:
    """An accumulating product: size, dimension, and each root atom's exponent. A plain class,
    not a dataclass: the module's import stays the cost of its tables."""

    __slots__ = ("atoms", "dimension", "factor", "special")

    def __init__(
        self,
        factor: float = 1.0,
        dimension: Dimension = DIMENSIONLESS,
        atoms: dict[str, int] | None = None,
        special: str | None = None,  # the affine or logarithmic atom met, if any
    ) -> None:
        self.factor = factor
        self.dimension = dimension
        self.atoms = atoms if atoms is not None else {}
        self.special = special

    def multiply(self, other: _Factors, power: int = 1) -> None:
        self.factor *= other.factor**power
        self.dimension = tuple(
            mine + power * theirs
            for mine, theirs in zip(self.dimension, other.dimension, strict=True)
        )
        for name, exponent in other.atoms.items():
            self.atoms[name] = self.atoms.get(name, 0) + power * exponent
        self.special = self.special or other.special


class _Parser:
    """Recursive descent over the tokens of one unit string (see the module docstring)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.index = 0

    def error(self, why: str) -> UnitError:
        return _error(self.text, why)

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise self.error("ends too early")
        self.index += 1
        return token

    def expect(self, op: str) -> None:
        if self.take() != ("op", op):
            raise self.error(f"expected {op!r}")

    def unit(self) -> _Factors:
        """The whole string: an optionally parenthesised ``product [/ product]``, or ``()``."""
        depth = self.enclosing_parentheses()
        self.index = depth
        if depth and self.index == len(self.tokens) - depth:  # "()" (and "(())")
            return _Factors()
        result = self.product()
        if self.peek() == ("op", "/"):
            self.take()
            result.multiply(self.product(), -1)
        for _ in range(depth):
            self.expect(")")
        if self.peek() is not None:
            token = self.take()
            why = "only one '/' is allowed" if token == ("op", "/") else f"unexpected {token[1]!r}"
            raise self.error(why)
        return result

    def enclosing_parentheses(self) -> int:
        """How many pairs of parentheses wrap the whole string (only these may hold a '/')."""
        depth = 0
        while (
            self.tokens[depth:] and self.tokens[depth] == ("op", "(") and self._closes_at_end(depth)
        ):
            depth += 1
        return depth

    def _closes_at_end(self, start: int) -> bool:
        level = 0
        for position in range(start, len(self.tokens) - start):
            kind, value = self.tokens[position]
            if kind == "op" and value in "()":
                level += 1 if value == "(" else -1
                if level == 0:
                    return position == len(self.tokens) - start - 1
        return False

    def product(self) -> _Factors:
        result = _Factors()
        result.multiply(self.factor())
        while (token := self.peek()) is not None and token[0] == "op" and token[1] in _MULTIPLY:
            self.take()
            result.multiply(self.factor())
        return result

    def factor(self) -> _Factors:
        kind, value = self.take()
        if kind == "op" and value == "(":
            inner = self.product()
            if self.peek() == ("op", "/"):
                raise self.error("'/' cannot stand inside parentheses")
            self.expect(")")
        elif kind == "atom":
            inner = _atom(value, self.text)
        elif kind == "int" and value == "1":
            return _Factors()
        else:
            raise self.error(f"unexpected {value!r}")
        power = 1
        if self.peek() == ("op", "^"):
            self.take()
            exponent_kind, exponent = self.take()
            if exponent_kind != "int":
                raise self.error(f"'^' needs an integer power, not {exponent!r}")
            power = int(exponent)
        result = _Factors()
        result.multiply(inner, power)
        return result


def _atom(name: str, text: str) -> _Factors:
    """One atom of ``text``, prefixed or not, as a product of itself."""
    root, prefix_factor = _split_prefix(name, text)
    if root.startswith(_MOLE + "<"):
        atom = _Atom(_MASS, _molar_mass(root, text))
        root = _MOLE
    else:
        atom = _SI_ATOMS.get(root) or _OTHER_ATOMS[root]
    special = root if atom.offset or atom.logarithmic else None
    return _Factors(atom.factor * prefix_factor, atom.dimension, {root: 1}, special)


def _split_prefix(name: str, text: str) -> tuple[str, float]:
    if name in _OTHER_ATOMS or name in _SI_ATOMS or name.startswith(_MOLE + "<"):
        return name, 1.0
    for prefix in _PREFIXES_LONGEST_FIRST:
        root = name[len(prefix) :]
        if name.startswith(prefix) and (root in _SI_ATOMS or root.startswith(_MOLE + "<")):
            return root, _PREFIXES[prefix]
    if name.endswith(_MOLE):
        raise _error(text, f"{name!r} needs its molar mass in g/mol, as in {name}<180.156>")
    raise _error(text, f"unknown unit {name!r}")


def _molar_mass(root: str, text: str) -> float:
    number = root[len(_MOLE) + 1 : -1]
    try:
        grams_per_mole = float(number)
    except ValueError:
        grams_per_mole = math.nan
    if not (math.isfinite(grams_per_mole) and grams_per_mole > 0):
        raise _error(text, f"mol<...> needs a positive molar mass in g/mol, not {number!r}")
    return grams_per_mole


# --- public interface ----------------------------------------------------------------------


@lru_cache(maxsize=4096)  # bounded: the strings come from clients
def parse_unit(text: str) -> ParsedUnit:
    """``text`` reduced to dimension, size and offset; UnitError if outside HealthKit's grammar."""
    if not text.strip():
        raise UnitError("unit is empty")
    if len(text) > MAX_UNIT_LENGTH:  # bounds the parser's recursion and every message
        raise UnitError(f"unit {text[:24]!r}... is longer than {MAX_UNIT_LENGTH} characters")
    parsed = _Parser(text).unit()
    atoms = tuple((name, exponent) for name, exponent in parsed.atoms.items() if exponent)
    if parsed.special is None:
        return ParsedUnit(parsed.dimension, parsed.factor, atoms=atoms)
    if atoms != ((parsed.special, 1),):
        raise _error(text, f"{parsed.special} only stands alone, it cannot be combined")
    atom = _OTHER_ATOMS[parsed.special]
    return ParsedUnit(atom.dimension, atom.factor, atom.offset, atom.logarithmic, atoms)


@lru_cache(maxsize=4096)
def conversion(sent: str, canonical: str) -> Conversion:
    """How a value sent in ``sent`` becomes one in ``canonical``; UnitError if either string is
    outside the grammar or they measure different things."""
    source, target = parse_unit(sent), parse_unit(canonical)
    if source.dimension != target.dimension:
        raise UnitError(f"unit {sent!r} is {_name(source)}, but {canonical!r} is {_name(target)}")
    if source.logarithmic or target.logarithmic:
        if source.atoms != target.atoms:
            raise UnitError(f"unit {sent!r} is logarithmic and never converted to {canonical!r}")
        return Conversion(1.0)
    factor = source.factor / target.factor
    return Conversion(factor, (source.offset - target.offset) / target.factor)


def dimension_name(text: str) -> str:
    """A human name for what ``text`` measures ("mass", "length/time"), for messages."""
    try:
        return _name(parse_unit(text))
    except UnitError:
        return "not a HealthKit unit"


def _name(unit: ParsedUnit) -> str:
    named = _DIMENSION_NAMES.get(unit.dimension)
    if named is not None:
        return named
    by_name: dict[str, int] = {}
    for atom, exponent in unit.atoms:
        name = _DIMENSION_NAMES.get(_atom_dimension(atom), "?")
        if name != "dimensionless":
            by_name[name] = by_name.get(name, 0) + exponent
    numerator = [_power(name, e) for name, e in by_name.items() if e > 0]
    denominator = [_power(name, -e) for name, e in by_name.items() if e < 0]
    top = "·".join(numerator) or "1"
    if not denominator:
        return top
    bottom = denominator[0] if len(denominator) == 1 else "(" + "·".join(denominator) + ")"
    return f"{top}/{bottom}"


def _atom_dimension(root: str) -> Dimension:
    if root == _MOLE:
        return _MASS
    return (_SI_ATOMS.get(root) or _OTHER_ATOMS[root]).dimension


def _power(name: str, exponent: int) -> str:
    return name if exponent == 1 else f"{name}^{exponent}"
