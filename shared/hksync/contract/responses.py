"""Bodies the HTTP API answers with. Requests are the chunk contract (models.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Final, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from hksync.contract.field_errors import FieldError
from hksync.contract.reminders import LocalDateTime


class _Response(BaseModel):
    model_config = ConfigDict(frozen=True)


class ErrorBody(_Response):
    """Every 4xx body: a code, a sentence for humans, and the offending fields."""

    error: str
    message: str
    details: list[FieldError]


class ChunkAccepted(_Response):
    """A chunk is stored durably and will be processed in the background."""

    sync_id: UUID
    seq: int
    created: bool = Field(description="False when this exact chunk was already stored (a retry).")
    samples: int
    deleted: int


class CommitAccepted(_Response):
    sync_id: UUID
    chunk_count: int
    created: bool = Field(description="False when this exact commit was already stored.")
    committed_at: datetime


class UploadUrl(_Response):
    """Where to PUT a chunk too large for a request body, and the headers to send with it."""

    sync_id: UUID
    seq: int
    url: str
    method: Literal["PUT"] = "PUT"
    headers: dict[str, str]
    expires_in: int


class FailedChunkView(_Response):
    seq: int
    reason: str


class SyncCounts(_Response):
    received: int = Field(description="Samples in the stored chunks (after in-chunk dedupe).")
    inserted: int
    updated: int
    unchanged: int = Field(description="Already stored with the same content: not rewritten.")
    deleted: int
    reconciled: int = Field(
        description="Tombstoned by a chunk's reconcile window: stored, but no longer in HealthKit."
    )
    rejected: int = Field(
        description="Refused on their own (the rest of their chunk is stored): "
        "GET /v1/syncs/{sync_id}/rejected says which and why."
    )


class SyncStatusView(_Response):
    """Where a sync is. ``unchanged`` tells "nothing new" apart from "nothing stored"."""

    sync_id: UUID
    state: Literal["uploading", "receiving", "committed", "incomplete", "complete", "failed"] = (
        Field(
            description=(
                "uploading: chunks are in S3 but none processed yet; receiving: processing, not "
                "committed; committed: every chunk is uploaded, some are still being stored; "
                "incomplete: committed, but chunks of it were never uploaded (missing_chunks): "
                "it completes once they are; complete: every chunk stored and the anchors "
                "advanced; failed: a chunk was rejected (see failed_chunks), committed or not: "
                "it can never complete, anchors kept."
            )
        )
    )
    chunk_count: int | None = Field(description="From the commit; null until it is processed.")
    missing_chunks: list[int] = Field(
        description="Chunks below chunk_count that were never uploaded (state incomplete)."
    )
    chunks_uploaded: int
    chunks_processed: int
    chunks_failed: int
    samples: SyncCounts
    failed_chunks: list[FailedChunkView]
    committed_at: datetime | None
    completed_at: datetime | None


class RejectedSampleView(_Response):
    seq: int = Field(description="The chunk the sample came in.")
    sample_index: int = Field(description="Its position in the chunk's samples.")
    sample_type: str
    uuid: UUID | None = Field(description="Null when the sample's uuid itself was unreadable.")
    field: str = Field(description="The field at fault, as a path into the sample.")
    reason: str


#: GET /v1/syncs/{sync_id}/rejected: ?after= is a previous page's next_after ("seq:index"),
#: ?limit= a page's size.
REJECTED_CURSOR_PATTERN: Final = r"^(0|[1-9][0-9]{0,8}):(0|[1-9][0-9]{0,8})$"
REJECTED_PAGE_MAX: Final = 1000
REJECTED_PAGE_DEFAULT: Final = 100


class RejectedSamplesPage(_Response):
    """Samples of a sync refused on their own, in chunk order."""

    rejected: list[RejectedSampleView]
    next_after: str | None = Field(
        description="Pass as ?after= for the next page; null on the last page."
    )


class AnchorView(_Response):
    sample_type: str
    anchor: str
    sync_id: UUID
    committed_at: datetime


class AnchorsView(_Response):
    """The server's anchor per type: where a reinstalled app resumes its anchored queries."""

    anchors: list[AnchorView]


class ReminderView(_Response):
    """A reminder as the app sees it. ``next_fire_at`` is the next occurrence (UTC); null once
    a one-time reminder has been delivered, or when the reminder is cancelled."""

    reminder_id: UUID
    kind: str
    title: str
    time_zone: str
    at: LocalDateTime | None = Field(description="One-time: the local date-time, no offset.")
    cron: str | None = Field(description="Recurring: the six cron fields, in time_zone.")
    state: Literal["scheduled", "delivered", "cancelled"] = Field(
        description=(
            "scheduled: will fire (again); delivered: a one-time reminder that has fired; "
            "cancelled: will never fire."
        )
    )
    next_fire_at: datetime | None
    created_at: datetime
    updated_at: datetime


class ReminderList(_Response):
    """The caller's reminders, oldest first."""

    reminders: list[ReminderView]
