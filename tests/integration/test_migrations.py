from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from psycopg import sql

from hksync.db.migrate import MigrationError, available_migrations, migrate


@pytest.fixture
def empty_database_url(postgres_server_url: str, worker_id: str) -> str:
    dbname = f"hksync_migrations_{worker_id}"
    with psycopg.connect(postgres_server_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    return psycopg.conninfo.make_conninfo(postgres_server_url, dbname=dbname)


def _schema(url: str) -> list[tuple[str, str, str]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'public' ORDER BY table_name, column_name"
        ).fetchall()


def test_running_twice_applies_each_migration_once(empty_database_url: str) -> None:
    first = migrate(empty_database_url)
    schema_after_first = _schema(empty_database_url)

    second = migrate(empty_database_url)

    assert first == [migration.name for migration in available_migrations()]
    assert second == []
    assert _schema(empty_database_url) == schema_after_first


def test_concurrent_runners_leave_one_correct_schema(empty_database_url: str) -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(migrate, [empty_database_url] * 4))

    applied = [name for result in results for name in result]
    assert sorted(applied) == sorted(migration.name for migration in available_migrations())
    with psycopg.connect(empty_database_url) as conn:
        versions = conn.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()
    assert [version for (version,) in versions] == [m.version for m in available_migrations()]
    tables = {table for table, _, _ in _schema(empty_database_url)}
    assert {"health_samples", "sync_sessions", "sync_chunks", "sync_anchors"} <= tables


def test_an_edited_migration_is_refused(empty_database_url: str) -> None:
    migrate(empty_database_url)
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        conn.execute("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1")

    with pytest.raises(MigrationError, match="changed after it was applied"):
        migrate(empty_database_url)
