"""6. The optimisations made for these targets, before and after, in the same process.

The contract models (hksync/contract/models.py) and the repository (hksync/db/syncs.py)
were optimised for the targets above, with their behaviour unchanged (every existing test
passes unmodified). The versions before that work are read from git (revision BEFORE below)
into modules of their own and run side by side with today's, in interleaved rounds:

- validating a 20,000-sample heart-rate chunk (Chunk.model_validate_json);
- SyncRepository.upsert_samples of 20,000 samples, fresh and all unchanged (each version on its own
  connection to the same database);
- importing the contract models in a fresh process (cold start).

What changed: the chunk's validation runs with the cyclic garbage collector paused (it found
no garbage and rescanned every sample's objects again and again); the sample-type discriminator
is one dictionary lookup; the time-zone list is read on first use instead of at import. Rows
are encoded with their JSON written by pydantic-core and each distinct device serialised once,
staged as text and cast in SQL; rows equal to what is stored are filtered out before the
INSERT, so an unchanged re-upload no longer locks (and so writes WAL for) every row.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import tempfile
import time
import types
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import psycopg

from bench import data
from bench.database import BenchDatabase, reset_samples, wal_bytes_since, wal_position
from bench.harness import ROOT, Figure, Section, Spread, median
from hksync.contract import models as models_now
from hksync.contract.models import MAX_CHUNK_ITEMS
from hksync.db import syncs as repository_now

#: The last revision before the optimisation (the NUL-character checks added to the contract
#: since then cost a little, so the ratios below slightly understate the gain).
BEFORE: Final = "902f2b4c5059ae729b3c3bc915a5f7f339035e28"
_IMPORT_PROBE: Final = """
import json, sys, time
import pydantic, hksync.contract.types, hksync.contract.field_errors
started = time.perf_counter()
import importlib.util
spec = importlib.util.spec_from_file_location("models_probe", sys.argv[1])
module = importlib.util.module_from_spec(spec)
sys.modules["models_probe"] = module
spec.loader.exec_module(module)
print(json.dumps({"ms": (time.perf_counter() - started) * 1000}))
"""


def _before(path: str, name: str, folder: Path) -> types.ModuleType | None:
    """The file as it was at BEFORE, imported as module ``name``; None without git history."""
    completed = subprocess.run(  # noqa: S603 - fixed arguments
        ["git", "show", f"{BEFORE}:{path}"],  # noqa: S607 - read-only git, on PATH
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        return None
    source = folder / f"{name}.py"
    source.write_text(completed.stdout, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, source)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _rounds(candidates: dict[str, Callable[[], float]], rounds: int) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(rounds):
        for name, measure in candidates.items():
            results[name].append(measure())
    return results


def _timed(action: Callable[[], Any]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def run(
    database: BenchDatabase, docs: Path, *, quick: bool, progress: Callable[[str], None]
) -> Section:
    count = 2_000 if quick else MAX_CHUNK_ITEMS
    rounds = 3 if quick else 5
    section = Section("optimisations", "6. Optimisations: before and after")
    with tempfile.TemporaryDirectory(prefix="hksync-bench-before-") as folder:
        models_before = _before("shared/hksync/contract/models.py", "models_before", Path(folder))
        # At BEFORE the repository was hksync/db/repository.py, its class Repository.
        repository_before = _before(
            "shared/hksync/db/repository.py", "repository_before", Path(folder)
        )
        if models_before is None or repository_before is None:
            section.notes.append(f"Skipped: revision {BEFORE[:7]} is not in this clone's history.")
            return section
        rows: list[list[str]] = []

        progress("optimisations: validation")
        samples = data.heart_rates(count)
        payload = data.encoded(next(data.chunk_bodies(samples, sync_id=uuid.uuid4())))
        validation = _rounds(
            {
                "before": lambda: _timed(lambda: models_before.Chunk.model_validate_json(payload)),
                "after": lambda: _timed(lambda: models_now.Chunk.model_validate_json(payload)),
            },
            rounds,
        )
        _add(section, rows, f"validate a {count:,}-sample chunk", validation, count, "samples/s")

        url = database.fresh("optimisations")
        validated = data.validated(samples)
        with (
            psycopg.connect(url, autocommit=True) as conn_before,
            psycopg.connect(url, autocommit=True) as conn_after,
        ):
            writers = {
                "before": (repository_before.Repository(conn_before), conn_before),
                "after": (repository_now.SyncRepository(conn_after), conn_after),
            }
            wal: dict[str, int] = {}
            for scenario in ("fresh", "all unchanged"):
                progress(f"optimisations: upsert, {scenario}")

                def write(version: str, scenario: str = scenario) -> float:
                    repository, conn = writers[version]
                    reset_samples(conn)
                    if scenario != "fresh":
                        with repository.transaction():
                            repository.upsert_samples("bench", uuid.uuid4(), validated)
                        conn.execute("VACUUM ANALYZE health_samples")
                        conn.execute("CHECKPOINT")
                    position = wal_position(conn)
                    started = time.perf_counter()
                    with repository.transaction():
                        repository.upsert_samples("bench", uuid.uuid4(), validated)
                    seconds = time.perf_counter() - started
                    wal[f"{scenario} {version}"] = wal_bytes_since(conn, position)
                    return seconds

                upserts = _rounds(
                    {"before": lambda: write("before"), "after": lambda: write("after")}, rounds
                )
                _add(
                    section,
                    rows,
                    f"upsert {count:,} samples, {scenario}",
                    upserts,
                    count,
                    "rows/s",
                    extra=(
                        f"WAL {wal[f'{scenario} before'] / 1e6:.1f} MB -> "
                        f"{wal[f'{scenario} after'] / 1e6:.1f} MB"
                    ),
                )

        progress("optimisations: import time")
        before_file = str(Path(folder) / "models_before.py")
        imports = _rounds(
            {
                "before": lambda: _import_ms(before_file) / 1000,
                "after": lambda: _import_ms(str(Path(models_now.__file__))) / 1000,
            },
            rounds * 2,
        )
        _add(section, rows, "import the contract models (fresh process)", imports, 0, "ms")
    section.tables.append(
        (
            f"Medians of {rounds} interleaved rounds (imports: {rounds * 2}); 'before' is "
            f"revision {BEFORE[:7]}.",
            ["operation", "before", "after", "after vs before", "also"],
            rows,
        )
    )
    return section


def _import_ms(path: str) -> float:
    completed = subprocess.run(  # noqa: S603 - our interpreter, our probe
        [sys.executable, "-c", _IMPORT_PROBE, path],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    result: dict[str, float] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result["ms"]


def _add(
    section: Section,
    rows: list[list[str]],
    operation: str,
    results: dict[str, list[float]],
    count: int,
    unit: str,
    extra: str = "",
) -> None:
    before, after = median(results["before"]), median(results["after"])
    # Before and after alternate, so round i of each shared a moment of the machine's load.
    speedups = Spread.of(
        [old / new for old, new in zip(results["before"], results["after"], strict=True)], "x"
    )
    if unit == "ms":
        cells = [f"{before * 1000:.0f} ms", f"{after * 1000:.0f} ms"]
        value = after * 1000
        ratio = f"{speedups.median:.2f}x faster ({before * 1000:.0f} ms before)"
    else:
        cells = [f"{count / before:,.0f} {unit}", f"{count / after:,.0f} {unit}"]
        value = count / after
        ratio = f"{speedups.median:.2f}x the rate before ({count / before:,.0f} {unit})"
    rows.append([operation, *cells, f"{speedups.median:.2f}x", extra])
    section.figures.append(
        Figure(section.title, operation, value, unit, ratio=ratio, spread=speedups)
    )
