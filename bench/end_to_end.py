"""3. End to end on the local stack: a 30-day backfill, upload start to anchor committed.

Ours: the local stack (moto's S3 server, the functions in worker processes with the template's
environment, the S3 notification pump, the HTTP API on loopback) and the reference client
(HksyncClient) uploading one simulated Apple Watch user's 30-day backfill in 5,000-sample chunks
(the app's default), committing, then asking GET /v1/anchors every 50 ms until the server's
anchors are the backfill's.

The seed-equivalent: the same client and the same chunks against a loopback HTTP server whose
upload request validates the chunk and stores each sample with update_or_create before it
answers, and whose commit stores the anchors (bench.seed.InlineUploads), on the same
PostgreSQL. At one to a few milliseconds a sample it would take minutes, so it is time-boxed:
chunks are uploaded until the budget is spent, and the rest is estimated from the measured
per-sample time (the table says how many chunks were measured).
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Final
from uuid import UUID

import psycopg

from bench.database import BenchDatabase
from bench.functions import quiet_moto
from bench.harness import ROOT, Figure, Section
from bench.seed import InlineUploads
from hksync_tools.client import HksyncClient
from hksync_tools.local.auth import issue_token
from hksync_tools.local.stack import LocalStack
from hksync_tools.simulator.user import AppleWatchUser, SimulatedSync

USER: Final = "bench-e2e-user"
CHUNK_SIZE: Final = 5_000
SEED_BUDGET_S: Final = 60.0
_CHUNK_PATH = re.compile(r"^/v1/syncs/(?P<sync_id>[^/]+)/chunks/(?P<seq>\d+)$")
_COMMIT_PATH = re.compile(r"^/v1/syncs/(?P<sync_id>[^/]+)/commit$")


class TimedClient(HksyncClient):
    """The reference client, noting how long each request took."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.request_seconds: list[float] = []

    def _send(self, client: Any, method: str, url: str, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return super()._send(client, method, url, **kwargs)
        finally:
            self.request_seconds.append(time.perf_counter() - started)


@contextmanager
def _inline_server(conn: psycopg.Connection, max_bytes: int) -> Iterator[str]:
    uploads = InlineUploads(conn, max_bytes=max_bytes)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_PUT(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            with lock:
                if found := _CHUNK_PATH.match(self.path):
                    status, answer = uploads.put_chunk(USER, body)
                elif found := _COMMIT_PATH.match(self.path):
                    status, answer = uploads.commit(USER, UUID(found["sync_id"]), body)
                else:
                    status, answer = 404, {"message": "Not Found"}
            payload = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@contextmanager
def _children_silenced() -> Iterator[None]:
    """The function workers started in this block write their logs and metric blobs (one JSON
    line per invocation, as in Lambda) to /dev/null instead of the report's console."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        os.dup2(null, 2)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for descriptor in (*saved, null):
            os.close(descriptor)


def _backfill(days: int) -> SimulatedSync:
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    return AppleWatchUser(1, now=now, chunk_size=CHUNK_SIZE).backfill(days)


def _ours(database_url: str, sync: SimulatedSync, state_dir: Path) -> dict[str, Any]:
    quiet_moto()
    saved = dict(os.environ)  # the stack points this process's boto3 at its moto server
    stack = LocalStack(
        ROOT,
        port=0,
        database_url=database_url,
        function_log_level="WARNING",
        state_dir=state_dir,
        seed=1,
    )
    try:
        with _children_silenced():
            info = stack.start()
        token = issue_token(USER, stack.signing_secret)
        expected = sync.commit["anchors"]
        client = TimedClient(info.api_url, token)
        with client:
            started = time.perf_counter()
            for chunk in sync.chunks:
                client.upload_chunk(chunk)
            client.commit(sync.sync_id, sync.commit)
            acknowledged = time.perf_counter()
            uploads = list(client.request_seconds)
            deadline = acknowledged + 600
            while client.anchors() != expected:
                if time.perf_counter() > deadline:
                    raise TimeoutError("the backfill's anchors never became the server's")
                time.sleep(0.05)
            done = time.perf_counter()
            state = client.status(sync.sync_id)["state"]
    finally:
        stack.stop()
        os.environ.clear()
        os.environ.update(saved)
    return {
        "acknowledged_s": acknowledged - started,
        "done_s": done - started,
        "longest_request_s": max(uploads),
        "state": state,
    }


def _seed(database_url: str, sync: SimulatedSync, budget_s: float) -> dict[str, Any]:
    samples = [len(chunk["samples"]) for chunk in sync.chunks]
    with (
        psycopg.connect(database_url, autocommit=True) as conn,
        _inline_server(conn, 32 * 1024 * 1024) as url,
    ):
        # No retries and a long timeout: the seed's requests are slow, not failed.
        client = TimedClient(url, "seed", timeout_s=900, retries=0)
        started = time.perf_counter()
        measured = 0
        for chunk in sync.chunks:
            client.upload_chunk(chunk)
            measured += 1
            if time.perf_counter() - started > budget_s:
                break
        uploading = time.perf_counter() - started
        client.commit(sync.sync_id, sync.commit)
        total = time.perf_counter() - started
        # The chunks not uploaded, at the per-sample time of those that were.
        total += sum(samples[measured:]) * uploading / sum(samples[:measured])
        client.close()
    return {
        "done_s": total,
        "longest_request_s": max(client.request_seconds),
        "chunks_measured": measured,
        "chunks": len(sync.chunks),
    }


def run(
    database: BenchDatabase, docs: Path, *, quick: bool, progress: Callable[[str], None]
) -> Section:
    days = 2 if quick else 30
    section = Section("end_to_end", "3. End to end on the local stack")
    progress(f"end to end: simulating a {days}-day backfill")
    sync = _backfill(days)
    count = len(sync.samples())
    with tempfile.TemporaryDirectory(prefix="hksync-bench-stack-") as state_dir:
        progress(f"end to end: ours, {count:,} samples in {len(sync.chunks)} chunks")
        ours = _ours(database.fresh("e2e"), sync, Path(state_dir))
    progress("end to end: the seed's inline uploads")
    seed = _seed(database.fresh("e2e_seed"), _backfill(days), 5.0 if quick else SEED_BUDGET_S)
    estimated = seed["chunks_measured"] < seed["chunks"]
    section.figures.append(
        Figure(
            section.title,
            f"{days}-day backfill ({count:,} samples): upload start to anchor committed",
            ours["done_s"],
            "s",
            ratio=(
                f"{seed['done_s'] / ours['done_s']:.0f}x faster than the seed's inline uploads "
                f"({seed['done_s']:.0f} s{', estimated' if estimated else ''})"
            ),
        )
    )
    section.figures.append(
        Figure(
            section.title,
            "longest single request (the app waits for it)",
            ours["longest_request_s"] * 1000,
            "ms",
            ratio=(
                f"{seed['longest_request_s'] / ours['longest_request_s']:.0f}x shorter than the "
                f"seed's ({seed['longest_request_s']:.1f} s for one {CHUNK_SIZE:,}-sample chunk)"
            ),
        )
    )
    section.notes.append(
        "**Reading it.** Ours: the app's requests only validate and store each chunk in S3; "
        "the processor stores the samples in the background while later chunks upload, and "
        "the anchor moves when the commit and every chunk are in. The seed's: each upload "
        "request holds its chunk in an update_or_create loop, which is what made clients time "
        f"out (a {CHUNK_SIZE:,}-sample chunk held one request for "
        f"{seed['longest_request_s']:.0f} s here). Both runs use the same PostgreSQL, the same "
        "client and the same simulated user."
    )
    section.tables.append(
        (
            "Both runs (seconds from the first upload).",
            ["", "ours", "seed-equivalent"],
            [
                ["all uploads acknowledged", f"{ours['acknowledged_s']:.1f}", "= done"],
                [
                    "anchor committed",
                    f"{ours['done_s']:.1f}",
                    f"{seed['done_s']:.1f}" + (" (estimated)" if estimated else ""),
                ],
                [
                    "longest request",
                    f"{ours['longest_request_s']:.2f}",
                    f"{seed['longest_request_s']:.2f}",
                ],
                ["final state", ours["state"], "anchors stored inline"],
                [
                    "chunks measured",
                    f"{len(sync.chunks)} of {len(sync.chunks)}",
                    f"{seed['chunks_measured']} of {seed['chunks']}",
                ],
            ],
        )
    )
    return section
