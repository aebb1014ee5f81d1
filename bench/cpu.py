"""Where the time of a stretch of work went: the CPU each group of processes used, the time their
threads spent runnable but waiting for a CPU, and the CPU the rest of the machine used meanwhile.

psutil gives each process's CPU time (user + system, its ended threads included) and the
machine's. Linux's /proc/<pid>/task/<tid>/schedstat gives each thread's time waiting in the run
queue: time in which it could have run but another task had the CPU, which is what a loaded
machine adds to a run. Threads that start and end between the two readings (the HTTP servers'
per-request threads) are missing from the waits, not from the CPU.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import psutil

#: A group's processes, found afresh at each reading (workers and connections come and go).
ProcessFinder = Callable[[], list[psutil.Process]]


def _cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def _waits_ns(pid: int) -> dict[int, int]:
    """Run-queue wait per thread of ``pid``, in nanoseconds (schedstat's second field)."""
    waits = {}
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError, ValueError, IndexError):
                waits[int(task.name)] = int((task / "schedstat").read_text().split()[1])
    return waits


def _machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent on anything but idling (all cores, all processes)."""
    times = psutil.cpu_times()
    idle = times.idle + getattr(times, "iowait", 0.0) + getattr(times, "steal", 0.0)
    return (
        float(sum(times)) - idle - getattr(times, "guest", 0.0) - getattr(times, "guest_nice", 0.0)
    )


@dataclass
class _Reading:
    cpu: dict[int, float] = field(default_factory=dict)
    waits: dict[int, dict[int, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class _Start:
    readings: dict[str, _Reading]
    machine_busy_s: float
    at: float


@dataclass(frozen=True)
class Usage:
    """One group's share of a stretch of time, in seconds."""

    cpu_s: float
    waited_s: float


@dataclass(frozen=True)
class Account:
    """A stretch of time: how long it took, and where its CPU went."""

    wall_s: float
    groups: dict[str, Usage]
    #: CPU seconds the machine spent on processes outside every group.
    others_cpu_s: float
    cores: int

    @property
    def cpu_s(self) -> float:
        return sum(usage.cpu_s for usage in self.groups.values())

    @property
    def waited_s(self) -> float:
        return sum(usage.waited_s for usage in self.groups.values())

    @property
    def others_cores(self) -> float:
        """How many cores other work kept busy on average."""
        return self.others_cpu_s / self.wall_s if self.wall_s else 0.0


class CpuAccount:
    """Reads the groups' CPU and run-queue waits at the start and end of a block of work."""

    def __init__(self, groups: Mapping[str, ProcessFinder]) -> None:
        self._groups = groups

    def _read(self) -> dict[str, _Reading]:
        readings = {}
        for name, find in self._groups.items():
            reading = _Reading()
            for process in find():
                with contextlib.suppress(psutil.Error):
                    reading.cpu[process.pid] = _cpu_seconds(process)
                    reading.waits[process.pid] = _waits_ns(process.pid)
            readings[name] = reading
        return readings

    def start(self) -> _Start:
        """Takes the first reading."""
        # The clock and the machine's counters bracket the processes' reading, at both ends, so
        # that all three cover the same span however long reading /proc takes.
        at, busy = time.perf_counter(), _machine_busy_seconds()
        return _Start(self._read(), busy, at)

    def stop(self, start: _Start) -> Account:
        """Takes the second reading: the Account of everything since ``start``."""
        after = self._read()
        busy_after, wall = _machine_busy_seconds(), time.perf_counter() - start.at
        groups = {}
        for name, end in after.items():
            begin = start.readings[name]
            cpu = sum(value - begin.cpu.get(pid, 0.0) for pid, value in end.cpu.items())
            waited = sum(
                value - begin.waits.get(pid, {}).get(tid, 0)
                for pid, threads in end.waits.items()
                for tid, value in threads.items()
            )
            groups[name] = Usage(max(cpu, 0.0), max(waited, 0) / 1e9)
        ours = sum(usage.cpu_s for usage in groups.values())
        return Account(
            wall_s=wall,
            groups=groups,
            others_cpu_s=max(busy_after - start.machine_busy_s - ours, 0.0),
            cores=psutil.cpu_count() or 1,
        )


def _own_cpu_seconds() -> float:
    """CPU of this process and of every child it has waited for (probes, workers)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def _server_cpu(server: list[psutil.Process]) -> dict[int, float]:
    """CPU per database server process, its ended backends included (in the postmaster's)."""
    usage = {}
    for process in server:
        with contextlib.suppress(psutil.Error):
            times = process.cpu_times()
            usage[process.pid] = (
                times.user + times.system + times.children_user + times.children_system
            )
    return usage


@dataclass(frozen=True)
class Share:
    """CPU seconds of a stretch of time: this run's processes, and the rest of the machine."""

    wall_s: float
    ours_s: float
    others_s: float

    def __add__(self, other: Share) -> Share:
        return Share(
            self.wall_s + other.wall_s, self.ours_s + other.ours_s, self.others_s + other.others_s
        )

    def __str__(self) -> str:
        cores = psutil.cpu_count() or 1
        wall = self.wall_s or 1.0
        return (
            f"other processes kept {self.others_s / wall:.2f} of the {cores} cores busy on "
            f"average (this run: {self.ours_s / wall:.2f})"
        )


class RunShare:
    """What the rest of the machine did while a benchmark section ran: the CPU the machine spent
    on processes other than this run's."""

    def __init__(self, server: ProcessFinder) -> None:
        self._server = server
        self._started, self._busy = time.perf_counter(), _machine_busy_seconds()
        self._own, self._database = _own_cpu_seconds(), _server_cpu(server())

    def stop(self) -> Share:
        """Read while the database runs. A server process that ended meanwhile (a section may
        restart the server) counts for nothing: its last CPU reading went with it."""
        own, database = _own_cpu_seconds(), _server_cpu(self._server())
        busy, wall = _machine_busy_seconds(), time.perf_counter() - self._started
        ours = (own - self._own) + sum(
            value - self._database.get(pid, 0.0) for pid, value in database.items()
        )
        return Share(wall, ours, max(busy - self._busy - ours, 0.0))
