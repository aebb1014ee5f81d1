"""The SQL of change events (0008_change_events.sql): writing a sync's SyncCompleted event in
the transaction that completes the sync, claiming unpublished events to publish them, and
reading them back for operators.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import psycopg
from psycopg.types.json import Jsonb

from hksync.contract.change_events import (
    SYNC_COMPLETED_VERSION,
    SyncCompleted,
    SyncCounts,
    TimeRange,
)
from hksync.db.connection import act_for


@dataclass(frozen=True, slots=True)
class StoredChangeEvent:
    event_id: UUID
    user_id: str
    sync_id: UUID
    detail: SyncCompleted
    created_at: datetime
    published_at: datetime | None


def _stored(row: tuple[Any, ...]) -> StoredChangeEvent:
    event_id, user_id, sync_id, detail, created_at, published_at = row
    return StoredChangeEvent(
        event_id, user_id, sync_id, SyncCompleted.model_validate(detail), created_at, published_at
    )


def record_sync_completed(conn: psycopg.Connection, user_id: str, sync_id: UUID) -> None:
    """Writes the sync's SyncCompleted event, inside the transaction that completes it (after
    its state, counters and completed_at are set). A sync has one event: a second call adds
    nothing."""
    session = conn.execute(
        """SELECT committed_at, completed_at, chunks_processed, samples_received,
                  samples_inserted, samples_updated, samples_unchanged, samples_deleted,
                  samples_rejected, samples_reconciled
           FROM sync_sessions WHERE user_id = %s AND sync_id = %s""",
        (user_id, sync_id),
    ).fetchone()
    if session is None:
        raise LookupError(f"sync {sync_id} is not open")
    committed_at, completed_at, *counters = session
    # Tombstones are rows of the sync too: they name their type, and no time (content cleared).
    written = conn.execute(
        """SELECT array_agg(DISTINCT sample_type ORDER BY sample_type),
                  min(start_at), max(end_at),
                  array_agg(DISTINCT local_date ORDER BY local_date)
                      FILTER (WHERE local_date IS NOT NULL)
           FROM health_samples WHERE user_id = %s AND sync_id = %s""",
        (user_id, sync_id),
    ).fetchone()
    assert written is not None  # an aggregate always answers one row
    sample_types, start, end, local_dates = written
    names = (
        "chunks",
        "received",
        "inserted",
        "updated",
        "unchanged",
        "deleted",
        "rejected",
        "reconciled",
    )
    event = SyncCompleted(
        schema_version=SYNC_COMPLETED_VERSION,
        event_id=uuid4(),
        user_id=user_id,
        sync_id=sync_id,
        committed_at=committed_at,
        completed_at=completed_at,
        sample_types=sample_types or [],
        counts=SyncCounts(**dict(zip(names, counters, strict=True))),
        time_range=TimeRange(start=start, end=end) if start is not None else None,
        local_dates=local_dates or [],
    )
    conn.execute(
        """INSERT INTO change_events (event_id, user_id, sync_id, detail)
           VALUES (%s, %s, %s, %s) ON CONFLICT (user_id, sync_id) DO NOTHING""",
        (event.event_id, user_id, sync_id, Jsonb(event.model_dump(mode="json"))),
    )


@dataclass(frozen=True, slots=True)
class Claim:
    """Unpublished events, locked until the claim ends: no other publisher sees them meanwhile."""

    events: list[StoredChangeEvent]
    _conn: psycopg.Connection
    #: Claimed across users (the sweep): marked through the owner's function, as claimed.
    _of_everyone: bool = False

    def mark_published(self, event_ids: Iterable[UUID]) -> None:
        """Records that the bus accepted these events; committed when the claim ends."""
        ids = list(event_ids)
        if self._of_everyone:
            self._conn.execute("SELECT hksync_change_events_published(%s)", (ids,))
            return
        self._conn.execute(
            """UPDATE change_events SET published_at = now()
               WHERE event_id = ANY(%s) AND published_at IS NULL""",
            (ids,),
        )


class ChangeEventRepository:
    """Change events on one (autocommit) connection."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self._conn = conn

    def act_for(self, user_id: str) -> None:
        """Rows of this user only, from now on (hksync.db.connection.act_for): called with the
        user of the sync whose event is published, before claiming it."""
        act_for(self._conn, user_id)

    @contextmanager
    def claim_unpublished(self, user_id: str, sync_id: UUID) -> Iterator[Claim]:
        """The sync's event if it is not published yet (nothing, or it), locked in a
        transaction for the caller to publish and mark. An event another publisher holds is
        skipped, not waited for: it is being published."""
        with self._conn.transaction():
            rows = self._conn.execute(
                """SELECT event_id, user_id, sync_id, detail, created_at, published_at
                   FROM change_events
                   WHERE user_id = %s AND sync_id = %s AND published_at IS NULL
                   FOR UPDATE SKIP LOCKED""",
                (user_id, sync_id),
            ).fetchall()
            yield Claim([_stored(row) for row in rows], self._conn)

    @contextmanager
    def claim_unpublished_of_everyone(self, *, limit: int) -> Iterator[Claim]:
        """Up to ``limit`` of the oldest unpublished events of every user (the sweep, before a
        user is known: through the owner's function of 0010_change_events.sql), locked the
        same way."""
        with self._conn.transaction():
            rows = self._conn.execute(
                """SELECT event_id, user_id, sync_id, detail, created_at, published_at
                   FROM hksync_claim_unpublished_change_events(%s)""",
                (limit,),
            ).fetchall()
            yield Claim([_stored(row) for row in rows], self._conn, _of_everyone=True)

    def recent(
        self, *, user_id: str | None, since: datetime | None, limit: int
    ) -> list[StoredChangeEvent]:
        """The newest events, published or not, of one user or everyone, newest first."""
        rows = self._conn.execute(
            """SELECT event_id, user_id, sync_id, detail, created_at, published_at
               FROM change_events
               WHERE (%(user_id)s::text IS NULL OR user_id = %(user_id)s)
                 AND (%(since)s::timestamptz IS NULL OR created_at >= %(since)s)
               ORDER BY created_at DESC, event_id
               LIMIT %(limit)s""",
            {"user_id": user_id, "since": since, "limit": limit},
        ).fetchall()
        return [_stored(row) for row in rows]
