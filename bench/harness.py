"""Measuring on a shared, noisy machine: interleaved rounds, medians, ratios, and the machine.

Other processes share the two cores, so an absolute time says little on its own. Every
measurement here is taken in rounds that interleave the candidate with its baseline (A, B, A,
B...), each round timing only the operation (set-up and clean-up excluded), and is reported as
the median of its rounds next to the baseline's median from the same rounds.
"""

from __future__ import annotations

import contextlib
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Figure:
    """One number of the report, with what it is compared to and the target it answers."""

    section: str
    name: str
    value: float
    unit: str
    #: The comparison, already worded ("63x the seed's way", "31% of the COPY limit").
    ratio: str = ""
    target: str = ""
    #: True met, False missed, None: no target (context only).
    met: bool | None = None
    #: Why a target was missed, or what the number means; shown in the doc.
    note: str = ""
    #: The rounds behind the number the verdict judges, so noise can be told from a change.
    spread: Spread | None = None

    def formatted(self) -> str:
        return format_value(self.value, self.unit)


@dataclass(frozen=True)
class Spread:
    """Min, median and max of one quantity over a section's rounds."""

    values: tuple[float, ...]
    unit: str

    @classmethod
    def of(cls, values: Sequence[float], unit: str) -> Spread:
        if not values:
            raise ValueError("a spread needs at least one round")
        return cls(tuple(values), unit)

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    def __str__(self) -> str:
        if len(self.values) == 1:
            return f"{format_value(self.values[0], self.unit)} (one run)"
        low, high = min(self.values), max(self.values)
        return (
            f"{format_value(low, self.unit)} / {format_value(self.median, self.unit)} / "
            f"{format_value(high, self.unit)} ({len(self.values)} rounds)"
        )

    def contains(self, value: float) -> bool:
        return min(self.values) <= value <= max(self.values)


def format_value(value: float, unit: str) -> str:
    if unit in {"rows/s", "samples/s"}:
        return f"{value:,.0f} {unit}"
    if unit == "ms":
        return f"{value:,.1f} ms" if value < 100 else f"{value:,.0f} ms"
    if unit == "s":
        return f"{value:,.2f} s"
    if unit == "MB":
        return f"{value:,.0f} MB"
    if unit == "x":
        return f"{value:,.2f}x"
    if unit == "%":
        return f"{value:.0%}"
    if unit == "rows":
        return f"{value:,.0f} rows"
    return f"{value:,.3g} {unit}"


@dataclass
class Section:
    """What one benchmark section produced: headline figures, detail tables, charts, prose."""

    key: str
    title: str
    figures: list[Figure] = field(default_factory=list)
    #: Detail tables: (caption, header, rows).
    tables: list[tuple[str, list[str], list[list[str]]]] = field(default_factory=list)
    #: Chart files written next to the doc (names relative to docs/).
    charts: list[str] = field(default_factory=list)
    #: Markdown paragraphs: how it was measured and what the numbers mean.
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    #: How busy the machine was while the section ran (filled by the runner).
    machine: str = ""


def median(values: list[float]) -> float:
    return statistics.median(values)


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]


def interleaved(
    candidates: Mapping[str, Callable[[], float]], rounds: int
) -> dict[str, list[float]]:
    """Runs each candidate once per round, in turn; each returns the seconds it measured."""
    results: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(rounds):
        for name, run in candidates.items():
            results[name].append(run())
    return results


def stopwatch(action: Callable[[], Any]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


@contextlib.contextmanager
def environment(changes: Mapping[str, str | None]) -> Iterator[None]:
    """Sets (or, with None, removes) environment variables for the block, then restores them."""
    saved = {name: os.environ.get(name) for name in changes}
    try:
        for name, value in changes.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def _memory_gib() -> float:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return int(line.split()[1]) / 1024 / 1024
    return 0.0


def _git_revision() -> str:
    try:
        revision = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607 - read-only, on PATH
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],  # noqa: S607
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{revision} (with uncommitted changes)" if dirty else revision


def _cpu_stall_us() -> int | None:
    """Microseconds in which at least one runnable task waited for a CPU (Linux PSI), or None."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/pressure/cpu").read_text().splitlines():
            if line.startswith("some"):
                return int(line.rsplit("total=", 1)[1])
    return None


class MachineLoad:
    """How busy the machine was over a stretch of time: the load average at both ends and the
    share of the time in which some runnable task (ours or another's) waited for a CPU."""

    def __init__(self) -> None:
        self._started = time.perf_counter()
        self._load = load_average()
        self._stall = _cpu_stall_us()

    def summary(self) -> str:
        elapsed = time.perf_counter() - self._started
        stall = _cpu_stall_us()
        pressure = (
            f"; a runnable task waited for a CPU {(stall - self._stall) / 1e6 / elapsed:.0%} of "
            "the time (CPU pressure)"
            if stall is not None and self._stall is not None and elapsed > 0
            else ""
        )
        return (
            f"load average (1, 5, 15 min) {self._load} at the start, "
            f"{load_average()} at the end{pressure}"
        )


def load_average() -> str:
    with contextlib.suppress(OSError):
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    return "n/a"


def machine() -> dict[str, str]:
    """What the numbers were measured on (the database adds its own settings)."""
    packages = (
        "pydantic",
        "pydantic-core",
        "msgspec",
        "psycopg",
        "boto3",
        "aws-lambda-powertools",
        "moto",
    )
    versions = []
    for name in packages:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions.append(f"{name} {metadata.version(name)}")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": f"{_cpu_model()}, {cores} cores usable",
        "memory": f"{_memory_gib():.0f} GiB",
        "os": f"{platform.system()} {platform.release()} ({platform.machine()})",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "packages": ", ".join(versions),
        "revision": _git_revision(),
    }
