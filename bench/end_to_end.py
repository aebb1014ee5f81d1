"""3. End to end on the local stack: a 30-day backfill, upload start to anchor committed.

Ours: the local stack (moto's S3 server, the functions in worker processes with the template's
environment, the S3 notification pump, the HTTP API on loopback) and the reference client
(HksyncClient) uploading one simulated Apple Watch user's 30-day backfill in 5,000-sample chunks
(the app's default), committing, then asking GET /v1/anchors every 50 ms until the server's
anchors are the backfill's. The stack is started once; each round is a new user with the same
backfill.

The floor, in the same rounds, on the same moto server and PostgreSQL: the same client and
chunks, its requests handed straight to the ingest and processor functions loaded in this
process (no HTTP, no worker processes, no event pump), one after the other: each chunk is
accepted into S3, then decoded and written to the database before the next is sent. It is the
pipeline's own work with nothing overlapped and nothing in between. Ours over the floor is the
figure that carries from run to run, since both slow down alike when the machine is busy.

Where the time went: each round accounts for the CPU used by this process (the client, the API
front, moto's S3, the event pump, the queue poller and the scheduler are threads of it), by the
function workers and by PostgreSQL; for the time their threads waited for a CPU (run queue,
/proc/<pid>/task/*/schedstat); and for the CPU the machine's other processes used meanwhile
(bench/cpu.py). The stack is also measured idle, to see what its polling costs.

The seed-equivalent, once: the same client and the same chunks against a loopback HTTP server
whose upload request decodes the chunk and stores each sample with update_or_create before it
answers, and whose commit stores the anchors (bench.seed.InlineUploads), on the same
PostgreSQL. At one to a few milliseconds a sample it would take minutes, so it is time-boxed:
chunks are uploaded until the budget is spent, and the rest is estimated from the measured
per-sample time (the table says how many chunks were measured).
"""

from __future__ import annotations

import base64
import json
import os
import re
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Final
from uuid import UUID

import boto3
import httpx
import psutil
import psycopg

from bench.cpu import Account, CpuAccount
from bench.database import BenchDatabase
from bench.functions import Functions, invoke, loaded, quiet_moto
from bench.harness import ROOT, Figure, Section, Spread, median
from bench.seed import InlineUploads
from hksync.keys import ChunkKey, CommitKey
from hksync_tools.cfn_template import FunctionSpec
from hksync_tools.client import HksyncClient
from hksync_tools.local.auth import issue_token
from hksync_tools.local.functions import Handler
from hksync_tools.local.lambda_events import http_api_event, s3_put_event
from hksync_tools.local.stack import LOCAL_REGION, LocalStack, StackInfo
from hksync_tools.simulator.user import AppleWatchUser, SimulatedSync

USER: Final = "bench-e2e-user"
CHUNK_SIZE: Final = 5_000
SEED_BUDGET_S: Final = 60.0
#: The floor's own bucket on the stack's moto server, out of the event pump's sight.
FLOOR_BUCKET: Final = "hksync-bench-e2e-floor"
#: The idle stack is measured in windows of this many seconds.
IDLE_WINDOW_S: Final = 2.0
GROUPS: Final = ("this process", "function workers", "PostgreSQL")
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


class DirectClient(HksyncClient):
    """The reference client (same encoding, same gzip) whose requests go straight to the ingest
    function in this process; each object it accepts is then processed before the next request,
    as an S3 notification to the processor function would be."""

    def __init__(
        self,
        user: str,
        ingest: tuple[FunctionSpec, Handler],
        processor: tuple[FunctionSpec, Handler],
    ) -> None:
        super().__init__("http://direct.invalid", "direct", retries=0)
        self._user = user
        self._ingest = ingest
        self._processor = processor
        self.sync_state = ""

    def _send(self, client: httpx.Client, method: str, url: str, **kwargs: Any) -> httpx.Response:
        request = client.build_request(method, url, **kwargs)
        spec, handler = self._ingest
        path = request.url.path
        route, parameters = next(
            (route, found)
            for route in spec.routes
            if (found := route.match(method, path)) is not None
        )
        event = http_api_event(
            method,
            route.route_key,
            path,
            path_parameters=parameters,
            headers=dict(request.headers),
            body=request.content,
            claims={"sub": self._user},
        )
        result = invoke(handler, spec, event)
        body = result.get("body") or ""
        content = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()
        if result["statusCode"] == 202:
            self._process(parameters, len(request.content))
        return httpx.Response(
            result["statusCode"],
            headers=result.get("headers") or {},
            content=content,
            request=request,
        )

    def _process(self, parameters: dict[str, str], size: int) -> None:
        sync_id = UUID(parameters["sync_id"])
        key = (
            ChunkKey(self._user, sync_id, int(parameters["seq"]))
            if "seq" in parameters
            else CommitKey(self._user, sync_id)
        )
        spec, handler = self._processor
        outcome = invoke(handler, spec, s3_put_event(FLOOR_BUCKET, str(key), size=size))
        self.sync_state = outcome["results"][0]["sync_state"]


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


def _accounting(database: BenchDatabase) -> CpuAccount:
    me = psutil.Process()

    def workers() -> list[psutil.Process]:
        server = {process.pid for process in database.server_processes()}
        return [child for child in me.children(recursive=True) if child.pid not in server]

    return CpuAccount(
        dict(zip(GROUPS, (lambda: [me], workers, database.server_processes), strict=True))
    )


def _ours(
    info: StackInfo, secret: str, sync: SimulatedSync, user: str, account: CpuAccount
) -> dict[str, Any]:
    expected = sync.commit["anchors"]
    client = TimedClient(info.api_url, issue_token(user, secret))
    with client:
        start = account.start()
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
        usage = account.stop(start)
        state = client.status(sync.sync_id)["state"]
    if state != "complete":
        raise RuntimeError(f"the backfill ended {state}")
    return {
        "done_s": done - started,
        "acknowledged_s": acknowledged - started,
        "requests_s": sum(uploads),
        "longest_request_s": max(uploads),
        "account": usage,
    }


def _floor(client: DirectClient, sync: SimulatedSync, account: CpuAccount) -> dict[str, Any]:
    start = account.start()
    started = time.perf_counter()
    for chunk in sync.chunks:
        client.upload_chunk(chunk)
    client.commit(sync.sync_id, sync.commit)
    done = time.perf_counter()
    usage = account.stop(start)
    if client.sync_state != "complete":
        raise RuntimeError(f"the floor's backfill ended {client.sync_state}")
    return {"done_s": done - started, "account": usage}


@contextmanager
def _floor_functions(
    functions: Functions, info: StackInfo
) -> Iterator[tuple[tuple[FunctionSpec, Handler], tuple[FunctionSpec, Handler]]]:
    """The ingest and processor functions in this process, with the environment the stack gives
    its workers, writing to the floor's bucket."""
    boto3.client("s3", region_name=LOCAL_REGION).create_bucket(Bucket=FLOOR_BUCKET)
    specs = functions.by_code("ingest"), functions.by_code("processor")
    variables = [
        functions.environment(
            spec,
            AWS_ENDPOINT_URL=info.aws_endpoint_url,
            DATABASE_URL=info.database_url,
            RAW_BUCKET=FLOOR_BUCKET,
            POWERTOOLS_TRACE_DISABLED="true",
            POWERTOOLS_METRICS_DISABLED="true",
            POWERTOOLS_LOG_LEVEL="WARNING",
        )
        for spec in specs
    ]
    with loaded(specs[0], variables[0]) as ingest, loaded(specs[1], variables[1]) as processor:
        yield (specs[0], ingest), (specs[1], processor)


def _idle(account: CpuAccount, windows: int) -> list[Account]:
    """The started stack with nothing to do: what its polling costs."""
    time.sleep(1.0)  # the workers' first moments after start are not idling
    accounts = []
    for _ in range(windows):
        start = account.start()
        time.sleep(IDLE_WINDOW_S)
        accounts.append(account.stop(start))
    return accounts


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
    rounds = 2 if quick else 3
    section = Section("end_to_end", "3. End to end on the local stack")
    progress(f"end to end: simulating a {days}-day backfill")
    sync = _backfill(days)
    account = _accounting(database)
    functions = Functions.from_template()
    ours: list[dict[str, Any]] = []
    floors: list[dict[str, Any]] = []
    quiet_moto()
    saved = dict(os.environ)  # the stack points this process's boto3 at its moto server
    with tempfile.TemporaryDirectory(prefix="hksync-bench-stack-") as state_dir:
        stack = LocalStack(
            ROOT,
            port=0,
            database_url=database.fresh("e2e"),
            function_log_level="WARNING",
            state_dir=Path(state_dir),
            seed=1,
        )
        try:
            progress("end to end: starting the local stack")
            with _children_silenced():
                info = stack.start()
            progress("end to end: the stack idle")
            idle = _idle(account, 2 if quick else 3)
            with _floor_functions(functions, info) as (ingest, processor):
                for number in range(rounds):
                    label = f"end to end, round {number + 1}/{rounds}"
                    progress(f"{label}: the floor")
                    direct = DirectClient(f"{USER}-{number}-floor", ingest, processor)
                    floors.append(_floor(direct, sync, account))
                    progress(f"{label}: ours, {len(sync.chunks)} chunks over HTTP")
                    ours.append(
                        _ours(info, stack.signing_secret, sync, f"{USER}-{number}", account)
                    )
            progress("end to end: the stack idle again, its bucket full")
            objects = _objects(info.raw_bucket)
            idle_full = _idle(account, 2 if quick else 3)
        finally:
            stack.stop()
            os.environ.clear()
            os.environ.update(saved)
    progress("end to end: the seed's inline uploads")
    seed = _seed(database.fresh("e2e_seed"), sync, 5.0 if quick else SEED_BUDGET_S)
    _report(section, days, sync, ours, floors, Idle(idle, idle_full, objects), seed)
    return section


def _objects(bucket: str) -> int:
    pages = boto3.client("s3", region_name=LOCAL_REGION).get_paginator("list_objects_v2")
    return sum(page.get("KeyCount", 0) for page in pages.paginate(Bucket=bucket))


@dataclass(frozen=True)
class Idle:
    """The stack with nothing to do, before the rounds (an empty bucket) and after them."""

    empty: list[Account]
    full: list[Account]
    objects: int

    @staticmethod
    def per_second_ms(accounts: list[Account]) -> list[float]:
        return [account.cpu_s / account.wall_s * 1000 for account in accounts]


def _cpu_cells(account: Account) -> list[str]:
    return [
        " / ".join(f"{account.groups[name].cpu_s:.1f}" for name in GROUPS),
        f"{account.cpu_s / account.wall_s:.2f}",
        f"{account.waited_s:.1f}",
        f"{account.others_cores:.2f} of {account.cores}",
    ]


def _report(
    section: Section,
    days: int,
    sync: SimulatedSync,
    ours: list[dict[str, Any]],
    floors: list[dict[str, Any]],
    idle: Idle,
    seed: dict[str, Any],
) -> None:
    count = len(sync.samples())
    done = [run_["done_s"] for run_ in ours]
    floor = median([run_["done_s"] for run_ in floors])
    by_round = Spread.of(
        [a["done_s"] / b["done_s"] for a, b in zip(ours, floors, strict=True)], "x"
    )
    estimated = seed["chunks_measured"] < seed["chunks"]
    section.figures.append(
        Figure(
            section.title,
            f"{days}-day backfill ({count:,} samples): upload start to anchor committed",
            median(done),
            "s",
            ratio=(
                f"{by_round.median:.2f}x the same work done serially in one process (the floor: "
                f"{floor:.1f} s in the same rounds); {seed['done_s'] / median(done):.0f}x faster "
                f"than the seed's inline uploads ({seed['done_s']:.0f} s"
                f"{', estimated' if estimated else ''})"
            ),
            spread=by_round,
        )
    )
    longest = [run_["longest_request_s"] * 1000 for run_ in ours]
    section.figures.append(
        Figure(
            section.title,
            "longest single request (the app waits for it)",
            median(longest),
            "ms",
            ratio=(
                f"{seed['longest_request_s'] * 1000 / median(longest):.0f}x shorter than the "
                f"seed's ({seed['longest_request_s']:.1f} s for one {CHUNK_SIZE:,}-sample chunk)"
            ),
            spread=Spread.of(longest, "ms"),
        )
    )
    empty, full = Idle.per_second_ms(idle.empty), Idle.per_second_ms(idle.full)
    section.figures.append(
        Figure(
            section.title,
            "the stack idle: CPU its polling takes (all its processes), empty bucket",
            median(empty),
            "ms CPU/s",
            ratio=(
                f"{median(empty) / 10:.0f}% of one core; {median(full):.0f} ms/s "
                f"({median(full) / 10:.0f}%) with the {idle.objects} objects of the rounds in "
                "the bucket, which the S3 event pump lists in full every 0.1 s"
            ),
            spread=Spread.of(empty, "ms CPU/s"),
        )
    )
    rows = [
        ["-", f"idle, {label}", f"{account.wall_s:.1f}", "-", *_cpu_cells(account)]
        for label, accounts in (
            ("empty bucket", idle.empty),
            (f"{idle.objects} objects", idle.full),
        )
        for account in accounts
    ]
    for number, (run_, floor_run) in enumerate(zip(ours, floors, strict=True), start=1):
        rows.append(
            [
                str(number),
                "floor",
                f"{floor_run['done_s']:.1f}",
                "-",
                *_cpu_cells(floor_run["account"]),
            ]
        )
        rows.append(
            [
                str(number),
                "ours",
                f"{run_['done_s']:.1f} ({run_['done_s'] / floor_run['done_s']:.2f}x the floor)",
                f"{run_['acknowledged_s']:.1f}",
                *_cpu_cells(run_["account"]),
            ]
        )
    section.tables.append(
        (
            "The stack idle, in windows, before and after the rounds; then each round: wall "
            "seconds from the first upload to the anchor committed (ours) or to "
            "the commit processed (the floor); when ours had every upload acknowledged; CPU "
            "seconds used by this process (client, API front, moto, pump) / the function "
            "workers / PostgreSQL; the cores that kept busy on average; thread-seconds our "
            "threads waited for a CPU (summed over threads, so it can exceed the wall time); the "
            "cores the machine's other processes kept busy meanwhile.",
            [
                "round",
                "run",
                "wall s",
                "acknowledged s",
                "CPU s: process / workers / PostgreSQL",
                "our cores busy",
                "waited for a CPU, thread-s",
                "other work, cores",
            ],
            rows,
        )
    )
    section.tables.append(
        (
            "The seed-equivalent (seconds from the first upload), once.",
            ["", "seed-equivalent"],
            [
                [
                    "anchor committed",
                    f"{seed['done_s']:.1f}" + (" (estimated)" if estimated else ""),
                ],
                ["longest request", f"{seed['longest_request_s']:.2f}"],
                ["chunks measured", f"{seed['chunks_measured']} of {seed['chunks']}"],
            ],
        )
    )
    section.notes.append(_reading(ours, floors, idle, seed))
    section.notes.append(
        "To see which functions that CPU goes to, profile the section across the stack's worker "
        "processes: `.venv/bin/py-spy record --subprocesses --format speedscope -o e2e.json -- "
        ".venv/bin/python -m bench --only end_to_end` (py-spy is in the bench extra). Such a "
        "profile, taken while this benchmark was reworked (before issue 14), put the pipeline's "
        "CPU in the contract's validation (then pydantic, in the ingest request and again in "
        "the processor; ingest now reads only the envelope), the client's JSON encoding and "
        "gzip, and the writes."
    )


def _reading(
    ours: list[dict[str, Any]],
    floors: list[dict[str, Any]],
    idle: Idle,
    seed: dict[str, Any],
) -> str:
    """What dominated the section's time in this run, from its median round."""
    middle = sorted(ours, key=lambda run_: run_["done_s"])[len(ours) // 2]
    account: Account = middle["account"]
    wall, acknowledged = middle["done_s"], middle["acknowledged_s"]
    floor_cores = median([run_["account"].cpu_s / run_["account"].wall_s for run_ in floors])
    workers = account.groups["function workers"].cpu_s
    # Summed over threads, a wait longer than a quarter of the round means the machine's other
    # work, not ours, set the pace.
    loaded_machine = account.waited_s > 0.25 * wall
    own = account.groups["this process"].cpu_s
    verdict = (
        f"So the machine's load dominated this run: other processes kept "
        f"{account.others_cores:.1f} of its {account.cores} cores busy and our threads waited "
        f"{account.waited_s:.1f} thread-seconds for a core. Every figure of the section then "
        "stretches with the load, which is why its absolute times differ severalfold between "
        "runs of the same code on this machine, while the ratio to the floor, "
        "measured in the same minutes, stays within its spread."
        if loaded_machine
        else f"So the pipeline's own work, decoding and writing the samples, dominated this "
        f"run: other processes kept {account.others_cores:.1f} of the {account.cores} cores "
        f"busy and our threads waited only {account.waited_s:.1f} thread-seconds for a core."
    )
    return (
        f"**Reading it.** In the median round ours took {wall:.1f} s, of which "
        f"{acknowledged:.1f} s until every upload was acknowledged: the client sends one chunk "
        "at a time and each request waits for the ingest function to check its chunk's envelope "
        f"({middle['requests_s']:.1f} s in requests; the rest is the client encoding and "
        "compressing the next one), while the processor stores earlier chunks beside it; "
        f"then {wall - acknowledged:.1f} s for the last chunks and the commit to be processed "
        "and the anchor to show. Its processes used "
        f"{account.cpu_s:.1f} s of CPU ({account.groups['this process'].cpu_s:.1f} s in this "
        f"process, {workers:.1f} s in the function workers, "
        f"{account.groups['PostgreSQL'].cpu_s:.1f} s in PostgreSQL): "
        f"{account.cpu_s / account.wall_s:.2f} cores busy on average, against "
        f"{floor_cores:.2f} for the serial floor: the overlap of uploads and processing is what "
        f"ours gains over it. {verdict} Idle, the stack's polling (the S3 listing every 0.1 s, "
        f"the queue poller, the scheduler) costs {median(Idle.per_second_ms(idle.empty)):.0f} "
        f"ms of CPU a second, {median(Idle.per_second_ms(idle.full)):.0f} ms with "
        f"{idle.objects} objects in the bucket, a cost that grows with the bucket. In a round "
        "the pump lists only between its deliveries, and all the polling runs in this process, "
        f"which used {own:.1f} s of the round's {account.cpu_s:.1f} s of CPU with the client, "
        "the API front and moto's S3 included: polling is at most that, while the function "
        f"workers' decoding and writes took {workers:.1f} s. The seed's inline request, for "
        f"comparison, held one {CHUNK_SIZE:,}-sample chunk for "
        f"{seed['longest_request_s']:.0f} s, which is what made clients time out."
    )
