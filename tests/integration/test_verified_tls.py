"""sslmode=verify-full really verifies: the embedded PostgreSQL, behind TLS with a certificate
from a throwaway CA (trustme), and the functions' connection path (the managed-style secret in
moto, DB_HOST, DB_SSLMODE, DB_SSL_ROOT_CERT) connects only when the CA and the host name match,
the way it checks Aurora against the RDS bundle in AWS."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import psycopg
import pytest
import trustme
from psycopg.conninfo import conninfo_to_dict

from hksync.db import connection
from hksync.settings import QuerySettings, load_settings
from tests.support.tls_front import TlsFront

#: The name the server's certificate is issued for; libpq checks it against DB_HOST.
SERVER_NAME = "localhost"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def tls_front(ca: trustme.CA, postgres_server_url: str) -> Iterator[TlsFront]:
    info = conninfo_to_dict(postgres_server_url)
    unix_socket = Path(str(info["host"])) / f".s.PGSQL.{info.get('port', 5432)}"
    front = TlsFront(unix_socket, ca.issue_cert(SERVER_NAME))
    yield front
    front.close()


@pytest.fixture
def tls_settings(
    aws: None,
    tls_front: TlsFront,
    ca: trustme.CA,
    postgres_server_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Path]:
    """The environment a deployed database function has, pointed at the TLS server; yields
    the path of the CA file the test may replace."""
    secret = boto3.client("secretsmanager").create_secret(
        Name="hksync-tls-master",
        SecretString=json.dumps(
            {"username": conninfo_to_dict(postgres_server_url)["user"], "password": ""}
        ),
    )
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    for name, value in {
        "STAGE": "prod",
        "RAW_BUCKET": "hksync-raw-test",
        "DB_SECRET_ARN": secret["ARN"],
        "DB_HOST": SERVER_NAME,
        "DB_PORT": str(tls_front.port),
        "DB_NAME": str(conninfo_to_dict(postgres_server_url)["dbname"]),
        "DB_SSL_ROOT_CERT": str(ca_file),
        # TLS from the first byte, as the front speaks it; the conninfo is the functions' own.
        "PGSSLNEGOTIATION": "direct",
    }.items():
        monkeypatch.setenv(name, value)
    connection.close()
    connection.conninfo.cache_clear()
    yield ca_file
    connection.close()
    connection.conninfo.cache_clear()


def _connect() -> psycopg.Connection:
    return connection.connection(load_settings(QuerySettings))


def test_verify_full_connects_over_tls_to_the_server_the_ca_vouches_for(
    tls_settings: Path,
) -> None:
    conn = _connect()

    assert conn.pgconn.ssl_in_use
    assert conn.info.host == SERVER_NAME
    assert conn.execute("SELECT 1").fetchone() == (1,)


def test_a_server_certificate_from_another_ca_is_refused(tls_settings: Path) -> None:
    trustme.CA().cert_pem.write_to_path(str(tls_settings))

    with pytest.raises(psycopg.OperationalError, match="certificate verify failed"):
        _connect()


def test_a_certificate_for_another_host_name_is_refused(
    tls_settings: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DB_HOST", "127.0.0.1")  # the same server, by a name it was not issued for

    with pytest.raises(psycopg.OperationalError, match="does not match host name"):
        _connect()


def test_require_encrypts_without_verifying(
    tls_settings: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trustme.CA().cert_pem.write_to_path(str(tls_settings))
    monkeypatch.setenv("DB_SSLMODE", "require")

    assert _connect().pgconn.ssl_in_use


def test_the_deployed_default_verifies_against_the_rds_bundle(
    tls_settings: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The RDS CAs did not sign this server's certificate: verify-full with the shipped bundle
    # refuses it, which is what it must do for anything but Aurora (or RDS Proxy).
    monkeypatch.delenv("DB_SSL_ROOT_CERT")
    settings = load_settings(QuerySettings)
    assert settings.db_sslmode == "verify-full"

    with pytest.raises(psycopg.OperationalError, match="certificate verify failed"):
        connection.connection(settings)
