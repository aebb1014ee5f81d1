"""Read-only SQL for `hksync ops`: questions about many syncs at once, never asked by the app.

Kept apart from the repository (the functions' data access) so that operator queries can
grow without touching the processor's write path. Filters are bound parameters that are
either NULL (no filter) or a value, so every statement is a constant string.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import psycopg
from psycopg.rows import class_row

from hksync.db.syncs import SyncStatus

#: Every state a sync_sessions row can be in (the table's CHECK constraint).
SYNC_STATES = ("receiving", "committed", "complete", "failed")


@dataclass(frozen=True, slots=True)
class ChunkFailure:
    """One permanently rejected chunk, from the ledger."""

    user_id: str
    sync_id: UUID
    seq: int
    sample_type: str | None
    failure_reason: str
    object_key: str
    uploaded_at: datetime | None
    processed_at: datetime


@dataclass(frozen=True, slots=True)
class ConnectionGroup:
    """Sessions on the database with the same application name and state."""

    application_name: str
    state: str
    connections: int
    oldest_state_change: datetime | None


class OpsQueries:
    def __init__(self, conn: psycopg.Connection) -> None:
        self._conn = conn

    def state_counts(
        self, *, user_id: str | None, sync_id: UUID | None, since: datetime | None
    ) -> dict[str, int]:
        """Syncs per state (every state, zero included), for one user and/or recent activity."""
        rows = self._conn.execute(
            """SELECT state, count(*) FROM sync_sessions
               WHERE (%(user_id)s::text IS NULL OR user_id = %(user_id)s)
                 AND (%(sync_id)s::uuid IS NULL OR sync_id = %(sync_id)s)
                 AND (%(since)s::timestamptz IS NULL OR updated_at >= %(since)s)
               GROUP BY state""",
            {"user_id": user_id, "sync_id": sync_id, "since": since},
        ).fetchall()
        counts = dict.fromkeys(SYNC_STATES, 0)
        counts.update({str(state): int(count) for state, count in rows})
        return counts

    def recent_syncs(
        self,
        *,
        state: str | None,
        user_id: str | None,
        sync_id: UUID | None,
        since: datetime | None,
        limit: int,
    ) -> list[SyncStatus]:
        """The most recently active syncs matching every given filter, newest first."""
        with self._conn.cursor(row_factory=class_row(SyncStatus)) as cursor:
            return cursor.execute(
                """SELECT user_id, sync_id, state, chunk_count, committed_at, chunks_processed,
                          chunks_failed, samples_received, samples_inserted, samples_updated,
                          samples_unchanged, samples_deleted, samples_rejected, samples_reconciled,
                          first_upload_at,
                          completed_at,
                          updated_at
                   FROM sync_sessions
                   WHERE (%(state)s::text IS NULL OR state = %(state)s)
                     AND (%(user_id)s::text IS NULL OR user_id = %(user_id)s)
                     AND (%(sync_id)s::uuid IS NULL OR sync_id = %(sync_id)s)
                     AND (%(since)s::timestamptz IS NULL OR updated_at >= %(since)s)
                   ORDER BY updated_at DESC, user_id, sync_id
                   LIMIT %(limit)s""",
                {
                    "state": state,
                    "user_id": user_id,
                    "sync_id": sync_id,
                    "since": since,
                    "limit": limit,
                },
            ).fetchall()

    def recent_failures(
        self, *, user_id: str | None, since: datetime | None, limit: int
    ) -> list[ChunkFailure]:
        """Rejected chunks across users, newest first (the ledger's partial index on failures)."""
        with self._conn.cursor(row_factory=class_row(ChunkFailure)) as cursor:
            return cursor.execute(
                """SELECT user_id, sync_id, seq, sample_type, failure_reason, object_key,
                          uploaded_at, processed_at
                   FROM sync_chunks
                   WHERE state = 'failed'
                     AND (%(user_id)s::text IS NULL OR user_id = %(user_id)s)
                     AND (%(since)s::timestamptz IS NULL OR processed_at >= %(since)s)
                   ORDER BY processed_at DESC, user_id, sync_id, seq
                   LIMIT %(limit)s""",
                {"user_id": user_id, "since": since, "limit": limit},
            ).fetchall()

    def recorded_seqs(self, user_id: str, sync_id: UUID) -> list[int]:
        """The chunk numbers of a sync that are in the ledger (stored or failed)."""
        rows = self._conn.execute(
            "SELECT seq FROM sync_chunks WHERE user_id = %s AND sync_id = %s ORDER BY seq",
            (user_id, sync_id),
        ).fetchall()
        return [int(seq) for (seq,) in rows]

    def max_connections(self) -> int:
        row = self._conn.execute("SELECT current_setting('max_connections')::int").fetchone()
        return int(row[0]) if row else 0

    def connection_groups(self) -> list[ConnectionGroup]:
        """Client sessions on this server, by application and state (this session included)."""
        with self._conn.cursor(row_factory=class_row(ConnectionGroup)) as cursor:
            return cursor.execute(
                """SELECT coalesce(nullif(application_name, ''), '(none)') AS application_name,
                          coalesce(state, '(unknown)') AS state,
                          count(*)::int AS connections,
                          min(state_change) AS oldest_state_change
                   FROM pg_stat_activity
                   WHERE backend_type = 'client backend'
                   GROUP BY 1, 2
                   ORDER BY connections DESC, 1, 2"""
            ).fetchall()
