"""1. The processor's write path against the seed's and against the physical limit.

Heart-rate samples, already decoded (the decoder's rows and sources, as the processor holds
them), written three ways into the same PostgreSQL:

- the seed's way: per sample, its own transaction, SELECT ... FOR UPDATE then UPDATE or INSERT
  (bench.seed.SeedWriter, what Django's update_or_create does);
- ours: SyncRepository(conn).samples.upsert_samples, one transaction per chunk of at most
  MAX_CHUNK_ITEMS (20,000) samples, as ChunkProcessor calls it: 100,000 samples are five chunks;
- the limit: the same rows, already encoded as COPY BINARY data, copied into an UNLOGGED table
  without indexes or constraints: what PostgreSQL on this machine can ingest at all.

Three scenarios: fresh (an empty table), re-uploaded with half the values changed, and
re-uploaded unchanged. Rows written are counted from row versions (xmin), WAL from the WAL
insert position.
"""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import psycopg

from bench import data
from bench.database import BenchDatabase, RowVersions, reset_samples, wal_bytes_since, wal_position
from bench.harness import Figure, Section, Spread, median
from bench.seed import SeedWriter
from hksync.contract.sample_rows import DecodedChunk, SampleRow
from hksync.db.syncs import SyncRepository

USER: Final = "bench-user"
#: Seconds the seed's way runs per scenario (at ~1-2 ms a sample, 100k would take minutes).
SEED_BUDGET_S: Final = 20.0
SCENARIOS: Final = ("fresh", "half changed", "all unchanged")
METHODS: Final = ("seed", "ours", "limit")
METHOD_NAMES: Final = {
    "seed": "seed's way (update_or_create per sample)",
    "ours": "ours (COPY to staging + one upsert per chunk)",
    "limit": "limit (COPY BINARY, unlogged, no indexes)",
}
#: The sample's columns in health_samples, for the limit's table and its COPY data.
_COLUMNS: Final = ", ".join(("user_id", *SampleRow._fields, "sync_id"))


@dataclass
class Run:
    #: (samples written, seconds) per round.
    rounds: list[tuple[int, float]] = field(default_factory=list)
    rows_written: int = 0
    wal_bytes: int = 0

    @property
    def rates(self) -> list[float]:
        """Samples per second in each round, in round order."""
        return [count / seconds for count, seconds in self.rounds]

    @property
    def rate(self) -> float:
        return median(self.rates)

    @property
    def samples(self) -> int:
        return self.rounds[-1][0]


@dataclass
class Scenario:
    size: int
    name: str
    runs: dict[str, Run] = field(default_factory=lambda: {method: Run() for method in METHODS})

    def rate(self, method: str) -> float:
        return self.runs[method].rate

    def speedup_over_seed(self) -> float:
        return self.rate("ours") / self.rate("seed")

    def share_of_limit(self) -> float:
        return self.rate("ours") / self.rate("limit")

    def speedup_spread(self) -> Spread:
        """Ours over the seed's way, per round (the seed's way runs once, amid our rounds)."""
        return Spread.of([rate / self.rate("seed") for rate in self.runs["ours"].rates], "x")

    def limit_share_spread(self) -> Spread:
        """Ours over the limit, per round: each round copies the limit right after ours."""
        pairs = zip(self.runs["ours"].rates, self.runs["limit"].rates, strict=True)
        return Spread.of([ours / limit for ours, limit in pairs], "%")


class WritePathBench:
    def __init__(self, conn: psycopg.Connection) -> None:
        self._conn = conn
        self._repository = SyncRepository(conn)
        self._seed = SeedWriter(conn)
        conn.execute("DROP TABLE IF EXISTS copy_limit")
        conn.execute(
            f"CREATE UNLOGGED TABLE copy_limit AS SELECT {_COLUMNS} FROM health_samples"  # noqa: S608
            " WITH NO DATA"
        )

    def write_ours(self, chunks: Sequence[DecodedChunk]) -> int:
        sync_id = uuid.uuid4()
        for chunk in chunks:
            with self._repository.transaction():
                self._repository.samples.upsert_samples(USER, sync_id, chunk.rows, chunk.sources)
        return sum(len(chunk.rows) for chunk in chunks)

    def seed_writer(self, budget_s: float) -> Callable[[Sequence[DecodedChunk]], int]:
        """The seed's way, stopped after ``budget_s`` seconds: each sample is its own
        transaction, so its rate over the samples it reached is its rate over all of them."""

        def write(chunks: Sequence[DecodedChunk]) -> int:
            stop_at = time.perf_counter() + budget_s
            written, sync_id = 0, uuid.uuid4()
            for chunk in chunks:
                created, updated = self._seed.write(
                    USER, sync_id, chunk.rows, chunk.sources, stop_at=stop_at
                )
                written += created + updated
                if time.perf_counter() >= stop_at:
                    break
            return written

        return write

    def copy_data(self, chunks: Sequence[DecodedChunk]) -> bytes:
        """The samples' rows as COPY BINARY data (encoded once, outside any timing)."""
        reset_samples(self._conn)
        self.write_ours(chunks)
        buffer = io.BytesIO()
        with self._conn.cursor().copy(
            f"COPY (SELECT {_COLUMNS} FROM health_samples) TO STDOUT (FORMAT BINARY)"  # noqa: S608
        ) as copy:
            for block in copy:
                buffer.write(block)
        return buffer.getvalue()

    def copy_limit(self, payload: bytes, size: int, run: Run) -> None:
        self._conn.execute("TRUNCATE copy_limit")
        self._conn.execute("CHECKPOINT")
        view = memoryview(payload)
        with self._conn.transaction():
            started = time.perf_counter()
            with self._conn.cursor().copy("COPY copy_limit FROM STDIN (FORMAT BINARY)") as copy:
                for offset in range(0, len(view), 1 << 20):
                    copy.write(view[offset : offset + (1 << 20)])
            run.rounds.append((size, time.perf_counter() - started))

    def timed_write(
        self,
        write: Callable[[Sequence[DecodedChunk]], int],
        incoming: Sequence[DecodedChunk],
        preload: Sequence[DecodedChunk] | None,
        run: Run,
    ) -> None:
        reset_samples(self._conn)
        if preload is not None:
            self.write_ours(preload)
            self._conn.execute("VACUUM ANALYZE health_samples")
            self._conn.execute("CHECKPOINT")
        versions = RowVersions(self._conn)
        wal = wal_position(self._conn)
        started = time.perf_counter()
        count = write(incoming)
        run.rounds.append((count, time.perf_counter() - started))
        run.wal_bytes = wal_bytes_since(self._conn, wal)
        run.rows_written = versions.written()


def measure(
    bench: WritePathBench,
    size: int,
    rounds: int,
    seed_budget_s: float,
    progress: Callable[[str], None],
) -> list[Scenario]:
    """Every scenario once per round, in turn (fresh, half changed, unchanged, each followed by
    the limit), so that ratios between scenarios compare runs of the same minute."""
    dicts = data.heart_rates(size, seed=size)
    original = data.decoded(dicts)
    changed = data.decoded(data.with_changed_values(dicts))
    payload = bench.copy_data(original)
    scenarios = [Scenario(size, name) for name in SCENARIOS]
    for round_number in range(rounds):
        for scenario in scenarios:
            progress(f"write path {size:,} {scenario.name}: round {round_number + 1}/{rounds}")
            incoming = changed if scenario.name == "half changed" else original
            preload = None if scenario.name == "fresh" else original
            bench.timed_write(bench.write_ours, incoming, preload, scenario.runs["ours"])
            bench.copy_limit(payload, size, scenario.runs["limit"])
            # The seed's way would take minutes at 100k: once, time-boxed, amid our rounds.
            if round_number == rounds // 2:
                seed = bench.seed_writer(seed_budget_s)
                bench.timed_write(seed, incoming, preload, scenario.runs["seed"])
    return scenarios


def run(
    database: BenchDatabase, docs: Path, *, quick: bool, progress: Callable[[str], None]
) -> Section:
    sizes = (2_000, 10_000) if quick else (10_000, 100_000)
    rounds = 2 if quick else 5
    seed_budget_s = 3.0 if quick else SEED_BUDGET_S
    section = Section("write_path", "1. Processor write path")
    url = database.fresh("write_path")
    with psycopg.connect(url, autocommit=True) as conn:
        bench = WritePathBench(conn)
        results = [
            scenario
            for size in sizes
            for scenario in measure(bench, size, rounds, seed_budget_s, progress)
        ]
    _report(section, results, sizes[-1])
    from bench import charts

    section.charts.append(charts.write_path(results, sizes[-1], docs / "benchmarks-write-path.png"))
    return section


def _report(section: Section, results: list[Scenario], headline_size: int) -> None:
    rows = []
    for scenario in results:
        for method in METHODS:
            run_ = scenario.runs[method]
            limit_share = run_.rate / scenario.rate("limit")
            vs_seed = run_.rate / scenario.rate("seed")
            rows.append(
                [
                    f"{scenario.size:,}",
                    scenario.name,
                    METHOD_NAMES[method],
                    f"{scenario.rate(method):,.0f}",
                    f"{min(run_.rates):,.0f} / {max(run_.rates):,.0f}",
                    f"{run_.samples:,}",
                    f"{vs_seed:,.1f}x",
                    f"{limit_share:.0%}",
                    "-" if method == "limit" else f"{run_.rows_written:,}",
                    "-" if method == "limit" else f"{run_.wal_bytes / 1e6:,.1f}",
                ]
            )
    section.tables.append(
        (
            "Every run: the median rate of the rounds and the slowest and fastest round (ours and "
            "the limit: every round; the seed's way: one run, time-boxed, in the middle of ours; "
            "'samples timed' is what it reached). Rows written counts new row versions; WAL is "
            "what the run added to the write-ahead log.",
            [
                "samples",
                "scenario",
                "method",
                "rows/s",
                "min / max",
                "samples timed",
                "vs seed",
                "of limit",
                "rows written",
                "WAL MB",
            ],
            rows,
        )
    )

    by_name = {(s.size, s.name): s for s in results}
    fresh = by_name[(headline_size, "fresh")]
    half = by_name[(headline_size, "half changed")]
    unchanged = by_name[(headline_size, "all unchanged")]
    label = f"{headline_size:,}"
    speedup = fresh.speedup_over_seed()
    # Ratios judged round by round (the middle of the spread), not as a ratio of two medians.
    share = fresh.limit_share_spread().median
    section.figures.append(
        Figure(
            section.title,
            f"fresh {label}: ours vs the seed's way",
            fresh.rate("ours"),
            "rows/s",
            ratio=f"{speedup:,.0f}x the seed's way ({fresh.rate('seed'):,.0f} rows/s)",
            target="at least 60x",
            met=speedup >= 60,
            note=""
            if speedup >= 60
            else (
                f"missed by {1 - speedup / 60:.0%}: the seed's way, one WAL flush to disk per "
                f"sample, ran at {fresh.rate('seed'):,.0f} rows/s on this run's disk (about 1,900 "
                f"in the issue's reference), while ours is bound by CPU at {share:.0%} of the "
                "COPY limit"
            ),
            spread=fresh.speedup_spread(),
        )
    )
    section.figures.append(
        Figure(
            section.title,
            f"fresh {label}: ours vs the binary COPY limit",
            fresh.rate("ours"),
            "rows/s",
            ratio=f"{share:.0%} of the limit ({fresh.rate('limit'):,.0f} rows/s)",
            target="at least 30%",
            met=share >= 0.30,
            note=""
            if share >= 0.30
            else (
                f"missed by {0.30 - share:.0%} points: ours keeps the indexes, the checks and "
                "the WAL that the limit skips, and copies its rows from Python"
            ),
            spread=fresh.limit_share_spread(),
        )
    )
    section.figures.append(
        Figure(
            section.title,
            f"half changed {label}: ours",
            half.rate("ours"),
            "rows/s",
            ratio=(
                f"{half.speedup_over_seed():,.0f}x the seed's way; "
                f"{half.runs['ours'].rows_written:,} rows written (the changed half; the seed's "
                f"way rewrote all {half.runs['seed'].rows_written:,} it reached)"
            ),
            spread=half.speedup_spread(),
        )
    )
    faster_by_round = Spread.of(
        [
            again / first
            for again, first in zip(
                unchanged.runs["ours"].rates, fresh.runs["ours"].rates, strict=True
            )
        ],
        "x",
    )
    faster = faster_by_round.median
    written = unchanged.runs["ours"].rows_written
    section.notes.append(
        f"**Reading it.** The seed's way pays, for every sample, three or four statements, each "
        f"a round trip, and a commit, which waits for its WAL to reach the disk: "
        f"{fresh.rate('seed'):,.0f} samples/s. Ours sends a chunk as one COPY stream and one "
        f"statement, and commits once per 20,000 samples: {speedup:,.0f}x. The limit writes "
        "into a table with no index, no constraint and no WAL (unlogged), and compares nothing; "
        "ours maintains the primary key, three indexes (time range, local date and the read "
        "side's paging order) and the table's checks, WAL-logs every row "
        f"({fresh.runs['ours'].wal_bytes / 1e6:,.0f} MB for {label} fresh samples), sorts each "
        "chunk by UUID (one lock order for concurrent writers), stages the rows as text JSON "
        "and casts them, and copies the decoder's row tuples to the server from Python: "
        f"{share:.0%} of the limit."
    )
    section.notes.append(
        f"Re-uploaded unchanged, every row equal to what is stored is dropped before the INSERT: "
        f"{written:,} rows written and {unchanged.runs['ours'].wal_bytes / 1e6:.2f} MB of WAL, "
        f"{faster:.2f}x the rate of a fresh insert. The seed's way rewrites every row it touches "
        "(update_or_create saves whether or not anything changed). Half changed, ours rewrites "
        "exactly the changed half."
    )
    section.notes.append(
        "The seed's rate is bound by commit latency (a WAL flush to disk per sample), which on "
        "this shared machine's disk varies severalfold from one run to the next (the issue's "
        "reference: about 1,900 samples/s); ours is bound by CPU. So the ratio to the seed moves "
        "more between runs than any other figure here."
    )
    section.notes.append(
        f"The seed's way is time-boxed ({SEED_BUDGET_S:.0f} s per scenario): each of its samples "
        "is its own transaction, so its rate over the samples it reached is its rate over all "
        "of them (the table's 'samples timed' says how many). Before each run the table is "
        "emptied (or re-filled for a re-upload), vacuumed and checkpointed, so no run pays for "
        "another's dirty pages. Each round runs the three scenarios in turn, so the unchanged "
        "re-upload is compared with the fresh insert of its own round (its spread is that "
        "ratio's range over the rounds); measured scenario after scenario, minutes apart, that "
        "ratio moved with the machine's load (1.75x in one published run, 1.21x in a rerun)."
    )
    section.figures.append(
        Figure(
            section.title,
            f"all unchanged {label}: ours vs our fresh insert",
            unchanged.rate("ours"),
            "rows/s",
            ratio=(
                f"{faster:.2f}x faster than fresh; {written:,} rows written, "
                f"{unchanged.runs['ours'].wal_bytes / 1e6:.2f} MB WAL (the seed's way "
                f"rewrote all {unchanged.runs['seed'].rows_written:,} rows it reached: "
                f"{unchanged.runs['seed'].wal_bytes / 1e6:.0f} MB WAL)"
            ),
            target="at least 2x faster, 0 rows written",
            met=faster >= 2 and written == 0,
            note=(
                ""
                if faster >= 2 and written == 0
                else f"{faster:.2f}x of 2x; {written:,} rows written"
            ),
            spread=faster_by_round,
        )
    )
