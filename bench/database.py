"""The one PostgreSQL every section writes to, and what it can tell about a write.

The embedded server (pgserver, as the tests and the local stack use) in a temporary folder, or
the server of DATABASE_URL. Each measurement gets a fresh, migrated database on it: migrated by
today's migrations, or by an earlier revision's for that revision's code (bench.revisions).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import psycopg
from psycopg import sql

from hksync.db.migrate import migrate

#: Settings that decide what a write costs; printed with the machine.
REPORTED_SETTINGS = ("server_version", "fsync", "synchronous_commit", "shared_buffers", "wal_level")


class BenchDatabase:
    def __init__(self, data_dir: Path) -> None:
        self._data_dir = data_dir
        self._server: Any = None
        self._external_url = os.environ.get("DATABASE_URL", "")
        self.server_url = ""

    @property
    def embedded(self) -> bool:
        return not self._external_url

    def start(self) -> str:
        """Starts the embedded server (again, after stop(): same folder, same address)."""
        if self._external_url:
            self.server_url = self._external_url
        elif self._server is None:
            from pgserver.postgres_server import get_server  # local tooling, as the stack uses

            self._data_dir.mkdir(parents=True, exist_ok=True)
            self._server = get_server(self._data_dir, cleanup_mode="stop")
            self.server_url = self._server.get_uri()
        return self.server_url

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None

    def fresh(self, name: str, *, migrate_with: Callable[[str], object] = migrate) -> str:
        """A new database called ``bench_<name>``, brought up to date by ``migrate_with``; returns
        its URL."""
        dbname = f"bench_{name}"
        with psycopg.connect(self.server_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname))
            )
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
        url = psycopg.conninfo.make_conninfo(self.server_url, dbname=dbname)
        migrate_with(url)
        return url

    def server_processes(self) -> list[psutil.Process]:
        """The embedded server's processes (the postmaster and every backend), to account for
        their CPU; none for a DATABASE_URL server, which may not even run on this machine."""
        if not self.embedded:
            return []
        data_dir = str(self._data_dir)
        for process in psutil.process_iter(["cmdline"]):
            if data_dir in (process.info["cmdline"] or []):
                with contextlib.suppress(psutil.Error):
                    return [process, *process.children(recursive=True)]
        return []

    def settings(self) -> dict[str, str]:
        values = {}
        with psycopg.connect(self.server_url, autocommit=True) as conn:
            for name in REPORTED_SETTINGS:
                row = conn.execute(sql.SQL("SHOW {}").format(sql.Identifier(name))).fetchone()
                values[name] = str(row[0]) if row else "?"
        return values


def reset_samples(conn: psycopg.Connection) -> None:
    """Empties the samples table and writes dirty pages out, so no checkpoint lands mid-run."""
    conn.execute("TRUNCATE health_samples")
    conn.execute("CHECKPOINT")


def wal_position(conn: psycopg.Connection) -> str:
    row = conn.execute("SELECT pg_current_wal_insert_lsn()::text").fetchone()
    assert row is not None
    return str(row[0])


def wal_bytes_since(conn: psycopg.Connection, position: str) -> int:
    row = conn.execute(
        "SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), %s::pg_lsn)::bigint", (position,)
    ).fetchone()
    assert row is not None
    return int(row[0])


class RowVersions:
    """Counts rows PostgreSQL wrote (a new row version changes xmin) between two moments."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self._conn = conn
        conn.execute("DROP TABLE IF EXISTS bench_versions_before")
        conn.execute(
            """CREATE TEMP TABLE bench_versions_before AS
               SELECT user_id, uuid, xmin::text AS version FROM health_samples"""
        )

    def written(self) -> int:
        row = self._conn.execute(
            """SELECT count(*) FROM health_samples h
               LEFT JOIN bench_versions_before b USING (user_id, uuid)
               WHERE b.version IS DISTINCT FROM h.xmin::text"""
        ).fetchone()
        assert row is not None
        return int(row[0])
