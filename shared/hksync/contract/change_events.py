"""Change events: what a backend receives on EventBridge when a sync completes, so that it can
react (recompute a day, refresh a cache) without polling. docs/change-events.md is generated
from these models; ``SyncCompleted`` is the ``detail`` of the event.

Versioning: ``schema_version`` changes only when a field is removed, renamed or changes meaning
or type; fields may be added within a version, so consumers ignore the fields they do not know.
A new version is published beside the old one for a deprecation period (a rule can match on
``detail.schema_version``).

Delivery is at least once (the publisher retries what it cannot confirm): ``event_id`` is the
same in every delivery of one event, and is the consumer's key to drop repeats. EventBridge's
own envelope ``id`` is not: a retried publish is a new EventBridge event.
"""

from __future__ import annotations

from datetime import date
from typing import Final, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

#: The envelope's ``source`` and ``detail-type`` of every change event.
EVENT_SOURCE: Final = "hksync"
SYNC_COMPLETED: Final = "SyncCompleted"
#: The current ``schema_version`` of ``SyncCompleted``.
SYNC_COMPLETED_VERSION: Final = 1


class _Detail(BaseModel):
    model_config = ConfigDict(frozen=True)


class SyncCounts(_Detail):
    """The sync's counters, as ``GET /v1/syncs/{sync_id}`` reports them."""

    chunks: int = Field(ge=0, description="Chunks stored (the commit's chunk_count).")
    received: int = Field(ge=0, description="Samples in the sync's chunks, rejected ones included.")
    inserted: int = Field(ge=0, description="Samples new to the server.")
    updated: int = Field(ge=0, description="Samples stored before, changed by this sync.")
    unchanged: int = Field(ge=0, description="Samples stored before exactly as sent.")
    deleted: int = Field(ge=0, description="Samples this sync deleted (tombstones written).")
    rejected: int = Field(ge=0, description="Samples refused on their own (not stored).")
    reconciled: int = Field(
        ge=0,
        description=(
            "Stored samples deleted by the sync's reconciliation windows (HealthKit no longer "
            "holds them)."
        ),
    )


class TimeRange(_Detail):
    """Earliest start and latest end of the samples the sync inserted or changed."""

    start: AwareDatetime
    end: AwareDatetime


class SyncCompleted(_Detail):
    """One sync of one user was stored completely; its anchors have advanced.

    What changed is described, never the samples themselves: read them with the API. Covered
    are the rows this sync wrote that still carry it when it completes (a later sync that
    changed the same sample first reports it in its own event)."""

    model_config = ConfigDict(
        frozen=True,
        title="SyncCompleted",
        json_schema_extra={
            "$id": f"urn:hksync:change-events:{SYNC_COMPLETED}:v{SYNC_COMPLETED_VERSION}"
        },
    )

    schema_version: Literal[1] = Field(
        description="Changes only with a breaking change (docs/change-events.md)."
    )
    event_id: UUID = Field(
        description=(
            "The same in every delivery of this event (delivery is at least once): the key to "
            "drop repeats. One event per sync, so it also stands for the sync's completion."
        )
    )
    user_id: str = Field(
        min_length=1, description="The user (the verified token's subject) the sync belongs to."
    )
    sync_id: UUID
    committed_at: AwareDatetime = Field(description="When the app committed the sync.")
    completed_at: AwareDatetime = Field(
        description="When the server stored its last chunk or commit (the envelope's time)."
    )
    sample_types: list[str] = Field(
        description=(
            "HealthKit type identifiers of the samples the sync inserted, changed or deleted, "
            "sorted. Empty when it changed nothing."
        )
    )
    counts: SyncCounts
    time_range: TimeRange | None = Field(
        description="Null when the sync inserted or changed no sample (only deletions, or none)."
    )
    local_dates: list[date] = Field(
        description=(
            "The local calendar days (each sample's own UTC offset or zone) the inserted or "
            "changed samples start on, sorted: the days whose summaries may have changed. A "
            "deleted sample keeps no date on the server; its type is in sample_types."
        )
    )
