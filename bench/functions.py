"""The Lambda functions as template.yaml declares them, with the environment it gives them,
adapted to local services the way the local stack adapts it."""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from bench.harness import ROOT, environment
from hksync_tools.cfn_template import FunctionSpec, resolve_environment
from hksync_tools.local.functions import FakeLambdaContext, Handler, load_handler
from hksync_tools.local.stack import FAKE_CREDENTIALS, LOCAL_REGION, LocalStack


@dataclass(frozen=True)
class Functions:
    specs: dict[str, FunctionSpec]
    references: dict[str, str]

    @classmethod
    def from_template(cls) -> Functions:
        stack = LocalStack(ROOT)  # reads template.yaml; starts nothing
        return cls(stack.functions, stack.references())

    def by_code(self, folder: str) -> FunctionSpec:
        """The function whose code is functions/<folder>/."""
        return next(spec for spec in self.specs.values() if spec.code_dir.name == folder)

    def environment(self, spec: FunctionSpec, **overrides: str | None) -> dict[str, str | None]:
        """The template's variables for ``spec``, resolved as a local deployment, plus
        ``overrides`` (None removes a variable). DB_SECRET_ARN gives way to DATABASE_URL, as in
        the local stack."""
        variables: dict[str, str | None] = {
            **resolve_environment(spec.environment, self.references),
            **FAKE_CREDENTIALS,
            "STAGE": "local",
            "AWS_DEFAULT_REGION": LOCAL_REGION,
            "AWS_REGION": LOCAL_REGION,
            "AWS_LAMBDA_FUNCTION_NAME": spec.logical_id,
            "DB_SECRET_ARN": None,
        }
        variables.update(overrides)
        return variables


def reset_process_state() -> None:
    """Forgets hksync's per-process singletons (settings, clients, the database connection),
    so that the next handler loaded starts cold against the environment of that moment."""
    from hksync.aws.clients import reset_clients
    from hksync.db import connection
    from hksync.settings import settings_for

    connection.close()
    settings_for.cache_clear()
    reset_clients()


@contextlib.contextmanager
def loaded(spec: FunctionSpec, variables: Mapping[str, str | None]) -> Iterator[Handler]:
    """The function's handler, loaded as a new Lambda container would (module imported afresh,
    settings validated) in this process, with ``variables`` set while it is in use."""
    with environment(variables):
        reset_process_state()
        try:
            # Logs at WARNING and the metrics blob printed per invocation stay off the console.
            with contextlib.redirect_stdout(io.StringIO()):
                handler = load_handler(spec.code_dir, spec.handler)
            yield handler
        finally:
            reset_process_state()


def invoke(handler: Handler, spec: FunctionSpec, event: dict[str, Any]) -> Any:
    with contextlib.redirect_stdout(io.StringIO()):
        return handler(event, FakeLambdaContext(spec.logical_id, spec.memory_mb, spec.timeout_s))


def quiet_moto() -> None:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
