"""Reminders, the API's side: create (idempotent by the client's id), list, reschedule, cancel.

The database row is the source of truth and is written first; the schedule is then made to
match it. Every step can be repeated, so a client that retries after any failure converges:

- create: the row is inserted once (a retry with the same content finds it), then the schedule
  is put (created, or updated when it exists). Same id, different content: 409.
- reschedule: the row gets the new schedule and a new revision, then the schedule is updated.
  Occurrences of the old schedule still in flight carry the old revision and are not delivered.
- cancel: the row is cancelled first (the dispatcher then refuses every occurrence), then the
  schedule is deleted.

Always scoped to the caller: another user's reminder is simply not found.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final
from uuid import UUID
from zoneinfo import ZoneInfo

from hksync.aws.scheduler import schedule_name
from hksync.contract.field_errors import FieldError
from hksync.contract.parse import parse_json
from hksync.contract.reminders import (
    MIN_RECURRING_INTERVAL,
    CreateReminder,
    ReminderSchedule,
    RescheduleReminder,
)
from hksync.contract.responses import ReminderList, ReminderView
from hksync.cron import CronExpression, local_instant
from hksync.db.reminders import NewReminder, Reminder, ReminderRepository
from hksync.errors import ContractViolation, NotFound, ReminderConflict
from hksync.ports import ReminderScheduler

#: How far ahead a reminder may first fire ("hours to weeks ahead", with room to spare).
MAX_LEAD_TIME: Final = timedelta(days=90)
#: Scheduler fires with one-minute precision: anything sooner is as good as now. A one-time
#: reminder sooner than this is refused; a recurring one starts at its first occurrence after it.
MIN_LEAD_TIME: Final = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class ResolvedSchedule:
    """A requested schedule checked against the clock: its UTC instant or its expression, and
    when it fires first."""

    time_zone: str
    local_at: datetime | None
    fire_at: datetime | None
    cron: str | None
    next_fire_at: datetime

    def row(self, kind: str, title: str) -> NewReminder:
        return NewReminder(
            kind=kind,
            title=title,
            time_zone=self.time_zone,
            local_at=self.local_at,
            fire_at=self.fire_at,
            cron=self.cron,
            next_fire_at=self.next_fire_at,
        )


def _refuse(field: str, reason: str) -> ContractViolation:
    return ContractViolation([FieldError(field=field, reason=reason)])


#: No zone is more than a day from UTC: a wall-clock time further than this from the window's
#: local edges is outside the window in every zone.
_ANY_ZONE_OFFSET: Final = timedelta(days=1)


def _within_reach(local_at: datetime, zone: ZoneInfo, now: datetime) -> None:
    """Refuses a one-time ``at`` far outside the window on its wall-clock value alone, before
    it is resolved to an instant: near year 1 or 9999 that would overflow datetime's range."""
    local_now = now.astimezone(zone).replace(tzinfo=None)
    if local_at < local_now - _ANY_ZONE_OFFSET:
        raise _refuse("at", f"is in the past ({local_at.isoformat()} is before now)")
    if local_at > local_now + MAX_LEAD_TIME + _ANY_ZONE_OFFSET:
        raise _refuse("at", f"is more than {MAX_LEAD_TIME.days} days ahead")


def resolve_schedule(request: ReminderSchedule, now: datetime) -> ResolvedSchedule:
    """Turns a valid request into instants, refusing (422) what is past, skipped by the clocks,
    never firing, or too far ahead."""
    zone = ZoneInfo(request.time_zone)
    if request.at is not None:
        _within_reach(request.at, zone, now)
        fire_at = local_instant(request.at, zone)
        if fire_at is None:
            raise _refuse(
                "at",
                f"{request.at.isoformat()} does not exist in {request.time_zone}: "
                "the clocks skip it (daylight saving time)",
            )
        if fire_at <= now:
            raise _refuse("at", f"is in the past ({fire_at.isoformat()} is before now)")
        if fire_at < now + MIN_LEAD_TIME:
            raise _refuse("at", "is less than a minute ahead")
        field, first = "at", fire_at
    else:
        assert request.cron is not None  # the contract guarantees one of the two
        fire_at = None
        expression = CronExpression.parse(request.cron)
        interval = expression.shortest_interval()
        if interval < MIN_RECURRING_INTERVAL:
            raise _refuse(
                "cron",
                f"fires {_minutes(interval)} apart at the closest; recurring reminders fire at "
                f"most every {_minutes(MIN_RECURRING_INTERVAL)}",
            )
        # An occurrence less than MIN_LEAD_TIME away may be missed: the first is the next one.
        found = expression.next_after(zone, now + MIN_LEAD_TIME)
        if found is None:
            raise _refuse("cron", "never fires after now")
        field, first = "cron", found
    if first > now + MAX_LEAD_TIME:
        raise _refuse(
            field,
            f"first fires at {first.isoformat()}, more than {MAX_LEAD_TIME.days} days ahead",
        )
    return ResolvedSchedule(
        time_zone=request.time_zone,
        local_at=request.at,
        fire_at=fire_at,
        cron=request.cron,
        next_fire_at=first,
    )


def _minutes(interval: timedelta) -> str:
    minutes = int(interval.total_seconds() // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def view(reminder: Reminder) -> ReminderView:
    state = reminder.state
    assert state in ("scheduled", "delivered", "cancelled")
    return ReminderView(
        reminder_id=reminder.reminder_id,
        kind=reminder.kind,
        title=reminder.title,
        time_zone=reminder.time_zone,
        at=reminder.local_at,
        cron=reminder.cron,
        state=state,
        next_fire_at=reminder.next_fire_at,
        created_at=reminder.created_at,
        updated_at=reminder.updated_at,
    )


def _is_live(reminder: Reminder, now: datetime) -> bool:
    """Whether the reminder should have a schedule: it is scheduled, and (one-time) its time
    has not come (then the schedule has fired, or is firing, and deletes itself)."""
    return reminder.state == "scheduled" and (reminder.fire_at is None or reminder.fire_at > now)


def create_reminder(
    repository: ReminderRepository,
    schedules: ReminderScheduler,
    user_id: str,
    body: bytes,
    now: datetime,
) -> tuple[ReminderView, bool]:
    """Creates a reminder and its schedule; (the reminder, whether it was created now).

    A retry with the same content returns the reminder as it is (and re-puts its schedule, in
    case the first attempt stopped before that); a different content under the same id is a
    409, because reminders change through PUT, not by creating them again.
    """
    request = parse_json(CreateReminder, body).root
    existing = repository.get(user_id, request.reminder_id)
    if existing is None:
        resolved = resolve_schedule(request, now)
        name = schedule_name(user_id, request.reminder_id)
        created = repository.insert(
            user_id, request.reminder_id, name, resolved.row(request.kind, request.title)
        )
        if created is not None:
            schedules.put(created, now)
            return view(created), True
        # Another request with this id won the race: answer as for a retry.
        existing = repository.get(user_id, request.reminder_id)
        assert existing is not None
    if (
        existing.kind,
        existing.title,
        existing.time_zone,
        existing.local_at,
        existing.cron,
    ) != (request.kind, request.title, request.time_zone, request.at, request.cron):
        raise ReminderConflict(
            f"reminder {request.reminder_id} already exists with a different kind, title or "
            "schedule; change it with PUT /v1/reminders/{reminder_id}",
            field="reminder_id",
        )
    if _is_live(existing, now):
        schedules.put(existing, now)
    return view(existing), False


def list_reminders(repository: ReminderRepository, user_id: str) -> ReminderList:
    return ReminderList(reminders=[view(reminder) for reminder in repository.all_of(user_id)])


def reschedule_reminder(
    repository: ReminderRepository,
    schedules: ReminderScheduler,
    user_id: str,
    reminder_id: UUID,
    body: bytes,
    now: datetime,
) -> ReminderView:
    """Gives the reminder a new schedule (a delivered one-time reminder fires again)."""
    request = parse_json(RescheduleReminder, body).root
    resolved = resolve_schedule(request, now)
    current = repository.get(user_id, reminder_id)
    if current is None:
        raise NotFound(f"no reminder {reminder_id} for this user", field="reminder_id")
    if current.state == "cancelled":
        raise ReminderConflict(
            f"reminder {reminder_id} is cancelled; create a new one", field="reminder_id"
        )
    unchanged = current.state == "scheduled" and (
        current.time_zone,
        current.local_at,
        current.cron,
    ) == (resolved.time_zone, resolved.local_at, resolved.cron)
    if not unchanged:
        updated = repository.reschedule(
            user_id, reminder_id, resolved.row(current.kind, current.title)
        )
        if updated is None:  # cancelled meanwhile
            raise ReminderConflict(
                f"reminder {reminder_id} is cancelled; create a new one", field="reminder_id"
            )
        current = updated
    schedules.put(current, now)
    return view(current)


def cancel_reminder(
    repository: ReminderRepository, schedules: ReminderScheduler, user_id: str, reminder_id: UUID
) -> ReminderView:
    """Cancels the reminder for good and deletes its schedule; repeating it changes nothing."""
    cancelled = repository.cancel(user_id, reminder_id)
    if cancelled is None:
        raise NotFound(f"no reminder {reminder_id} for this user", field="reminder_id")
    schedules.delete(cancelled.schedule_name)
    return view(cancelled)
