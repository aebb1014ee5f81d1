"""All SQL of the pipeline, in one place: samples, the chunk ledger, syncs and anchors.

Writes are set-based (binary COPY into a staging table, then one INSERT ... ON CONFLICT), and a
row is rewritten only when its content actually changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter
from typing import Any, Final
from uuid import UUID

import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb
from pydantic_core import to_json

from hksync.contract.models import CategorySample, Device, QuantitySample, Workout, gc_paused
from hksync.contract.types import SAMPLE_TYPES
from hksync.db.erasure import ErasureBarrier, erasure_barrier

AnySample = QuantitySample | CategorySample | Workout

# Columns of a sample's content, in COPY order; "changed" means any of them differs.
_CONTENT_COLUMNS: Final = (
    "uuid",
    "sample_type",
    "kind",
    "start_at",
    "end_at",
    "value",
    "unit",
    "category_value",
    "activity_type",
    "duration_s",
    "total_energy_kcal",
    "total_distance_m",
    "source_name",
    "source_bundle_id",
    "source_version",
    "device",
    "metadata",
    "time_zone",
)
_CONTENT_TYPES: Final = (
    "uuid",
    "text",
    "text",
    "timestamptz",
    "timestamptz",
    "float8",
    "text",
    "int4",
    "text",
    "float8",
    "float8",
    "float8",
    "text",
    "text",
    "text",
    "jsonb",
    "jsonb",
    "text",
)
_COMPARED = _CONTENT_COLUMNS[1:]
# jsonb columns are staged as text (JSON already serialised, copied by psycopg's C text dumper)
# and cast in the INSERT: per row that costs a fraction of psycopg's jsonb dumper (json.dumps).
_STAGING_TYPES: Final = tuple("text" if kind == "jsonb" else kind for kind in _CONTENT_TYPES)
_STAGED_CONTENT: Final = ", ".join(
    f"{name}::jsonb AS {name}" if kind == "jsonb" else name
    for name, kind in zip(_CONTENT_COLUMNS, _CONTENT_TYPES, strict=True)
)
_STAGING_COLUMNS: Final = ", ".join(
    f"{name} {kind}" for name, kind in zip(_CONTENT_COLUMNS, _STAGING_TYPES, strict=True)
)
# The statements below are assembled once, at import, from the constant column lists above;
# no input ever reaches them except as bound parameters (hence the S608 waivers).
_CREATE_STAGING = f"""
    CREATE TEMP TABLE IF NOT EXISTS incoming_samples ({_STAGING_COLUMNS}) ON COMMIT DELETE ROWS
"""
_COPY_STAGING = f"COPY incoming_samples ({', '.join(_CONTENT_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
_UPSERT = f"""
    WITH written AS (
        INSERT INTO health_samples AS h (user_id, sync_id, {", ".join(_CONTENT_COLUMNS)})
        SELECT %(user_id)s, %(sync_id)s, {", ".join(f"i.{name}" for name in _CONTENT_COLUMNS)}
        FROM (SELECT {_STAGED_CONTENT} FROM incoming_samples) AS i
        -- Rows already stored as they are (or tombstoned) are dropped before the INSERT: ON
        -- CONFLICT would lock each of them (a row lock is a write: WAL, a dirtied page) only to
        -- skip it. A row changed concurrently after this check is still caught by ON CONFLICT.
        -- OFFSET 0 keeps the check a primary-key probe per incoming row: as an anti-join the
        -- planner may hash the user's whole history for every chunk.
        WHERE NOT EXISTS (
            SELECT 1 FROM health_samples o
            WHERE o.user_id = %(user_id)s AND o.uuid = i.uuid
              AND (o.deleted_at IS NOT NULL
                   OR ({", ".join(f"o.{name}" for name in _COMPARED)})
                      IS NOT DISTINCT FROM ({", ".join(f"i.{name}" for name in _COMPARED)}))
            OFFSET 0
        )
        ORDER BY i.uuid  -- one lock order for every writer: concurrent chunks cannot deadlock
        ON CONFLICT (user_id, uuid) DO UPDATE
        SET {", ".join(f"{name} = EXCLUDED.{name}" for name in _COMPARED)},
            sync_id = EXCLUDED.sync_id,
            updated_at = now()
        -- A tombstone is final (HealthKit never reuses a UUID), and a row found equal after
        -- all (changed back concurrently) is not rewritten.
        WHERE h.deleted_at IS NULL
          AND ({", ".join(f"h.{name}" for name in _COMPARED)})
              IS DISTINCT FROM ({", ".join(f"EXCLUDED.{name}" for name in _COMPARED)})
        RETURNING xmax = 0 AS inserted
    )
    SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM written
"""
_TOMBSTONE = f"""
    WITH gone AS (
        INSERT INTO health_samples AS h (user_id, uuid, sample_type, sync_id, deleted_at)
        SELECT %(user_id)s, uuid, %(sample_type)s, %(sync_id)s, now()
        FROM unnest(%(uuids)s::uuid[]) AS uuid
        ORDER BY uuid
        ON CONFLICT (user_id, uuid) DO UPDATE
        SET deleted_at = now(), sync_id = EXCLUDED.sync_id, updated_at = now(),
            {", ".join(f"{name} = NULL" for name in _COMPARED if name != "sample_type")}
        WHERE h.deleted_at IS NULL
        RETURNING 1
    )
    SELECT count(*) FROM gone
"""


#: A device's field values, all of them, in order: equal tuples are equal devices.
_DEVICE_IDENTITY: Final = attrgetter(*Device.model_fields)


@dataclass(frozen=True, slots=True)
class WriteCounts:
    received: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0


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


class _StagingRows:
    """Samples as rows of the staging table. JSON is written by pydantic-core (Rust) rather
    than json.dumps; jsonb stores the same value either way. Devices repeat across a chunk
    (one watch, one phone), so each distinct device is serialised once."""

    def __init__(self) -> None:
        self._devices: dict[tuple[str | None, ...], str | None] = {}

    def _device_json(self, device: Device) -> str | None:
        identity = _DEVICE_IDENTITY(device)
        try:
            return self._devices[identity]
        except KeyError:
            fields = device.model_dump(exclude_none=True)
            text = self._devices[identity] = to_json(fields).decode() if fields else None
            return text

    def row(self, sample: AnySample) -> tuple[Any, ...]:
        common_head = (
            sample.uuid,
            sample.sample_type,
            sample.kind,
            sample.start_date,
            sample.end_date,
        )
        common_tail = (
            sample.source.name,
            sample.source.bundle_id,
            sample.source.version,
            self._device_json(sample.device) if sample.device else None,
            to_json(sample.metadata).decode() if sample.metadata else None,
            sample.time_zone,
        )
        if isinstance(sample, QuantitySample):
            canonical_unit = SAMPLE_TYPES[sample.sample_type].canonical_unit
            body: tuple[Any, ...] = (
                sample.canonical_value,
                canonical_unit,
                None,
                None,
                None,
                None,
                None,
            )
        elif isinstance(sample, CategorySample):
            body = (None, None, sample.value, None, None, None, None)
        else:
            body = (
                None,
                None,
                None,
                sample.activity_type,
                sample.duration_s,
                sample.total_energy_kcal,
                sample.total_distance_m,
            )
        return common_head + body + common_tail


class SyncRepository:
    """Data access for one connection. Writers run inside ``transaction()``."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self._conn = conn
        self._staging_ready = False

    @contextmanager
    def transaction(self) -> Iterator[None]:
        try:
            with self._conn.transaction():
                yield
        except BaseException:
            # A rolled-back transaction takes the staging table it created with it: the next
            # upsert on this connection must create it again.
            self._staging_ready = False
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

    def upsert_samples(
        self, user_id: str, sync_id: UUID, samples: Iterable[AnySample]
    ) -> WriteCounts:
        """Inserts new samples and updates changed ones; returns what happened to each."""
        if not self._staging_ready:
            self._conn.execute(_CREATE_STAGING)
            self._staging_ready = True
        received = 0
        rows = _StagingRows()
        with self._conn.cursor() as cursor:
            with cursor.copy(_COPY_STAGING) as copy, gc_paused():
                copy.set_types(_STAGING_TYPES)
                for sample in samples:
                    copy.write_row(rows.row(sample))
                    received += 1
            if received == 0:
                return WriteCounts()
            inserted, updated = cursor.execute(
                _UPSERT, {"user_id": user_id, "sync_id": sync_id}
            ).fetchone() or (0, 0)
        return WriteCounts(
            received=received,
            inserted=inserted,
            updated=updated,
            unchanged=received - inserted - updated,
        )

    def tombstone(self, user_id: str, sync_id: UUID, sample_type: str, uuids: list[UUID]) -> int:
        """Marks samples deleted (or pre-deletes ones not seen yet); returns rows that changed."""
        if not uuids:
            return 0
        row = self._conn.execute(
            _TOMBSTONE,
            {"user_id": user_id, "sync_id": sync_id, "sample_type": sample_type, "uuids": uuids},
        ).fetchone()
        return int(row[0]) if row else 0

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
                   samples_unchanged, samples_deleted, failure_reason)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
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
        """Decides the sync's state from its ledger; completes it (advancing the anchors) when
        it is committed and every one of its chunks is stored. A refused chunk fails it at
        once, committed or not: the chunk is immutable, so the sync can never complete.
        Returns the state."""
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
                          samples_unchanged, samples_deleted, first_upload_at, completed_at,
                          updated_at
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
