"""CallerSettings: the dev-token path of `sam local` is on only in SAM's local mode AND the
local stage; a deployed configuration (STAGE dev, staging or prod, as the template sets it)
keeps it off even with AWS_SAM_LOCAL set and a secret given."""

from __future__ import annotations

import os

import pytest

from hksync.settings import (
    DEPLOYED_STAGES,
    AccountSettings,
    CallerSettings,
    ConfigurationError,
    IngestSettings,
    QuerySettings,
    RemindersSettings,
    load_settings,
)

SECRET = "sam-local-unit-test-secret"
NAMES = ("STAGE", "AWS_SAM_LOCAL", "DEV_TOKEN_SECRET")


@pytest.fixture(autouse=True)
def _only_these_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper() in NAMES:
            monkeypatch.delenv(name)


def _caller(monkeypatch: pytest.MonkeyPatch, **variables: str) -> CallerSettings:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    return load_settings(CallerSettings)


@pytest.mark.parametrize("stage", sorted(DEPLOYED_STAGES))
def test_a_deployed_stage_never_takes_dev_tokens_even_under_sam_local(
    stage: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    caller = _caller(monkeypatch, STAGE=stage, AWS_SAM_LOCAL="true", DEV_TOKEN_SECRET=SECRET)

    assert caller.aws_sam_local
    assert not caller.accepts_dev_tokens


@pytest.mark.parametrize("stage", sorted(DEPLOYED_STAGES))
def test_the_deployed_configuration_takes_no_dev_tokens(
    stage: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What template.yaml gives a deployed function: its stage and an empty DEV_TOKEN_SECRET.
    caller = _caller(monkeypatch, STAGE=stage, DEV_TOKEN_SECRET="")

    assert caller.dev_token_secret is None
    assert not caller.accepts_dev_tokens


def test_the_local_stack_takes_its_claims_from_the_front_not_from_tokens(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # `hksync local up` checks the token itself and hands the claims in the event.
    assert not _caller(monkeypatch, STAGE="local", DEV_TOKEN_SECRET=SECRET).accepts_dev_tokens


def test_sam_local_in_the_local_stage_takes_dev_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    caller = _caller(monkeypatch, STAGE="local", AWS_SAM_LOCAL="true", DEV_TOKEN_SECRET=SECRET)

    assert caller.accepts_dev_tokens
    assert caller.dev_token_secret is not None
    assert caller.dev_token_secret.get_secret_value() == SECRET
    assert SECRET not in repr(caller)


@pytest.mark.parametrize("secret", [None, ""], ids=["unset", "empty-as-declared"])
def test_sam_local_in_the_local_stage_without_a_secret_stops_at_cold_start(
    secret: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    variables = {"STAGE": "local", "AWS_SAM_LOCAL": "true"}
    if secret is not None:
        variables["DEV_TOKEN_SECRET"] = secret

    with pytest.raises(ConfigurationError, match="DEV_TOKEN_SECRET: missing: sam local"):
        _caller(monkeypatch, **variables)


@pytest.mark.parametrize(
    "model", [IngestSettings, QuerySettings, RemindersSettings, AccountSettings]
)
def test_every_http_function_reads_where_its_caller_comes_from(model: type[object]) -> None:
    assert issubclass(model, CallerSettings)
