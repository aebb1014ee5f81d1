"""Reminders' upkeep, run by a scheduled job (the reminders function, every hour: template.yaml):
schedules that should exist are put back, and the delivery ledger is kept to a bounded age.

- Reconcile: the database row is the source of truth (hksync.reminders). A schedule can go
  missing without the row knowing: deleted by hand, lost with its group, or never written (the
  API stopped between the row and the schedule, and the client did not retry). Every live
  reminder whose schedule is missing gets it again, from its row (same name, same revision, so
  the dispatcher's exactly-once ledger is unaffected). A recurring one restarts at its next
  occurrence from now; a one-time one too close to its time (less than MIN_LEAD_TIME) is left,
  and counted: Scheduler could not make it.
- Retention: a published occurrence's ledger row only guards against a repeat of that
  occurrence, which Scheduler and Lambda stop retrying within hours (MAX_EVENT_AGE_S, Lambda's
  six-hour event age); rows published more than the retention ago are deleted. Rows never
  confirmed published are kept for operators.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from hksync.db.reminders import ReminderRepository
from hksync.ports import ReminderScheduler
from hksync.reminders import MIN_LEAD_TIME

#: The ``task`` of the scheduled rule's event (template.yaml: RemindersFunction's Upkeep).
UPKEEP_TASK: Final = "reminder-upkeep"


@dataclass(frozen=True, slots=True)
class UpkeepReport:
    """What one run did: counts only (safe to log)."""

    live: int
    recreated: int
    too_close: int
    deliveries_purged: int


def reconcile_schedules(
    repository: ReminderRepository, schedules: ReminderScheduler, now: datetime
) -> tuple[int, int, int]:
    """Puts back the schedule of every live reminder that has none; (live, recreated, left
    because a one-time reminder is too close to its time to schedule)."""
    live = repository.live(now)
    recreated = too_close = 0
    for reminder in live:
        if schedules.exists(reminder.schedule_name):
            continue
        if reminder.fire_at is not None and reminder.fire_at < now + MIN_LEAD_TIME:
            too_close += 1
            continue
        schedules.put(reminder, now)
        recreated += 1
    return len(live), recreated, too_close


def run_upkeep(
    repository: ReminderRepository,
    schedules: ReminderScheduler,
    now: datetime,
    *,
    retention: timedelta,
) -> UpkeepReport:
    """One scheduled run: reconcile the schedules, then purge the old ledger rows."""
    live, recreated, too_close = reconcile_schedules(repository, schedules, now)
    purged = repository.purge_deliveries(published_before=now - retention)
    return UpkeepReport(
        live=live, recreated=recreated, too_close=too_close, deliveries_purged=purged
    )
