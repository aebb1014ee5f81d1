"""All SQL of reminders: the reminder rows (the source of truth for their schedules) and the
delivery ledger that turns Scheduler's at-least-once into exactly-once."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Final
from uuid import UUID

import psycopg
from psycopg.rows import class_row

from hksync.db.connection import act_for


@dataclass(frozen=True, slots=True)
class Reminder:
    user_id: str
    reminder_id: UUID
    kind: str
    title: str
    time_zone: str
    local_at: datetime | None
    fire_at: datetime | None
    cron: str | None
    schedule_name: str
    state: str
    revision: int
    next_fire_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class NewReminder:
    """What the API writes when it creates or reschedules a reminder."""

    kind: str
    title: str
    time_zone: str
    local_at: datetime | None
    fire_at: datetime | None
    cron: str | None
    next_fire_at: datetime | None


@dataclass(frozen=True, slots=True)
class Delivery:
    scheduled_for: datetime
    revision: int
    state: str
    message_id: str | None
    failure_reason: str | None
    duplicate_invocations: int
    claimed_at: datetime
    published_at: datetime | None


_COLUMNS: Final = (
    "user_id, reminder_id, kind, title, time_zone, local_at, fire_at, cron, schedule_name, "
    "state, revision, next_fire_at, created_at, updated_at"
)


class ReminderRepository:
    """Data access for reminders on one connection. Writers that must be atomic run inside
    ``transaction()``; single statements commit on their own (autocommit)."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self._conn = conn

    def act_for(self, user_id: str | None) -> None:
        """Rows of this user only, from now on (hksync.db.connection.act_for): called with the
        verified user before the work, outside a transaction."""
        act_for(self._conn, user_id)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._conn.transaction():
            yield

    def _one(self, query: str, params: tuple[object, ...]) -> Reminder | None:
        with self._conn.cursor(row_factory=class_row(Reminder)) as cursor:
            return cursor.execute(query, params).fetchone()

    # --- the API's side ------------------------------------------------------------------------

    def insert(
        self, user_id: str, reminder_id: UUID, schedule_name: str, reminder: NewReminder
    ) -> Reminder | None:
        """Creates the reminder; None when one with this id already exists for this user."""
        return self._one(
            f"""INSERT INTO reminders (user_id, reminder_id, kind, title, time_zone, local_at,
                       fire_at, cron, schedule_name, next_fire_at)
                VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
                ON CONFLICT (user_id, reminder_id) DO NOTHING
                RETURNING {_COLUMNS}""",
            (
                user_id,
                reminder_id,
                reminder.kind,
                reminder.title,
                reminder.time_zone,
                reminder.local_at,
                reminder.fire_at,
                reminder.cron,
                schedule_name,
                reminder.next_fire_at,
            ),
        )

    def get(self, user_id: str, reminder_id: UUID) -> Reminder | None:
        return self._one(
            f"SELECT {_COLUMNS} FROM reminders WHERE user_id = %s AND reminder_id = %s",
            (user_id, reminder_id),
        )

    def all_of(self, user_id: str) -> list[Reminder]:
        with self._conn.cursor(row_factory=class_row(Reminder)) as cursor:
            return cursor.execute(
                f"""SELECT {_COLUMNS} FROM reminders WHERE user_id = %s
                    ORDER BY created_at, reminder_id""",
                (user_id,),
            ).fetchall()

    def reschedule(self, user_id: str, reminder_id: UUID, reminder: NewReminder) -> Reminder | None:
        """A new schedule and a new revision; None when the reminder is missing or cancelled."""
        return self._one(
            f"""UPDATE reminders
                SET time_zone = %s, local_at = %s, fire_at = %s, cron = %s, next_fire_at = %s,
                    state = 'scheduled', revision = revision + 1, updated_at = now()
                WHERE user_id = %s AND reminder_id = %s AND state <> 'cancelled'
                RETURNING {_COLUMNS}""",
            (
                reminder.time_zone,
                reminder.local_at,
                reminder.fire_at,
                reminder.cron,
                reminder.next_fire_at,
                user_id,
                reminder_id,
            ),
        )

    def cancel(self, user_id: str, reminder_id: UUID) -> Reminder | None:
        """Cancels for good (idempotent); None when the user has no such reminder. Waits for a
        dispatcher that is deciding on this reminder (it holds a share lock) to finish."""
        return self._one(
            f"""UPDATE reminders
                SET state = 'cancelled', next_fire_at = NULL,
                    updated_at = CASE WHEN state = 'cancelled' THEN updated_at ELSE now() END,
                    cancelled_at = COALESCE(cancelled_at, now())
                WHERE user_id = %s AND reminder_id = %s
                RETURNING {_COLUMNS}""",
            (user_id, reminder_id),
        )

    # --- upkeep (hksync.reminder_upkeep): every user's rows, for the scheduled job -----------
    # Through the two functions of 0009_roles_and_rls.sql: the only reads across users the
    # reminders role may make.

    def live(self, after: datetime) -> list[Reminder]:
        """Every reminder that should have a schedule: scheduled, and recurring or due after
        ``after``. Oldest first."""
        with self._conn.cursor(row_factory=class_row(Reminder)) as cursor:
            return cursor.execute(
                f"""SELECT {_COLUMNS} FROM hksync_live_reminders(%s)
                    ORDER BY created_at, user_id, reminder_id""",
                (after,),
            ).fetchall()

    def purge_deliveries(self, published_before: datetime) -> int:
        """Deletes the ledger rows of occurrences published before the given time; returns how
        many. Rows never confirmed published stay: they are for operators to look at."""
        row = self._conn.execute(
            "SELECT hksync_purge_deliveries(%s)", (published_before,)
        ).fetchone()
        return int(row[0]) if row else 0

    # --- the dispatcher's side -----------------------------------------------------------------

    def lock(self, user_id: str, reminder_id: UUID) -> Reminder | None:
        """Reads the reminder under a share lock (inside a transaction): a concurrent cancel
        waits until this dispatcher has decided, so it cannot slip between check and claim."""
        return self._one(
            f"""SELECT {_COLUMNS} FROM reminders
                WHERE user_id = %s AND reminder_id = %s FOR SHARE""",
            (user_id, reminder_id),
        )

    def claim_delivery(
        self,
        user_id: str,
        reminder_id: UUID,
        scheduled_for: datetime,
        *,
        revision: int,
        execution_id: str | None,
    ) -> bool:
        """Records the occurrence as being delivered. False when it already was (a duplicate
        invocation, which is counted on the existing row)."""
        row = self._conn.execute(
            """INSERT INTO reminder_deliveries AS d
                   (user_id, reminder_id, scheduled_for, revision, execution_id)
               VALUES (%s, %s, %s, %s, %s)
               ON CONFLICT (user_id, reminder_id, scheduled_for) DO UPDATE
               SET duplicate_invocations = d.duplicate_invocations + 1
               RETURNING xmax = 0""",
            (user_id, reminder_id, scheduled_for, revision, execution_id),
        ).fetchone()
        return bool(row and row[0])

    def release_delivery(self, user_id: str, reminder_id: UUID, scheduled_for: datetime) -> None:
        """Forgets a claim whose notification was certainly not sent, so a retry may send it."""
        self._conn.execute(
            """DELETE FROM reminder_deliveries
               WHERE user_id = %s AND reminder_id = %s AND scheduled_for = %s
                 AND state = 'claimed'""",
            (user_id, reminder_id, scheduled_for),
        )

    def mark_published(
        self,
        user_id: str,
        reminder_id: UUID,
        scheduled_for: datetime,
        *,
        message_id: str,
        revision: int,
        next_fire_at: datetime | None,
        delivered: bool,
    ) -> None:
        """The notification is out: the ledger says so, and the reminder moves on (a one-time
        reminder is delivered; a recurring one gets its next occurrence).

        The reminder row first, then the ledger row: the order in which a dispatcher's claim
        takes them, so that a duplicate invocation claiming at this moment cannot deadlock."""
        self._conn.execute(
            """UPDATE reminders
               SET next_fire_at = %s, updated_at = now(),
                   state = CASE WHEN %s THEN 'delivered' ELSE state END
               WHERE user_id = %s AND reminder_id = %s AND state = 'scheduled'
                 AND revision = %s  -- not when it was rescheduled meanwhile""",
            (next_fire_at, delivered, user_id, reminder_id, revision),
        )
        self._conn.execute(
            """UPDATE reminder_deliveries
               SET state = 'published', message_id = %s, published_at = now()
               WHERE user_id = %s AND reminder_id = %s AND scheduled_for = %s""",
            (message_id, user_id, reminder_id, scheduled_for),
        )

    def mark_unconfirmed(
        self, user_id: str, reminder_id: UUID, scheduled_for: datetime, reason: str
    ) -> None:
        """Publishing failed without an answer: it may or may not have gone out. The claim
        stays (it is never re-sent) and says so, for operators."""
        self._conn.execute(
            """UPDATE reminder_deliveries SET state = 'unconfirmed', failure_reason = %s
               WHERE user_id = %s AND reminder_id = %s AND scheduled_for = %s""",
            (reason, user_id, reminder_id, scheduled_for),
        )

    def deliveries(self, user_id: str, reminder_id: UUID) -> list[Delivery]:
        with self._conn.cursor(row_factory=class_row(Delivery)) as cursor:
            return cursor.execute(
                """SELECT scheduled_for, revision, state, message_id, failure_reason,
                          duplicate_invocations, claimed_at, published_at
                   FROM reminder_deliveries WHERE user_id = %s AND reminder_id = %s
                   ORDER BY scheduled_for""",
                (user_id, reminder_id),
            ).fetchall()
