"""Row-level security (0009_roles_and_rls.sql): every per-user table shows and takes only the
rows of the user the session acts for (hksync.db.connection.act_for), the functions' roles and
the owner alike (FORCE); a session acting for nobody sees nothing. The queries here forget
their WHERE user_id on purpose: the database alone keeps the users apart.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg import errors, sql

from hksync.db.connection import act_for
from tests.support.builders import chunk, commit, heart_rates
from tests.support.database_roles import (
    FUNCTION_ROLES,
    OPS_ROLE,
    per_user_tables,
    seed_user,
    working_as,
)
from tests.support.pipeline import Pipeline
from tests.support.reminders import ReminderDriver

ALICE, BOB = "alice", "bob"


def _readable(conn: psycopg.Connection, tables: list[str]) -> list[str]:
    return [
        table
        for table in tables
        if conn.execute("SELECT has_table_privilege(%s, 'SELECT')", (table,)).fetchone() == (True,)
    ]


def _users_in(conn: psycopg.Connection, table: str) -> list[str]:
    query = sql.SQL("SELECT user_id FROM {} ORDER BY user_id").format(sql.Identifier(table))
    return [user for (user,) in conn.execute(query).fetchall()]


def test_every_per_user_table_is_forced_to_row_level_security(db: psycopg.Connection) -> None:
    tables = per_user_tables(db)
    forced = db.execute(
        """SELECT relname FROM pg_class
           WHERE relname = ANY(%s) AND relrowsecurity AND relforcerowsecurity""",
        (tables,),
    ).fetchall()

    assert len(tables) >= 11
    assert sorted(name for (name,) in forced) == tables


@pytest.mark.parametrize("role", [*FUNCTION_ROLES, OPS_ROLE])
def test_a_session_that_acts_for_nobody_sees_no_row(
    role: str, database_url: str, db: psycopg.Connection
) -> None:
    seed_user(db, ALICE)
    seed_user(db, BOB)

    with working_as(database_url, role) as conn:
        readable = _readable(conn, per_user_tables(db))
        assert readable, f"{role} reads no per-user table"
        if role == OPS_ROLE:
            # Operators read every user's rows (hksync_every_user), and only read.
            assert {table: _users_in(conn, table) for table in readable} == {
                table: [ALICE, BOB] for table in readable
            }
        else:
            assert {table: _users_in(conn, table) for table in readable} == {
                table: [] for table in readable
            }


@pytest.mark.parametrize("role", FUNCTION_ROLES)
def test_a_session_sees_only_the_user_it_acts_for(
    role: str, database_url: str, db: psycopg.Connection
) -> None:
    seed_user(db, ALICE)
    seed_user(db, BOB)

    with working_as(database_url, role, user=BOB) as conn:
        readable = _readable(conn, per_user_tables(db))
        assert {table: _users_in(conn, table) for table in readable} == {
            table: [BOB] for table in readable
        }
        act_for(conn, ALICE)
        assert {table: _users_in(conn, table) for table in readable} == {
            table: [ALICE] for table in readable
        }


def test_a_session_writes_no_row_of_another_user(database_url: str, db: psycopg.Connection) -> None:
    seed_user(db, ALICE)

    with working_as(database_url, "hksync_processor", user=BOB) as conn:
        with pytest.raises(errors.InsufficientPrivilege, match="row-level security"):
            conn.execute(
                "INSERT INTO sync_sessions (user_id, sync_id) VALUES (%s, %s)",
                (ALICE, uuid.uuid4()),
            )
        assert conn.execute("UPDATE sync_sessions SET state = 'failed'").rowcount == 0
        # Nor moves a row of its own to another user.
        conn.execute(
            "INSERT INTO sync_sessions (user_id, sync_id) VALUES (%s, %s)", (BOB, uuid.uuid4())
        )
        with pytest.raises(errors.InsufficientPrivilege, match="row-level security"):
            conn.execute("UPDATE sync_sessions SET user_id = %s", (ALICE,))
    with working_as(database_url, "hksync_account", user=BOB) as conn:
        assert conn.execute("DELETE FROM health_samples").rowcount == 0
        assert conn.execute("DELETE FROM reminders").rowcount == 0

    assert db.execute(
        "SELECT count(*) FROM health_samples WHERE user_id = %s", (ALICE,)
    ).fetchone() == (1,)
    assert db.execute(
        "SELECT state FROM sync_sessions WHERE user_id = %s", (ALICE,)
    ).fetchall() == [("receiving",)]


def test_the_views_show_only_the_user_acted_for(database_url: str, db: psycopg.Connection) -> None:
    seed_user(db, ALICE)
    db.execute(
        "UPDATE daily_summaries SET summary = '{}', computed_version = version WHERE user_id = %s",
        (ALICE,),
    )

    with working_as(database_url, OPS_ROLE) as conn:
        conn.execute("RESET ROLE")
        conn.execute("GRANT SELECT ON hksync_daily_summaries_v1 TO hksync_query")
        conn.execute("SET ROLE hksync_query")
        assert conn.execute("SELECT count(*) FROM hksync_daily_summaries_v1").fetchone() == (0,)
        act_for(conn, ALICE)
        assert conn.execute("SELECT count(*) FROM hksync_daily_summaries_v1").fetchone() == (1,)
        conn.execute("RESET ROLE")
        conn.execute("REVOKE SELECT ON hksync_daily_summaries_v1 FROM hksync_query")


def test_bob_never_sees_alices_rows_through_any_endpoint(
    pipeline: Pipeline, reminders: ReminderDriver, db: psycopg.Connection
) -> None:
    # Alice has a completed sync with samples, a refused sample, anchors, summaries, a source
    # priority, a reminder and an erasure's record of another (old) account of hers.
    sync_id = uuid.uuid4()
    samples = heart_rates(4)
    # Dated two days ahead, as by a drifting clock: refused on its own (quarantine).
    ahead = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    samples[3] = {**samples[3], "start_date": ahead, "end_date": ahead}
    assert pipeline.put_chunk(ALICE, chunk(sync_id, 0, samples)).status == 202
    assert pipeline.commit(ALICE, sync_id, commit(1, "alice-anchor")).status == 202
    pipeline.drain()
    priority = {"sample_type": "*", "bundle_ids": ["com.apple.health"]}
    put = pipeline.call(
        pipeline.query, "PUT", "/v1/me/source-priority", {}, user=ALICE, body=_json(priority)
    )
    assert put.status == 200, put.body
    at = (datetime.now(UTC) + timedelta(days=2)).replace(second=0, microsecond=0, tzinfo=None)
    when = {"time_zone": "UTC", "at": at.isoformat(timespec="seconds")}
    reminder_id = uuid.uuid4()
    created = reminders.create(
        ALICE,
        {"reminder_id": str(reminder_id), "kind": "medication", "title": "Pill", **when},
    )
    assert created.status == 201, created.body
    alice = pipeline.status(ALICE, sync_id)
    assert alice.status == 200
    assert alice.body["state"] == "complete"
    assert db.execute("SELECT count(*) FROM rejected_samples").fetchone() == (1,)

    # Bob, with Alice's ids wherever a route takes one.
    start, end = "2020-01-01T00:00:00Z", "2100-01-01T00:00:00Z"
    day_range = {"start": "2020-01-01", "end": "2020-12-31"}
    assert pipeline.status(BOB, sync_id).status == 404
    assert pipeline.rejected(BOB, sync_id).status == 404
    assert pipeline.anchors(BOB).body == pipeline.anchors("nobody").body
    for include_deleted in ("true", "false"):
        page = pipeline.call(
            pipeline.query,
            "GET",
            "/v1/samples",
            {},
            user=BOB,
            query={
                "sample_type": "HKQuantityTypeIdentifierHeartRate",
                "start": start,
                "end": end,
                "include_deleted": include_deleted,
            },
        )
        assert page.status == 200
        assert page.body["samples"] == []
    summaries = pipeline.call(
        pipeline.query,
        "GET",
        "/v1/summaries/daily",
        {},
        user=BOB,
        query={"types": "HKQuantityTypeIdentifierHeartRate", **day_range},
    )
    nobody = pipeline.call(
        pipeline.query,
        "GET",
        "/v1/summaries/daily",
        {},
        user="nobody",
        query={"types": "HKQuantityTypeIdentifierHeartRate", **day_range},
    )
    assert summaries.status == 200
    assert summaries.body == nobody.body
    assert reminders.list(BOB).body == {"reminders": []}
    assert reminders.cancel(BOB, reminder_id).status == 404
    assert reminders.reschedule(BOB, reminder_id, when).status == 404
    assert reminders.list(ALICE).body["reminders"][0]["state"] == "scheduled"
    assert pipeline.status(ALICE, sync_id).body == alice.body


def _json(body: object) -> bytes:
    return json.dumps(body).encode()
