"""The SQL of samples: one set-based write path for every kind, tombstones, sources and the
samples rejected on their own.

Rows come from the decoder (hksync.contract.decoding) as tuples in COPY order. A chunk is
written with one binary COPY into a staging table and one INSERT ... ON CONFLICT, and a row is
rewritten only when its content actually changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final, NamedTuple
from uuid import UUID

import psycopg
from psycopg.rows import class_row

from hksync.contract.models import gc_paused
from hksync.contract.sample_rows import ReconcileWindow, Rejection, SampleRow, SourceRow

#: PostgreSQL type of each SampleRow field, in COPY order.
_COLUMN_TYPES: Final = {
    "uuid": "uuid",
    "sample_type": "text",
    "kind": "text",
    "start_at": "timestamptz",
    "end_at": "timestamptz",
    "start_offset_s": "int4",
    "end_offset_s": "int4",
    "time_zone": "text",
    "zone_source": "text",
    "local_date": "date",
    "value": "float8",
    "unit": "text",
    "original_value": "float8",
    "original_unit": "text",
    "sample_count": "int4",
    "category_value": "int4",
    "activity_type": "text",
    "duration_s": "float8",
    "total_energy_kcal": "float8",
    "total_distance_m": "float8",
    "correlation_uuid": "uuid",
    "normalised": "bool",
    "source_key": "text",
    "device": "jsonb",
    "metadata": "jsonb",
    "details": "jsonb",
}
assert tuple(_COLUMN_TYPES) == SampleRow._fields, "COPY columns must follow SampleRow"
_COLUMNS: Final = SampleRow._fields
# jsonb columns are staged as text (JSON already serialised by msgspec, copied by psycopg's C
# text dumper) and cast in the INSERT: far cheaper per row than psycopg's jsonb dumper.
_STAGING_TYPES: Final = tuple(
    "text" if kind == "jsonb" else kind for kind in _COLUMN_TYPES.values()
)
# A member of a correlation may come first through its own type's query (no correlation_uuid),
# then inside its correlation, or the other way round: a row without one never clears it.
_COMPARED: Final = tuple(name for name in _COLUMNS[1:] if name != "correlation_uuid")
_STAGED: Final = ", ".join(
    f"{name}::jsonb AS {name}" if kind == "jsonb" else name for name, kind in _COLUMN_TYPES.items()
)


def _differs(old: str, new: str) -> str:
    """SQL: the row ``new`` would change the stored row ``old``."""
    return (
        f"(({', '.join(f'{old}.{name}' for name in _COMPARED)}) IS DISTINCT FROM "
        f"({', '.join(f'{new}.{name}' for name in _COMPARED)}) OR ({new}.correlation_uuid "
        f"IS NOT NULL AND {new}.correlation_uuid IS DISTINCT FROM {old}.correlation_uuid))"
    )


# The statements below are assembled once, at import, from the constant column lists above;
# no input ever reaches them except as bound parameters.
_CREATE_STAGING = f"""
    CREATE TEMP TABLE IF NOT EXISTS incoming_samples (
        {", ".join(f"{name} {kind}" for name, kind in zip(_COLUMNS, _STAGING_TYPES, strict=True))}
    ) ON COMMIT DELETE ROWS
"""
_COPY_STAGING = f"COPY incoming_samples ({', '.join(_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
_UPSERT = f"""
    WITH written AS (
        INSERT INTO health_samples AS h (user_id, sync_id, uploaded_at, {", ".join(_COLUMNS)})
        SELECT %(user_id)s, %(sync_id)s, %(uploaded_at)s,
               {", ".join(f"i.{name}" for name in _COLUMNS)}
        FROM (SELECT {_STAGED} FROM incoming_samples) AS i
        -- Rows already stored as they are (or tombstoned) are dropped before the INSERT: ON
        -- CONFLICT would lock each of them (a row lock is a write: WAL, a dirtied page) only to
        -- skip it. A row changed concurrently after this check is still caught by ON CONFLICT.
        -- OFFSET 0 keeps the check a primary-key probe per incoming row: as an anti-join the
        -- planner may hash the user's whole history for every chunk.
        WHERE NOT EXISTS (
            SELECT 1 FROM health_samples o
            WHERE o.user_id = %(user_id)s AND o.uuid = i.uuid
              AND (o.deleted_at IS NOT NULL OR NOT {_differs("o", "i")})
            OFFSET 0
        )
        ORDER BY i.uuid  -- one lock order for every writer: concurrent chunks cannot deadlock
        ON CONFLICT (user_id, uuid) DO UPDATE
        SET {", ".join(f"{name} = EXCLUDED.{name}" for name in _COMPARED)},
            correlation_uuid = coalesce(EXCLUDED.correlation_uuid, h.correlation_uuid),
            sync_id = EXCLUDED.sync_id,
            uploaded_at = EXCLUDED.uploaded_at,
            updated_at = now()
        -- A tombstone is final (HealthKit never reuses a UUID), and a row found equal after
        -- all (changed back concurrently) is not rewritten.
        WHERE h.deleted_at IS NULL AND {_differs("h", "EXCLUDED")}
        RETURNING xmax = 0 AS inserted
    )
    SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM written
"""
#: A tombstone keeps only its type: the same row whether the deletion came before or after the
#: sample (HealthKit may report either first), so the order of delivery never shows.
_CLEARED_ON_TOMBSTONE: Final = tuple(name for name in _COLUMNS[1:] if name != "sample_type")
_TOMBSTONE = f"""
    WITH before AS (
        -- The live rows about to go, as they are: their days change.
        SELECT sample_type, local_date, end_at - start_at AS span FROM health_samples
        WHERE user_id = %(user_id)s AND uuid = ANY(%(uuids)s::uuid[]) AND deleted_at IS NULL
    ), gone AS (
        INSERT INTO health_samples AS h (user_id, uuid, sample_type, sync_id, deleted_at,
                                         uploaded_at)
        SELECT %(user_id)s, uuid, %(sample_type)s, %(sync_id)s, now(), %(uploaded_at)s
        FROM unnest(%(uuids)s::uuid[]) AS uuid
        ORDER BY uuid
        ON CONFLICT (user_id, uuid) DO UPDATE
        SET deleted_at = now(), sync_id = EXCLUDED.sync_id, updated_at = now(),
            uploaded_at = EXCLUDED.uploaded_at,
            {", ".join(f"{name} = NULL" for name in _CLEARED_ON_TOMBSTONE)}
        WHERE h.deleted_at IS NULL
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM gone), NULL, NULL, NULL::interval
    UNION ALL
    SELECT NULL, sample_type, local_date, span FROM before
"""
# Window reconciliation: live rows of the type starting in [start, end) that HealthKit no longer
# holds, written by objects uploaded before this one (never a sample a later upload brought).
# Strictly before: S3 gives upload times to the second, so an object of the same second may
# be a later one; such a row is kept, for the next window to judge.
_RECONCILE = f"""
    WITH before AS (
        SELECT uuid, local_date, end_at - start_at AS span FROM health_samples
        WHERE user_id = %(user_id)s AND sample_type = %(sample_type)s
          AND deleted_at IS NULL AND correlation_uuid IS NULL
          AND start_at >= %(start)s AND start_at < %(end)s
          AND uuid <> ALL(%(uuids)s::uuid[])
          AND (uploaded_at IS NULL OR uploaded_at < %(uploaded_at)s)
        ORDER BY uuid
        FOR UPDATE
    )
    UPDATE health_samples AS h
    SET deleted_at = now(), sync_id = %(sync_id)s, updated_at = now(),
        uploaded_at = %(uploaded_at)s,
        {", ".join(f"{name} = NULL" for name in _CLEARED_ON_TOMBSTONE)}
    FROM before
    WHERE h.user_id = %(user_id)s AND h.uuid = before.uuid
    RETURNING h.sample_type, before.local_date, before.span
"""
_SOURCE_FIELDS: Final = SourceRow._fields
_INSERT_SOURCES = f"""
    INSERT INTO sources (user_id, {", ".join(_SOURCE_FIELDS)})
    SELECT %(user_id)s, s.* FROM unnest(
        {", ".join(f"%({name})s::text[]" for name in _SOURCE_FIELDS)}
    ) AS s({", ".join(_SOURCE_FIELDS)})
    ORDER BY s.source_key
    ON CONFLICT (user_id, source_key) DO NOTHING
"""


class TouchedDay(NamedTuple):
    """A sample a write changed: its type, the local day it starts on and how long it lasts
    (None: a row never seen), for the days whose summaries change."""

    sample_type: str
    local_date: date | None
    span: timedelta | None


def _text(value: str | None) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True, slots=True)
class WriteCounts:
    """What storing one chunk did, by sample (a correlation's members count as samples)."""

    received: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    #: Tombstoned by window reconciliation (HealthKit no longer holds them).
    reconciled: int = 0
    #: Refused on their own (docs/adr/0004-per-sample-quarantine.md).
    rejected: int = 0


@dataclass(frozen=True, slots=True)
class RejectedSample:
    seq: int
    sample_index: int
    sample_type: str
    uuid: UUID | None
    field: str
    reason: str
    rejected_at: datetime


class SampleRepository:
    """Sample data access on one connection, inside the caller's transaction."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self._conn = conn
        self._staging_ready = False

    def forget_staging(self) -> None:
        """A rolled-back transaction takes the staging table it created with it: the next
        upsert on this connection must create it again."""
        self._staging_ready = False

    def upsert_samples(
        self,
        user_id: str,
        sync_id: UUID,
        rows: Sequence[SampleRow],
        sources: Sequence[SourceRow],
        *,
        uploaded_at: datetime | None = None,
    ) -> WriteCounts:
        """Stores the rows' sources, inserts new rows and updates changed ones."""
        if not rows:
            return WriteCounts()
        if sources:
            self._conn.execute(
                _INSERT_SOURCES,
                {
                    "user_id": user_id,
                    **{
                        # str(): a DeviceKind is a StrEnum, which psycopg would dump by name.
                        name: [_text(getattr(source, name)) for source in sources]
                        for name in _SOURCE_FIELDS
                    },
                },
            )
        if not self._staging_ready:
            self._conn.execute(_CREATE_STAGING)
            self._staging_ready = True
        with self._conn.cursor() as cursor:
            with cursor.copy(_COPY_STAGING) as copy, gc_paused():
                copy.set_types(_STAGING_TYPES)
                for row in rows:
                    copy.write_row(row)
            inserted, updated = cursor.execute(
                _UPSERT, {"user_id": user_id, "sync_id": sync_id, "uploaded_at": uploaded_at}
            ).fetchone() or (0, 0)
        return WriteCounts(
            received=len(rows),
            inserted=inserted,
            updated=updated,
            unchanged=len(rows) - inserted - updated,
        )

    def tombstone(
        self,
        user_id: str,
        sync_id: UUID,
        sample_type: str,
        uuids: list[UUID],
        *,
        uploaded_at: datetime | None = None,
    ) -> tuple[int, list[TouchedDay]]:
        """Marks samples deleted (or pre-deletes ones not seen yet); returns how many rows
        changed and the local days of the live samples that went."""
        if not uuids:
            return 0, []
        rows = self._conn.execute(
            _TOMBSTONE,
            {
                "user_id": user_id,
                "sync_id": sync_id,
                "sample_type": sample_type,
                "uuids": uuids,
                "uploaded_at": uploaded_at,
            },
        ).fetchall()
        changed = next(int(count) for count, _, _, _ in rows if count is not None)
        return changed, [
            TouchedDay(kind, day, span) for count, kind, day, span in rows if count is None
        ]

    def reconcile(
        self,
        user_id: str,
        sync_id: UUID,
        sample_type: str,
        window: ReconcileWindow,
        *,
        uploaded_at: datetime | None,
    ) -> list[TouchedDay]:
        """Tombstones the type's live samples in the window that HealthKit no longer holds
        (not in ``window.uuids``) and no later upload wrote; returns their local days."""
        rows = self._conn.execute(
            _RECONCILE,
            {
                "user_id": user_id,
                "sync_id": sync_id,
                "sample_type": sample_type,
                "start": window.start,
                "end": window.end,
                "uuids": window.uuids,
                "uploaded_at": uploaded_at,
            },
        ).fetchall()
        return [TouchedDay(kind, day, span) for kind, day, span in rows]

    def record_rejections(
        self,
        user_id: str,
        sync_id: UUID,
        seq: int,
        sample_type: str,
        rejections: Sequence[Rejection],
    ) -> None:
        """Keeps each sample refused on its own, with where and why."""
        if not rejections:
            return
        with self._conn.cursor() as cursor:
            cursor.executemany(
                """INSERT INTO rejected_samples
                       (user_id, sync_id, seq, sample_index, sample_type, uuid, field, reason)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
                   ON CONFLICT DO NOTHING""",
                [
                    (
                        user_id,
                        sync_id,
                        seq,
                        rejection.sample_index,
                        sample_type,
                        rejection.uuid,
                        rejection.field,
                        rejection.reason,
                    )
                    for rejection in rejections
                ],
            )

    def rejected_page(
        self, user_id: str, sync_id: UUID, *, after: tuple[int, int] | None, limit: int
    ) -> list[RejectedSample]:
        """The sync's rejected samples in (seq, sample_index) order, after a cursor."""
        seq, index = after if after is not None else (-1, -1)
        with self._conn.cursor(row_factory=class_row(RejectedSample)) as cursor:
            return cursor.execute(
                """SELECT seq, sample_index, sample_type, uuid, field, reason, rejected_at
                   FROM rejected_samples
                   WHERE user_id = %s AND sync_id = %s AND (seq, sample_index) > (%s, %s)
                   ORDER BY seq, sample_index LIMIT %s""",
                (user_id, sync_id, seq, index, limit),
            ).fetchall()
