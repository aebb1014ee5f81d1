"""The environment the Lambda runtime gives a function, for probes that claim to run "as Lambda".

Lambda's runtime sets its own variables before the handler module is imported, and libraries
change course on them: the X-Ray SDK builds its recorder at import and, unless LAMBDA_TASK_ROOT
is set, takes the non-Lambda path (a centralised sampler that builds botocore clients);
Powertools' Tracer turns itself off outside Lambda (no LAMBDA_TASK_ROOT); Powertools reads
AWS_LAMBDA_INITIALIZATION_TYPE for its cold-start flag and AWS_EXECUTION_ENV for the runtime. A
probe that sets another name (AWS_LAMBDA_TASK_ROOT, say) measures a function Lambda never runs.

The names are those of "Defined runtime environment variables" in the Lambda developer guide,
https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime
(reserved and unreserved, as listed there when this was written); tests/unit/
test_bench_environment.py holds that list and checks this module against it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from bench.harness import ROOT
from hksync_tools.cfn_template import FunctionSpec, load_template
from hksync_tools.local.stack import FAKE_CREDENTIALS, LOCAL_REGION

#: Where Lambda's managed runtimes keep the runtime's own libraries (LAMBDA_RUNTIME_DIR).
RUNTIME_DIR: Final = "/var/runtime"


@dataclass(frozen=True)
class LambdaFunction:
    """What the runtime's variables are made of: one function of template.yaml, deployed."""

    spec: FunctionSpec
    runtime: str  # "python3.12"

    @property
    def log_group(self) -> str:
        return f"/aws/lambda/{self.spec.logical_id}"


_Value = Callable[[LambdaFunction], str]

#: Every documented variable the runtime sets for a Python function, and its value here: the
#: function's own (handler, code folder, memory), Lambda's documented defaults, or, for the
#: credentials and addresses, local stand-ins that nothing contacts while a module loads.
SET_BY_THE_RUNTIME: Final[Mapping[str, _Value]] = {
    # Reserved.
    "_HANDLER": lambda function: function.spec.handler,
    "AWS_DEFAULT_REGION": lambda _: LOCAL_REGION,
    "AWS_REGION": lambda _: LOCAL_REGION,
    "AWS_EXECUTION_ENV": lambda function: f"AWS_Lambda_{function.runtime}",
    "AWS_LAMBDA_FUNCTION_NAME": lambda function: function.spec.logical_id,
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": lambda function: str(function.spec.memory_mb),
    "AWS_LAMBDA_FUNCTION_VERSION": lambda _: "$LATEST",
    "AWS_LAMBDA_INITIALIZATION_TYPE": lambda _: "on-demand",
    "AWS_LAMBDA_LOG_GROUP_NAME": lambda function: function.log_group,
    "AWS_LAMBDA_LOG_STREAM_NAME": lambda _: "2026/01/01/[$LATEST]0123456789abcdef0123456789abcdef",
    "AWS_ACCESS_KEY": lambda _: FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
    "AWS_ACCESS_KEY_ID": lambda _: FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
    "AWS_SECRET_ACCESS_KEY": lambda _: FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    "AWS_SESSION_TOKEN": lambda _: FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
    "AWS_LAMBDA_RUNTIME_API": lambda _: "127.0.0.1:9001",
    "LAMBDA_TASK_ROOT": lambda function: str(function.spec.code_dir),
    "LAMBDA_RUNTIME_DIR": lambda _: RUNTIME_DIR,
    # Unreserved (a function may extend them; the template does not).
    "LANG": lambda _: "en_US.UTF-8",
    # The probe's interpreter is started by its full path; PATH only matters to subprocesses.
    "PATH": lambda _: os.environ.get("PATH", "/usr/local/bin:/usr/bin/:/bin:/opt/bin"),
    "LD_LIBRARY_PATH": lambda function: ":".join(
        (
            "/var/lang/lib:/lib64:/usr/lib64",
            RUNTIME_DIR,
            f"{RUNTIME_DIR}/lib",
            str(function.spec.code_dir),
            f"{function.spec.code_dir}/lib",
            "/opt/lib",
        )
    ),
    "PYTHONPATH": lambda _: RUNTIME_DIR,
    # Set because the template asks for Tracing: Active.
    "AWS_XRAY_CONTEXT_MISSING": lambda _: "LOG_ERROR",
    "AWS_XRAY_DAEMON_ADDRESS": lambda _: "169.254.79.129:2000",
    "TZ": lambda _: ":UTC",
}

#: Documented variables the probes leave out, and why.
NOT_SET: Final[Mapping[str, str]] = {
    "_X_AMZN_TRACE_ID": "set per invocation, and a cold start probe serves none",
    "NODE_PATH": "Node.js runtimes only",
    "GEM_PATH": "Ruby runtimes only",
    "AWS_LAMBDA_DOTNET_PREJIT": ".NET runtimes only",
}


def _runtime(logical_id: str) -> str:
    """The function's Runtime in template.yaml (its own, else the Globals')."""
    template = load_template(ROOT / "template.yaml")
    properties = template["Resources"][logical_id].get("Properties", {})
    return str(properties.get("Runtime") or template["Globals"]["Function"]["Runtime"])


def runtime_environment(spec: FunctionSpec) -> dict[str, str]:
    """The variables the Lambda runtime sets for ``spec``'s function, as deployed."""
    function = LambdaFunction(spec, _runtime(spec.logical_id))
    return {name: value(function) for name, value in SET_BY_THE_RUNTIME.items()}
