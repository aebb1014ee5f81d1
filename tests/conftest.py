"""Fixtures shared by every tier: a real PostgreSQL and moto-faked AWS.

The database is an embedded PostgreSQL started by the test session itself (pgserver, from
PyPI), one per xdist worker, so a fresh machine needs no service. Set DATABASE_URL to run
against another server instead: each worker then creates its own database on it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest
from moto import mock_aws
from psycopg import sql

from hksync.db.migrate import migrate

TEST_BUCKET = "hksync-raw-test"
#: The change-event bus (template.yaml's ChangeEventBus).
TEST_EVENT_BUS = "hksync-changes-test"
TABLES_TO_RESET = (
    "rejected_samples",
    "health_samples",
    "sources",
    "daily_summaries",
    "source_priorities",
    "sync_chunks",
    "sync_anchors",
    "sync_sessions",
    "reminder_deliveries",
    "reminders",
    "erasures",
)


def _with_database(url: str, dbname: str) -> str:
    return psycopg.conninfo.make_conninfo(url, dbname=dbname)


@pytest.fixture(scope="session")
def postgres_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a PostgreSQL server this session may create databases on."""
    external = os.environ.get("DATABASE_URL")
    if external:
        yield external
        return
    import pgserver

    data_dir = Path(tmp_path_factory.mktemp("pgdata"))
    server = pgserver.get_server(data_dir, cleanup_mode="stop")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()


@pytest.fixture(scope="session")
def migrated_database_url(postgres_server_url: str, worker_id: str) -> str:
    """A freshly created, fully migrated database for this worker."""
    dbname = f"hksync_test_{worker_id}"
    with psycopg.connect(postgres_server_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    url = _with_database(postgres_server_url, dbname)
    migrate(url)
    return url


@pytest.fixture
def database_url(migrated_database_url: str) -> str:
    """The migrated test database, emptied before the test runs."""
    with psycopg.connect(migrated_database_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("TRUNCATE {} CASCADE").format(
                sql.SQL(", ").join(sql.Identifier(table) for table in TABLES_TO_RESET)
            )
        )
    return migrated_database_url


@pytest.fixture
def db(database_url: str) -> Iterator[psycopg.Connection]:
    """A connection to the emptied test database, for arranging and asserting state."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials so that nothing can ever reach a real account."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


@pytest.fixture
def aws(aws_credentials: None) -> Iterator[None]:
    """moto in-process for every AWS API, with the raw bucket and the change-event bus."""
    with mock_aws():
        boto3.client("s3").create_bucket(Bucket=TEST_BUCKET)
        boto3.client("events").create_event_bus(Name=TEST_EVENT_BUS)
        yield


_TIER_OF_FOLDER = {
    "unit": "unit",
    "infrastructure": "unit",
    "integration": "integration",
    "e2e": "e2e",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Marks each test with its tier from its folder, so `pytest -m unit` selects a tier."""
    tests_root = Path(__file__).parent
    for item in items:
        folder = item.path.relative_to(tests_root).parts[0]
        if folder in _TIER_OF_FOLDER:
            item.add_marker(getattr(pytest.mark, _TIER_OF_FOLDER[folder]))


@pytest.fixture
def pipeline_env(aws: None, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The environment template.yaml gives the functions, pointed at moto and the test DB."""
    from hksync.aws import clients as aws_clients
    from hksync.db import connection
    from hksync.settings import settings_for

    monkeypatch.setenv("STAGE", "local")
    monkeypatch.setenv("RAW_BUCKET", TEST_BUCKET)
    monkeypatch.setenv("EVENT_BUS_NAME", TEST_EVENT_BUS)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "hksync")
    settings_for.cache_clear()
    aws_clients.reset_clients()
    yield
    connection.close()
    settings_for.cache_clear()
    aws_clients.reset_clients()


@pytest.fixture
def pipeline(pipeline_env: None) -> Any:
    """The three functions, loaded as Lambda would, over moto S3 and the test database."""
    from tests.support.pipeline import Pipeline

    return Pipeline(TEST_BUCKET)
