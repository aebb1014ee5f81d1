"""The cold-start benchmark runs each handler with the environment the Lambda runtime really sets.

The lists below are the AWS Lambda developer guide's "Defined runtime environment variables"
(https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime;
its source was awsdocs/aws-lambda-developer-guide, doc_source/configuration-envvars.md, which
had the same names less those added since: AWS_DEFAULT_REGION, AWS_LAMBDA_INITIALIZATION_TYPE,
AWS_ACCESS_KEY, AWS_LAMBDA_DOTNET_PREJIT). When the guide adds a name, add it here: the
benchmark must then set it or say why not.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from typing import Any

import pytest

from bench.functions import Functions
from bench.harness import ROOT
from bench.lambda_environment import NOT_SET, SET_BY_THE_RUNTIME, runtime_environment

#: "The keys for these environment variables are reserved and cannot be set in your function
#: configuration."
DOCUMENTED_RESERVED = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
    }
)
#: "The following additional environment variables aren't reserved and can be extended in your
#: function configuration."
DOCUMENTED_UNRESERVED = frozenset(
    {
        "LANG",
        "PATH",
        "LD_LIBRARY_PATH",
        "NODE_PATH",
        "PYTHONPATH",
        "GEM_PATH",
        "AWS_XRAY_CONTEXT_MISSING",
        "AWS_XRAY_DAEMON_ADDRESS",
        "AWS_LAMBDA_DOTNET_PREJIT",
        "TZ",
    }
)

FUNCTIONS = Functions.from_template()

#: Run in a fresh interpreter: which path the X-Ray SDK and Powertools' Tracer took.
_LIBRARY_PATHS = """
import json
from aws_xray_sdk.core import xray_recorder
from aws_xray_sdk.core.lambda_launcher import LambdaContext
from aws_lambda_powertools import Tracer

tracer = Tracer(auto_patch=False)
print(json.dumps({
    "xray_lambda_context": isinstance(xray_recorder.context, LambdaContext),
    "tracer_disabled": bool(tracer.disabled),
}))
"""


def _library_paths(environment: dict[str, str]) -> dict[str, Any]:
    keep = {name: os.environ[name] for name in ("HOME", "VIRTUAL_ENV") if name in os.environ}
    completed = subprocess.run(
        [sys.executable, "-c", _LIBRARY_PATHS],
        cwd=ROOT,
        env={**keep, **environment},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    answer: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return answer


def test_every_documented_variable_is_set_or_left_out_for_a_reason() -> None:
    documented = DOCUMENTED_RESERVED | DOCUMENTED_UNRESERVED
    assert set(SET_BY_THE_RUNTIME) | set(NOT_SET) == documented
    assert not set(SET_BY_THE_RUNTIME) & set(NOT_SET)
    assert all(reason.strip() for reason in NOT_SET.values())


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS.specs))
def test_the_environment_is_the_functions_own(logical_id: str) -> None:
    spec = FUNCTIONS.specs[logical_id]
    environment = runtime_environment(spec)

    assert set(environment) == set(SET_BY_THE_RUNTIME)
    assert environment["LAMBDA_TASK_ROOT"] == str(spec.code_dir)
    assert environment["_HANDLER"] == spec.handler
    assert environment["AWS_LAMBDA_FUNCTION_NAME"] == logical_id
    assert environment["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == str(spec.memory_mb)
    assert environment["AWS_LAMBDA_LOG_GROUP_NAME"] == f"/aws/lambda/{logical_id}"
    # The form Powertools parses to tell the Python runtime's version.
    assert re.fullmatch(r"AWS_Lambda_python3\.\d+", environment["AWS_EXECUTION_ENV"])
    assert environment["AWS_REGION"] == environment["AWS_DEFAULT_REGION"]
    # The name the benchmark once set instead of LAMBDA_TASK_ROOT; Lambda does not set it.
    assert "AWS_LAMBDA_TASK_ROOT" not in environment


def test_the_tracing_libraries_take_their_lambda_path() -> None:
    environment = runtime_environment(FUNCTIONS.by_code("ingest"))

    assert _library_paths(environment) == {"xray_lambda_context": True, "tracer_disabled": False}


def test_without_lambda_task_root_they_take_another_path() -> None:
    """Why the name matters: what the benchmark measured before it set the real variable."""
    environment = runtime_environment(FUNCTIONS.by_code("ingest"))
    environment["AWS_LAMBDA_TASK_ROOT"] = environment.pop("LAMBDA_TASK_ROOT")

    assert _library_paths(environment) == {"xray_lambda_context": False, "tracer_disabled": True}
