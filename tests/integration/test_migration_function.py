"""The migration function as CloudFormation runs it on every deploy: a custom resource request
in, a response PUT to the presigned URL out, and the schema migrated by the runner the tests
use. Credentials come from a (moto) Secrets Manager secret shaped like Aurora's managed master
secret (username and password only) and DB_HOST/DB_PORT, as in AWS; the database is a fresh,
empty one on the test PostgreSQL server.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from hksync.db import connection
from hksync.db.migrate import available_migrations
from hksync.settings import settings_for
from hksync_tools.local.functions import FakeLambdaContext, load_handler

FUNCTION_DIR = Path(__file__).resolve().parents[2] / "functions" / "migrate"
STACK_ID = "arn:aws:cloudformation:eu-central-1:123456789012:stack/hksync-dev/5b1c1c70-d1f2"


class ResponseRecorder:
    """Stands in for the presigned S3 URL CloudFormation waits on: records every PUT."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], dict[str, Any]]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:
                length = int(self.headers["Content-Length"])
                body = json.loads(self.rfile.read(length))
                recorder.requests.append((dict(self.headers), body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/cloudformation-response?X-Amz-Signature=abc"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def responses() -> Iterator[ResponseRecorder]:
    recorder = ResponseRecorder()
    yield recorder
    recorder.stop()


@pytest.fixture
def empty_database(postgres_server_url: str, worker_id: str) -> Iterator[dict[str, Any]]:
    """A new database with no schema at all, as Aurora is before the first deploy."""
    name = f"hksync_migrate_{worker_id}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield {**conninfo_to_dict(postgres_server_url), "dbname": name}
    with psycopg.connect(postgres_server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def migration_function(
    aws: None, empty_database: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """The deployed handler, with the environment template.yaml gives it and a secret that
    holds only the credentials (host, port and database come from DB_HOST/DB_PORT/DB_NAME)."""
    secret = boto3.client("secretsmanager").create_secret(
        Name="hksync-dev-master",
        SecretString=json.dumps(
            {
                "username": empty_database["user"],
                "password": empty_database.get("password", ""),
            }
        ),
    )
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("STAGE", "dev")
    monkeypatch.setenv("DB_SECRET_ARN", secret["ARN"])
    monkeypatch.setenv("DB_HOST", empty_database["host"])
    monkeypatch.setenv("DB_PORT", str(empty_database.get("port", 5432)))
    monkeypatch.setenv("DB_NAME", empty_database["dbname"])
    settings_for.cache_clear()
    connection.conninfo.cache_clear()
    yield load_handler(FUNCTION_DIR, "app.handler")
    settings_for.cache_clear()
    connection.conninfo.cache_clear()


def request(kind: str, url: str, **extra: Any) -> dict[str, Any]:
    """A CloudFormation custom resource request for DatabaseSchema."""
    return {
        "RequestType": kind,
        "ServiceToken": "arn:aws:lambda:eu-central-1:123456789012:function:hksync-dev-migrate",
        "ResponseURL": url,
        "StackId": STACK_ID,
        "RequestId": str(uuid.uuid4()),
        "LogicalResourceId": "DatabaseSchema",
        "ResourceType": "Custom::DatabaseMigrations",
        "ResourceProperties": {
            "ServiceToken": "arn:aws:lambda:eu-central-1:123456789012:function:hksync-dev-migrate",
            "SharedCodeVersion": "arn:aws:lambda:eu-central-1:123456789012:layer:hksync:7",
        },
        **extra,
    }


def tables(database: dict[str, Any]) -> set[str]:
    with psycopg.connect(**database) as conn:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall()
    return {row[0] for row in rows}


def test_create_migrates_the_empty_database_and_answers_success(
    migration_function: Any, responses: ResponseRecorder, empty_database: dict[str, Any]
) -> None:
    create = request("Create", responses.url)

    result = migration_function(create, FakeLambdaContext("migrate"))

    assert result["status"] == "SUCCESS"
    ((headers, body),) = responses.requests
    assert body == {
        "Status": "SUCCESS",
        "Reason": "",
        "PhysicalResourceId": "hksync-database-schema",
        "StackId": STACK_ID,
        "RequestId": create["RequestId"],
        "LogicalResourceId": "DatabaseSchema",
        "NoEcho": False,
        "Data": {"Applied": str(len(available_migrations()))},
    }
    # The presigned URL is signed without a content type.
    assert headers.get("Content-Type", "") == ""
    assert {"schema_migrations", "health_samples", "sync_sessions"} <= tables(empty_database)


def test_an_update_runs_again_safely_and_keeps_the_resource(
    migration_function: Any, responses: ResponseRecorder, empty_database: dict[str, Any]
) -> None:
    migration_function(request("Create", responses.url), FakeLambdaContext("migrate"))
    before = tables(empty_database)
    update = request(
        "Update",
        responses.url,
        PhysicalResourceId="hksync-database-schema",
        OldResourceProperties={},
    )

    migration_function(update, FakeLambdaContext("migrate"))

    _, body = responses.requests[-1]
    assert body["Status"] == "SUCCESS"
    assert body["Data"] == {"Applied": "0"}  # everything was applied already
    assert body["PhysicalResourceId"] == "hksync-database-schema"  # no replacement
    assert tables(empty_database) == before


def test_delete_never_drops_anything(
    migration_function: Any, responses: ResponseRecorder, empty_database: dict[str, Any]
) -> None:
    migration_function(request("Create", responses.url), FakeLambdaContext("migrate"))
    before = tables(empty_database)
    delete = request("Delete", responses.url, PhysicalResourceId="hksync-database-schema")

    migration_function(delete, FakeLambdaContext("migrate"))

    _, body = responses.requests[-1]
    assert body["Status"] == "SUCCESS"
    assert tables(empty_database) == before


def test_a_failure_is_reported_to_cloudformation_instead_of_hanging_the_deploy(
    migration_function: Any, responses: ResponseRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DB_NAME", "no_such_database")
    settings_for.cache_clear()
    connection.conninfo.cache_clear()

    result = migration_function(request("Create", responses.url), FakeLambdaContext("migrate"))

    assert result["status"] == "FAILED"
    ((_, body),) = responses.requests
    assert body["Status"] == "FAILED"
    assert "no_such_database" in body["Reason"]
    assert body["PhysicalResourceId"] == "hksync-database-schema"


def test_a_configuration_error_is_reported_too(
    migration_function: Any, responses: ResponseRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DB_SECRET_ARN")
    settings_for.cache_clear()

    migration_function(request("Create", responses.url), FakeLambdaContext("migrate"))

    ((_, body),) = responses.requests
    assert body["Status"] == "FAILED"
    assert "DB_SECRET_ARN" in body["Reason"]


def test_a_direct_invocation_migrates_and_returns_what_it_applied(
    migration_function: Any, responses: ResponseRecorder
) -> None:
    # What an operator runs: `aws lambda invoke --function-name <MigrationFunctionName>`.
    first = migration_function({}, FakeLambdaContext("migrate"))
    second = migration_function({}, FakeLambdaContext("migrate"))

    assert first == {"applied": [migration.name for migration in available_migrations()]}
    assert second == {"applied": []}
    assert responses.requests == []
