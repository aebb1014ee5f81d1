"""Every sample event in events/ through `hksync local invoke`, the real command, against a
running local stack: the way a developer replays an event."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from hksync_tools.local.stack import LocalStack
from tests.e2e.conftest import PROJECT_ROOT

EVENTS = PROJECT_ROOT / "events"
#: Not an event: the variables `sam local ... --env-vars` gives the functions.
SAM_ENV_FILE = "env.json"
FUNCTION_OF_PREFIX = {
    "ingest_": "IngestFunction",
    "processor_": "ProcessorFunction",
    "query_": "QueryFunction",
    "reminders_": "RemindersFunction",
    "dispatcher_": "DispatcherFunction",
    "account_": "AccountFunction",
}
# Ingest first (it creates the chunk the S3 event names), then the processor, then queries;
# a reminder is created before its occurrence is dispatched, then rescheduled and cancelled.
ORDER = (
    "ingest_put_chunk.json",
    "ingest_put_chunk_gzip.json",
    "ingest_upload_url.json",
    "ingest_commit.json",
    "processor_s3_put.json",
    "query_sync_status.json",
    "query_rejected_samples.json",
    "query_samples.json",
    "query_source_priority.json",
    "query_daily_summaries.json",
    "query_anchors.json",
    "reminders_create.json",
    "reminders_list.json",
    "dispatcher_occurrence.json",
    "reminders_reschedule.json",
    "reminders_cancel.json",
)

# Last: erasing the demo user (the stack's worker erases it in the background), then its status,
# then the worker's own event (an erasure id it does not know: nothing to do).
LAST = ("account_erase_me.json", "account_erasure_status.json", "account_erasure_message.json")


def _function_for(event_file: Path) -> str | None:
    return next(
        (name for prefix, name in FUNCTION_OF_PREFIX.items() if event_file.name.startswith(prefix)),
        None,
    )


def _invoke(stack: LocalStack, function: str, event_file: Path) -> Any:
    environment = {**os.environ, "HKSYNC_STATE_DIR": str(stack.state_dir)}
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "hksync_tools.cli",
            "local",
            "invoke",
            function,
            "--event",
            str(event_file),
        ],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    # Function logs (JSON lines) come first; the result is the last JSON document printed.
    output = completed.stdout
    return json.loads(
        output[output.index("\n{\n") + 1 :] if output.startswith('{"level"') else output
    )


def test_every_event_file_has_a_function() -> None:
    unmapped = [
        path.name
        for path in EVENTS.glob("*.json")
        if _function_for(path) is None and path.name != SAM_ENV_FILE
    ]
    assert unmapped == []


def test_every_event_invokes_its_function(local_stack: LocalStack) -> None:
    ordered = [EVENTS / name for name in ORDER if (EVENTS / name).exists()]
    ordered += sorted(
        path
        for path in EVENTS.glob("*.json")
        if path.name not in ORDER + LAST and _function_for(path)
    )
    ordered += [EVENTS / name for name in LAST]
    results = {path.name: _invoke(local_stack, _function_for(path) or "", path) for path in ordered}

    assert results["ingest_put_chunk.json"]["statusCode"] == 202
    assert json.loads(results["ingest_put_chunk_gzip.json"]["body"])["created"] is False
    assert results["ingest_upload_url.json"]["statusCode"] == 200
    assert results["ingest_commit.json"]["statusCode"] == 202
    assert results["processor_s3_put.json"]["results"][0]["outcome"] in {"stored", "duplicate"}
    status = json.loads(results["query_sync_status.json"]["body"])
    assert status["state"] == "complete"
    rejected = json.loads(results["query_rejected_samples.json"]["body"])
    assert rejected == {"rejected": [], "next_after": None}
    samples = json.loads(results["query_samples.json"]["body"])["samples"]
    assert samples, "the uploaded heart rates are read back"
    assert {sample["sample_type"] for sample in samples} == {"HKQuantityTypeIdentifierHeartRate"}
    assert results["query_source_priority.json"]["statusCode"] == 200
    summaries = json.loads(results["query_daily_summaries.json"]["body"])["summaries"]
    assert summaries[0]["days"], "a day of heart rates is summarised"
    anchors = json.loads(results["query_anchors.json"]["body"])["anchors"]
    assert [anchor["sample_type"] for anchor in anchors] == ["HKQuantityTypeIdentifierHeartRate"]
    assert results["reminders_create.json"]["statusCode"] == 201
    assert results["dispatcher_occurrence.json"]["outcome"] == "delivered"
    assert json.loads(results["reminders_reschedule.json"]["body"])["cron"] == "30 7 ? * MON-FRI *"
    assert json.loads(results["reminders_cancel.json"]["body"])["state"] == "cancelled"
    assert results["account_erase_me.json"]["statusCode"] == 202
    erasure = json.loads(results["account_erasure_status.json"]["body"])
    assert erasure["state"] in {"pending", "complete"}
    assert results["account_erasure_message.json"] == {"batchItemFailures": []}
    for name, result in results.items():
        if isinstance(result, dict) and "statusCode" in result:
            assert result["statusCode"] < 500, name
