"""events/env.json against template.yaml: with it, every function starts under `sam local`.

SAM CLI gives a function only the variables the template declares: an intrinsic it cannot
resolve (a GetAtt, a Ref to a resource, an If) becomes "", and env.json may set declared names
only, silently ignoring the rest. This rebuilds that environment offline and loads each
function's settings model from it, as its cold start would.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from hksync.settings import CallerSettings, DatabaseSettings, load_settings
from hksync_tools.local.auth import sam_local_secret
from tests.infrastructure.template import EVENTS_DIR, environment_of
from tests.infrastructure.test_template import FUNCTION_SETTINGS

ENV_FILE = EVENTS_DIR / "env.json"


def _env_file() -> dict[str, str]:
    variables: dict[str, str] = json.loads(ENV_FILE.read_text())["Parameters"]
    return variables


def _sam_value(value: Any, parameters: dict[str, Any]) -> str | None:
    """What SAM passes for a template value: text as is, a parameter's default; None when it
    cannot resolve it (SAM then passes "")."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in parameters:
        return str(parameters[value["Ref"]].get("Default", ""))
    return None


def _sam_local_environment(
    sam: dict[str, Any], cfn: dict[str, Any], function: str
) -> dict[str, str]:
    overrides = _env_file()
    environment = {"AWS_SAM_LOCAL": "true"}
    for name, value in environment_of(cfn, function).items():
        resolved = _sam_value(value, sam.get("Parameters", {}))
        environment[name] = overrides.get(name, "" if resolved is None else resolved)
    return environment


@pytest.mark.parametrize("function", sorted(FUNCTION_SETTINGS))
def test_env_json_gives_what_sam_cannot_resolve(
    function: str, sam: dict[str, Any], cfn: dict[str, Any]
) -> None:
    unresolved = {
        name
        for name, value in environment_of(cfn, function).items()
        if _sam_value(value, sam.get("Parameters", {})) is None
    }

    assert unresolved - set(_env_file()) == set()


def test_env_json_sets_only_variables_the_template_declares(cfn: dict[str, Any]) -> None:
    declared = {name for function in FUNCTION_SETTINGS for name in environment_of(cfn, function)}

    assert set(_env_file()) - declared == set()


@pytest.mark.parametrize("function", sorted(FUNCTION_SETTINGS))
def test_every_function_starts_under_sam_local_with_env_json(
    function: str, sam: dict[str, Any], cfn: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    model = FUNCTION_SETTINGS[function]
    environment = _sam_local_environment(sam, cfn, function)
    for key in list(os.environ):
        if key.upper() in {name.upper() for name in model.model_fields} | {"AWS_SAM_LOCAL"}:
            monkeypatch.delenv(key)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)

    settings = load_settings(model)

    assert settings.stage == "local"
    if isinstance(settings, DatabaseSettings):
        assert settings.database_url == _env_file()["DATABASE_URL"]
    if isinstance(settings, CallerSettings):
        assert settings.accepts_dev_tokens


def test_the_token_command_signs_with_env_json_secret() -> None:
    assert sam_local_secret(ENV_FILE) == _env_file()["DEV_TOKEN_SECRET"]
