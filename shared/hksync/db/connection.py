"""The one place database connections are made: one per process, opened lazily, reused across
invocations, and checked before each reuse: one that the server dropped while the function was
idle (a restart, an Aurora failover or scaling, an idle timeout) is replaced before the request
uses it, so the request never meets it.

Connections made with the Secrets Manager secret use TLS as DB_SSLMODE says: verify-full (the
default) checks the server's certificate against the RDS CA bundle shipped in the layer and its
name against the host. The migration, which may be the first to reach a paused Aurora
Serverless v2 cluster, connects with :func:`connect_when_ready`.

Each function works as its database role (``database_role`` of its settings; 0009 and
docs/adr/0005): a connection takes it with SET ROLE as soon as it is made, one connection per
role, so that functions sharing a process (the local stack, the tests) never share a role. Row
level security shows a session only the rows of the user it acts for (:func:`act_for`); every
checkout clears that, so a warm connection never carries one invocation's user into the next.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from functools import cache
from typing import Final

import boto3
import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo
from psycopg.pq import PGconn, Ping, TransactionStatus
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_before_delay,
    wait_exponential_jitter,
)

from hksync.settings import ConfigurationError, DatabaseSettings

#: A child of Powertools' "hksync" logger, so its lines are the functions' JSON lines.
_log = logging.getLogger(__name__)
#: Waits between attempts while the server is not ready: 1 s, doubling up to 8 s, each plus up
#: to 1 s of jitter, so that functions waking one cluster do not retry in step.
_FIRST_WAIT_S: Final = 1.0
_LONGEST_WAIT_S: Final = 8.0
_NOT_READY: Final = frozenset({Ping.REJECT, Ping.NO_RESPONSE})

#: The setting every per-user table's policy compares user_id with (0009_roles_and_rls.sql).
USER_SETTING: Final = "hksync.user_id"

#: This process's connections, one per database role (None: the one it signs in as).
_connections: dict[str | None, psycopg.Connection] = {}


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
    # libpq reads sslrootcert in require mode too (and then verifies like verify-ca): give it
    # only where the certificate is to be checked, so that require means what it says.
    verification = (
        {"sslrootcert": str(settings.db_ssl_root_cert)}
        if settings.db_sslmode == "verify-full"
        else {}
    )
    return make_conninfo(
        host=host,
        port=port,
        user=fields["username"],
        password=fields["password"],
        dbname=fields.get("dbname", settings.db_name),
        sslmode=settings.db_sslmode,
        **verification,
        connect_timeout=settings.db_connect_timeout_s,
        application_name=f"hksync-{settings.stage}",
    )


def connection(settings: DatabaseSettings) -> psycopg.Connection:
    """This process's connection for the settings' role: alive (checked just now), outside any
    transaction, and acting for no user until :func:`act_for` names one."""
    role = settings.database_role
    conn = _connections.get(role)
    if conn is not None and not _is_alive(conn):
        conn.close()
        del _connections[role]
        conn = None
    if conn is None:
        conn = _connections[role] = _connect(settings)
    return conn


def act_for(conn: psycopg.Connection, user_id: str | None) -> None:
    """From now on this session reads and writes only the rows of ``user_id`` (None: nobody's),
    until the next call or checkout. For the verified user of the work at hand, before it
    starts: called inside a transaction, the setting would go with that transaction's rollback.

    A session setting, not SET LOCAL, because the functions' reads run in autocommit; so the
    connection must never be shared by a pooler that multiplexes transactions (ADR 0005)."""
    conn.execute("SELECT set_config(%s, %s, false)", (USER_SETTING, user_id or ""))


def _is_alive(conn: psycopg.Connection) -> bool:
    """One round trip, the check psycopg_pool's ConnectionPool.check_connection makes (here by
    hand: a pool of one per Lambda process would add its worker threads and nothing else), that
    also clears the user the last invocation acted for. A dropped connection fails it, and
    psycopg marks it broken."""
    if conn.closed or conn.broken:
        return False
    if conn.info.transaction_status != TransactionStatus.IDLE:
        return False  # left inside a transaction by a failed invocation: start clean
    try:
        act_for(conn, None)
    except psycopg.Error:
        return False
    return True


def _connect(settings: DatabaseSettings) -> psycopg.Connection:
    # Autocommit: every write goes through an explicit transaction() block, and reads do not
    # leave a transaction open between invocations.
    try:
        conn = psycopg.connect(conninfo(settings), autocommit=True)
    except psycopg.OperationalError:
        if settings.database_url:
            raise
        # RDS rotates the managed master password (every 7 days by default): a warm process
        # still holds the old one. Read the secret again, once, before giving up.
        conninfo.cache_clear()
        conn = psycopg.connect(conninfo(settings), autocommit=True)
    if settings.database_role is not None:
        # Signed in as the role itself this changes nothing; signed in as the owner (a member
        # of every function role) it drops everything the role does not hold.
        conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(settings.database_role)))
    return conn


def connect_when_ready(
    conninfo: str, *, wait_s: float, sleep: Callable[[float], None] = time.sleep
) -> psycopg.Connection:
    """An autocommit connection, tried again for up to ``wait_s`` while the server is not ready.

    Not ready is what libpq's PQping (pg_isready) calls no response (refused, timed out: a
    paused Aurora Serverless v2 instance takes 15-30 s to resume) or reject (starting up). A
    server that answers and refuses these credentials or this database fails at once: waiting
    would not change its answer. ``sleep`` is how the waits are spent.
    """

    def not_ready(error: BaseException) -> bool:
        return isinstance(error, psycopg.OperationalError) and (
            PGconn.ping(conninfo.encode()) in _NOT_READY
        )

    retrying = Retrying(
        retry=retry_if_exception(not_ready),
        stop=stop_before_delay(wait_s),
        wait=wait_exponential_jitter(initial=_FIRST_WAIT_S, max=_LONGEST_WAIT_S),
        sleep=sleep,
        before_sleep=_log_retry,
        reraise=True,
    )
    return retrying(psycopg.connect, conninfo, autocommit=True)


def _log_retry(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    _log.warning(
        "database not ready, connecting again",
        extra={
            "attempt": state.attempt_number,
            "error": type(error).__name__,
            "next_attempt_in_s": round(state.upcoming_sleep, 1),
        },
    )


def close() -> None:
    while _connections:
        _connections.popitem()[1].close()
