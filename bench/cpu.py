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
        return _Start(self._read(), _machine_busy_seconds(), time.perf_counter())

    def stop(self, start: _Start) -> Account:
        """Takes the second reading: the Account of everything since ``start``."""
        wall = time.perf_counter() - start.at
        after, busy_after = self._read(), _machine_busy_seconds()
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
