"""`make bench`: run every section, print one table, write docs/benchmarks.md and its charts.

    python -m bench                      # everything (about 10 minutes on 2 cores)
    python -m bench --only cold_start    # one or more sections, by key
    python -m bench --quick              # small sizes, few rounds: checks the machinery only

A partial or quick run prints its table but writes the doc only when asked (--output), so the
committed docs/benchmarks.md always holds a full run.
"""

from __future__ import annotations

import argparse
import inspect
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from bench import (
    cold_start,
    contract_change,
    end_to_end,
    ingest_latency,
    optimisations,
    processor,
    report,
    summaries,
    write_path,
)
from bench.cpu import RunShare, Share
from bench.database import BenchDatabase
from bench.harness import ROOT, MachineLoad, Section, load_average, machine

SECTIONS: dict[str, Callable[..., Section]] = {
    "write_path": write_path.run,
    "processor": processor.run,
    "end_to_end": end_to_end.run,
    "ingest_latency": ingest_latency.run,
    "cold_start": cold_start.run,
    "optimisations": optimisations.run,
    "contract_change": contract_change.run,
    "summaries": summaries.run,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--only", nargs="+", choices=sorted(SECTIONS), help="sections to run")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument(
        "--output", type=Path, help="where to write the report (default for a full run: docs/)"
    )
    arguments = parser.parse_args(argv)
    keys = arguments.only or list(SECTIONS)
    full_run = not arguments.quick and keys == list(SECTIONS)
    output: Path | None = arguments.output or (
        ROOT / "docs" / "benchmarks.md" if full_run else None
    )
    docs = output.parent if output else Path(tempfile.mkdtemp(prefix="hksync-bench-charts-"))

    console = Console(width=None if Console().is_terminal else 200)
    started = time.perf_counter()
    about = machine()
    about["load average at start (1, 5, 15 min)"] = load_average()
    console.print(f"[bold]hksync benchmarks[/bold] on {about['cpu']}, {about['memory']}")

    sections: list[Section] = []
    with tempfile.TemporaryDirectory(prefix="hksync-bench-") as workdir:
        database = BenchDatabase(Path(workdir) / "pgdata")
        database.start()
        try:
            about.update(
                {f"PostgreSQL {name}": value for name, value in database.settings().items()}
            )
            about["PostgreSQL"] = "embedded (pgserver)" if database.embedded else "DATABASE_URL"
            concurrent = Share(0.0, 0.0, 0.0)
            for key in keys:
                console.print(f"[bold]{key}[/bold] ...")
                section_started = time.perf_counter()
                load, share = MachineLoad(), RunShare(database.server_processes)
                with console.status(key) as status:
                    section = SECTIONS[key](
                        database,
                        docs,
                        quick=arguments.quick,
                        progress=lambda message, status=status: status.update(message),
                    )
                section.seconds = time.perf_counter() - section_started
                section_share = share.stop()
                concurrent += section_share
                section.machine = f"{load.summary()}; {section_share}"
                # How it was measured: the section module's docstring leads its part of the doc.
                method = inspect.getdoc(sys.modules[SECTIONS[key].__module__]) or ""
                section.notes.insert(0, method.split("\n", 1)[1].strip() if "\n" in method else "")
                sections.append(section)
                console.print(f"  done in {section.seconds:.0f}s")
            about["concurrent load during the run"] = str(concurrent)
        finally:
            database.stop()
    about["load average at end (1, 5, 15 min)"] = load_average()
    elapsed = time.perf_counter() - started
    about["bench run time"] = f"{elapsed / 60:.1f} min"

    report.print_table(console, sections)
    if output is not None:
        report.write_markdown(output, about, sections, quick=arguments.quick)
        console.print(f"wrote {output} (and its charts) in {elapsed / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
