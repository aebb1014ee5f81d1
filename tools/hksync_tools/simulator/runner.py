"""Runs a simulated Apple Watch user against a stack over HTTP, as the app would, and reports.

A 30-day backfill, then incremental syncs with new samples and deletions; each sync is uploaded
chunk by chunk, committed, and polled until the server has stored it. The report sets the
samples the server rejected (its sync status) beside those the simulator planted.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from hksync_tools.client import HksyncClient
from hksync_tools.simulator.user import AppleWatchUser, SimulatedSync


@dataclass
class SyncReport:
    kind: str
    sync_id: str
    chunks: int
    samples_by_type: Counter[str]
    deletions: int
    upload_s: float
    processing_s: float
    status: dict[str, Any]

    @property
    def rejected(self) -> int | None:
        """Samples the server rejected, from the status (None from a server that does not
        count them yet)."""
        rejected = self.status["samples"].get("rejected")
        return None if rejected is None else int(rejected)


@dataclass
class SimulationReport:
    user_id: str
    syncs: list[SyncReport] = field(default_factory=list)
    anchors: dict[str, str] = field(default_factory=dict)
    transfers: dict[str, int] = field(default_factory=dict)
    retries: int = 0
    #: The bad samples the simulator planted: the server should reject exactly these.
    planted_bad: int = 0

    @property
    def complete(self) -> bool:
        return all(sync.status["state"] == "complete" for sync in self.syncs)

    @property
    def rejected(self) -> int | None:
        """Samples the server rejected over all syncs (None if it does not count them yet)."""
        counts = [sync.rejected for sync in self.syncs]
        return None if None in counts else sum(count or 0 for count in counts)


def upload_sync(
    client: HksyncClient, sync: SimulatedSync, kind: str, progress: Progress | None
) -> SyncReport:
    """Uploads and commits one sync, then waits for the server to store it."""
    task = progress.add_task(kind, total=len(sync.chunks)) if progress else None
    started = time.perf_counter()
    for chunk in sync.chunks:
        client.upload_chunk(chunk)
        if progress is not None and task is not None:
            progress.advance(task)
    client.commit(sync.sync_id, sync.commit)
    uploaded = time.perf_counter()
    status = client.wait_until_settled(sync.sync_id)
    settled = time.perf_counter()
    return SyncReport(
        kind=kind,
        sync_id=str(sync.sync_id),
        chunks=len(sync.chunks),
        samples_by_type=Counter(sample["sample_type"] for sample in sync.samples()),
        deletions=len(sync.deleted()),
        upload_s=uploaded - started,
        processing_s=settled - uploaded,
        status=status,
    )


def simulate(
    client: HksyncClient,
    user: AppleWatchUser,
    *,
    user_id: str,
    days: int = 30,
    incremental_syncs: int = 3,
    hours_between: float = 8.0,
    show_progress: bool = True,
) -> SimulationReport:
    report = SimulationReport(user_id=user_id)
    columns = (
        TextColumn("{task.description:>14}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, disable=not show_progress, transient=False) as progress:
        report.syncs.append(upload_sync(client, user.backfill(days), f"backfill {days}d", progress))
        for number in range(1, incremental_syncs + 1):
            sync = user.incremental(hours_between)
            report.syncs.append(upload_sync(client, sync, f"incremental {number}", progress))
    report.anchors = client.anchors()
    report.transfers = dict(client.transfers)
    report.retries = client.retried
    report.planted_bad = len(user.rejected_samples())
    return report


def default_now() -> datetime:
    """The simulated phone's clock: the current hour, so runs on the same hour are identical."""
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


def run_and_report(url: str, token: str, user_id: str, options: dict[str, Any]) -> SimulationReport:
    """The `hksync simulate` command: simulate, upload, print the summary."""
    user = simulated_user(options)
    with HksyncClient(url, token) as client:
        report = simulate(
            client,
            user,
            user_id=user_id,
            days=options["days"],
            incremental_syncs=options["incremental_syncs"],
            hours_between=options["hours_between"],
        )
    print_report(report)
    return report


def simulated_user(options: dict[str, Any]) -> AppleWatchUser:
    # The phone's clock starts far enough back that the last incremental sync ends now.
    ahead = timedelta(hours=options["incremental_syncs"] * options["hours_between"])
    return AppleWatchUser(
        options["seed"], now=default_now() - ahead, chunk_size=options["chunk_size"]
    )


def print_report(report: SimulationReport, console: Console | None = None) -> None:
    console = console or Console()
    syncs = Table(title=f"Syncs of {report.user_id}", title_justify="left")
    for column in (
        "sync",
        "chunks",
        "samples",
        "deletions",
        "inserted",
        "updated",
        "unchanged",
        "deleted",
        "rejected",
        "state",
        "upload s",
        "processing s",
    ):
        syncs.add_column(column, justify="left" if column in {"sync", "state"} else "right")
    for sync in report.syncs:
        counts = sync.status["samples"]
        syncs.add_row(
            sync.kind,
            str(sync.chunks),
            f"{sum(sync.samples_by_type.values()):,}",
            str(sync.deletions),
            f"{counts['inserted']:,}",
            f"{counts['updated']:,}",
            f"{counts['unchanged']:,}",
            f"{counts['deleted']:,}",
            "-" if sync.rejected is None else f"{sync.rejected:,}",
            sync.status["state"],
            f"{sync.upload_s:.1f}",
            f"{sync.processing_s:.1f}",
        )
    console.print(syncs)
    console.print(
        f"rejected samples: {_reported(report.rejected)} by the server, "
        f"{report.planted_bad:,} planted bad by the simulator"
    )
    by_type: Counter[str] = Counter()
    for sync in report.syncs:
        by_type.update(sync.samples_by_type)
    types = Table(title="Samples uploaded per type, and the server's anchors", title_justify="left")
    for column in ("type", "samples", "anchor"):
        types.add_column(column, justify="right" if column == "samples" else "left")
    for sample_type, count in sorted(by_type.items(), key=lambda item: -item[1]):
        anchor = report.anchors.get(sample_type, "-")
        types.add_row(
            short_type_name(sample_type),
            f"{count:,}",
            anchor if len(anchor) <= 24 else anchor[:21] + "...",
        )
    console.print(types)
    console.print(
        f"transfers: {report.transfers}; client retries: {report.retries}; "
        f"all syncs complete: {report.complete}"
    )


def short_type_name(sample_type: str) -> str:
    """``HKQuantityTypeIdentifierStepCount`` -> ``StepCount``, for tables."""
    for prefix in (
        "HKQuantityTypeIdentifier",
        "HKCategoryTypeIdentifier",
        "HKCorrelationTypeIdentifier",
    ):
        if sample_type.startswith(prefix):
            return sample_type.removeprefix(prefix)
    return sample_type


def _reported(count: int | None) -> str:
    return "not reported" if count is None else f"{count:,} reported"
