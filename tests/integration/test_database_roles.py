"""Each function's database role is refused what its function must not do (0009_roles_and_rls.sql):
writes outside its own tables, other functions' tables, and any change to the schema, which is
the owner's alone. What each role may do, the rest of the suite shows: every function runs as
its role there (hksync.settings' database_role).
"""

from __future__ import annotations

import psycopg
import pytest
from psycopg import errors, sql

from tests.support.database_roles import FUNCTION_ROLES, OPS_ROLE, seed_user, working_as

USER = "alice"

#: For each role, statements outside what its SQL uses (hksync.db.*), each refused.
REFUSED = {
    "hksync_processor": [
        "SELECT * FROM reminders",
        "INSERT INTO reminders (user_id, reminder_id, kind, title, time_zone, cron, "
        "schedule_name) VALUES ('alice', gen_random_uuid(), 'other', 't', 'UTC', 'c', 'n')",
        "SELECT * FROM reminder_deliveries",
        "DELETE FROM health_samples",
        "DELETE FROM sync_sessions",
        "UPDATE sync_chunks SET state = 'failed'",
        "INSERT INTO erasures (erasure_id, user_id) VALUES (gen_random_uuid(), 'alice')",
        "UPDATE source_priorities SET bundle_ids = '{}'",
        "SELECT * FROM hksync_live_reminders(now())",
        "SELECT hksync_erasure_user(gen_random_uuid())",
        # Change events: written and marked published, never changed otherwise or deleted;
        # every user's only through the upkeep's functions, which are not the processor's.
        "UPDATE change_events SET detail = '{}'",
        "DELETE FROM change_events",
        "SELECT * FROM hksync_claim_unpublished_change_events(10)",
        "SELECT hksync_change_events_published(ARRAY[gen_random_uuid()])",
    ],
    "hksync_query": [
        "INSERT INTO health_samples (user_id, uuid, sample_type, deleted_at) "
        "VALUES ('alice', gen_random_uuid(), 't', now())",
        "UPDATE health_samples SET value = 1",
        "DELETE FROM daily_summaries",
        "UPDATE sync_sessions SET state = 'complete'",
        "INSERT INTO sync_anchors (user_id, sample_type, anchor, sync_id, committed_at) "
        "VALUES ('alice', 't', 'a', gen_random_uuid(), now())",
        "SELECT * FROM reminders",
        "SELECT * FROM erasures",
        "SELECT hksync_purge_deliveries(now())",
        "SELECT * FROM change_events",
    ],
    "hksync_reminders": [
        "SELECT * FROM health_samples",
        "SELECT * FROM sync_sessions",
        "DELETE FROM reminders",
        "SELECT * FROM reminder_deliveries",
        "SELECT * FROM erasures",
        "SELECT hksync_erasure_user(gen_random_uuid())",
        # The sweep reaches change events only through its two functions.
        "SELECT * FROM change_events",
        "UPDATE change_events SET published_at = now()",
    ],
    "hksync_dispatcher": [
        "SELECT * FROM health_samples",
        "INSERT INTO reminders (user_id, reminder_id, kind, title, time_zone, cron, "
        "schedule_name) VALUES ('alice', gen_random_uuid(), 'other', 't', 'UTC', 'c', 'n')",
        "DELETE FROM reminders",
        "SELECT * FROM erasures",
        "SELECT * FROM hksync_live_reminders(now())",
        "SELECT * FROM change_events",
        "SELECT * FROM hksync_claim_unpublished_change_events(10)",
    ],
    "hksync_account": [
        "INSERT INTO health_samples (user_id, uuid, sample_type, deleted_at) "
        "VALUES ('alice', gen_random_uuid(), 't', now())",
        "UPDATE health_samples SET value = 1",
        "UPDATE sync_sessions SET state = 'complete'",
        "INSERT INTO reminders (user_id, reminder_id, kind, title, time_zone, cron, "
        "schedule_name) VALUES ('alice', gen_random_uuid(), 'other', 't', 'UTC', 'c', 'n')",
        "UPDATE reminders SET title = 't'",
        "DELETE FROM erasures",
        "SELECT * FROM hksync_live_reminders(now())",
        "SELECT * FROM change_events",
        "SELECT hksync_change_events_published(ARRAY[gen_random_uuid()])",
    ],
    OPS_ROLE: [
        "INSERT INTO sync_sessions (user_id, sync_id) VALUES ('alice', gen_random_uuid())",
        "UPDATE health_samples SET value = 1",
        "DELETE FROM reminders",
        "UPDATE erasures SET attempts = 0",
        "DELETE FROM reminder_deliveries",
        "UPDATE change_events SET published_at = now()",
    ],
}

#: Changes to the schema: the owner's alone.
SCHEMA_CHANGES = [
    "CREATE TABLE intruder (id integer)",
    "ALTER TABLE health_samples ADD COLUMN intruder text",
    "ALTER TABLE health_samples DISABLE ROW LEVEL SECURITY",
    "ALTER TABLE health_samples NO FORCE ROW LEVEL SECURITY",
    "DROP POLICY acting_user ON health_samples",
    "CREATE POLICY intruder ON health_samples USING (true)",
    "DROP TABLE sync_anchors",
    "TRUNCATE health_samples",
    "CREATE INDEX intruder_idx ON health_samples (value)",
    "CREATE FUNCTION intruder() RETURNS int LANGUAGE sql AS 'SELECT 1'",
    "ALTER FUNCTION hksync_live_reminders(timestamptz) SECURITY INVOKER",
    "DROP TABLE schema_migrations",
    "GRANT hksync_every_user TO CURRENT_USER",
]


def _refused(conn: psycopg.Connection, statement: str) -> None:
    # ALTER of a table that is not one's own, or a view over another's table, fails with
    # "must be owner", which PostgreSQL also files under insufficient privilege.
    with pytest.raises(errors.InsufficientPrivilege), conn.transaction():
        conn.execute(statement.encode())


@pytest.mark.parametrize(
    ("role", "statement"),
    [(role, statement) for role, statements in REFUSED.items() for statement in statements],
)
def test_a_role_is_refused_what_its_function_does_not_do(
    role: str, statement: str, database_url: str, db: psycopg.Connection
) -> None:
    seed_user(db, USER)

    with working_as(database_url, role, user=USER) as conn:
        _refused(conn, statement)


@pytest.mark.parametrize("role", [*FUNCTION_ROLES, OPS_ROLE])
def test_only_the_owner_changes_the_schema(role: str, database_url: str) -> None:
    with working_as(database_url, role) as conn:
        for statement in SCHEMA_CHANGES:
            _refused(conn, statement)


def test_the_owner_changes_the_schema(db: psycopg.Connection) -> None:
    db.execute("BEGIN")
    try:
        for statement in SCHEMA_CHANGES:
            db.execute(statement.encode())
    finally:
        db.execute("ROLLBACK")


@pytest.mark.parametrize("role", FUNCTION_ROLES)
def test_a_function_signed_in_as_its_role_cannot_take_another(role: str, database_url: str) -> None:
    # Signed in as the role itself, as in AWS (an IAM token for the role's name): no way
    # to the owner's rows or another function's privileges.
    with psycopg.connect(
        psycopg.conninfo.make_conninfo(database_url, user=role), autocommit=True
    ) as conn:
        assert conn.execute("SELECT session_user").fetchone() == (role,)
        for other in ["hksync_every_user", OPS_ROLE, *set(FUNCTION_ROLES) - {role}]:
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(other)))
        for statement in SCHEMA_CHANGES:
            _refused(conn, statement)
