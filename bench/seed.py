"""The seed's design, rebuilt as the baseline: per-sample update_or_create, inline in the request.

The seed (a Django app) stored each sample with ``Model.objects.update_or_create(uuid=...,
defaults={...})`` inside the upload request. Django runs that as, per sample, its own
transaction: ``SELECT ... FOR UPDATE`` by the lookup; then an ``UPDATE`` of every field in
``defaults`` when the row exists (whether or not anything changed), or, in a savepoint, an
``INSERT`` when it does not. `SeedWriter` issues exactly those statements against the same
``health_samples`` table (same columns, same indexes) the pipeline writes, with the same rows
(today's decoder's), so the two differ only in how they write; a chunk's distinct sources
(one or two) are each looked up and created first, as get_or_create of a foreign-keyed model.
It is a benchmark baseline, not product code.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from http import HTTPStatus
from typing import Any, Final
from uuid import UUID

import psycopg

from hksync.codec import decode_body
from hksync.contract.decoding import decode_chunk
from hksync.contract.models import SyncCommit
from hksync.contract.sample_rows import SampleRow, SourceRow

# The same content columns as the processor writes (the decoder's row), plus the sync that
# last wrote the row, which update_or_create sets too. JSON columns arrive as serialised text,
# which PostgreSQL casts to jsonb (psycopg sends a str untyped).
_FIELDS: Final = (*SampleRow._fields[1:], "sync_id")
_SELECT: Final = (
    f"SELECT {', '.join(_FIELDS)} FROM health_samples"  # noqa: S608 - constant column list
    " WHERE user_id = %s AND uuid = %s FOR UPDATE"
)
_UPDATE: Final = (
    f"UPDATE health_samples SET {', '.join(f'{name} = %s' for name in _FIELDS)},"  # noqa: S608
    " updated_at = now() WHERE user_id = %s AND uuid = %s"
)
_INSERT: Final = (
    f"INSERT INTO health_samples (user_id, uuid, {', '.join(_FIELDS)})"  # noqa: S608
    f" VALUES (%s, %s, {', '.join(['%s'] * len(_FIELDS))})"
)
_SOURCE_FIELDS: Final = SourceRow._fields
_SOURCE_SELECT: Final = "SELECT 1 FROM sources WHERE user_id = %s AND source_key = %s"
_SOURCE_INSERT: Final = (
    f"INSERT INTO sources (user_id, {', '.join(_SOURCE_FIELDS)})"  # noqa: S608
    f" VALUES (%s, {', '.join(['%s'] * len(_SOURCE_FIELDS))})"
)


class SeedWriter:
    """Writes samples the seed's way; ``conn`` must be in autocommit mode (Django's default)."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self._conn = conn

    def get_or_create_source(self, user_id: str, source: SourceRow) -> None:
        """A sample's source, as a foreign-keyed model: looked up, created when missing."""
        with self._conn.transaction():
            if self._conn.execute(_SOURCE_SELECT, (user_id, source.source_key)).fetchone():
                return
            # str(): device_kind is a StrEnum, which psycopg would dump by its name.
            fields = [None if field is None else str(field) for field in source]
            with self._conn.transaction():  # get_or_create's savepoint around the INSERT
                self._conn.execute(_SOURCE_INSERT, (user_id, *fields))

    def update_or_create(self, user_id: str, sync_id: UUID, row: SampleRow) -> bool:
        """Stores one sample in its own transaction; True when it was created."""
        defaults = (*row[1:], sync_id)
        with self._conn.transaction():
            found = self._conn.execute(_SELECT, (user_id, row.uuid)).fetchone()
            if found is not None:
                self._conn.execute(_UPDATE, (*defaults, user_id, row.uuid))
                return False
            with self._conn.transaction():  # get_or_create's savepoint around the INSERT
                self._conn.execute(_INSERT, (user_id, row.uuid, *defaults))
            return True

    def write(
        self,
        user_id: str,
        sync_id: UUID,
        rows: Iterable[SampleRow],
        sources: Sequence[SourceRow],
        *,
        stop_at: float | None = None,
    ) -> tuple[int, int]:
        """Stores the sources, then every sample (or those it gets to before ``stop_at``, a
        perf_counter time); returns (created, updated)."""
        for source in sources:
            self.get_or_create_source(user_id, source)
        created = updated = 0
        for row in rows:
            if self.update_or_create(user_id, sync_id, row):
                created += 1
            else:
                updated += 1
            if stop_at is not None and time.perf_counter() >= stop_at:
                break
        return created, updated


class InlineUploads:
    """The seed's upload endpoint: the request validates the chunk and stores every sample
    before it answers; the commit stores the anchors before it answers."""

    def __init__(self, conn: psycopg.Connection, *, max_bytes: int) -> None:
        self._conn = conn
        self._writer = SeedWriter(conn)
        self._max_bytes = max_bytes

    def put_chunk(self, user_id: str, body: bytes) -> tuple[int, dict[str, Any]]:
        chunk = decode_chunk(decode_body(body, self._max_bytes))
        created, updated = self._writer.write(user_id, chunk.sync_id, chunk.rows, chunk.sources)
        return HTTPStatus.CREATED, {"created": created, "updated": updated}

    def commit(self, user_id: str, sync_id: UUID, body: bytes) -> tuple[int, dict[str, Any]]:
        commit = SyncCommit.model_validate_json(body)
        with self._conn.transaction():
            for sample_type, anchor in commit.anchors.items():
                self._conn.execute(
                    """INSERT INTO sync_anchors (user_id, sample_type, anchor, sync_id,
                           committed_at) VALUES (%s, %s, %s, %s, now())
                       ON CONFLICT (user_id, sample_type) DO UPDATE
                       SET anchor = EXCLUDED.anchor, sync_id = EXCLUDED.sync_id,
                           committed_at = EXCLUDED.committed_at, updated_at = now()""",
                    (user_id, sample_type, anchor, sync_id),
                )
        return HTTPStatus.OK, {"sync_id": str(sync_id), "anchors": len(commit.anchors)}
