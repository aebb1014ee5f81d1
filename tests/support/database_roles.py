"""The functions' database roles in tests: a session working as one, and one row of a user in
every per-user table (0009_roles_and_rls.sql), written as the superuser, whom no policy holds.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

import psycopg
from psycopg import sql

from hksync.db.connection import act_for
from hksync.settings import (
    AccountSettings,
    DispatcherSettings,
    ProcessorSettings,
    QuerySettings,
    RemindersSettings,
)

#: Every function's role, from the settings the functions load.
FUNCTION_ROLES: Final = tuple(
    str(model.database_role)
    for model in (
        ProcessorSettings,
        QuerySettings,
        RemindersSettings,
        DispatcherSettings,
        AccountSettings,
    )
)
OPS_ROLE: Final = "hksync_ops"


@contextmanager
def working_as(
    database_url: str, role: str, *, user: str | None = None
) -> Iterator[psycopg.Connection]:
    """An autocommit session that took ``role`` as the functions do, acting for ``user``."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
        act_for(conn, user)
        yield conn


def per_user_tables(conn: psycopg.Connection) -> list[str]:
    """Every table of the schema with a user_id column."""
    return [
        name
        for (name,) in conn.execute(
            """SELECT c.relname FROM pg_class c
               JOIN pg_namespace n ON n.oid = c.relnamespace
               JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'user_id'
               WHERE n.nspname = 'public' AND c.relkind = 'r'
               ORDER BY c.relname"""
        ).fetchall()
    ]


def seed_user(db: psycopg.Connection, user: str) -> None:
    """One row of ``user`` in every per-user table."""
    sync_id, reminder_id = uuid.uuid4(), uuid.uuid4()
    db.execute("INSERT INTO sync_sessions (user_id, sync_id) VALUES (%s, %s)", (user, sync_id))
    db.execute(
        """INSERT INTO sync_chunks (user_id, sync_id, seq, state, object_key)
           VALUES (%s, %s, 0, 'processed', 'key')""",
        (user, sync_id),
    )
    db.execute(
        """INSERT INTO rejected_samples (user_id, sync_id, seq, sample_index, sample_type,
               field, reason)
           VALUES (%s, %s, 0, 0, 'HKQuantityTypeIdentifierHeartRate', 'value', 'reason')""",
        (user, sync_id),
    )
    db.execute(
        """INSERT INTO health_samples (user_id, uuid, sample_type, deleted_at)
           VALUES (%s, %s, 'HKQuantityTypeIdentifierHeartRate', now())""",
        (user, uuid.uuid4()),
    )
    db.execute(
        """INSERT INTO sources (user_id, source_key, bundle_id, name, device_kind)
           VALUES (%s, 'key', 'com.apple.health', 'Watch', 'watch')""",
        (user,),
    )
    db.execute(
        """INSERT INTO sync_anchors (user_id, sample_type, anchor, sync_id, committed_at)
           VALUES (%s, 'HKQuantityTypeIdentifierHeartRate', 'anchor', %s, now())""",
        (user, sync_id),
    )
    db.execute(
        """INSERT INTO source_priorities (user_id, sample_type, bundle_ids)
           VALUES (%s, '*', ARRAY['com.apple.health'])""",
        (user,),
    )
    db.execute(
        """INSERT INTO daily_summaries (user_id, sample_type, local_date)
           VALUES (%s, 'HKQuantityTypeIdentifierStepCount', '2025-01-01')""",
        (user,),
    )
    db.execute(
        """INSERT INTO reminders (user_id, reminder_id, kind, title, time_zone, cron,
               schedule_name)
           VALUES (%s, %s, 'other', 'title', 'UTC', '0 9 * * ? *', %s)""",
        (user, reminder_id, f"schedule-{reminder_id}"),
    )
    db.execute(
        """INSERT INTO reminder_deliveries (user_id, reminder_id, scheduled_for, revision)
           VALUES (%s, %s, now(), 1)""",
        (user, reminder_id),
    )
    db.execute(
        """INSERT INTO erasures (erasure_id, user_id, state, completed_at)
           VALUES (%s, %s, 'complete', now())""",
        (uuid.uuid4(), user),
    )
    db.execute(
        """INSERT INTO change_events (event_id, user_id, sync_id, detail)
           VALUES (%s, %s, %s, '{}')""",
        (uuid.uuid4(), user, sync_id),
    )
