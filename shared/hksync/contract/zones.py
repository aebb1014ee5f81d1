"""IANA time zone names, checked against the zone database shipped with the code (tzdata)."""

from __future__ import annotations

from functools import cache
from zoneinfo import available_timezones


@cache
def _iana_zones() -> frozenset[str]:
    # Read on first use, not at import: listing the zone database takes tens of milliseconds,
    # a cost every function's cold start paid, though most never check a time zone.
    return frozenset(available_timezones())


def is_iana_time_zone(name: str) -> bool:
    return name in _iana_zones()
