"""The one place database connections are made: one per process, opened lazily, reused across
invocations, and checked before each reuse: one that the server dropped while the function was
idle (a restart, an Aurora failover or scaling, an idle timeout) is replaced before the request
uses it, so the request never meets it."""

from __future__ import annotations

import json
from functools import cache

import boto3
import psycopg
from psycopg.conninfo import make_conninfo
from psycopg.pq import TransactionStatus

from hksync.settings import ConfigurationError, DatabaseSettings

_connection: psycopg.Connection | None = None


@cache
def conninfo(settings: DatabaseSettings) -> str:
    """libpq connection string: DATABASE_URL as is, or built from the Secrets Manager secret."""
    if settings.database_url:
        return make_conninfo(settings.database_url, connect_timeout=settings.db_connect_timeout_s)
    secret = boto3.client("secretsmanager").get_secret_value(SecretId=settings.db_secret_arn or "")
    fields = json.loads(secret["SecretString"])
    # DB_HOST/DB_PORT first: Aurora's managed master secret holds only the credentials, and
    # the endpoint may be the RDS Proxy in front of the cluster rather than the cluster itself.
    if settings.db_host:
        host, port = settings.db_host, settings.db_port
    elif fields.get("host"):
        host, port = fields["host"], int(fields.get("port", settings.db_port))
    else:
        raise ConfigurationError(
            f"{type(settings).__name__}: DB_HOST: missing: the database secret has no host; "
            "set DB_HOST to the cluster or proxy endpoint"
        )
    return make_conninfo(
        host=host,
        port=port,
        user=fields["username"],
        password=fields["password"],
        dbname=fields.get("dbname", settings.db_name),
        sslmode="require",
        connect_timeout=settings.db_connect_timeout_s,
        application_name=f"hksync-{settings.stage}",
    )


def connection(settings: DatabaseSettings) -> psycopg.Connection:
    """This process's connection, alive (checked just now) and outside any transaction."""
    global _connection
    if _connection is not None and not _is_alive(_connection):
        _connection.close()
        _connection = None
    if _connection is None:
        _connection = _connect(settings)
    return _connection


def _is_alive(conn: psycopg.Connection) -> bool:
    """One round trip of an empty query, the check psycopg_pool's ConnectionPool.check_connection
    makes (here by hand: a pool of one per Lambda process would add its worker threads and
    nothing else). A dropped connection fails it, and psycopg marks it broken."""
    if conn.closed or conn.broken:
        return False
    if conn.info.transaction_status != TransactionStatus.IDLE:
        return False  # left inside a transaction by a failed invocation: start clean
    try:
        conn.execute("")
    except psycopg.Error:
        return False
    return True


def _connect(settings: DatabaseSettings) -> psycopg.Connection:
    # Autocommit: every write goes through an explicit transaction() block, and reads do not
    # leave a transaction open between invocations.
    try:
        return psycopg.connect(conninfo(settings), autocommit=True)
    except psycopg.OperationalError:
        if settings.database_url:
            raise
        # RDS rotates the managed master password (every 7 days by default): a warm process
        # still holds the old one. Read the secret again, once, before giving up.
        conninfo.cache_clear()
        return psycopg.connect(conninfo(settings), autocommit=True)


def close() -> None:
    global _connection
    if _connection is not None:
        _connection.close()
        _connection = None
