"""All SQL of erasing a user: the erasure requests, deleting every row of the user, and the
barrier that keeps a late or retried S3 event from writing back what was erased
(:func:`erasure_barrier`, 0005_erasure_barrier.sql).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final
from uuid import UUID, uuid4

import psycopg
from psycopg.rows import class_row

from hksync.db.connection import act_for

_COLUMNS: Final = (
    "erasure_id, user_id, state, requested_at, started_at, completed_at, attempts, "
    "objects_deleted, samples_deleted, syncs_deleted, anchors_deleted, reminders_deleted"
)


@dataclass(frozen=True, slots=True)
class Erasure:
    erasure_id: UUID
    user_id: str
    state: str
    requested_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    attempts: int
    objects_deleted: int
    samples_deleted: int
    syncs_deleted: int
    anchors_deleted: int
    reminders_deleted: int


@dataclass(frozen=True, slots=True)
class ErasureBarrier:
    """Where a user stands against erasure: the generation (from one sequence, so it only
    grows) of their latest erasure, 0 for none, and whether one is still pending. A writer
    stores a user's data only if the barrier it read before reading the data is still the
    barrier, with nothing pending, when it writes."""

    generation: int
    pending: bool


def erasure_barrier(conn: psycopg.Connection, user_id: str) -> ErasureBarrier:
    """The user's barrier, read after taking the user's shared lock. Inside a transaction the
    lock holds until it ends, and an erasure takes it exclusively to delete: so no erasure can
    delete, or complete, between this read and the transaction's commit."""
    conn.execute("SELECT pg_advisory_xact_lock_shared(hksync_user_lock_key(%s))", (user_id,))
    # A statement of its own: under READ COMMITTED it sees what committed before the lock was
    # granted, including an erasure that completed while this waited for it.
    row = conn.execute(
        """SELECT coalesce(max(generation), 0), coalesce(bool_or(state = 'pending'), false)
           FROM erasures WHERE user_id = %s""",
        (user_id,),
    ).fetchone()
    assert row is not None  # an aggregate always answers one row
    return ErasureBarrier(generation=int(row[0]), pending=bool(row[1]))


@dataclass(frozen=True, slots=True)
class DeletedRows:
    samples: int
    syncs: int
    anchors: int
    reminders: int
    #: The deleted reminders' schedules, to delete in EventBridge Scheduler.
    schedule_names: list[str]


class ErasureRepository:
    """Data access for erasures on one (autocommit) connection."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self._conn = conn

    def act_for(self, user_id: str | None) -> None:
        """Rows of this user only, from now on (hksync.db.connection.act_for): called with the
        verified user before the work, outside a transaction."""
        act_for(self._conn, user_id)

    def _one(self, query: str, params: tuple[object, ...]) -> Erasure | None:
        with self._conn.cursor(row_factory=class_row(Erasure)) as cursor:
            return cursor.execute(query, params).fetchone()

    def request(self, user_id: str) -> tuple[Erasure, bool]:
        """The user's unfinished erasure, or a new one; (erasure, whether it is new)."""
        for _ in range(2):  # a concurrent request may win the unique index between the two
            created = self._one(
                f"""INSERT INTO erasures (erasure_id, user_id) VALUES (%s, %s)
                    ON CONFLICT (user_id) WHERE state = 'pending' DO NOTHING
                    RETURNING {_COLUMNS}""",
                (uuid4(), user_id),
            )
            if created is not None:
                return created, True
            pending = self._one(
                f"SELECT {_COLUMNS} FROM erasures WHERE user_id = %s AND state = 'pending'",
                (user_id,),
            )
            if pending is not None:
                return pending, False
        raise RuntimeError("an erasure request kept changing under this one")

    def latest(self, user_id: str) -> Erasure | None:
        return self._one(
            f"""SELECT {_COLUMNS} FROM erasures WHERE user_id = %s
                ORDER BY generation DESC LIMIT 1""",
            (user_id,),
        )

    def get(self, erasure_id: UUID) -> Erasure | None:
        return self._one(f"SELECT {_COLUMNS} FROM erasures WHERE erasure_id = %s", (erasure_id,))

    def start(self, erasure_id: UUID) -> Erasure | None:
        """Acts for the erasure's user from now on (the worker knows only the erasure's id) and
        counts an attempt at it; None when it is unknown or already done."""
        row = self._conn.execute("SELECT hksync_erasure_user(%s)", (erasure_id,)).fetchone()
        user_id = row[0] if row else None
        if user_id is None:
            return None
        self.act_for(user_id)
        return self._one(
            f"""UPDATE erasures SET attempts = attempts + 1,
                       started_at = COALESCE(started_at, now())
                WHERE erasure_id = %s AND state = 'pending'
                RETURNING {_COLUMNS}""",
            (erasure_id,),
        )

    def count_objects(self, erasure_id: UUID, deleted: int) -> None:
        self._conn.execute(
            "UPDATE erasures SET objects_deleted = objects_deleted + %s WHERE erasure_id = %s",
            (deleted, erasure_id),
        )

    def delete_rows_and_complete(self, erasure: Erasure) -> DeletedRows:
        """In one transaction: waits for the user's writers in flight (the per-user lock of
        0003_erasure.sql), deletes every row of the user, and marks the erasure complete."""
        user = erasure.user_id
        with self._conn.transaction():
            self._conn.execute("SELECT pg_advisory_xact_lock(hksync_user_lock_key(%s))", (user,))
            samples = self._conn.execute(
                "DELETE FROM health_samples WHERE user_id = %s", (user,)
            ).rowcount
            # After the samples, which reference them.
            self._conn.execute("DELETE FROM sources WHERE user_id = %s", (user,))
            self._conn.execute("DELETE FROM daily_summaries WHERE user_id = %s", (user,))
            self._conn.execute("DELETE FROM source_priorities WHERE user_id = %s", (user,))
            anchors = self._conn.execute(
                "DELETE FROM sync_anchors WHERE user_id = %s", (user,)
            ).rowcount
            # The chunk ledger and rejected samples go with their syncs (ON DELETE CASCADE).
            syncs = self._conn.execute(
                "DELETE FROM sync_sessions WHERE user_id = %s", (user,)
            ).rowcount
            # Deliveries go with their reminders (ON DELETE CASCADE).
            schedule_names = [
                name
                for (name,) in self._conn.execute(
                    "DELETE FROM reminders WHERE user_id = %s RETURNING schedule_name", (user,)
                ).fetchall()
            ]
            self._conn.execute(
                """UPDATE erasures
                   SET state = 'complete', completed_at = now(), samples_deleted = %s,
                       syncs_deleted = %s, anchors_deleted = %s, reminders_deleted = %s
                   WHERE erasure_id = %s""",
                (samples, syncs, anchors, len(schedule_names), erasure.erasure_id),
            )
        return DeletedRows(samples, syncs, anchors, len(schedule_names), schedule_names)
