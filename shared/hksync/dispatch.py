"""The reminder dispatcher, the schedules' target: every occurrence delivered exactly once.

EventBridge Scheduler invokes its target at least once, and Lambda's asynchronous queue may
add a duplicate of its own. The ledger (reminder_deliveries, keyed by reminder and the
occurrence's scheduled time) makes a second invocation of an occurrence a no-op. The order of
the steps decides what a crash can do:

1. One transaction: read the reminder under a share lock (a concurrent cancel waits), skip it
   when it is unknown, cancelled, or the occurrence belongs to an older schedule revision;
   otherwise claim the occurrence in the ledger. A duplicate finds the claim and stops here.
2. Publish the notification to SNS (the SDK's own retries are off for this call).
3. Mark the claim published, and move the reminder on (delivered, or its next occurrence).

The claim is committed before anything is sent, so no path sends an occurrence twice: that is
the trade-off chosen (at most once, with every doubt recorded) over at-least-once, because a
doubled medication reminder can mean a doubled dose, the very bug of the seed's two Beat
replicas, while a missing one leaves a ledger row operators can see:

- SNS answers with an error (throttling, ...): the message certainly did not go out; the claim
  is released and the invocation fails, so Lambda retries it.
- SNS does not answer (a timeout, a reset connection): it may have gone out. The claim stays,
  marked 'unconfirmed', and is never re-sent.
- A crash between 2 and 3: the claim stays 'claimed', never re-sent, visible to operators.

SNS standard topics themselves deliver at least once to their subscribers; every message
carries a deterministic ``delivery_id`` so a subscriber (or APNs' collapse id) can drop repeats.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Literal
from zoneinfo import ZoneInfo

from botocore.exceptions import BotoCoreError

from hksync.contract.reminders import ReminderOccurrence
from hksync.cron import CronExpression
from hksync.db.reminders import Reminder, ReminderRepository
from hksync.ports import NotificationTopic, PublishRefused

#: Namespace of delivery ids (uuid5 of user, reminder and scheduled time).
DELIVERY_NAMESPACE: Final = uuid.UUID("8b0f7c52-6a43-4f61-9d0e-3c1b2f4e5a67")

Outcome = Literal["delivered", "duplicate", "cancelled", "stale", "unknown", "unconfirmed"]


@dataclass(frozen=True, slots=True)
class DispatchResult:
    outcome: Outcome
    reminder_id: uuid.UUID
    scheduled_for: datetime
    message_id: str | None = None


def delivery_id(user_id: str, reminder_id: uuid.UUID, scheduled_for: datetime) -> uuid.UUID:
    """The same for every invocation of one occurrence: subscribers deduplicate on it."""
    instant = scheduled_for.astimezone(UTC).isoformat()
    return uuid.uuid5(DELIVERY_NAMESPACE, f"{user_id}\n{reminder_id}\n{instant}")


def _message(reminder: Reminder, scheduled_for: datetime) -> dict[str, str]:
    local = scheduled_for.astimezone(ZoneInfo(reminder.time_zone))
    return {
        "type": "hksync.reminder",
        "delivery_id": str(delivery_id(reminder.user_id, reminder.reminder_id, scheduled_for)),
        "user_id": reminder.user_id,
        "reminder_id": str(reminder.reminder_id),
        "kind": reminder.kind,
        "title": reminder.title,
        "scheduled_for": scheduled_for.astimezone(UTC).isoformat(),
        "local_time": local.replace(tzinfo=None).isoformat(),
        "time_zone": reminder.time_zone,
    }


def _next_fire_at(reminder: Reminder, after: datetime) -> datetime | None:
    if reminder.cron is None:
        return None
    return CronExpression.parse(reminder.cron).next_after(ZoneInfo(reminder.time_zone), after)


class ReminderDispatcher:
    def __init__(
        self,
        repository: ReminderRepository,
        topic: NotificationTopic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._repository = repository
        self._topic = topic
        self._now = now

    def dispatch(self, occurrence: ReminderOccurrence) -> DispatchResult:
        user_id, reminder_id = occurrence.user_id, occurrence.reminder_id
        scheduled_for = occurrence.scheduled_time.astimezone(UTC)

        def result(outcome: Outcome, message_id: str | None = None) -> DispatchResult:
            return DispatchResult(outcome, reminder_id, scheduled_for, message_id)

        with self._repository.transaction():
            reminder = self._repository.lock(user_id, reminder_id)
            if reminder is None:
                return result("unknown")
            if reminder.state == "cancelled":
                return result("cancelled")
            if reminder.revision != occurrence.revision:
                return result("stale")
            if not self._repository.claim_delivery(
                user_id,
                reminder_id,
                scheduled_for,
                revision=occurrence.revision,
                execution_id=occurrence.execution_id,
            ):
                return result("duplicate")
        # The claim is committed: from here on, this occurrence is never published again.
        try:
            message_id = self._topic.publish(_message(reminder, scheduled_for), kind=reminder.kind)
        except PublishRefused:
            self._repository.release_delivery(user_id, reminder_id, scheduled_for)
            raise
        except BotoCoreError as error:
            self._repository.mark_unconfirmed(
                user_id, reminder_id, scheduled_for, f"{type(error).__name__}: {error}"
            )
            return result("unconfirmed")
        with self._repository.transaction():
            self._repository.mark_published(
                user_id,
                reminder_id,
                scheduled_for,
                message_id=message_id,
                revision=occurrence.revision,
                next_fire_at=_next_fire_at(reminder, max(scheduled_for, self._now())),
                delivered=reminder.cron is None,
            )
        return result("delivered", message_id)
