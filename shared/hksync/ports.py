"""The adapters the domain modules use, as protocols: what each needs of S3, Scheduler, SNS,
SQS and EventBridge, and nothing of how. The AWS implementations are in hksync.aws; the
handlers build them and hand them in, and tests can hand in the same adapters over moto.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol
from uuid import UUID

if TYPE_CHECKING:
    from hksync.contract.change_events import SyncCompleted
    from hksync.contract.erasure import ErasureRequested
    from hksync.db.reminders import Reminder


@dataclass(frozen=True, slots=True)
class StoredObject:
    body: bytes
    last_modified: datetime


class RawObjects(Protocol):
    """The raw bucket, write-once (hksync.aws.s3.RawStore)."""

    def put_if_absent(self, key: str, body: bytes, *, content_type: str) -> bool: ...

    def get(self, key: str) -> StoredObject | None: ...

    def presign_put(self, key: str, *, expires_in: int) -> tuple[str, dict[str, str]]: ...

    def keys(self, prefix: str) -> list[str]: ...


class RawObjectDeleter(Protocol):
    """Deletes every version of every object under a prefix (hksync.aws.s3.RawObjectEraser)."""

    def erase_prefix(self, prefix: str) -> int: ...


class ScheduleDeleter(Protocol):
    """What erasing needs of the reminders' schedules."""

    def delete(self, name: str) -> None: ...


class ReminderScheduler(ScheduleDeleter, Protocol):
    """One schedule per reminder (hksync.aws.scheduler.ReminderSchedules)."""

    def put(self, reminder: Reminder, now: datetime) -> None: ...

    def exists(self, name: str) -> bool: ...


class ErasureQueue(Protocol):
    """The queue the erasure worker reads (hksync.aws.sqs.SqsErasureQueue)."""

    def send(self, message: ErasureRequested) -> None: ...


class PublishRefused(RuntimeError):
    """The topic answered the publish with an error: the notification was not sent."""


class NotificationTopic(Protocol):
    """Where delivered reminders go (hksync.aws.sns.ReminderTopic)."""

    def publish(self, message: dict[str, str], *, kind: str) -> str:
        """Publishes; returns the message id. Raises PublishRefused when the topic said no;
        any other error means no answer at all (the message may have gone out)."""
        ...


@dataclass(frozen=True, slots=True)
class PublishOutcome:
    """What the bus answered, event by event (by the detail's event_id)."""

    accepted: set[UUID] = field(default_factory=set)
    #: The events not known to be published, each with why (an error code, safe to log).
    failed: dict[UUID, str] = field(default_factory=dict)


class ChangeEventBus(Protocol):
    """Where change events go (hksync.aws.eventbridge.ChangeEventPublisher)."""

    def publish(self, events: Sequence[SyncCompleted]) -> PublishOutcome:
        """Publishes the events; says which the bus accepted. Never raises for what the bus
        answered or failed to answer: those events are in ``failed``."""
        ...
