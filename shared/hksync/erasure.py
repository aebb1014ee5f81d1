"""Erasing a user: everything hksync holds about them, on request (``DELETE /v1/me``).

What goes: every raw object under the user's prefix (each version and delete marker: the
bucket is versioned), every sample and tombstone, sync, chunk-ledger row and anchor, every
reminder with its deliveries and its EventBridge Scheduler schedule. What stays: the erasure's
own row (its id, the user id, when it was asked and done, counts): the record that it happened,
and the user's erasure barrier: from the request on, no processor stores anything of the user
that it read before or while the erasure ran (hksync.processing, 0005_erasure_barrier.sql).

The request only records the erasure and queues it; the work runs in the background
(:func:`perform_erasure`), because a user's objects may be many more than one API request can
delete. Every step is idempotent, so a retried message, a repeated request or a crash half-way
converge on the same end: ``GET /v1/me/erasure`` says ``complete``, with when and what.

Order, and why: schedules first (a reminder must not fire for a user being erased), then the
objects (once they are gone, a late S3 event finds nothing to store), then the rows in one
transaction that waits for any processor still writing for the user.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from uuid import UUID

from hksync.contract.erasure import ErasedCounts, ErasureRequested, ErasureView
from hksync.db.erasure import Erasure, ErasureRepository
from hksync.db.reminders import ReminderRepository
from hksync.errors import NotFound
from hksync.keys import user_prefix
from hksync.ports import ErasureQueue, RawObjectDeleter, ScheduleDeleter


def view(erasure: Erasure) -> ErasureView:
    state = erasure.state
    assert state in ("pending", "complete")
    return ErasureView(
        erasure_id=erasure.erasure_id,
        state=state,
        requested_at=erasure.requested_at,
        completed_at=erasure.completed_at,
        erased=(
            ErasedCounts(
                objects=erasure.objects_deleted,
                samples=erasure.samples_deleted,
                syncs=erasure.syncs_deleted,
                anchors=erasure.anchors_deleted,
                reminders=erasure.reminders_deleted,
            )
            if state == "complete"
            else None
        ),
    )


def request_erasure(
    erasures: ErasureRepository, queue: ErasureQueue, user_id: str
) -> tuple[ErasureView, bool]:
    """Records the erasure (or finds the user's unfinished one) and queues it; (the erasure,
    whether it is new). Queued again on a repeated request, so that a request whose message
    was lost, or dead-lettered, is resumed by asking again."""
    erasure, created = erasures.request(user_id)
    queue.send(ErasureRequested(erasure_id=erasure.erasure_id))
    return view(erasure), created


def erasure_status(erasures: ErasureRepository, user_id: str) -> ErasureView:
    """The caller's latest erasure."""
    erasure = erasures.latest(user_id)
    if erasure is None:
        raise NotFound("no erasure was requested for this user", field="user")
    return view(erasure)


@dataclass(frozen=True, slots=True)
class ErasureOutcome:
    """What one run of the worker did: identifiers and counts only (safe to log)."""

    erasure_id: UUID
    outcome: Literal["erased", "already_complete", "unknown"]
    objects: int = 0
    samples: int = 0
    syncs: int = 0
    reminders: int = 0


def perform_erasure(
    erasures: ErasureRepository,
    reminders: ReminderRepository,
    schedules: ScheduleDeleter,
    objects: RawObjectDeleter,
    erasure_id: UUID,
) -> ErasureOutcome:
    """Erases the user of a pending erasure; safe to run again after any failure."""
    erasure = erasures.start(erasure_id)
    if erasure is None:
        known = erasures.get(erasure_id) is not None
        return ErasureOutcome(erasure_id, "already_complete" if known else "unknown")
    user_id = erasure.user_id
    scheduled = {reminder.schedule_name for reminder in reminders.all_of(user_id)}
    for name in sorted(scheduled):
        schedules.delete(name)
    deleted_objects = objects.erase_prefix(user_prefix(user_id))
    erasures.count_objects(erasure_id, deleted_objects)
    rows = erasures.delete_rows_and_complete(erasure)
    # Reminders created while this ran: their rows are gone, their schedules go now.
    for name in sorted(set(rows.schedule_names) - scheduled):
        schedules.delete(name)
    return ErasureOutcome(
        erasure_id,
        "erased",
        objects=deleted_objects,
        samples=rows.samples,
        syncs=rows.syncs,
        reminders=rows.reminders,
    )
