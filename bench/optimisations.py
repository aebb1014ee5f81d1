"""6. The optimisations made for these targets, before and after, in the same process.

The pydantic contract models (hksync/contract/models.py) and the repository (hksync/db) were
optimised for the targets above, with their behaviour unchanged (every existing test passed
unmodified). Issue 14 then replaced both (section 7 compares that change), so both sides are
read from git (bench.revisions): "before" is revision 902f2b4 (BEFORE), the last before that
work, and "after" is revision a688803 (AFTER), the last with those models. Each runs beside
the other in interleaved rounds, against a database migrated by its own revision's migrations:

- validating a 20,000-sample heart-rate chunk (Chunk.model_validate_json), its sources as the
  pydantic contract reads them (name, bundle id, version: bench.data.with_pydantic_sources);
- upserting its 20,000 samples, fresh and all unchanged (each version on its own connection);
- importing the contract models in a fresh process (cold start).

What changed: the chunk's validation runs with the cyclic garbage collector paused (it found
no garbage and rescanned every sample's objects again and again); the sample-type discriminator
is one dictionary lookup; the time-zone list is read on first use instead of at import. Rows
are encoded with their JSON written by pydantic-core and each distinct device serialised once,
staged as text and cast in SQL; rows equal to what is stored are filtered out before the
INSERT, so an unchanged re-upload no longer locks (and so writes WAL for) every row.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, Final

import psycopg

from bench import data
from bench.database import BenchDatabase, reset_samples, wal_bytes_since, wal_position
from bench.harness import Figure, Section, Spread, interleaved, median, stopwatch
from bench.revisions import Revision, import_ms, package_at
from hksync.contract.chunk_wire import MAX_CHUNK_ITEMS

#: The last revision before the optimisation (the NUL-character checks added to the contract
#: between the two cost a little, so the ratios below slightly understate the gain).
BEFORE: Final = "902f2b4c5059ae729b3c3bc915a5f7f339035e28"
#: The last revision with the optimised pydantic contract, before issue 14 replaced it.
AFTER: Final = "a688803a0bc25d1455053a144ff447eefb4e07f9"


def _validation_s(model: Any, payload: bytes) -> float:
    return stopwatch(lambda: model.model_validate_json(payload))


def _models_import_s(revision: Revision) -> float:
    """Seconds a fresh process takes to import the revision's contract models, pydantic and
    the type table already imported (what the optimisation of the models changed)."""
    preloaded = ("pydantic", f"{revision.name}.contract.types")
    return (
        import_ms(f"{revision.name}.contract.models", revision.folder, preloaded=preloaded) / 1000
    )


def _repository(revision: Revision, conn: psycopg.Connection) -> Any:
    """The revision's sample writer: at BEFORE it was db/repository.py's Repository."""
    if revision.revision == BEFORE:
        return revision.module("db.repository").Repository(conn)
    return revision.module("db.syncs").SyncRepository(conn)


def run(
    database: BenchDatabase, docs: Path, *, quick: bool, progress: Callable[[str], None]
) -> Section:
    count = 2_000 if quick else MAX_CHUNK_ITEMS
    rounds = 3 if quick else 5
    section = Section("optimisations", "6. Optimisations: before and after")
    with package_at(BEFORE) as before, package_at(AFTER) as after:
        if before is None or after is None:
            section.notes.append(
                f"Skipped: revision {BEFORE[:7]} or {AFTER[:7]} is not in this clone's history."
            )
            return section
        versions = {"before": before, "after": after}
        rows: list[list[str]] = []

        progress("optimisations: validation")
        payload = data.encoded(
            next(
                data.chunk_bodies(
                    data.with_pydantic_sources(data.heart_rates(count)), sync_id=uuid.uuid4()
                )
            )
        )
        chunk_models = {
            name: version.module("contract.models").Chunk for name, version in versions.items()
        }
        validation = interleaved(
            {name: partial(_validation_s, model, payload) for name, model in chunk_models.items()},
            rounds,
        )
        _add(section, rows, f"validate a {count:,}-sample chunk", validation, count, "samples/s")

        # Each version writes its own models, into the schema of its own revision.
        samples = {
            name: model.model_validate_json(payload).unique_samples()
            for name, model in chunk_models.items()
        }
        urls = {
            name: database.fresh(f"optimisations_{name}", migrate_with=version.migrate())
            for name, version in versions.items()
        }
        with (
            psycopg.connect(urls["before"], autocommit=True) as conn_before,
            psycopg.connect(urls["after"], autocommit=True) as conn_after,
        ):
            writers = {
                "before": (_repository(before, conn_before), conn_before),
                "after": (_repository(after, conn_after), conn_after),
            }
            wal: dict[str, int] = {}
            for scenario in ("fresh", "all unchanged"):
                progress(f"optimisations: upsert, {scenario}")

                def write(version: str, scenario: str = scenario) -> float:
                    repository, conn = writers[version]
                    reset_samples(conn)
                    if scenario != "fresh":
                        with repository.transaction():
                            repository.upsert_samples("bench", uuid.uuid4(), samples[version])
                        conn.execute("VACUUM ANALYZE health_samples")
                        conn.execute("CHECKPOINT")
                    position = wal_position(conn)
                    started = time.perf_counter()
                    with repository.transaction():
                        repository.upsert_samples("bench", uuid.uuid4(), samples[version])
                    seconds = time.perf_counter() - started
                    wal[f"{scenario} {version}"] = wal_bytes_since(conn, position)
                    return seconds

                upserts = interleaved(
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
        imports = interleaved(
            {name: partial(_models_import_s, version) for name, version in versions.items()},
            rounds * 2,
        )
        _add(section, rows, "import the contract models (fresh process)", imports, 0, "ms")
    section.tables.append(
        (
            f"Medians of {rounds} interleaved rounds (imports: {rounds * 2}); 'before' is "
            f"revision {BEFORE[:7]}, 'after' revision {AFTER[:7]}.",
            ["operation", "before", "after", "after vs before", "also"],
            rows,
        )
    )
    return section


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
