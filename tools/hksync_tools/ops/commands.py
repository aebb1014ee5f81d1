"""The `hksync ops` commands that inspect and reprocess: each asks hksync_tools.ops.inspection
or .replay, then prints a table (or JSON with --json) and returns the exit status."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from rich.console import Console

from hksync.keys import user_prefix
from hksync_tools.ops import replay
from hksync_tools.ops.inspection import Inspection, SyncDetail
from hksync_tools.ops.tables import TitledTable, ago, print_json, seqs, short_type, table, when

if TYPE_CHECKING:
    from hksync_tools.ops.replay import RawObject, ReprocessReport
    from hksync_tools.ops.resources import OpsResources


def syncs(resources: OpsResources, arguments: argparse.Namespace, console: Console) -> int:
    view = Inspection(resources).syncs(
        state=arguments.state,
        user_id=arguments.user,
        sync_id=arguments.sync,
        since=arguments.since,
        limit=arguments.limit,
    )
    if arguments.json:
        print_json(view)
        return 0
    scope = ", ".join(
        part
        for part in (
            f"user {arguments.user}" if arguments.user else "",
            f"sync {arguments.sync}" if arguments.sync else "",
            f"active since {when(arguments.since)}" if arguments.since else "",
        )
        if part
    )
    counts = table(
        f"Syncs by state{f' ({scope})' if scope else ''}", "state", "syncs", right=("syncs",)
    )
    for state, count in view.counts.items():
        counts.add_row(state, f"{count:,}")
    console.print(counts)
    if not view.syncs:
        console.print("no syncs match")
        return 0
    numbers = (
        "chunks",
        "failed",
        "received",
        "inserted",
        "updated",
        "unchanged",
        "deleted",
        "rejected",
    )
    newest = table(
        f"Newest {arguments.state or ''} syncs (at most {arguments.limit})".replace("  ", " "),
        "user",
        "sync",
        "state",
        *numbers,
        "last activity",
        right=numbers,
    )
    for sync_ in view.syncs:
        newest.add_row(
            sync_.user_id,
            str(sync_.sync_id),
            sync_.state,
            f"{sync_.chunks_processed}/{'?' if sync_.chunk_count is None else sync_.chunk_count}",
            str(sync_.chunks_failed),
            f"{sync_.samples_received:,}",
            f"{sync_.samples_inserted:,}",
            f"{sync_.samples_updated:,}",
            f"{sync_.samples_unchanged:,}",
            f"{sync_.samples_deleted:,}",
            f"{sync_.samples_rejected:,}",
            ago(sync_.updated_at),
        )
    console.print(newest)
    return 0


def sync(resources: OpsResources, arguments: argparse.Namespace, console: Console) -> int:
    detail = Inspection(resources).sync(arguments.user, arguments.sync_id)
    if arguments.json:
        print_json(detail)
        return 0
    console.print(_sync_summary(detail, arguments.user))
    if detail.failed_chunks:
        failed = table("Failed chunks", "seq", "type", "processed", "reason", right=("seq",))
        for chunk in detail.failed_chunks:
            failed.add_row(
                str(chunk.seq),
                short_type(chunk.sample_type),
                when(chunk.processed_at),
                chunk.failure_reason,
            )
        console.print(failed)
    if detail.unprocessed_seqs:
        console.print(
            f"uploaded, not processed yet: chunks {seqs(detail.unprocessed_seqs)} "
            "(in flight, throttled, or dead-lettered: `hksync ops dlq list`)"
        )
    if detail.never_uploaded_seqs:
        console.print(
            f"committed but never uploaded: chunks {seqs(detail.never_uploaded_seqs)} "
            "(the app must upload them; the sync cannot complete without them)"
        )
    return 0


def _sync_summary(detail: SyncDetail, user: str) -> TitledTable:
    status, samples = detail.status, detail.status.samples
    summary = table(f"Sync {status.sync_id} of {user}", "", "")
    for name, value in (
        ("state", status.state),
        ("chunk count (committed)", "-" if status.chunk_count is None else str(status.chunk_count)),
        ("chunks uploaded", str(status.chunks_uploaded)),
        ("chunks processed", str(status.chunks_processed)),
        ("chunks failed", str(status.chunks_failed)),
        (
            "samples",
            f"{samples.received:,} received: {samples.inserted:,} inserted, "
            f"{samples.updated:,} updated, {samples.unchanged:,} unchanged, "
            f"{samples.deleted:,} deleted, {samples.rejected:,} rejected"
            + (" (`hksync ops rejected`)" if samples.rejected else ""),
        ),
        ("first upload", when(detail.first_upload_at)),
        ("committed", when(status.committed_at)),
        ("completed", when(status.completed_at)),
        ("last activity", f"{when(detail.last_activity_at)} ({ago(detail.last_activity_at)})"),
    ):
        summary.add_row(name, value)
    return summary


def failures(resources: OpsResources, arguments: argparse.Namespace, console: Console) -> int:
    view = Inspection(resources).failures(
        user_id=arguments.user, since=arguments.since, limit=arguments.limit
    )
    if arguments.json:
        print_json(view)
        return 0
    if not view.failures:
        console.print("no failed chunks")
        return 0
    rejected = table(
        f"Failed chunks, newest first (at most {arguments.limit})",
        "processed",
        "user",
        "sync",
        "seq",
        "type",
        "reason",
        right=("seq",),
    )
    for failure in view.failures:
        rejected.add_row(
            when(failure.processed_at),
            failure.user_id,
            str(failure.sync_id),
            str(failure.seq),
            short_type(failure.sample_type),
            failure.failure_reason,
        )
    console.print(rejected)
    return 0


def rejected(resources: OpsResources, arguments: argparse.Namespace, console: Console) -> int:
    page = Inspection(resources).rejected(
        arguments.user, arguments.sync_id, after=arguments.after, limit=arguments.limit
    )
    if arguments.json:
        print_json(page)
        return 0
    if not page.rejected:
        console.print("no rejected samples")
        return 0
    listed = table(
        f"Rejected samples of sync {arguments.sync_id}",
        "seq",
        "index",
        "type",
        "uuid",
        "field",
        "reason",
        right=("seq", "index"),
    )
    for sample in page.rejected:
        listed.add_row(
            str(sample.seq),
            str(sample.sample_index),
            short_type(sample.sample_type),
            str(sample.uuid or "-"),
            sample.field,
            sample.reason,
        )
    console.print(listed)
    if page.next_after:
        console.print(f"more: --after {page.next_after}")
    return 0


def anchors(resources: OpsResources, arguments: argparse.Namespace, console: Console) -> int:
    view = Inspection(resources).anchors(arguments.user)
    if arguments.json:
        print_json(view)
        return 0
    if not view.anchors:
        console.print(f"{arguments.user} has no anchors: none of their syncs has completed")
        return 0
    listed = table(f"Anchors of {arguments.user}", "type", "anchor", "sync", "committed")
    for anchor in view.anchors:
        listed.add_row(
            short_type(anchor.sample_type),
            anchor.anchor,
            str(anchor.sync_id),
            when(anchor.committed_at),
        )
    console.print(listed)
    return 0


def events(resources: OpsResources, arguments: argparse.Namespace, console: Console) -> int:
    view = Inspection(resources).events(
        user_id=arguments.user, since=arguments.since, limit=arguments.limit
    )
    if arguments.json:  # with each event's id and whole detail
        print_json(view)
        return 0
    if not view.events:
        console.print("no change events match")
        return 0
    numbers = ("inserted", "updated", "deleted")
    listed = table(
        f"Newest change events (at most {arguments.limit})",
        "created",
        "published",
        "user",
        "sync",
        "types",
        "local days",
        *numbers,
        right=numbers,
    )
    for event in view.events:
        detail = event.detail
        days = detail.local_dates
        listed.add_row(
            when(event.created_at),
            when(event.published_at) if event.published_at else "waiting",
            event.user_id,
            str(event.sync_id),
            ", ".join(short_type(sample_type) for sample_type in detail.sample_types) or "-",
            f"{days[0]} .. {days[-1]} ({len(days)})" if days else "-",
            f"{detail.counts.inserted:,}",
            f"{detail.counts.updated:,}",
            f"{detail.counts.deleted:,}",
        )
    console.print(listed)
    waiting = sum(event.published_at is None for event in view.events)
    if waiting:
        console.print(
            f"{waiting} not published yet: the hourly upkeep publishes them (see the "
            'processor\'s "change events not published" warnings for why)'
        )
    return 0


def connections(resources: OpsResources, arguments: argparse.Namespace, console: Console) -> int:
    view = Inspection(resources).connections()
    if arguments.json:
        print_json(view)
        return 0
    groups = table(
        f"Database connections: {view.in_use} of max_connections {view.max_connections}",
        "application",
        "state",
        "connections",
        "oldest state change",
        right=("connections",),
    )
    for group in view.groups:
        groups.add_row(
            group.application_name,
            group.state,
            str(group.connections),
            ago(group.oldest_state_change),
        )
    console.print(groups)
    return 0


def reprocess(resources: OpsResources, arguments: argparse.Namespace, console: Console) -> int:
    prefix = user_prefix(arguments.user) if arguments.user else arguments.prefix
    objects = replay.raw_objects(
        resources, prefix, modified_from=arguments.modified_from, modified_to=arguments.modified_to
    )
    if arguments.dry_run:
        _print_reprocess_plan(objects, prefix, arguments.json, console)
        return 0
    report = _reprocess_with_progress(resources, objects)
    if arguments.json:
        print_json(report)
    else:
        outcomes = table(
            f"Reprocessed {report.objects} object(s) under {prefix}",
            "outcome",
            "objects",
            right=("objects",),
        )
        for outcome, count in report.outcomes.items():
            outcomes.add_row(str(outcome), f"{count:,}")
        outcomes.add_row("error", f"{len(report.errors):,}")
        console.print(outcomes)
        for error in report.errors[:20]:
            console.print(f"  {error.key}: {error.error}", highlight=False)
        if report.aborted:
            console.print(f"[red]stopped early[/red]: {report.aborted}")
    return 1 if report.errors or report.aborted else 0


def _print_reprocess_plan(
    objects: list[RawObject], prefix: str, as_json: bool, console: Console
) -> None:
    if as_json:
        listing = [obj.model_dump(mode="json") for obj in objects]
        sys.stdout.write(json.dumps(listing, indent=2) + "\n")
        return
    commits = sum(obj.key.endswith("/commit.json") for obj in objects)
    console.print(
        f"{len(objects)} object(s) under {prefix}: {len(objects) - commits} chunk(s) "
        f"and {commits} commit(s) would be processed, in this order"
    )
    for obj in objects[:50]:
        console.print(f"  {when(obj.last_modified)}  {obj.key}", highlight=False)


def _reprocess_with_progress(resources: OpsResources, objects: list[RawObject]) -> ReprocessReport:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("reprocessing"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    ) as bar:
        task = bar.add_task("reprocess", total=len(objects))
        return replay.reprocess(resources, objects, on_object=lambda _: bar.advance(task))
