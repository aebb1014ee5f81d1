"""The one place database connections are made: one per process, opened lazily, reused across
invocations and reopened when it broke (Aurora scaling, a failover, an idle timeout)."""

from __future__ import annotations

import json
from functools import cache

import boto3
import psycopg
from psycopg.conninfo import make_conninfo

from hksync.settings import DatabaseSettings

_connection: psycopg.Connection | None = None


@cache
def conninfo(settings: DatabaseSettings) -> str:
    """libpq connection string: DATABASE_URL as is, or built from the Secrets Manager secret."""
    if settings.database_url:
        return make_conninfo(settings.database_url, connect_timeout=settings.db_connect_timeout_s)
    secret = boto3.client("secretsmanager").get_secret_value(SecretId=settings.db_secret_arn or "")
    fields = json.loads(secret["SecretString"])
    return make_conninfo(
        host=fields["host"],
        port=fields.get("port", 5432),
        user=fields["username"],
        password=fields["password"],
        dbname=fields.get("dbname", settings.db_name),
        sslmode="require",
        connect_timeout=settings.db_connect_timeout_s,
        application_name=f"hksync-{settings.stage}",
    )


def connection(settings: DatabaseSettings) -> psycopg.Connection:
    """This process's connection, healthy and outside any transaction."""
    global _connection
    if _connection is None or _connection.closed or _connection.broken:
        # Autocommit: every write goes through an explicit transaction() block, and reads do
        # not leave a transaction open between invocations.
        _connection = psycopg.connect(conninfo(settings), autocommit=True)
    return _connection


def close() -> None:
    global _connection
    if _connection is not None:
        _connection.close()
        _connection = None
