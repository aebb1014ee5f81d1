"""The SQL of syncs: the chunk ledger, sync sessions and their counters, anchors. Samples
themselves are written by hksync.db.samples, reached as ``SyncRepository.samples`` so that
both share the connection and the transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from hksync.db.change_events import record_sync_completed
from hksync.db.connection import act_for
from hksync.db.erasure import ErasureBarrier, erasure_barrier
from hksync.db.samples import SampleRepository, WriteCounts
from hksync.db.summaries import SummaryRepository


@dataclass(frozen=True, slots=True)
class SyncStatus:
    user_id: str
    sync_id: UUID
    state: str
    chunk_count: int | None
    committed_at: datetime | None
    chunks_processed: int
    chunks_failed: int
    samples_received: int
    samples_inserted: int
    samples_updated: int
    samples_unchanged: int
    samples_deleted: int
    samples_rejected: int
    samples_reconciled: int
    first_upload_at: datetime | None
    completed_at: datetime | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class FailedChunk:
    seq: int
    sample_type: str | None
    failure_reason: str
    object_key: str
    processed_at: datetime


@dataclass(frozen=True, slots=True)
class Anchor:
    sample_type: str
    anchor: str
    sync_id: UUID
    committed_at: datetime


class SyncRepository:
    """Data access for one connection. Writers run inside ``transaction()``."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self._conn = conn
        self.samples = SampleRepository(conn)
        self.summaries = SummaryRepository(conn)

    def act_for(self, user_id: str | None) -> None:
        """Rows of this user only, from now on (hksync.db.connection.act_for): called with the
        verified user before the work, outside a transaction."""
        act_for(self._conn, user_id)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        try:
            with self._conn.transaction():
                yield
        except BaseException:
            self.samples.forget_staging()
            raise

    def erasure_barrier(self, user_id: str) -> ErasureBarrier:
        """The user's erasure barrier (hksync.db.erasure.erasure_barrier), on this connection."""
        return erasure_barrier(self._conn, user_id)

    # --- writes (inside a transaction) -------------------------------------------------------

    def lock_sync(self, user_id: str, sync_id: UUID) -> str:
        """Opens the sync if new and locks it: work on one sync is serialised, so its counters
        and the decision to advance the anchor never race. Returns its state before this work."""
        self._conn.execute(
            "INSERT INTO sync_sessions (user_id, sync_id) VALUES (%s, %s) ON CONFLICT DO NOTHING",
            (user_id, sync_id),
        )
        row = self._conn.execute(
            "SELECT state FROM sync_sessions WHERE user_id = %s AND sync_id = %s FOR UPDATE",
            (user_id, sync_id),
        ).fetchone()
        return str(row[0]) if row else "receiving"

    def chunk_recorded(self, user_id: str, sync_id: UUID, seq: int) -> bool:
        row = self._conn.execute(
            "SELECT 1 FROM sync_chunks WHERE user_id = %s AND sync_id = %s AND seq = %s",
            (user_id, sync_id, seq),
        ).fetchone()
        return row is not None

    def chunk_count(self, user_id: str, sync_id: UUID) -> int | None:
        """The sync's chunk_count, once its commit is processed."""
        row = self._conn.execute(
            "SELECT chunk_count FROM sync_sessions WHERE user_id = %s AND sync_id = %s",
            (user_id, sync_id),
        ).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def record_chunk(
        self,
        user_id: str,
        sync_id: UUID,
        seq: int,
        *,
        object_key: str,
        uploaded_at: datetime | None,
        sample_type: str | None,
        counts: WriteCounts,
        failure_reason: str | None = None,
    ) -> None:
        """Adds the chunk to the ledger and its counts to the sync's counters."""
        failed = failure_reason is not None
        self._conn.execute(
            """INSERT INTO sync_chunks (user_id, sync_id, seq, state, sample_type, object_key,
                   uploaded_at, samples_received, samples_inserted, samples_updated,
                   samples_unchanged, samples_deleted, samples_rejected, samples_reconciled,
                   failure_reason)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
            (
                user_id,
                sync_id,
                seq,
                "failed" if failed else "processed",
                sample_type,
                object_key,
                uploaded_at,
                counts.received,
                counts.inserted,
                counts.updated,
                counts.unchanged,
                counts.deleted,
                counts.rejected,
                counts.reconciled,
                failure_reason,
            ),
        )
        self._conn.execute(
            """UPDATE sync_sessions
               SET chunks_processed = chunks_processed + %s,
                   chunks_failed = chunks_failed + %s,
                   samples_received = samples_received + %s,
                   samples_inserted = samples_inserted + %s,
                   samples_updated = samples_updated + %s,
                   samples_unchanged = samples_unchanged + %s,
                   samples_deleted = samples_deleted + %s,
                   samples_rejected = samples_rejected + %s,
                   samples_reconciled = samples_reconciled + %s,
                   first_upload_at = LEAST(first_upload_at, %s),
                   updated_at = now()
               WHERE user_id = %s AND sync_id = %s""",
            (
                0 if failed else 1,
                1 if failed else 0,
                counts.received,
                counts.inserted,
                counts.updated,
                counts.unchanged,
                counts.deleted,
                counts.rejected,
                counts.reconciled,
                uploaded_at,
                user_id,
                sync_id,
            ),
        )

    def record_commit(
        self,
        user_id: str,
        sync_id: UUID,
        *,
        chunk_count: int,
        anchors: dict[str, str],
        committed_at: datetime,
    ) -> None:
        """Stores the commit once; a replayed commit event changes nothing."""
        self._conn.execute(
            """UPDATE sync_sessions
               SET chunk_count = %s, anchors = %s, committed_at = %s, updated_at = now()
               WHERE user_id = %s AND sync_id = %s AND committed_at IS NULL""",
            (chunk_count, Jsonb(anchors), committed_at, user_id, sync_id),
        )

    def settle(self, user_id: str, sync_id: UUID) -> str:
        """Decides the sync's state from its ledger; completes it (advancing the anchors and
        writing its change event) when it is committed and every one of its chunks is stored.
        A refused chunk fails it at once, committed or not: the chunk is immutable, so the sync
        can never complete. Returns the state."""
        row = self._conn.execute(
            """SELECT s.state, s.chunk_count, s.anchors, s.committed_at,
                      count(c.seq) FILTER (WHERE c.state = 'processed' AND c.seq < s.chunk_count),
                      count(c.seq) FILTER (WHERE c.state = 'failed' OR c.seq >= s.chunk_count)
               FROM sync_sessions s
               LEFT JOIN sync_chunks c USING (user_id, sync_id)
               WHERE s.user_id = %s AND s.sync_id = %s
               GROUP BY s.user_id, s.sync_id""",
            (user_id, sync_id),
        ).fetchone()
        if row is None:
            raise LookupError(f"sync {sync_id} is not open")
        state, chunk_count, anchors, committed_at, stored, broken = row
        if state == "complete":
            return str(state)
        if broken:
            new_state = "failed"
        elif chunk_count is None:
            new_state = "receiving"
        elif stored == chunk_count:
            new_state = "complete"
            self._advance_anchors(user_id, sync_id, anchors, committed_at)
        else:
            new_state = "committed"
        self._conn.execute(
            """UPDATE sync_sessions
               SET state = %s, updated_at = now(),
                   completed_at = CASE WHEN %s = 'complete' THEN now() END
               WHERE user_id = %s AND sync_id = %s""",
            (new_state, new_state, user_id, sync_id),
        )
        if new_state == "complete":
            # In this transaction: the event exists exactly when the sync is complete.
            record_sync_completed(self._conn, user_id, sync_id)
        return new_state

    def _advance_anchors(
        self, user_id: str, sync_id: UUID, anchors: dict[str, str], committed_at: datetime
    ) -> None:
        # Anchors only move forward: a sync committed earlier than the one that set the current
        # anchor (it finished late) leaves it alone. The sync id breaks exact ties.
        self._conn.execute(
            """INSERT INTO sync_anchors AS a (user_id, sample_type, anchor, sync_id, committed_at)
               SELECT %s, kv.key, kv.value, %s, %s FROM jsonb_each_text(%s) AS kv
               ON CONFLICT (user_id, sample_type) DO UPDATE
               SET anchor = EXCLUDED.anchor, sync_id = EXCLUDED.sync_id,
                   committed_at = EXCLUDED.committed_at, updated_at = now()
               WHERE (a.committed_at, a.sync_id) < (EXCLUDED.committed_at, EXCLUDED.sync_id)""",
            (user_id, sync_id, committed_at, Jsonb(anchors)),
        )

    # --- reads ---------------------------------------------------------------------------------

    def sync_status(self, user_id: str, sync_id: UUID) -> SyncStatus | None:
        with self._conn.cursor(row_factory=class_row(SyncStatus)) as cursor:
            return cursor.execute(
                """SELECT user_id, sync_id, state, chunk_count, committed_at, chunks_processed,
                          chunks_failed, samples_received, samples_inserted, samples_updated,
                          samples_unchanged, samples_deleted, samples_rejected, samples_reconciled,
                          first_upload_at, completed_at, updated_at
                   FROM sync_sessions WHERE user_id = %s AND sync_id = %s""",
                (user_id, sync_id),
            ).fetchone()

    def failed_chunks(self, user_id: str, sync_id: UUID) -> list[FailedChunk]:
        with self._conn.cursor(row_factory=class_row(FailedChunk)) as cursor:
            return cursor.execute(
                """SELECT seq, sample_type, failure_reason, object_key, processed_at
                   FROM sync_chunks WHERE user_id = %s AND sync_id = %s AND state = 'failed'
                   ORDER BY seq""",
                (user_id, sync_id),
            ).fetchall()

    def anchors(self, user_id: str) -> list[Anchor]:
        with self._conn.cursor(row_factory=class_row(Anchor)) as cursor:
            return cursor.execute(
                """SELECT sample_type, anchor, sync_id, committed_at FROM sync_anchors
                   WHERE user_id = %s ORDER BY sample_type""",
                (user_id,),
            ).fetchall()
