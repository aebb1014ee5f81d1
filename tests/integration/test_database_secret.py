"""Connecting with Aurora's managed master secret (moto Secrets Manager, the test PostgreSQL):
the secret holds only the credentials, DB_HOST says where to connect, and a rotated password
is picked up by a warm process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from psycopg.conninfo import conninfo_to_dict

from hksync.db import connection
from hksync.settings import RDS_CA_BUNDLE, ConfigurationError, QuerySettings, load_settings


@pytest.fixture
def secret_settings(
    aws: None, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, Any]]:
    """The environment the template gives a database function, with a managed-style secret."""
    database = conninfo_to_dict(database_url)
    secret = boto3.client("secretsmanager").create_secret(
        Name="hksync-test-master",
        SecretString=json.dumps({"username": database["user"], "password": "first"}),
    )
    monkeypatch.delenv("DATABASE_URL", raising=False)
    for name, value in {
        "STAGE": "dev",
        "RAW_BUCKET": "hksync-raw-test",
        "DB_SECRET_ARN": secret["ARN"],
        "DB_HOST": database["host"],
        "DB_PORT": str(database.get("port", 5432)),
        "DB_NAME": database["dbname"],
    }.items():
        monkeypatch.setenv(name, value)
    connection.close()
    connection.conninfo.cache_clear()
    yield {"database": database, "secret_arn": secret["ARN"]}
    connection.close()
    connection.conninfo.cache_clear()


def test_the_managed_secret_and_db_host_make_the_connection(
    secret_settings: dict[str, Any],
) -> None:
    settings = load_settings(QuerySettings)
    info = conninfo_to_dict(connection.conninfo(settings))

    assert info["host"] == secret_settings["database"]["host"]
    assert info["dbname"] == secret_settings["database"]["dbname"]
    # Verified TLS by default, against the RDS bundle the layer ships (issue 17).
    assert info["sslmode"] == "verify-full"
    assert info["sslrootcert"] == str(RDS_CA_BUNDLE)
    assert connection.connection(settings).execute("SELECT 1").fetchone() == (1,)


def test_without_db_host_a_secret_without_host_is_a_clear_error(
    secret_settings: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DB_HOST")
    with pytest.raises(ConfigurationError, match="DB_HOST: missing"):
        connection.conninfo(load_settings(QuerySettings))


def test_a_warm_process_picks_up_a_rotated_secret(secret_settings: dict[str, Any]) -> None:
    secrets = boto3.client("secretsmanager")
    real_user = secret_settings["database"]["user"]
    secrets.put_secret_value(
        SecretId=secret_settings["secret_arn"],
        SecretString=json.dumps({"username": "no_such_role", "password": "old"}),
    )
    settings = load_settings(QuerySettings)
    connection.conninfo(settings)  # this process read the secret before the rotation
    secrets.put_secret_value(
        SecretId=secret_settings["secret_arn"],
        SecretString=json.dumps({"username": real_user, "password": "new"}),
    )

    conn = connection.connection(settings)

    assert conn.execute("SELECT session_user").fetchone() == (real_user,)
