"""The seed's design, rebuilt as the baseline: per-sample update_or_create, inline in the request.

The seed (a Django app) stored each sample with ``Model.objects.update_or_create(uuid=...,
defaults={...})`` inside the upload request. Django runs that as, per sample, its own
transaction: ``SELECT ... FOR UPDATE`` by the lookup; then an ``UPDATE`` of every field in
``defaults`` when the row exists (whether or not anything changed), or, in a savepoint, an
``INSERT`` when it does not. `SeedWriter` issues exactly those statements against the same
``health_samples`` table (same columns, same indexes) the pipeline writes, so the two differ
only in how they write. It is a benchmark baseline, not product code.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from http import HTTPStatus
from typing import Any, Final
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

from hksync.codec import decode_body
from hksync.contract.models import CategorySample, Chunk, QuantitySample, SyncCommit, Workout
from hksync.contract.types import SAMPLE_TYPES
from hksync.db.syncs import _CONTENT_COLUMNS as CONTENT_COLUMNS

AnySample = QuantitySample | CategorySample | Workout

# The same content columns as the processor writes (one list, in the repository), plus the
# sync that last wrote the row, which update_or_create sets too.
_FIELDS: Final = (*CONTENT_COLUMNS[1:], "sync_id")
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


def _defaults(sample: AnySample, sync_id: UUID) -> tuple[Any, ...]:
    """The model's fields as the seed's ORM would have set them."""
    value: float | None = None
    unit: str | None = None
    category_value: int | None = None
    workout: tuple[str | None, float | None, float | None, float | None] = (None,) * 4
    if isinstance(sample, QuantitySample):
        value = sample.canonical_value
        unit = SAMPLE_TYPES[sample.sample_type].canonical_unit
    elif isinstance(sample, CategorySample):
        category_value = sample.value
    else:
        workout = (
            sample.activity_type,
            sample.duration_s,
            sample.total_energy_kcal,
            sample.total_distance_m,
        )
    device = sample.device.model_dump(exclude_none=True) if sample.device else None
    return (
        sample.sample_type,
        sample.kind,
        sample.start_date,
        sample.end_date,
        value,
        unit,
        category_value,
        *workout,
        sample.source.name,
        sample.source.bundle_id,
        sample.source.version,
        Jsonb(device) if device else None,
        Jsonb(sample.metadata) if sample.metadata else None,
        sample.time_zone,
        sync_id,
    )


class SeedWriter:
    """Writes samples the seed's way; ``conn`` must be in autocommit mode (Django's default)."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self._conn = conn

    def update_or_create(self, user_id: str, sync_id: UUID, sample: AnySample) -> bool:
        """Stores one sample in its own transaction; True when it was created."""
        defaults = _defaults(sample, sync_id)
        with self._conn.transaction():
            found = self._conn.execute(_SELECT, (user_id, sample.uuid)).fetchone()
            if found is not None:
                self._conn.execute(_UPDATE, (*defaults, user_id, sample.uuid))
                return False
            with self._conn.transaction():  # get_or_create's savepoint around the INSERT
                self._conn.execute(_INSERT, (user_id, sample.uuid, *defaults))
            return True

    def write(
        self,
        user_id: str,
        sync_id: UUID,
        samples: Iterable[AnySample],
        *,
        stop_at: float | None = None,
    ) -> tuple[int, int]:
        """Stores every sample (or those it gets to before ``stop_at``, a perf_counter time);
        returns (created, updated)."""
        created = updated = 0
        for sample in samples:
            if self.update_or_create(user_id, sync_id, sample):
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
        chunk = Chunk.model_validate_json(decode_body(body, self._max_bytes))
        created, updated = self._writer.write(user_id, chunk.sync_id, chunk.unique_samples())
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
