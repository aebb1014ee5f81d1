"""Erasing a user: what ``DELETE /v1/me`` and ``GET /v1/me/erasure`` answer, and the message
that hands the work to the background (hksync/erasure.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field


class ErasedCounts(BaseModel):
    """What the erasure deleted."""

    model_config = ConfigDict(frozen=True)

    objects: int = Field(
        description="Raw objects: every version and delete marker under the user's prefix."
    )
    samples: int
    syncs: int
    anchors: int
    reminders: int = Field(description="Reminders, each with its schedule and deliveries.")


class ErasureView(BaseModel):
    """An erasure of every sample, sync, anchor, reminder, schedule and raw object of the
    caller. ``state`` is ``complete`` once nothing of the caller's data is left."""

    model_config = ConfigDict(frozen=True)

    erasure_id: UUID
    state: Literal["pending", "complete"]
    requested_at: datetime
    completed_at: datetime | None = Field(description="When the erasure finished; null before.")
    erased: ErasedCounts | None = Field(description="What was deleted; null until complete.")


class ErasureRequested(BaseModel):
    """The queue message that starts (or retries) an erasure. Only the id: the worker reads
    whose data it is from the database, never from the message."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    erasure_id: UUID
