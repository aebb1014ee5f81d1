"""The simulator's output per seed, pinned: a digest of everything it produces.

Refactoring the simulator must not change one byte of what it uploads or expects. Each scenario
runs a user through its syncs and hashes every sync's id, chunks (as the wire JSON the client
sends, key order included), commit, the user's clock after it, and at the end the expectation
(live samples in their order, deleted UUIDs, rejected UUIDs with their fields). If one changes,
the simulator's behaviour changed.

Regenerating, when a change is meant to alter the output: run this test; each failure's message
ends with the scenario's new digest. Paste it into GOLDEN_DIGESTS and say in the commit what
changed and why. (Last regenerated for issue 14's realistic mix: correlations, nutrition,
workout pauses, statistics and routes, source product types, the planted samples.)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from hksync_tools.simulator.user import AppleWatchUser, SimulatedSync


@dataclass(frozen=True)
class Scenario:
    seed: int
    now: datetime
    time_zone: str = "Europe/Berlin"
    chunk_size: int = 5000
    #: Days of backfill, or None to start with an incremental sync.
    backfill_days: int | None = 30
    #: (hours, delete_fraction) of each incremental sync, in order.
    increments: tuple[tuple[float, float], ...] = ()


BERLIN_SPRING = datetime(2024, 4, 12, 20, 15, 30, tzinfo=ZoneInfo("Europe/Berlin"))

SCENARIOS: dict[str, Scenario] = {
    # The unit tests' scenario: 30 days across the switch to summer time, then deletions.
    "berlin-30-days": Scenario(
        2024, BERLIN_SPRING, increments=((6.0, 0.01), (20.0, 0.01), (1.5, 0.05))
    ),
    # Another zone across its autumn switch, small chunks splitting types, a sync with nothing
    # new (re-committed anchors) and heavy deletions.
    "new-york-small-chunks": Scenario(
        7,
        datetime(2023, 11, 7, 7, 30, tzinfo=ZoneInfo("America/New_York")),
        time_zone="America/New_York",
        chunk_size=300,
        backfill_days=4,
        increments=((12.0, 0.05), (0.001, 0.0), (30.0, 0.5), (0.25, 1.0)),
    ),
    # No backfill: history starts at the clock; a half-hour offset zone; one item per chunk.
    "kolkata-no-backfill": Scenario(
        0,
        datetime(2024, 1, 3, 5, 0, tzinfo=ZoneInfo("Asia/Kolkata")),
        time_zone="Asia/Kolkata",
        chunk_size=1,
        backfill_days=None,
        increments=((0.5, 0.0), (3.0, 0.2), (2.0, 1.0)),
    ),
    # A user whose clock is given in UTC while living in Berlin, a week of incrementals.
    "utc-clock-week": Scenario(
        123456789,
        datetime(2024, 10, 25, 4, 0, tzinfo=ZoneInfo("UTC")),
        backfill_days=1,
        increments=tuple((24.0, 0.002) for _ in range(7)),
    ),
}

GOLDEN_DIGESTS: dict[str, str] = {
    "berlin-30-days": "85a179054fcb9f933ed013f1169f1e08fa3626c978d02ad01f67c7ad5d737906",
    "new-york-small-chunks": "f3a17c2bfb2cc4da6ab94f825a2a61e6fba95fb65da73e6c350cc3a138d10fa6",
    "kolkata-no-backfill": "1957bbd34e91ee1d6a085388162a54f43af3fc7e47940e4d1bd606d8338c307d",
    "utc-clock-week": "d30b2e7499f91b6020c021ea9f2d5aa7c9038a74ce33b1cbc5ce1bf652603bdd",
}


def _wire(body: object) -> bytes:
    """The JSON the client sends (`HksyncClient.upload_chunk`'s separators)."""
    return json.dumps(body, separators=(",", ":")).encode()


def _syncs(user: AppleWatchUser, scenario: Scenario) -> Iterator[SimulatedSync]:
    """The scenario's syncs, lazily, so the user's clock can be read after each one."""
    if scenario.backfill_days is not None:
        yield user.backfill(scenario.backfill_days)
    for hours, fraction in scenario.increments:
        yield user.incremental(hours, delete_fraction=fraction)


def _digest(scenario: Scenario) -> str:
    user = AppleWatchUser(
        scenario.seed,
        now=scenario.now,
        time_zone=scenario.time_zone,
        chunk_size=scenario.chunk_size,
    )
    digest = hashlib.sha256(user.source_name.encode())
    for sync in _syncs(user, scenario):
        digest.update(str(sync.sync_id).encode())
        for chunk in sync.chunks:
            digest.update(_wire(chunk))
        digest.update(_wire(sync.commit))
        digest.update(user.now.isoformat().encode())
    digest.update(_wire(user.live_samples()))
    digest.update(_wire(sorted(user.deleted_uuids())))
    digest.update(_wire(sorted(user.rejected_samples().items())))
    return digest.hexdigest()


@pytest.mark.parametrize("name", SCENARIOS)
def test_output_per_seed_is_unchanged(name: str) -> None:
    digest = _digest(SCENARIOS[name])
    assert digest == GOLDEN_DIGESTS[name], f"the simulator's output changed: now {digest}"
