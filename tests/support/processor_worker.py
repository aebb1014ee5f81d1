"""A processor in its own OS process, for the fault suite (tests/integration/test_faults.py).

    python -m tests.support.processor_worker [--pause-in-transaction] KEY...

Loads the processor function from functions/processor the way Lambda does (its settings from
the environment: DATABASE_URL, RAW_BUCKET, AWS_ENDPOINT_URL of a moto server), prints
``ready`` and waits for a line on stdin, so that the test can start several workers at the
same instant. Then it invokes the function once per key with an S3 ObjectCreated event and
prints one JSON line per invocation: the function's result, or the error it raised.

``--pause-in-transaction`` is the one test hook: after a chunk's samples, tombstones, ledger
row and counters are written, inside the chunk's transaction and before it commits, the
worker prints ``paused`` and sleeps, so the test can kill it there with SIGKILL.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from hksync.db.syncs import SyncRepository
from hksync_tools.local.functions import FakeLambdaContext, load_handler
from hksync_tools.local.lambda_events import s3_put_event

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"


def _pause_inside_the_chunk_transaction() -> None:
    record_chunk = SyncRepository.record_chunk

    def record_then_pause(self: SyncRepository, *args: Any, **kwargs: Any) -> None:
        record_chunk(self, *args, **kwargs)
        print("paused", flush=True)
        time.sleep(3600)  # the test kills this process here

    SyncRepository.record_chunk = record_then_pause  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pause-in-transaction", action="store_true")
    parser.add_argument("--bucket", required=True)
    parser.add_argument("keys", nargs="+")
    options = parser.parse_args()
    if options.pause_in_transaction:
        _pause_inside_the_chunk_transaction()
    handler = load_handler(FUNCTIONS / "processor", "app.handler")
    print("ready", flush=True)
    sys.stdin.readline()
    for key in options.keys:
        event = s3_put_event(options.bucket, key, size=0)
        try:
            outcome: dict[str, Any] = {"result": handler(event, FakeLambdaContext("processor"))}
        except Exception as error:  # reported to the test, which decides
            outcome = {"error": type(error).__name__, "message": traceback.format_exc(limit=4)}
        print(json.dumps(outcome, default=str), flush=True)


if __name__ == "__main__":
    main()
