"""Benchmark data: heart-rate samples exactly as the simulated Apple Watch user uploads them.

The simulator (hksync_tools.simulator.user) makes one user's whole life, about 550 heart-rate
readings a day; 100,000 of them would take half a year of simulated life to generate. Here the first
simulated reading is the template (same source, device, metadata and unit as the watch writes)
and readings follow every five minutes with their own UUIDs and values: the same JSON shape,
the same bytes per sample, made in a fraction of a second and identical on every run.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, Final

from hksync.contract.chunk_wire import MAX_CHUNK_ITEMS
from hksync.contract.decoding import decode_chunk
from hksync.contract.sample_rows import DecodedChunk
from hksync_tools.simulator.healthkit import HEART_RATE
from hksync_tools.simulator.user import AppleWatchUser

Sample = dict[str, Any]
#: Readings end before this instant (the contract refuses samples ahead of the server's clock).
LAST_READING: Final = datetime(2026, 1, 1, tzinfo=UTC)


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
            "sample_type": HEART_RATE,
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
