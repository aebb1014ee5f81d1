"""Moments given on the command line: a duration ago, or an ISO 8601 time."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Final

_AGO: Final = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS: Final = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_time(text: str, *, now: datetime | None = None) -> datetime:
    """A moment given as a duration ago ("90s", "15m", "1h", "2d", "1w") or as ISO 8601
    (a time without a zone is UTC)."""
    ago = _AGO.match(text)
    if ago:
        amount, unit = float(ago.group(1)), _UNITS[ago.group(2)]
        return (now or datetime.now(UTC)) - timedelta(**{unit: amount})
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"{text!r} is neither a duration (15m, 1h, 2d) nor an ISO 8601 time"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
