"""`hksync local invoke`: what `sam local invoke` does, in this process and without Docker.

The handler and its environment come from template.yaml. AWS and the database are the running
local stack's when one is up (so an event can act on data the stack holds); otherwise moto runs
in-process and the embedded PostgreSQL is started for the call.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, redirect_stdout
from pathlib import Path
from typing import Any

import boto3

from hksync_tools.cfn_template import load_template, resolve_environment
from hksync_tools.local.functions import FakeLambdaContext, load_handler
from hksync_tools.local.queues import provision_queues, queue_event_sources
from hksync_tools.local.scheduler import provision_reminders
from hksync_tools.local.stack import (
    FAKE_CREDENTIALS,
    LOCAL_REGION,
    EmbeddedPostgres,
    LocalStack,
    StackInfo,
    default_state_dir,
)


@contextmanager
def _services(root: Path, references: dict[str, str]) -> Iterator[tuple[str | None, str]]:
    """(AWS endpoint or None for in-process moto, database URL)."""
    state_dir = default_state_dir(root)
    state = state_dir / "stack.json"
    if state.exists():
        info = StackInfo.load(state)
        yield info.aws_endpoint_url, info.database_url
        return
    from moto import mock_aws

    from hksync.db.migrate import migrate

    with ExitStack() as cleanup:
        os.environ.update({**FAKE_CREDENTIALS, "AWS_DEFAULT_REGION": LOCAL_REGION})
        cleanup.enter_context(mock_aws())
        boto3.client("s3", region_name=LOCAL_REGION).create_bucket(Bucket=references["RawBucket"])
        provision_reminders(references, LOCAL_REGION)
        provision_queues(
            boto3.client("sqs", region_name=LOCAL_REGION),
            queue_event_sources(load_template(root / "template.yaml")),
        )
        database_url = os.environ.get("DATABASE_URL")
        if not database_url:
            postgres = EmbeddedPostgres(state_dir / "pgdata")
            database_url = postgres.start()
            cleanup.callback(postgres.stop)
        migrate(database_url)
        yield None, database_url


def invoke_function(root: Path, logical_id: str, event: dict[str, Any]) -> Any:
    stack = LocalStack(root)
    if logical_id not in stack.functions:
        raise SystemExit(
            f"no function {logical_id} in template.yaml; there are {sorted(stack.functions)}"
        )
    spec = stack.functions[logical_id]
    references = stack.references()
    with _services(root, references) as (endpoint, database_url):
        environment = {
            **resolve_environment(spec.environment, references),
            "STAGE": "local",
            "DATABASE_URL": database_url,
            "AWS_REGION": LOCAL_REGION,
            "POWERTOOLS_TRACE_DISABLED": "true",
        }
        if endpoint:
            environment.update({**FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": endpoint})
        environment.pop("DB_SECRET_ARN", None)
        os.environ.update(environment)
        # As `sam local invoke` does: the function's logs go to stderr, its result to stdout.
        with redirect_stdout(sys.stderr):
            handler = load_handler(spec.code_dir, spec.handler)
            return handler(event, FakeLambdaContext(logical_id, spec.memory_mb, spec.timeout_s))
