"""Versioned SQL migrations, safe to run twice and from several processes at once.

Each file in ``migrations/`` (``NNNN_name.sql``) is applied once, in order, in its own
transaction, under a session-level advisory lock so that concurrent runners queue instead of
racing. A file that changed after it was applied is refused: migrations are append-only.
The runner can wait for a server that is not ready yet (a deploy that wakes a paused cluster).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from typing import Final

from hksync.db.connection import connect_when_ready

#: Arbitrary, fixed key for pg_advisory_lock ("hksync" in ASCII).
MIGRATION_LOCK_KEY: Final = 0x68_6B_73_79_6E_63
_FILE_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class MigrationError(RuntimeError):
    """The database's migration history does not match the files."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def available_migrations() -> list[Migration]:
    folder = resources.files("hksync.db") / "migrations"
    migrations = []
    for entry in folder.iterdir():
        match = _FILE_NAME.match(entry.name)
        if match:
            migrations.append(Migration(int(match[1]), entry.name, entry.read_text("utf-8")))
    return sorted(migrations, key=lambda migration: migration.version)


def migrate(conninfo: str, *, wait_for_server_s: float = 0) -> list[str]:
    """Brings the database up to date; returns the names of the migrations it applied.

    A server that is unreachable or starting is tried again for up to ``wait_for_server_s``.
    """
    applied_now: list[str] = []
    with connect_when_ready(conninfo, wait_s=wait_for_server_s) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
        try:
            conn.execute(
                """CREATE TABLE IF NOT EXISTS schema_migrations (
                       version    integer PRIMARY KEY,
                       name       text NOT NULL,
                       checksum   text NOT NULL,
                       applied_at timestamptz NOT NULL DEFAULT now())"""
            )
            done = {
                version: (name, checksum)
                for version, name, checksum in conn.execute(
                    "SELECT version, name, checksum FROM schema_migrations"
                )
            }
            for migration in available_migrations():
                if migration.version in done:
                    name, checksum = done[migration.version]
                    if checksum != migration.checksum:
                        raise MigrationError(
                            f"{migration.name} changed after it was applied as {name}; "
                            "add a new migration instead"
                        )
                    continue
                with conn.transaction():
                    conn.execute(migration.sql.encode())
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name, checksum) "
                        "VALUES (%s, %s, %s)",
                        (migration.version, migration.name, migration.checksum),
                    )
                applied_now.append(migration.name)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))
    return applied_now
