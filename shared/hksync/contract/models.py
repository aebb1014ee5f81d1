"""The commit side of the sync contract, as strict pydantic v2 models.

A *sync* is one run of the app's anchored queries. It is uploaded as numbered *chunks*, each
holding samples (and deletions) of a single HealthKit type (their contract is
hksync.contract.chunk_wire, decoded sample by sample), then *committed* with its chunk count
and the new anchor per type: that commit is modelled here.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from hksync.contract.chunk_wire import (
    MAX_CHUNK_ITEMS,
    MAX_CHUNKS_PER_SYNC,
    METADATA_TIME_ZONE_KEY,
)
from hksync.contract.field_errors import NO_NUL_PATTERN
from hksync.contract.zones import is_iana_time_zone

__all__ = [
    "MAX_CHUNKS_PER_SYNC",
    "MAX_CHUNK_ITEMS",
    "METADATA_TIME_ZONE_KEY",
    "StoredCommit",
    "StrictModel",
    "SyncCommit",
    "Uuid",
    "gc_paused",
    "is_iana_time_zone",
]


@contextmanager
def gc_paused() -> Iterator[None]:
    """Suspends CPython's cyclic garbage collector for a bulk operation that allocates many
    long-lived objects and no reference cycles (validating a chunk, encoding its rows).

    Otherwise the collector runs every 700 allocations and, as the objects pile up, rescans
    them all in its older generations: on a 20,000-sample chunk that is about a third of the
    validation time, and finds no garbage (docs/benchmarks.md). Plain reference counting still
    frees everything as usual; a cycle made meanwhile is collected after the block.
    """
    if not gc.isenabled():  # nested, or disabled by the caller: leave it as it is
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


AnchorToken = Annotated[
    str, StringConstraints(min_length=1, max_length=4096, pattern=NO_NUL_PATTERN)
]
#: A HealthKit type identifier; types the server does not know yet are accepted (and stored
#: as sent), so that next year's SDK never blocks a sync.
SampleTypeIdentifier = Annotated[str, StringConstraints(pattern=r"^HK[A-Za-z0-9]{1,126}$")]


def _uuid_from_text(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return UUID(value)
        except ValueError:
            raise ValueError("must be a UUID") from None
    return value


Uuid = Annotated[UUID, BeforeValidator(_uuid_from_text)]


class StrictModel(BaseModel):
    """Contract base: strict types, unknown fields rejected, NaN and infinity rejected."""

    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False, frozen=True)


class SyncCommit(StrictModel):
    """Closes a sync: how many chunks it has and the anchor per type it ends at."""

    chunk_count: int = Field(ge=0, le=MAX_CHUNKS_PER_SYNC)
    anchors: dict[SampleTypeIdentifier, AnchorToken] = Field(min_length=1)


class StoredCommit(SyncCommit):
    """The commit as kept in the raw bucket: the client's commit plus the server's time.

    ``committed_at`` orders syncs, so that a late, older sync never moves an anchor back.
    """

    committed_at: datetime = Field(strict=False)
