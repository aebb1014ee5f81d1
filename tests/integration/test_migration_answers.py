"""The migration custom resource answers CloudFormation on the paths that used to leave a
deploy waiting out the resource's 900 s ServiceTimeout (issue 17): a run about to hit the
Lambda timeout, and a function module that cannot initialise. The answers are the PUTs the
ResponseRecorder captures in place of the presigned S3 URL."""

# ruff: noqa: F811 - the imported fixtures are parameters of the tests by design.

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import psycopg

from hksync.aws.custom_resource import ANSWER_MARGIN_S
from hksync.db.migrate import MIGRATION_LOCK_KEY
from hksync_tools.local.functions import FakeLambdaContext

# The migration function's fixtures, imported to be used by name (pytest finds them here).
from tests.integration.test_migration_function import (  # noqa: F401
    FUNCTION_DIR,
    ResponseRecorder,
    empty_database,
    migration_function,
    request,
    responses,
)

#: How long a test waits for something that should happen within seconds: a bound, not a
#: measurement.
PATIENCE_S = 60


def _wait_for(condition: Any) -> None:
    deadline = time.monotonic() + PATIENCE_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("gave up waiting")
        time.sleep(0.05)


def test_a_run_about_to_time_out_is_answered_failed_once(
    migration_function: Any, responses: ResponseRecorder, empty_database: dict[str, Any]
) -> None:
    # Another migration runner holds the lock, so this one waits past its time.
    with psycopg.connect(**empty_database, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
        # One second of the invocation is left once the answer margin is taken off.
        context = FakeLambdaContext("migrate", timeout_s=int(ANSWER_MARGIN_S) + 1)
        results: list[dict[str, Any]] = []
        run = threading.Thread(
            target=lambda: results.append(
                migration_function(request("Create", responses.url), context)
            ),
            daemon=True,
        )
        run.start()

        _wait_for(lambda: responses.requests)
        ((_, body),) = responses.requests
        assert body["Status"] == "FAILED"
        assert "did not finish within the function's timeout" in body["Reason"]
        assert body["PhysicalResourceId"] == "hksync-database-schema"
        assert run.is_alive()  # the answer went out while the work was still waiting

        holder.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))
    run.join(timeout=PATIENCE_S)

    assert results == [{"status": "FAILED", "reason": body["Reason"]}]
    assert len(responses.requests) == 1  # CloudFormation takes one answer: nothing after it


#: Stands in for a compiled dependency that cannot load, as one built for another platform
#: fails in Lambda (the import error names the shared object).
LOAD_ERROR = "libpq.so.5: cannot open shared object file: wrong ELF class (a broken layer)"
BROKEN_PSYCOPG = f"raise ImportError({LOAD_ERROR!r})\n"

INVOKE = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from hksync_tools.local.functions import FakeLambdaContext, load_handler

    handler = load_handler(Path(sys.argv[1]), "app.handler")
    try:
        result = handler(json.loads(sys.argv[2]), FakeLambdaContext("migrate"))
    except Exception as error:
        result = {"raised": f"{type(error).__name__}: {error}"}
    print(json.dumps(result))
    """
)


def _invoke_with_broken_driver(event: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    """A fresh Python process, as a cold start is, where psycopg cannot be imported."""
    shadow = tmp_path / "broken"
    (shadow / "psycopg").mkdir(parents=True)
    (shadow / "psycopg" / "__init__.py").write_text(BROKEN_PSYCOPG)
    environment = {**os.environ, "PYTHONPATH": str(shadow), "STAGE": "dev"}
    finished = subprocess.run(
        [sys.executable, "-c", INVOKE, str(FUNCTION_DIR), json.dumps(event)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=PATIENCE_S,
        check=True,
    )
    result: dict[str, Any] = json.loads(finished.stdout.strip().splitlines()[-1])
    return result


def test_a_function_that_cannot_initialise_answers_failed_with_the_import_error(
    responses: ResponseRecorder, tmp_path: Path
) -> None:
    create = request("Create", responses.url)

    result = _invoke_with_broken_driver(create, tmp_path)

    assert result["status"] == "FAILED"
    ((headers, body),) = responses.requests
    assert headers.get("Content-Type", "") == ""
    assert body["Status"] == "FAILED"
    assert body["Reason"] == f"the function could not initialise: ImportError: {LOAD_ERROR}"
    assert body["RequestId"] == create["RequestId"]
    assert body["PhysicalResourceId"] == "hksync-database-schema"


def test_a_direct_invocation_of_a_function_that_cannot_initialise_raises(
    responses: ResponseRecorder, tmp_path: Path
) -> None:
    result = _invoke_with_broken_driver({}, tmp_path)

    assert result == {"raised": f"ImportError: {LOAD_ERROR}"}
    assert responses.requests == []
