"""`hksync ops` as an operator runs it: the installed command, in its own process, finding the
running local stack through its state directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from hksync_tools.client import HksyncClient
from hksync_tools.local.auth import issue_token
from hksync_tools.local.stack import LocalStack
from tests.e2e.conftest import PROJECT_ROOT
from tests.support.builders import chunk, commit, heart_rates

_SCRIPT = Path(sys.executable).with_name("hksync")
HKSYNC = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "hksync_tools.cli"]


def _ops(stack: LocalStack, *arguments: str) -> Any:
    # Nothing but the state directory tells the command where the stack is.
    environment = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    environment["HKSYNC_STATE_DIR"] = str(stack.state_dir)
    completed = subprocess.run(
        [*HKSYNC, "ops", *arguments, "--json"],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout)


def test_ops_reports_a_sync_uploaded_over_http(local_stack: LocalStack) -> None:
    assert local_stack.info is not None
    user = f"ops-e2e-{uuid.uuid4().hex[:8]}"
    sync_id = uuid.uuid4()
    with HksyncClient(
        local_stack.info.api_url, issue_token(user, local_stack.signing_secret)
    ) as app:
        for seq in range(2):
            app.upload_chunk(chunk(sync_id, seq, heart_rates(5)))
        app.commit(sync_id, commit(2, "anchor-after-e2e"))
        assert app.wait_until_settled(sync_id, timeout_s=60)["state"] == "complete"

    syncs = _ops(local_stack, "syncs", "--user", user)
    dead_letters = _ops(local_stack, "dlq", "list")
    erasure_dead_letters = _ops(local_stack, "dlq", "list", "--queue", "erasure")
    reprocessed = _ops(local_stack, "reprocess", "--user", user)

    assert syncs["counts"] == {"receiving": 0, "committed": 0, "complete": 1, "failed": 0}
    [sync] = syncs["syncs"]
    assert (sync["sync_id"], sync["state"], sync["chunk_count"], sync["chunks_processed"]) == (
        str(sync_id),
        "complete",
        2,
        2,
    )
    assert (sync["samples_received"], sync["samples_inserted"]) == (10, 10)
    assert not [letter for letter in dead_letters["messages"] if user in " ".join(letter["keys"])]
    # The erasure worker's queue, found from the stack's state alone (nothing failed there).
    assert erasure_dead_letters["queue_url"].endswith("/hksync-erasure-dead-letter-queue-local")
    assert not [m for m in erasure_dead_letters["messages"] if m["user_id"] == user]
    # The stack had stored everything: a replay of the user's objects is a no-op.
    assert reprocessed["errors"] == []
    assert {outcome: n for outcome, n in reprocessed["outcomes"].items() if n} == {
        "duplicate": 2,
        "committed": 1,
    }
