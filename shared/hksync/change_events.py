"""Publishing change events (docs/change-events.md): a transactional outbox, relayed to
EventBridge at least once.

- The transaction that completes a sync writes its SyncCompleted event (hksync.db.syncs
  ``settle``, hksync.db.change_events): the event exists exactly when the sync is complete, and
  a replayed chunk or commit, which completes nothing, writes none.
- Right after that transaction the processor publishes it (:func:`publish_sync_event`). An
  event the bus did not accept, or did not answer for, stays unpublished, and the hourly upkeep
  publishes it again (:func:`sweep`).
- A publisher locks the events it publishes until it has recorded them published, and skips
  the events another one holds: so an event is published twice only when a bus accepted it
  without the publisher knowing (no answer, or a crash before the record). Consumers drop such
  a repeat by its ``event_id``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final
from uuid import UUID

from hksync.db.change_events import ChangeEventRepository, Claim
from hksync.observability import logger
from hksync.ports import ChangeEventBus

#: Events claimed and published together by the sweep (one PutEvents request, when they fit).
SWEEP_BATCH: Final = 10


@dataclass(frozen=True, slots=True)
class PublishReport:
    """Counts only (safe to log)."""

    published: int = 0
    #: Left unpublished, for the next sweep.
    failed: int = 0

    def __add__(self, other: PublishReport) -> PublishReport:
        return PublishReport(self.published + other.published, self.failed + other.failed)


def _publish_claimed(claim: Claim, bus: ChangeEventBus) -> PublishReport:
    if not claim.events:
        return PublishReport()
    outcome = bus.publish([event.detail for event in claim.events])
    claim.mark_published(outcome.accepted)
    if outcome.failed:
        logger.warning(
            "change events not published; the hourly upkeep publishes them again",
            extra={
                "event_ids": sorted(str(event_id) for event_id in outcome.failed),
                "reasons": sorted(set(outcome.failed.values())),
            },
        )
    return PublishReport(published=len(outcome.accepted), failed=len(outcome.failed))


def publish_sync_event(
    outbox: ChangeEventRepository, bus: ChangeEventBus, user_id: str, sync_id: UUID
) -> PublishReport:
    """Publishes the sync's event if it is written and not published yet (nothing otherwise:
    a sync not complete, or one whose event went out already)."""
    outbox.act_for(user_id)
    with outbox.claim_unpublished(user_id, sync_id) as claim:
        return _publish_claimed(claim, bus)


def sweep(
    outbox: ChangeEventRepository, bus: ChangeEventBus, *, time_left_s: Callable[[], float]
) -> PublishReport:
    """Publishes the unpublished events, oldest first, a batch at a time while
    ``time_left_s()`` is positive. Stops at a batch the bus did not take whole: it is failing,
    and the next run tries again."""
    total = PublishReport()
    while time_left_s() > 0:
        with outbox.claim_unpublished_of_everyone(limit=SWEEP_BATCH) as claim:
            report = _publish_claimed(claim, bus)
        total += report
        if report.failed or report.published < SWEEP_BATCH:
            break
    return total
