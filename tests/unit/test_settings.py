"""Settings: a function with a bad environment stops once, naming every problem."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from pydantic import ValidationError

from hksync.contract.models import MAX_CHUNK_ITEMS
from hksync.settings import (
    ConfigurationError,
    IngestSettings,
    ProcessorSettings,
    QuerySettings,
    load_settings,
    settings_for,
)

MODELS: tuple[type[IngestSettings | ProcessorSettings | QuerySettings], ...] = (
    IngestSettings,
    ProcessorSettings,
    QuerySettings,
)
#: Every variable any settings model reads (names are case-insensitive).
VARIABLES = frozenset(name for model in MODELS for name in model.model_fields)

DATABASE_URL = "postgresql://hksync:s3cr3t-pw@db.internal:5432/hksync"
DB_SECRET_ARN = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:hksync-db-AbCdEf"
COMPLETE: dict[type[object], dict[str, str]] = {
    IngestSettings: {"STAGE": "dev", "RAW_BUCKET": "hksync-raw-dev"},
    ProcessorSettings: {
        "STAGE": "dev",
        "RAW_BUCKET": "hksync-raw-dev",
        "DATABASE_URL": DATABASE_URL,
        "EVENT_BUS_NAME": "hksync-changes-dev",
    },
    QuerySettings: {"STAGE": "dev", "RAW_BUCKET": "hksync-raw-dev", "DB_SECRET_ARN": DB_SECRET_ARN},
}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No setting leaks in from the real environment, and no cached settings survive a test."""
    for name in list(os.environ):
        if name.lower() in VARIABLES:
            monkeypatch.delenv(name)
    settings_for.cache_clear()
    yield
    settings_for.cache_clear()


def set_environment(monkeypatch: pytest.MonkeyPatch, variables: dict[str, str]) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)


def problems_of(error: ConfigurationError) -> dict[str, str]:
    """``Model: 2 ... missing or invalid: A: why; B: why`` -> ``{"A": "why", "B": "why"}``."""
    _, separator, listing = str(error).partition(" missing or invalid: ")
    assert separator, str(error)
    return dict(problem.split(": ", 1) for problem in listing.split("; "))


def test_the_cleanup_leaves_no_setting_in_the_environment() -> None:
    assert not {name for name in os.environ if name.lower() in VARIABLES}


@pytest.mark.parametrize(
    ("model", "variables", "expected"),
    [
        pytest.param(
            ProcessorSettings,
            {},
            {
                "STAGE": "missing",
                "RAW_BUCKET": "missing",
                "EVENT_BUS_NAME": "missing",
                "DATABASE_URL": "missing: set DATABASE_URL or DB_SECRET_ARN",
            },
            id="processor-empty",
        ),
        pytest.param(
            ProcessorSettings,
            {"STAGE": "prod"},
            {
                "RAW_BUCKET": "missing",
                "EVENT_BUS_NAME": "missing",
                "DATABASE_URL": "missing: set DATABASE_URL or DB_SECRET_ARN",
            },
            id="processor-stage-only",
        ),
        pytest.param(
            ProcessorSettings,
            {
                "RAW_BUCKET": "hksync-raw-dev",
                "EVENT_BUS_NAME": "hksync-changes-dev",
                "DB_CONNECT_TIMEOUT_S": "0",
            },
            {
                "STAGE": "missing",
                "DB_CONNECT_TIMEOUT_S": "Input should be greater than or equal to 1",
                "DATABASE_URL": "missing: set DATABASE_URL or DB_SECRET_ARN",
            },
            id="processor-missing-and-invalid-together",
        ),
        pytest.param(
            ProcessorSettings,
            {
                "STAGE": "dev",
                "RAW_BUCKET": "hksync-raw-dev",
                "EVENT_BUS_NAME": "hksync-changes-dev",
                "DATABASE_URL": "",
                "DB_SECRET_ARN": "",
            },
            {"DATABASE_URL": "missing: set DATABASE_URL or DB_SECRET_ARN"},
            id="processor-empty-database-variables",
        ),
        pytest.param(
            IngestSettings,
            {},
            {"STAGE": "missing", "RAW_BUCKET": "missing"},
            id="ingest-empty",
        ),
        pytest.param(
            QuerySettings,
            {},
            {
                "STAGE": "missing",
                "RAW_BUCKET": "missing",
                "DATABASE_URL": "missing: set DATABASE_URL or DB_SECRET_ARN",
            },
            id="query-empty",
        ),
    ],
)
def test_missing_variables_are_named_together_in_one_error(
    monkeypatch: pytest.MonkeyPatch,
    model: type[IngestSettings | ProcessorSettings | QuerySettings],
    variables: dict[str, str],
    expected: dict[str, str],
) -> None:
    set_environment(monkeypatch, variables)

    with pytest.raises(ConfigurationError) as caught:
        load_settings(model)

    message = str(caught.value)
    assert message.startswith(
        f"{model.__name__}: {len(expected)} environment variable(s) missing or invalid: "
    )
    assert problems_of(caught.value) == expected
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


@pytest.mark.parametrize(
    ("model", "variable", "value", "reason"),
    [
        pytest.param(
            IngestSettings,
            "STAGE",
            "qa",
            "Input should be 'local', 'dev', 'staging' or 'prod'",
            id="unknown-stage",
        ),
        pytest.param(
            IngestSettings,
            "RAW_BUCKET",
            "ab",
            "String should have at least 3 characters",
            id="short-bucket",
        ),
        pytest.param(
            IngestSettings,
            "MAX_BODY_BYTES",
            "5000000",
            "Input should be less than or equal to 4500000",
            id="body-above-lambda-limit",
        ),
        pytest.param(
            IngestSettings,
            "PRESIGN_EXPIRY_S",
            "30",
            "Input should be greater than or equal to 60",
            id="short-presign-expiry",
        ),
        pytest.param(
            IngestSettings,
            "MAX_CHUNK_BYTES",
            "512",
            "Input should be greater than or equal to 1024",
            id="tiny-chunk-bytes",
        ),
        pytest.param(
            ProcessorSettings,
            "MAX_CHUNK_ITEMS",
            str(MAX_CHUNK_ITEMS + 1),
            f"Input should be less than or equal to {MAX_CHUNK_ITEMS}",
            id="chunk-items-above-contract",
        ),
        pytest.param(
            ProcessorSettings,
            "EVENT_BUS_NAME",
            "hksync changes",
            "String should match pattern",
            id="event-bus-name-not-a-name",
        ),
        pytest.param(
            ProcessorSettings,
            "DB_CONNECT_TIMEOUT_S",
            "five",
            "Input should be a valid integer",
            id="timeout-not-a-number",
        ),
        pytest.param(
            QuerySettings,
            "DB_CONNECT_TIMEOUT_S",
            "61",
            "Input should be less than or equal to 60",
            id="timeout-too-long",
        ),
    ],
)
def test_an_invalid_value_is_named_with_its_reason(
    monkeypatch: pytest.MonkeyPatch,
    model: type[IngestSettings | ProcessorSettings | QuerySettings],
    variable: str,
    value: str,
    reason: str,
) -> None:
    set_environment(monkeypatch, {**COMPLETE[model], variable: value})

    with pytest.raises(ConfigurationError) as caught:
        load_settings(model)

    problems = problems_of(caught.value)
    assert list(problems) == [variable]
    assert problems[variable].startswith(reason)
    assert str(caught.value).startswith(f"{model.__name__}: 1 environment variable(s)")


def test_the_error_does_not_echo_values(monkeypatch: pytest.MonkeyPatch) -> None:
    # The database URL carries a password; a rejected environment must not print it in logs.
    set_environment(monkeypatch, {**COMPLETE[ProcessorSettings], "DB_CONNECT_TIMEOUT_S": "0"})

    with pytest.raises(ConfigurationError) as caught:
        load_settings(ProcessorSettings)

    assert "DB_CONNECT_TIMEOUT_S" in str(caught.value)
    assert "s3cr3t" not in str(caught.value)


def test_a_complete_processor_environment_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    set_environment(
        monkeypatch,
        {
            "STAGE": "prod",
            "RAW_BUCKET": "hksync-raw-prod",
            "EVENT_BUS_NAME": "hksync-changes-prod",
            "DB_SECRET_ARN": DB_SECRET_ARN,
            "DB_CONNECT_TIMEOUT_S": "10",
            "AWS_REGION": "eu-central-1",
        },
    )

    settings = load_settings(ProcessorSettings)

    assert settings.stage == "prod"
    assert settings.raw_bucket == "hksync-raw-prod"
    assert settings.event_bus_name == "hksync-changes-prod"
    assert settings.db_secret_arn == DB_SECRET_ARN
    assert settings.database_url is None
    assert settings.db_connect_timeout_s == 10
    assert settings.aws_region == "eu-central-1"
    assert settings.db_name == "hksync"
    assert settings.max_chunk_items == MAX_CHUNK_ITEMS
    assert settings.aws_endpoint_url is None


def test_a_complete_ingest_environment_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    set_environment(
        monkeypatch,
        {
            "STAGE": "local",
            "RAW_BUCKET": "hksync-raw-local",
            "AWS_ENDPOINT_URL": "http://127.0.0.1:5000",
            "MAX_BODY_BYTES": "1048576",
        },
    )

    settings = load_settings(IngestSettings)

    assert settings.stage == "local"
    assert settings.raw_bucket == "hksync-raw-local"
    assert settings.aws_endpoint_url == "http://127.0.0.1:5000"
    assert settings.aws_region == "us-east-1"
    assert settings.max_body_bytes == 1_048_576
    assert settings.presign_expiry_s == 900


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
def test_every_role_loads_from_its_complete_environment(
    monkeypatch: pytest.MonkeyPatch,
    model: type[IngestSettings | ProcessorSettings | QuerySettings],
) -> None:
    set_environment(monkeypatch, COMPLETE[model])

    settings = load_settings(model)

    assert isinstance(settings, model)
    assert settings.stage == "dev"
    with pytest.raises(ValidationError, match="frozen"):
        settings.stage = "prod"  # type: ignore[misc]


def test_settings_for_reads_the_environment_once(monkeypatch: pytest.MonkeyPatch) -> None:
    set_environment(monkeypatch, COMPLETE[IngestSettings])
    first = settings_for(IngestSettings)

    monkeypatch.setenv("RAW_BUCKET", "another-bucket")
    again = settings_for(IngestSettings)

    assert again is first
    assert again.raw_bucket == "hksync-raw-dev"
    settings_for.cache_clear()
    assert settings_for(IngestSettings).raw_bucket == "another-bucket"


def test_settings_for_caches_each_role_separately(monkeypatch: pytest.MonkeyPatch) -> None:
    set_environment(monkeypatch, {**COMPLETE[IngestSettings], **COMPLETE[ProcessorSettings]})

    ingest = settings_for(IngestSettings)
    processor = settings_for(ProcessorSettings)

    assert isinstance(ingest, IngestSettings)
    assert isinstance(processor, ProcessorSettings)
    assert settings_for(IngestSettings) is ingest
    assert settings_for(ProcessorSettings) is processor


def test_settings_for_does_not_cache_a_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError, match="STAGE: missing"):
        settings_for(QuerySettings)

    set_environment(monkeypatch, COMPLETE[QuerySettings])

    assert settings_for(QuerySettings).db_secret_arn == DB_SECRET_ARN
