"""The database's TLS and the migration's wait as settings: verify-full against the shipped RDS
bundle unless told otherwise, never unencrypted in a stage that runs in AWS; and the bundle is
the file its README pins."""

from __future__ import annotations

import hashlib
import ssl
from pathlib import Path

import pytest

from hksync.settings import (
    RDS_CA_BUNDLE,
    ConfigurationError,
    MigrationSettings,
    QuerySettings,
    load_settings,
)

SECRET = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:hksync-db-AbCdEf"
#: shared/hksync/certificates/README.md: the whole file, and its first part (AWS's global
#: bundle, byte for byte), which is the first GLOBAL_BUNDLE_BYTES bytes.
BUNDLE_SHA256 = "7dace888be77a3eeb36f43594f249f86b2936b861436686198b340f4ed057d7a"
GLOBAL_BUNDLE_SHA256 = "fefac91d6800404461cece76724bc0a2383f4f556a1c9beb0813fac6f2e1e49f"
GLOBAL_BUNDLE_BYTES = 174_184


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "STAGE": "prod",
        "RAW_BUCKET": "hksync-raw",
        "DB_SECRET_ARN": SECRET,
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("DATABASE_URL", "DB_SSLMODE", "DB_SSL_ROOT_CERT", "DB_RESUME_WAIT_S"):
        monkeypatch.delenv(name, raising=False)


def test_by_default_the_server_is_verified_against_the_shipped_rds_bundle() -> None:
    settings = load_settings(QuerySettings)

    assert settings.db_sslmode == "verify-full"
    assert settings.db_ssl_root_cert == RDS_CA_BUNDLE


@pytest.mark.parametrize("stage", ["dev", "staging", "prod"])
def test_a_deployed_stage_refuses_unencrypted_connections(
    stage: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STAGE", stage)
    monkeypatch.setenv("DB_SSLMODE", "disable")

    with pytest.raises(ConfigurationError, match="DB_SSLMODE: disable is for the local stage"):
        load_settings(QuerySettings)


@pytest.mark.parametrize("mode", ["require", "verify-full"])
def test_a_deployed_stage_may_encrypt_with_or_without_verifying(
    mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DB_SSLMODE", mode)

    assert load_settings(QuerySettings).db_sslmode == mode


def test_the_local_stage_may_disable_tls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STAGE", "local")
    monkeypatch.setenv("DB_SSLMODE", "disable")

    assert load_settings(QuerySettings).db_sslmode == "disable"


def test_a_root_certificate_file_that_does_not_exist_stops_the_cold_start(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DB_SSL_ROOT_CERT", str(tmp_path / "missing.pem"))

    with pytest.raises(ConfigurationError, match="DB_SSL_ROOT_CERT"):
        load_settings(QuerySettings)


def test_the_migration_waits_about_a_minute_for_a_resuming_cluster_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert load_settings(MigrationSettings).db_resume_wait_s == 60
    monkeypatch.setenv("DB_RESUME_WAIT_S", "-1")
    with pytest.raises(ConfigurationError, match="DB_RESUME_WAIT_S"):
        load_settings(MigrationSettings)


def test_the_bundle_is_the_pinned_file() -> None:
    content = RDS_CA_BUNDLE.read_bytes()

    assert hashlib.sha256(content).hexdigest() == BUNDLE_SHA256
    assert hashlib.sha256(content[:GLOBAL_BUNDLE_BYTES]).hexdigest() == GLOBAL_BUNDLE_SHA256


def test_the_bundle_holds_the_rds_and_rds_proxy_authorities() -> None:
    # OpenSSL reads it as libpq will (the cryptography package warns about one of AWS's
    # certificates, whose serial number is not positive).
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cafile=RDS_CA_BUNDLE)
    authorities = context.get_ca_certs()  # certificates that are CAs, and only those
    names = {dict(part[0] for part in ca["subject"])["commonName"] for ca in authorities}

    assert len(authorities) == RDS_CA_BUNDLE.read_text().count("-----BEGIN CERTIFICATE-----")
    assert len(authorities) == 120
    assert "Amazon RDS eu-central-1 Root CA RSA2048 G1" in names
    assert {"Amazon Root CA 1", "Amazon Root CA 4"} <= names
