"""The realistic HealthKit chunks in tests/fixtures/healthkit: one file per sample type, named
by its type identifier, covering every kind of sample (and a type the server does not know).

All of them belong to one sync and have distinct ``seq`` numbers, so a test may upload any
selection of them into the same sync. Their samples are dated in the past.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

FIXTURES_DIR = Path(__file__).parent.parent / "fixtures" / "healthkit"

#: A type identifier the table does not know, as next year's SDK might send it.
FUTURE_TYPE = "HKQuantityTypeIdentifierFutureThing"


def fixture_types() -> list[str]:
    """The sample type of every fixture, sorted."""
    return sorted(path.stem for path in FIXTURES_DIR.glob("*.json"))


def fixture_path(sample_type: str) -> Path:
    path = FIXTURES_DIR / f"{sample_type}.json"
    if not path.is_file():
        raise LookupError(f"no HealthKit fixture for {sample_type}")
    return path


def fixture_bytes(sample_type: str) -> bytes:
    """The chunk exactly as stored, as a phone would upload it."""
    return fixture_path(sample_type).read_bytes()


@cache
def _parsed(sample_type: str) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(fixture_bytes(sample_type))
    return parsed


def fixture_chunk(sample_type: str) -> dict[str, Any]:
    """The chunk as parsed JSON: a fresh copy each call, free to change."""
    return copy.deepcopy(_parsed(sample_type))
