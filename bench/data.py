"""Benchmark data: heart-rate and step samples exactly as the simulated user uploads them.

The simulator (hksync_tools.simulator.user) makes one user's whole life, about 550 heart-rate
readings a day; 100,000 of them would take half a year of simulated life to generate. Here the first
simulated reading is the template (same source, device, metadata and unit as the watch writes)
and readings follow every five minutes with their own UUIDs and values: the same JSON shape,
the same bytes per sample, made in a fraction of a second and identical on every run.

Steps likewise (``heavy_steps``), from the simulator's first step sample of the watch and of
the iPhone, but for a heavier user than the simulator's (who has about 120 a day): the read
side's target is about a heavy Watch user, whose watch writes a step sample every minute or so
of the waking day while the iPhone in a pocket counts the same steps again.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any, Final
from zoneinfo import ZoneInfo

from hksync.contract.chunk_wire import MAX_CHUNK_ITEMS
from hksync.contract.decoding import decode_chunk
from hksync.contract.sample_rows import DecodedChunk
from hksync_tools.simulator.healthkit import HEART_RATE, STEP_COUNT
from hksync_tools.simulator.user import AppleWatchUser

Sample = dict[str, Any]
#: Readings end before this instant (the contract refuses samples ahead of the server's clock).
LAST_READING: Final = datetime(2026, 1, 1, tzinfo=UTC)
#: The simulated user's zone (the simulator's default): days are cut at its midnight.
STEPS_ZONE: Final = ZoneInfo("Europe/Berlin")
#: The last local day of ``heavy_steps`` (the day before LAST_READING there).
LAST_STEP_DAY: Final = date(2025, 12, 31)


@cache
def _template() -> Sample:
    sync = AppleWatchUser(1, now=LAST_READING).backfill(days=1)
    first = next(sample for sample in sync.samples() if sample["sample_type"] == HEART_RATE)
    return dict(first)


def heart_rates(count: int, *, seed: int = 1) -> list[Sample]:
    """``count`` heart-rate readings five minutes apart, ending at LAST_READING."""
    rng = random.Random(seed)  # noqa: S311 - reproducible data, not secrets
    template = _template()
    first = LAST_READING - timedelta(minutes=5 * count)
    readings = []
    for index in range(count):
        moment = (first + timedelta(minutes=5 * index, seconds=rng.randrange(60))).isoformat()
        readings.append(
            {
                **template,
                "uuid": str(uuid.UUID(int=rng.getrandbits(128), version=4)).upper(),
                "start_date": moment,
                "end_date": moment,
                "value": float(rng.randrange(48, 160)),
                "metadata": {"HKMetadataKeyHeartRateMotionContext": rng.randrange(3)},
            }
        )
    return readings


@cache
def _step_templates() -> tuple[Sample, Sample]:
    """The simulator's first step sample of the watch and of the iPhone."""
    sync = AppleWatchUser(1, now=LAST_READING).backfill(days=3)
    steps = [sample for sample in sync.samples() if sample["sample_type"] == STEP_COUNT]

    def first_of(product: str) -> Sample:
        return dict(next(s for s in steps if s["source"]["product_type"].startswith(product)))

    return first_of("Watch"), first_of("iPhone")


def heavy_steps(
    first_day: date, last_day: date = LAST_STEP_DAY, *, seed: int = 1, hours: range = range(24)
) -> list[Sample]:
    """A heavy Watch and iPhone user's step samples on the local days [first_day, last_day]
    (Europe/Berlin), day by day, those starting in the given local ``hours`` only: the watch's
    back to back, 45 to 75 s each, from 06:30 to 23:30 (about 1,000 a day); the iPhone's 2 to 8
    minutes each with gaps of up to 3, from 08:00 to 20:00 (about 110 a day), over the same
    walks. Minutes are walking (90-120 steps a minute) a third of the time, pottering (up to
    20) otherwise."""
    rng = random.Random(seed)  # noqa: S311 - reproducible data, not secrets
    watch, phone = _step_templates()
    samples = []
    day = first_day
    while day <= last_day:
        midnight = datetime.combine(day, time(), STEPS_ZONE).timestamp()
        for template, begin, end, shortest, longest, gap in (
            (watch, 6.5, 23.5, 45, 75, 0),
            (phone, 8.0, 20.0, 120, 480, 180),
        ):
            moment = midnight + begin * 3600 + rng.randrange(60)
            while moment < midnight + end * 3600:
                seconds = rng.randint(shortest, longest)
                per_minute = rng.randint(90, 120) if rng.random() < 1 / 3 else rng.randint(1, 20)
                start = datetime.fromtimestamp(moment, STEPS_ZONE)
                if start.hour in hours:
                    samples.append(
                        {
                            **template,
                            "uuid": str(uuid.UUID(int=rng.getrandbits(128), version=4)).upper(),
                            "start_date": start.isoformat(),
                            "end_date": datetime.fromtimestamp(
                                moment + seconds, STEPS_ZONE
                            ).isoformat(),
                            "value": float(max(1, per_minute * seconds // 60)),
                        }
                    )
                moment += seconds + rng.randint(0, gap)
        day += timedelta(days=1)
    return samples


#: What a source held in the pydantic contract (up to issue 14): its strict model refuses any
#: other key, and the simulator's sources now also carry product_type and
#: operating_system_version.
PYDANTIC_SOURCE_FIELDS: Final = ("name", "bundle_id", "version")


def with_pydantic_sources(samples: Sequence[Sample]) -> list[Sample]:
    """The samples with sources as the pydantic contract reads them, so that a revision from
    before issue 14 and today's decode the same bytes."""
    return [
        {
            **sample,
            "source": {
                name: value
                for name, value in sample["source"].items()
                if name in PYDANTIC_SOURCE_FIELDS
            },
        }
        for sample in samples
    ]


def with_changed_values(samples: Sequence[Sample], every: int = 2) -> list[Sample]:
    """The same samples with every ``every``-th value changed (a re-upload of edited data)."""
    return [
        {**sample, "value": sample["value"] + 1.0} if index % every == 0 else sample
        for index, sample in enumerate(samples)
    ]


def chunk_bodies(
    samples: Sequence[Sample], *, sync_id: uuid.UUID, size: int = MAX_CHUNK_ITEMS
) -> Iterator[dict[str, Any]]:
    """The samples cut into chunk bodies of at most ``size`` samples, as the app uploads them."""
    for seq, start in enumerate(range(0, len(samples), size)):
        yield {
            "sync_id": str(sync_id),
            "seq": seq,
            "sample_type": samples[start]["sample_type"],  # one type per chunk
            "anchor": None,
            "samples": list(samples[start : start + size]),
            "deleted": [],
        }


def decoded(samples: Sequence[Sample]) -> list[DecodedChunk]:
    """The samples as the processor holds them after decoding: one decoded chunk (its rows and
    sources) per chunk of at most MAX_CHUNK_ITEMS, as the write path is called."""
    chunks = [decode_chunk(encoded(body)) for body in chunk_bodies(samples, sync_id=uuid.uuid4())]
    for chunk in chunks:
        if chunk.rejected:
            raise ValueError(f"the benchmark's own samples were rejected: {chunk.rejected[:3]}")
    return chunks


def encoded(body: dict[str, Any]) -> bytes:
    """A chunk body as the reference client sends it (compact JSON)."""
    return json.dumps(body, separators=(",", ":")).encode()
