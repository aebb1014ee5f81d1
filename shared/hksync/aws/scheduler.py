"""Reminders' schedules in EventBridge Scheduler: one schedule per reminder, derived from its row.

The schedule's name is a function of (user, reminder id), so the same reminder can only ever
name one schedule: creating it twice finds the first (ConflictException) and updates it to
match the row, rescheduling updates it in place, and cancelling deletes it. Every call is safe
to repeat, which is what lets the API retry after a crash at any point.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final
from uuid import UUID

from botocore.exceptions import ClientError

from hksync.db.reminders import Reminder

if TYPE_CHECKING:
    from mypy_boto3_scheduler import EventBridgeSchedulerClient

#: Scheduler retries invoking the dispatcher (throttling, service errors) for at most this long:
#: a reminder an hour late is worse than none, and goes to the dead-letter queue instead.
MAX_EVENT_AGE_S: Final = 3600
MAX_RETRY_ATTEMPTS: Final = 10
#: Placeholders Scheduler replaces in the target input at every invocation.
SCHEDULED_TIME: Final = "<aws.scheduler.scheduled-time>"
EXECUTION_ID: Final = "<aws.scheduler.execution-id>"
ATTEMPT_NUMBER: Final = "<aws.scheduler.attempt-number>"


def schedule_name(user_id: str, reminder_id: UUID) -> str:
    """``rem-<reminder id>-<hash of the user>``: deterministic, 61 characters (Scheduler
    allows 64, of ``[0-9a-zA-Z_.-]``).

    Two users may pick the same reminder id, so the user is part of the name; hashed, because
    user ids have any characters and any length, and need not appear in schedule ARNs.
    """
    user = hashlib.sha256(user_id.encode()).hexdigest()[:24]
    return f"rem-{reminder_id.hex}-{user}"


@dataclass(frozen=True, slots=True)
class ScheduleTarget:
    """Where every reminder schedule delivers, and how (from the function's settings)."""

    dispatcher_arn: str
    role_arn: str
    dead_letter_arn: str
    flexible_window_minutes: int = 0


def schedule_expression(reminder: Reminder) -> tuple[str, str]:
    """(expression, its time zone). A one-time reminder is pinned to the UTC instant it was
    resolved to when it was created, so Scheduler and the database agree on it exactly."""
    if reminder.fire_at is not None:
        # astimezone: the driver hands timestamptz back in the session's time zone.
        return f"at({reminder.fire_at.astimezone(UTC):%Y-%m-%dT%H:%M:%S})", "UTC"
    return f"cron({reminder.cron})", reminder.time_zone


def target_input(reminder: Reminder) -> str:
    """The dispatcher's event (hksync.contract.reminders.ReminderOccurrence), with Scheduler's
    placeholders. No title or kind: the dispatcher reads those from the database."""
    return json.dumps(
        {
            "user_id": reminder.user_id,
            "reminder_id": str(reminder.reminder_id),
            "revision": reminder.revision,
            "scheduled_time": SCHEDULED_TIME,
            "execution_id": EXECUTION_ID,
            "attempt": ATTEMPT_NUMBER,
        }
    )


class ReminderSchedules:
    """The reminders' schedule group, seen through the only operations the API needs."""

    def __init__(
        self, client: EventBridgeSchedulerClient, group: str, target: ScheduleTarget
    ) -> None:
        self._client = client
        self._group = group
        self._target = target

    def _parameters(self, reminder: Reminder, now: datetime) -> dict[str, Any]:
        expression, time_zone = schedule_expression(reminder)
        window = self._target.flexible_window_minutes
        parameters: dict[str, Any] = {
            "Name": reminder.schedule_name,
            "GroupName": self._group,
            "ScheduleExpression": expression,
            "ScheduleExpressionTimezone": time_zone,
            "FlexibleTimeWindow": (
                {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": window}
                if window
                else {"Mode": "OFF"}
            ),
            "State": "ENABLED",
            "Description": f"hksync reminder, revision {reminder.revision}",
            "Target": {
                "Arn": self._target.dispatcher_arn,
                "RoleArn": self._target.role_arn,
                "Input": target_input(reminder),
                "RetryPolicy": {
                    "MaximumEventAgeInSeconds": MAX_EVENT_AGE_S,
                    "MaximumRetryAttempts": MAX_RETRY_ATTEMPTS,
                },
                "DeadLetterConfig": {"Arn": self._target.dead_letter_arn},
            },
            # A one-time schedule deletes itself after its invocation, so spent schedules do not
            # pile up against the account's quota.
            "ActionAfterCompletion": "DELETE" if reminder.fire_at is not None else "NONE",
        }
        if reminder.cron is not None:
            # A recurring schedule starts at the reminder's next occurrence (inclusive), so
            # Scheduler skips one too close to make, as the reminder's next_fire_at does; never
            # earlier than now (Scheduler refuses a start more than 5 minutes past).
            parameters["StartDate"] = max(now, reminder.next_fire_at or now)
        return parameters

    def put(self, reminder: Reminder, now: datetime) -> None:
        """Makes the reminder's schedule match its row: creates it, or updates the one that
        exists under its name (a retried create, or a reschedule)."""
        parameters = self._parameters(reminder, now)
        try:
            self._client.create_schedule(**parameters)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConflictException":
                raise
            self._client.update_schedule(**parameters)

    def exists(self, name: str) -> bool:
        """Whether the group holds a schedule of this name."""
        try:
            self._client.get_schedule(Name=name, GroupName=self._group)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return False
            raise
        return True

    def delete(self, name: str) -> None:
        """Deletes a schedule; one already gone (deleted, or spent) is fine."""
        try:
            self._client.delete_schedule(Name=name, GroupName=self._group)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise
