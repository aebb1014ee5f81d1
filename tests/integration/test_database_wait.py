"""The migration waits for a database that is not ready yet, as a deploy that wakes a paused
Aurora Serverless v2 cluster must (issue 17: one attempt with a 5 s timeout rolled the deploy
back). The server is the embedded PostgreSQL behind a loopback port that refuses connections
until the test opens it; the checks are on attempts and outcomes, never on elapsed time."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from hksync.db import connection
from hksync.db.connection import connect_when_ready
from hksync.db.migrate import available_migrations
from hksync.settings import settings_for
from hksync_tools.local.functions import FakeLambdaContext, load_handler
from tests.integration.test_migration_function import (
    FUNCTION_DIR,
    ResponseRecorder,
    request,
    tables,
)
from tests.support.late_port import LatePort


def _unix_socket(server_url: str) -> Path:
    info = conninfo_to_dict(server_url)
    return Path(str(info["host"])) / f".s.PGSQL.{info.get('port', 5432)}"


@pytest.fixture
def late_port(postgres_server_url: str) -> Iterator[LatePort]:
    port = LatePort(_unix_socket(postgres_server_url))
    yield port
    port.close()


def _over_tcp(server_url: str, port: LatePort, **extra: Any) -> str:
    info = conninfo_to_dict(server_url)
    return make_conninfo(
        host="127.0.0.1",
        port=port.port,
        user=info["user"],
        dbname=info["dbname"],
        sslmode="disable",
        connect_timeout=2,
        **extra,
    )


def test_a_server_that_becomes_reachable_is_connected_to_after_backing_off(
    postgres_server_url: str, late_port: LatePort
) -> None:
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 2:  # unreachable for two attempts, reachable on the third
            late_port.open()

    with connect_when_ready(
        _over_tcp(postgres_server_url, late_port), wait_s=60, sleep=sleep
    ) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
        assert conn.autocommit

    assert len(waits) == 2
    # 1 s, then 2 s, each with up to 1 s of jitter.
    assert 1 <= waits[0] <= 2
    assert 2 <= waits[1] <= 3


def test_a_server_that_answers_no_is_not_asked_again(postgres_server_url: str) -> None:
    waits: list[float] = []
    wrong_database = make_conninfo(postgres_server_url, dbname="no_such_database")

    with pytest.raises(psycopg.OperationalError, match="no_such_database"):
        connect_when_ready(wrong_database, wait_s=60, sleep=waits.append)

    assert waits == []  # it is up and refuses: waiting would not change its answer


def test_without_a_wait_a_closed_port_fails_on_the_first_attempt(
    postgres_server_url: str, late_port: LatePort
) -> None:
    waits: list[float] = []

    with pytest.raises(psycopg.OperationalError, match="Connection refused"):
        connect_when_ready(_over_tcp(postgres_server_url, late_port), wait_s=0, sleep=waits.append)

    assert waits == []


class _OpensOnRetry(logging.Handler):
    """Opens the port when the migration says it will try again: the server comes up while
    the function waits, at whatever moment that is."""

    def __init__(self, port: LatePort) -> None:
        super().__init__(logging.WARNING)
        self.port = port
        self.retries: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.retries.append({"attempt": record.attempt, "error": record.error})  # type: ignore[attr-defined]
        self.port.open()


@pytest.fixture
def retry_log(late_port: LatePort) -> Iterator[_OpensOnRetry]:
    handler = _OpensOnRetry(late_port)
    log = logging.getLogger("hksync.db.connection")
    log.addHandler(handler)
    yield handler
    log.removeHandler(handler)


@pytest.fixture
def empty_database(postgres_server_url: str, worker_id: str) -> Iterator[str]:
    """A new database with no schema, as Aurora's is before the first deploy."""
    name = f"hksync_wait_{worker_id}"
    with psycopg.connect(postgres_server_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield name
    with psycopg.connect(postgres_server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def migration_function(
    aws: None,
    postgres_server_url: str,
    empty_database: str,
    late_port: LatePort,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Any]:
    """The deployed handler with the managed-style secret, pointed at the late port (plain TCP
    to the embedded server, which has no TLS: the local stage, the one that may disable it)."""
    secret = boto3.client("secretsmanager").create_secret(
        Name="hksync-wait-master",
        SecretString=json.dumps(
            {"username": conninfo_to_dict(postgres_server_url)["user"], "password": ""}
        ),
    )
    monkeypatch.delenv("DATABASE_URL", raising=False)
    for name, value in {
        "STAGE": "local",
        "DB_SECRET_ARN": secret["ARN"],
        "DB_HOST": "127.0.0.1",
        "DB_PORT": str(late_port.port),
        "DB_NAME": empty_database,
        "DB_SSLMODE": "disable",
        "DB_CONNECT_TIMEOUT_S": "2",
    }.items():
        monkeypatch.setenv(name, value)
    settings_for.cache_clear()
    connection.conninfo.cache_clear()
    yield load_handler(FUNCTION_DIR, "app.handler")
    settings_for.cache_clear()
    connection.conninfo.cache_clear()


@pytest.fixture
def responses() -> Iterator[ResponseRecorder]:
    recorder = ResponseRecorder()
    yield recorder
    recorder.stop()


def test_the_migration_function_waits_for_the_database_and_migrates(
    migration_function: Any,
    responses: ResponseRecorder,
    retry_log: _OpensOnRetry,
    postgres_server_url: str,
    empty_database: str,
) -> None:
    result = migration_function(request("Create", responses.url), FakeLambdaContext("migrate"))

    assert result["status"] == "SUCCESS", result
    assert retry_log.retries == [{"attempt": 1, "error": "OperationalError"}]
    ((_, body),) = responses.requests
    assert body["Status"] == "SUCCESS"
    assert body["Data"] == {"Applied": str(len(available_migrations()))}
    assert "schema_migrations" in tables(
        {**conninfo_to_dict(postgres_server_url), "dbname": empty_database}
    )


def test_a_database_that_stays_unreachable_is_a_failed_deploy_with_the_reason(
    migration_function: Any,
    responses: ResponseRecorder,
    late_port: LatePort,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DB_RESUME_WAIT_S", "0")
    settings_for.cache_clear()

    result = migration_function(request("Create", responses.url), FakeLambdaContext("migrate"))

    assert result["status"] == "FAILED"
    ((_, body),) = responses.requests
    assert body["Status"] == "FAILED"
    assert "Connection refused" in body["Reason"]
    assert not late_port.opened.is_set()
