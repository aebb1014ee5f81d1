"""The SQL of the read side: daily summaries (kept fresh by invalidation), the samples they are
computed from, sources and the app's source priority, and pages of samples.

A write marks the days it touched stale (``mark_stale``, in the writer's transaction: a version
bump). Computing is the read side's (hksync.read_side): it reads the stale days' samples,
summarises them and stores each day only if it was not marked again meanwhile.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final
from uuid import UUID

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from hksync.contract.sample_rows import DeviceKind
from hksync.summaries import SummarySample, zone_for

#: Every sample type's priority ('*' in source_priorities).
EVERY_TYPE: Final = "*"


@dataclass(frozen=True, slots=True)
class StoredSource:
    source_key: str
    bundle_id: str
    name: str
    product_type: str | None
    device_kind: DeviceKind


def _json(summary: dict[str, Any] | None) -> Jsonb | None:
    return None if summary is None else Jsonb(summary)


class SummaryRepository:
    """Read-side data access on one connection."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self._conn = conn

    # --- invalidation (inside the writer's transaction) ------------------------------------

    def mark_stale(self, user_id: str, days: Iterable[tuple[str, date]]) -> None:
        types, dates = [], []
        for sample_type, local_date in sorted(set(days)):
            types.append(sample_type)
            dates.append(local_date)
        if not types:
            return
        self._conn.execute(
            """INSERT INTO daily_summaries AS d (user_id, sample_type, local_date)
               SELECT %s, t, day FROM unnest(%s::text[], %s::date[]) AS u(t, day)
               ON CONFLICT (user_id, sample_type, local_date)
               DO UPDATE SET version = d.version + 1""",
            (user_id, types, dates),
        )

    def mark_type_stale(self, user_id: str, sample_type: str) -> None:
        """Every day of a type (or of every type, for EVERY_TYPE): the source priority changed."""
        self._conn.execute(
            """UPDATE daily_summaries SET version = version + 1
               WHERE user_id = %s AND (%s = '*' OR sample_type = %s)""",
            (user_id, sample_type, sample_type),
        )

    # --- computing ---------------------------------------------------------------------------

    def stale_days(
        self, user_id: str, sample_type: str | None, first: date | None, last: date | None
    ) -> dict[str, dict[date, int]]:
        """Per type, the stale days in the range (all of them, given None) and their versions."""
        rows = self._conn.execute(
            """SELECT sample_type, local_date, version FROM daily_summaries
               WHERE user_id = %s AND computed_version IS DISTINCT FROM version
                 AND (%s::text IS NULL OR sample_type = %s)
                 AND (%s::date IS NULL OR local_date >= %s)
                 AND (%s::date IS NULL OR local_date <= %s)""",
            (user_id, sample_type, sample_type, first, first, last, last),
        ).fetchall()
        stale: dict[str, dict[date, int]] = {}
        for row_type, local_date, version in rows:
            stale.setdefault(row_type, {})[local_date] = version
        return stale

    def samples(
        self, user_id: str, sample_type: str, start: datetime, end: datetime, reach: timedelta
    ) -> list[SummarySample]:
        """The live samples of a type overlapping [start, end) (or an instant in it) that
        started at most ``reach`` before ``start``: one range of the (user, type, start) index,
        whatever the local dates."""
        with self._conn.cursor() as cursor:
            rows = cursor.execute(
                """SELECT uuid, start_at, end_at, source_key, time_zone, start_offset_s, value,
                          category_value, activity_type, duration_s, total_energy_kcal,
                          total_distance_m
                   FROM health_samples
                   WHERE user_id = %(user_id)s AND sample_type = %(sample_type)s
                     AND deleted_at IS NULL
                     AND start_at >= %(reach_from)s AND start_at < %(end)s
                     AND end_at >= %(start)s""",
                {
                    "user_id": user_id,
                    "sample_type": sample_type,
                    "reach_from": start - reach,
                    "start": start,
                    "end": end,
                },
            ).fetchall()
        return [
            SummarySample(
                uuid=uuid,
                start=start,
                end=end,
                source_key=source_key,
                zone=zone_for(time_zone, offset_s),
                value=value,
                category_value=category_value,
                activity_type=activity_type,
                duration_s=duration_s,
                total_energy_kcal=energy,
                total_distance_m=distance,
            )
            for (
                uuid,
                start,
                end,
                source_key,
                time_zone,
                offset_s,
                value,
                category_value,
                activity_type,
                duration_s,
                energy,
                distance,
            ) in rows
        ]

    def store(
        self,
        user_id: str,
        sample_type: str,
        computed: Mapping[date, tuple[int, dict[str, Any] | None]],
    ) -> None:
        """Stores each day's summary computed at ``version``, unless marked again since."""
        with self._conn.cursor() as cursor:
            cursor.executemany(
                """UPDATE daily_summaries
                   SET summary = %s, computed_version = version, computed_at = now()
                   WHERE user_id = %s AND sample_type = %s AND local_date = %s
                     AND version = %s""",
                [
                    (
                        None if summary is None else Jsonb(summary),
                        user_id,
                        sample_type,
                        day,
                        version,
                    )
                    for day, (version, summary) in sorted(computed.items())
                ],
            )

    def summaries(
        self, user_id: str, sample_type: str, first: date, last: date
    ) -> dict[date, dict[str, Any]]:
        """The computed summaries of a type's days in [first, last] that hold data."""
        rows = self._conn.execute(
            """SELECT local_date, summary FROM daily_summaries
               WHERE user_id = %s AND sample_type = %s AND local_date BETWEEN %s AND %s
                 AND summary IS NOT NULL
               ORDER BY local_date""",
            (user_id, sample_type, first, last),
        ).fetchall()
        return dict(rows)

    # --- sources and priority ----------------------------------------------------------------

    def sources(self, user_id: str) -> dict[str, StoredSource]:
        with self._conn.cursor(row_factory=dict_row) as cursor:
            rows = cursor.execute(
                """SELECT source_key, bundle_id, name, product_type, device_kind FROM sources
                   WHERE user_id = %s""",
                (user_id,),
            ).fetchall()
        return {
            row["source_key"]: StoredSource(
                **{**row, "device_kind": DeviceKind(row["device_kind"])}
            )
            for row in rows
        }

    def priority(self, user_id: str, sample_type: str) -> list[str]:
        """The bundle ids the app put first for the type (or for every type), highest first."""
        row = self._conn.execute(
            """SELECT bundle_ids FROM source_priorities
               WHERE user_id = %s AND sample_type IN (%s, '*')
               ORDER BY sample_type = '*' LIMIT 1""",
            (user_id, sample_type),
        ).fetchone()
        return list(row[0]) if row else []

    def set_priority(self, user_id: str, sample_type: str, bundle_ids: list[str]) -> None:
        self._conn.execute(
            """INSERT INTO source_priorities (user_id, sample_type, bundle_ids)
               VALUES (%s, %s, %s)
               ON CONFLICT (user_id, sample_type)
               DO UPDATE SET bundle_ids = EXCLUDED.bundle_ids, updated_at = now()""",
            (user_id, sample_type, bundle_ids),
        )

    # --- pages of samples --------------------------------------------------------------------

    def sample_page(
        self,
        user_id: str,
        sample_type: str,
        start: datetime,
        end: datetime,
        *,
        include_deleted: bool,
        after: tuple[datetime, UUID] | None,
        limit: int,
    ) -> list[dict[str, Any]]:
        """Rows of a type starting (tombstones: deleted) in [start, end), by that moment and
        uuid after a cursor: keyset paging, stable while rows are written."""
        after_start, after_uuid = after if after is not None else (None, None)
        with self._conn.cursor(row_factory=dict_row) as cursor:
            return cursor.execute(
                """SELECT h.uuid, h.sample_type, h.kind, h.start_at, h.end_at, h.start_offset_s,
                          h.end_offset_s, h.time_zone, h.zone_source, h.local_date, h.value,
                          h.unit, h.original_value, h.original_unit, h.sample_count,
                          h.category_value, h.activity_type, h.duration_s, h.total_energy_kcal,
                          h.total_distance_m, h.correlation_uuid, h.normalised, h.device,
                          h.metadata, h.details, h.deleted_at, h.updated_at,
                          s.bundle_id, s.name AS source_name, s.version AS source_version,
                          s.product_type, s.device_kind,
                          coalesce(h.start_at, h.deleted_at) AS moment
                   FROM health_samples h LEFT JOIN sources s USING (user_id, source_key)
                   WHERE h.user_id = %(user_id)s AND h.sample_type = %(sample_type)s
                     AND coalesce(h.start_at, h.deleted_at) >= %(start)s
                     AND coalesce(h.start_at, h.deleted_at) < %(end)s
                     AND (%(include_deleted)s OR h.deleted_at IS NULL)
                     AND (%(after_start)s::timestamptz IS NULL
                          OR (coalesce(h.start_at, h.deleted_at), h.uuid)
                             > (%(after_start)s, %(after_uuid)s::uuid))
                   ORDER BY coalesce(h.start_at, h.deleted_at), h.uuid
                   LIMIT %(limit)s""",
                {
                    "user_id": user_id,
                    "sample_type": sample_type,
                    "start": start,
                    "end": end,
                    "include_deleted": include_deleted,
                    "after_start": after_start,
                    "after_uuid": after_uuid,
                    "limit": limit,
                },
            ).fetchall()
