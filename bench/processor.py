"""2. The whole processor: bytes in S3 to committed rows, and its peak memory.

The processor function itself (functions/processor/app.py, loaded with the template's
environment) is invoked with S3 ObjectCreated events for chunks stored in moto's S3 server, on
loopback, gzip-compressed as the reference client uploads them. One invocation reads the
object, decompresses it, decodes it (the contract, sample by sample, into the rows to store),
and in one transaction upserts the sources and samples, records the chunk and settles the sync.
Each round stores a new chunk of MAX_CHUNK_ITEMS (20,000) heart-rate samples: the largest
chunk the API accepts.

The baseline, in the same rounds: the seed's inline request on the same bytes (validate, then
update_or_create per sample), time-boxed. Beside it, the decoding step alone on the same bytes
(decode_chunk), so the invocation's time splits into decoding and writing.

Peak memory is measured in a fresh process per chunk (bench/memory_probe.py): the processor's
resident set (what Lambda's "Max Memory Used" reports) after a warm-up invocation, and its
high-water mark (VmHWM) during the largest chunk: 20,000 realistic samples (~10 MB of JSON),
and 20,000 samples padded with metadata to just under the 32 MiB decompressed cap.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import boto3
import psycopg

from bench import data
from bench.database import BenchDatabase
from bench.functions import Functions, invoke, loaded, quiet_moto
from bench.harness import ROOT, Figure, Section, Spread, environment, median
from bench.seed import SeedWriter
from hksync.codec import decode_body
from hksync.contract.chunk_wire import MAX_CHUNK_ITEMS
from hksync.contract.decoding import decode_chunk
from hksync.keys import ChunkKey
from hksync.settings import ProcessorSettings
from hksync_tools.local.lambda_events import s3_put_event
from hksync_tools.local.stack import FAKE_CREDENTIALS, LOCAL_REGION, free_port

BUCKET: Final = "hksync-bench-raw"
USER: Final = "bench-user"
#: The processor's budget in the template (MemorySize of ProcessorFunction is larger; this is
#: the issue's target for the largest chunk).
MEMORY_TARGET_MB: Final = 512
THROUGHPUT_TARGET: Final = 50_000
#: Seconds the seed's inline request runs per round (a 20k chunk would take ~30 s or more).
SEED_BUDGET_S: Final = 10.0


class MotoServer:
    """moto's S3 on loopback, as the local stack runs it; clients reach it by AWS_ENDPOINT_URL."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        quiet_moto()
        self.port = free_port()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> MotoServer:
        self._server.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.stop()


def _put_chunk(s3: Any, body: dict[str, Any]) -> tuple[str, bytes]:
    """Stores a chunk as the client uploads it (gzip); returns its key and its JSON bytes."""
    payload = data.encoded(body)
    key = str(ChunkKey(USER, uuid.UUID(body["sync_id"]), body["seq"]))
    s3.put_object(Bucket=BUCKET, Key=key, Body=gzip.compress(payload, 6))
    return key, payload


def _new_chunk(s3: Any, count: int, seed: int, pad_to: int | None = None) -> tuple[str, bytes]:
    samples = data.heart_rates(count, seed=seed)
    if pad_to is not None:
        samples = _padded(samples, pad_to)
    body = next(data.chunk_bodies(samples, sync_id=uuid.uuid4()))
    return _put_chunk(s3, body)


def _padded(samples: list[data.Sample], total_bytes: int) -> list[data.Sample]:
    """The samples with metadata strings added so that their chunk is about total_bytes."""
    base = len(data.encoded(next(data.chunk_bodies(samples, sync_id=uuid.uuid4()))))
    per_sample = max(0, (total_bytes - base) // len(samples))
    # Values of at most 1,000 characters (the contract allows 1,024 and 64 keys).
    keys = -(-per_sample // 1000)
    overhead = len(',"BenchPadding00":""')
    length = max(0, per_sample // keys - overhead) if keys else 0
    return [
        {
            **sample,
            "metadata": {
                **sample["metadata"],
                **{
                    f"BenchPadding{key:02d}": (uuid.UUID(int=index * 64 + key).hex * 32)[:length]
                    for key in range(keys)
                },
            },
        }
        for index, sample in enumerate(samples)
    ]


def run(
    database: BenchDatabase, docs: Path, *, quick: bool, progress: Callable[[str], None]
) -> Section:
    count = 2_000 if quick else MAX_CHUNK_ITEMS
    rounds = 2 if quick else 5
    seed_budget_s = 2.0 if quick else SEED_BUDGET_S
    section = Section("processor", "2. Whole processor")
    functions = Functions.from_template()
    spec = functions.by_code("processor")
    url = database.fresh("processor")
    seed_url = database.fresh("processor_seed")
    max_bytes = ProcessorSettings.model_fields["max_chunk_bytes"].default

    with MotoServer() as moto:
        aws = {**FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": moto.endpoint, "AWS_REGION": LOCAL_REGION}
        with environment(aws):
            s3 = boto3.client("s3", region_name=LOCAL_REGION)
            s3.create_bucket(Bucket=BUCKET)
        variables = functions.environment(
            spec,
            **aws,
            RAW_BUCKET=BUCKET,
            DATABASE_URL=url,
            POWERTOOLS_TRACE_DISABLED="true",
            POWERTOOLS_LOG_LEVEL="WARNING",
        )
        invocations: list[float] = []
        decoding: list[float] = []
        seed_rates: list[float] = []
        with (
            loaded(spec, variables) as handler,
            psycopg.connect(seed_url, autocommit=True) as seed_conn,
        ):
            seed = SeedWriter(seed_conn)
            warm_key, _ = _new_chunk(s3, 10, seed=0)
            invoke(handler, spec, s3_put_event(BUCKET, warm_key, size=1))  # cold start excluded
            for round_number in range(rounds):
                progress(f"processor: round {round_number + 1}/{rounds}")
                key, _ = _new_chunk(s3, count, seed=1000 + round_number)
                stored = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
                started = time.perf_counter()
                result = invoke(handler, spec, s3_put_event(BUCKET, key, size=len(stored)))
                invocations.append(time.perf_counter() - started)
                outcome = result["results"][0]["outcome"]
                if outcome != "stored":
                    raise RuntimeError(f"the processor did not store the chunk: {result}")
                started = time.perf_counter()
                decode_chunk(decode_body(stored, max_bytes))
                decoding.append(time.perf_counter() - started)
                if round_number == rounds // 2:
                    seed_rates.append(_seed_rate(seed, stored, seed_budget_s))
        with psycopg.connect(url) as conn:
            stored_rows = conn.execute("SELECT count(*) FROM health_samples").fetchone()
        progress("processor: peak memory")
        memory = [
            _peak_memory(s3, variables, spec.code_dir, spec.handler, count, pad_to)
            for pad_to in (None, max_bytes * 99 // 100)
        ]

    rate = count / median(invocations)
    decode_rate = count / median(decoding)
    write_seconds = median(invocations) - median(decoding)
    seed_rate = median(seed_rates)
    rates = Spread.of([count / seconds for seconds in invocations], "samples/s")
    decode_shares = Spread.of(
        [decode / total for decode, total in zip(decoding, invocations, strict=True)], "%"
    )
    section.figures.append(
        Figure(
            section.title,
            f"S3 bytes to committed rows, {count:,}-sample chunk",
            rate,
            "samples/s",
            ratio=f"{rate / seed_rate:,.0f}x the seed's inline request ({seed_rate:,.0f}/s)",
            target=f"at least {THROUGHPUT_TARGET:,} samples/s",
            met=rate >= THROUGHPUT_TARGET,
            note=(
                ""
                if rate >= THROUGHPUT_TARGET
                else f"{rate / THROUGHPUT_TARGET:.0%} of the target: decoding (the contract) "
                f"takes {median(decoding) / median(invocations):.0%} of the invocation, the S3 "
                "read and the write transaction the rest"
            ),
            spread=rates,
        )
    )
    section.figures.append(
        Figure(
            section.title,
            "of which decode: validate and build the rows (the contract)",
            decode_rate,
            "samples/s",
            ratio=f"{median(decoding) / median(invocations):.0%} of the invocation's time",
            spread=decode_shares,
        )
    )
    if write_seconds > 0:
        section.figures.append(
            Figure(
                section.title,
                "of which the rest: S3 read, the write transaction",
                count / write_seconds,
                "samples/s",
                ratio=f"{write_seconds / median(invocations):.0%} of the invocation's time",
            )
        )
    for probe in memory:
        section.figures.append(
            Figure(
                section.title,
                f"peak memory, {probe['label']}",
                probe["peak_mb"],
                "MB",
                ratio=(
                    f"{probe['peak_mb'] / probe['idle_mb']:.1f}x the warm function's "
                    f"{probe['idle_mb']:.0f} MB; +{probe['peak_mb'] - probe['idle_mb']:.0f} MB "
                    f"for {probe['json_mb']:.1f} MB of JSON"
                ),
                target=f"under {MEMORY_TARGET_MB} MB",
                met=probe["peak_mb"] < MEMORY_TARGET_MB,
                spread=Spread.of([probe["peak_mb"]], "MB"),
            )
        )
    section.tables.append(
        (
            "Rounds (seconds per invocation, and for decoding alone on the same bytes).",
            ["round", "invocation s", "decode s", "samples/s"],
            [
                [str(index + 1), f"{total:.3f}", f"{decode:.3f}", f"{count / total:,.0f}"]
                for index, (total, decode) in enumerate(zip(invocations, decoding, strict=True))
            ],
        )
    )
    decode_us = median(decoding) / count * 1e6
    decode_share = median(decoding) / median(invocations)
    section.notes.append(
        f"**Reading it.** One invocation of {count:,} samples took {median(invocations):.2f} s: "
        f"{decode_us:.1f} µs a sample to decode the contract, "
        f"{max(write_seconds, 0) / count * 1e6:.1f} µs for the rest (S3 read and decompress, "
        "the sources, COPY of the rows, the upsert, the ledger, the commit). Decoding is "
        "msgspec (C) for the envelope and for each sample's struct, then Python per sample for "
        "what a schema cannot say: the HealthKit era and the clock's skew, the unit's "
        "conversion to the type's canonical unit and its plausible range, the time zone and "
        "the local date, the source's key, repeated UUIDs, and the row itself "
        "(hksync.contract.decoding). "
        + (
            f"That per-sample Python work, more than the database, bounds the rate: decoding is "
            f"{decode_share:.0%} of the invocation."
            if decode_share >= 0.5
            else f"Decoding is {decode_share:.0%} of the invocation: the write transaction and "
            "the S3 read, not that per-sample Python work, take the larger part."
        )
    )
    section.notes.append(
        "Memory: the largest chunk the API accepts is bounded twice, by MAX_CHUNK_ITEMS (20,000 "
        "samples and deletions) and by the 32 MiB decompressed cap; the padded chunk is the "
        "worst case of both. Peak is the process's high-water resident set during that one "
        "invocation (VmHWM, reset after a warm-up invocation); the warm figure is the resident "
        "set before it."
    )
    section.notes.append(
        f"{rounds} rounds; rows stored in total: {stored_rows[0] if stored_rows else 0:,}. "
        "The warm-up invocation (cold start, first database connection) is not timed."
    )
    return section


def _seed_rate(seed: SeedWriter, stored: bytes, budget_s: float) -> float:
    """Samples per second of the seed's inline request on the same bytes: decode the whole
    chunk, then update_or_create sample by sample. The writing is stopped after budget_s and
    its per-sample time applied to the rest of the chunk (each sample is its own transaction)."""
    started = time.perf_counter()
    chunk = decode_chunk(decode_body(stored, 1 << 30))
    decoded = time.perf_counter()
    created, updated = seed.write(
        USER, chunk.sync_id, chunk.rows, chunk.sources, stop_at=time.perf_counter() + budget_s
    )
    per_sample = (time.perf_counter() - decoded) / (created + updated)
    return len(chunk.rows) / (decoded - started + per_sample * len(chunk.rows))


def _peak_memory(
    s3: Any,
    variables: dict[str, str | None],
    code_dir: Path,
    handler: str,
    count: int,
    pad_to: int | None,
) -> dict[str, Any]:
    warm_key, _ = _new_chunk(s3, 10, seed=7)
    key, payload = _new_chunk(s3, count, seed=5000 + (pad_to or 0) % 997, pad_to=pad_to)
    label = f"{count:,} samples, {len(payload) / 2**20:.1f} MiB JSON" + (
        " (padded to the 32 MiB cap)" if pad_to else ""
    )
    env = {name: value for name, value in variables.items() if value is not None}
    completed = subprocess.run(  # noqa: S603 - our own probe, with our interpreter
        [sys.executable, "-m", "bench.memory_probe", str(code_dir), handler, BUCKET, warm_key, key],
        cwd=ROOT,
        env={**_base_environment(), **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"memory probe failed: {completed.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    result["label"] = label
    result["json_mb"] = len(payload) / 1e6
    return result


def _base_environment() -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "PYTHONPATH", "TMPDIR", "VIRTUAL_ENV")
    return {name: os.environ[name] for name in keep if name in os.environ}
