"""hksync ops: what the pipeline is doing, what failed, and replaying it.

hksync ops syncs [--state S] [--user U] [--sync ID] [--since 1h] [--limit N]
                                      syncs by state, then the newest ones with their counters
hksync ops sync USER SYNC_ID          one sync: status, failed chunks, chunks not yet processed
hksync ops failures [--since 24h]     rejected chunks across users, newest first, with reasons
hksync ops anchors USER               the server's anchors of a user
hksync ops connections                database connections by application, against the limit
hksync ops dlq list                   the processor's dead-letter queue, decoded
hksync ops dlq replay [--max N]       reprocess dead-lettered events; delete those that succeed
hksync ops reprocess (--user U | --prefix P) [--from T] [--to T] [--dry-run]

Target: the running local stack (.hksync/stack.json, or $HKSYNC_STATE_DIR), or a deployed
stack given with --database-url, --bucket and --dlq-url (AWS credentials and region from the
environment). Every command takes --json. docs/runbook.md says which command answers which
alarm. (This module parses and renders; hksync_tools.ops.operations does the work.)
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

if TYPE_CHECKING:  # imported when a command runs, so that `hksync --help` stays fast
    from pydantic import BaseModel
    from rich.console import Console

    from hksync_tools.ops.operations import DeadLetter, Operations, ReplayedMessage

Command = Callable[["Operations", argparse.Namespace, "Console"], int]


def add_ops_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds the `ops` command group to the `hksync` parser."""
    ops = commands.add_parser(
        "ops",
        help="inspect syncs, failures, anchors and the dead-letter queue; replay and reprocess",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    verbs = ops.add_subparsers(dest="ops_command", required=True)
    common = _common_options()

    syncs = verbs.add_parser("syncs", parents=[common], help="syncs by state, newest first")
    syncs.add_argument("--state", type=_sync_state, help="receiving, committed, complete or failed")
    syncs.add_argument("--user", help="only this user's syncs")
    syncs.add_argument(
        "--sync", type=_sync_id, metavar="SYNC_ID", help="only this sync (finds its user)"
    )
    syncs.add_argument(
        "--since",
        type=_moment,
        metavar="TIME",
        help="active since: 15m, 1h, 2d, or an ISO 8601 time",
    )
    syncs.add_argument("--limit", type=_positive, default=20, help="syncs listed (default 20)")
    syncs.set_defaults(run=_runner(_syncs))

    sync = verbs.add_parser("sync", parents=[common], help="one sync's status and failed chunks")
    sync.add_argument("user")
    sync.add_argument("sync_id", type=_sync_id)
    sync.set_defaults(run=_runner(_sync))

    failures = verbs.add_parser(
        "failures", parents=[common], help="rejected chunks across users, newest first"
    )
    failures.add_argument(
        "--since", type=_moment, metavar="TIME", help="15m, 1h, 2d, or an ISO 8601 time"
    )
    failures.add_argument("--user", help="only this user's chunks")
    failures.add_argument("--limit", type=_positive, default=50)
    failures.set_defaults(run=_runner(_failures))

    anchors = verbs.add_parser("anchors", parents=[common], help="a user's server anchors")
    anchors.add_argument("user")
    anchors.set_defaults(run=_runner(_anchors))

    connections = verbs.add_parser(
        "connections", parents=[common], help="database connections by application and state"
    )
    connections.set_defaults(run=_runner(_connections))

    dlq = verbs.add_parser("dlq", help="the processor's dead-letter queue")
    dlq_verbs = dlq.add_subparsers(dest="dlq_command", required=True)
    dlq_list = dlq_verbs.add_parser(
        "list", parents=[common], help="decode the messages (they stay in the queue)"
    )
    dlq_list.add_argument("--max", type=_positive, default=100, help="messages read (100)")
    dlq_list.set_defaults(run=_runner(_dlq_list))
    replay = dlq_verbs.add_parser(
        "replay",
        parents=[common],
        help="process each message's objects; delete the message when that succeeded",
    )
    replay.add_argument("--max", type=_positive, default=None, help="at most N messages")
    replay.set_defaults(run=_runner(_dlq_replay))

    reprocess = verbs.add_parser(
        "reprocess",
        parents=[common],
        help="process raw objects again (idempotent): a user, or a prefix (raw/ rebuilds all)",
    )
    scope = reprocess.add_mutually_exclusive_group(required=True)
    scope.add_argument("--user", help="every object of this user")
    scope.add_argument("--prefix", help="every object under this key prefix, e.g. raw/")
    reprocess.add_argument(
        "--from",
        dest="modified_from",
        metavar="TIME",
        type=_moment,
        help="uploaded at or after (ISO or 2d)",
    )
    reprocess.add_argument(
        "--to", dest="modified_to", metavar="TIME", type=_moment, help="uploaded before (ISO or 1h)"
    )
    reprocess.add_argument(
        "--dry-run", action="store_true", help="list what would be processed, process nothing"
    )
    reprocess.set_defaults(run=_runner(_reprocess))


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print JSON instead of tables")
    target = common.add_argument_group(
        "target", "default: the running local stack; or a deployed stack, given explicitly"
    )
    target.add_argument(
        "--database-url",
        metavar="URL",
        help="libpq URL of its database (e.g. through an SSM port-forward)",
    )
    target.add_argument("--bucket", dest="raw_bucket", metavar="BUCKET", help="its raw bucket")
    target.add_argument(
        "--dlq-url",
        dest="dead_letter_queue_url",
        metavar="URL",
        help="its processor dead-letter queue URL",
    )
    return common


# --- argument types ---------------------------------------------------------------------------


def _moment(text: str) -> datetime:
    from hksync_tools.ops.operations import parse_time

    try:
        return parse_time(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _sync_state(text: str) -> str:
    from hksync_tools.ops.queries import SYNC_STATES

    if text not in SYNC_STATES:
        raise argparse.ArgumentTypeError(f"{text!r} is not one of {', '.join(SYNC_STATES)}")
    return text


def _sync_id(text: str) -> UUID:
    try:
        return UUID(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a sync id (a UUID)") from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number")
    return value


# --- running a command ------------------------------------------------------------------------


def _runner(command: Command) -> Callable[[argparse.Namespace], int]:
    """Resolves the target, runs the command, and turns unreachable parts into one line."""

    def run(arguments: argparse.Namespace) -> int:
        import psycopg
        from botocore.exceptions import BotoCoreError, ClientError
        from rich.console import Console

        from hksync_tools.local.stack import default_state_dir
        from hksync_tools.ops.operations import Operations, OpsError, OpsTarget

        console = Console(width=None if Console().is_terminal else 200)
        try:
            target = OpsTarget.resolve(
                default_state_dir(Path.cwd()),
                database_url=arguments.database_url,
                raw_bucket=arguments.raw_bucket,
                dead_letter_queue_url=arguments.dead_letter_queue_url,
            )
            with Operations(target) as operations:
                return command(operations, arguments, console)
        except OpsError as error:
            print(f"hksync ops: {error}", file=sys.stderr)
            return error.exit_code
        except psycopg.OperationalError as error:
            print(f"hksync ops: cannot use the database: {error}".rstrip(), file=sys.stderr)
            return 1
        except (BotoCoreError, ClientError) as error:
            print(f"hksync ops: AWS call failed: {error}", file=sys.stderr)
            return 1

    return run


def _print_json(view: BaseModel) -> None:
    sys.stdout.write(view.model_dump_json(indent=2) + "\n")


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S}Z"


def _ago(moment: datetime | None) -> str:
    if moment is None:
        return "-"
    seconds = max(0, int((datetime.now(UTC) - moment).total_seconds()))
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m")):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


def _short_type(sample_type: str | None) -> str:
    if sample_type is None:
        return "-"
    if sample_type == "HKWorkoutTypeIdentifier":
        return "Workout"
    return sample_type.removeprefix("HKQuantityTypeIdentifier").removeprefix(
        "HKCategoryTypeIdentifier"
    )


#: Free text wraps; identifiers, states, times and numbers never do.
_WRAPPING = frozenset({"", "reason", "why", "objects", "anchor"})


class _TitledTable:
    """A rich table with its title on a line of its own, so a narrow table does not wrap it."""

    def __init__(self, title: str, columns: tuple[str, ...], right: tuple[str, ...]) -> None:
        from rich.table import Table

        self.title = title
        self.table = Table(show_header=any(columns))
        for column in columns:
            self.table.add_column(
                column,
                justify="right" if column in right else "left",
                no_wrap=column not in _WRAPPING,
            )

    def add_row(self, *cells: str) -> None:
        self.table.add_row(*cells)

    def __rich__(self) -> Any:
        from rich.console import Group
        from rich.text import Text

        return Group(Text(self.title, style="bold"), self.table)


def _table(title: str, *columns: str, right: tuple[str, ...] = ()) -> _TitledTable:
    return _TitledTable(title, columns, right)


# --- the commands -----------------------------------------------------------------------------


def _syncs(operations: Operations, arguments: argparse.Namespace, console: Console) -> int:
    view = operations.syncs(
        state=arguments.state,
        user_id=arguments.user,
        sync_id=arguments.sync,
        since=arguments.since,
        limit=arguments.limit,
    )
    if arguments.json:
        _print_json(view)
        return 0
    scope = ", ".join(
        part
        for part in (
            f"user {arguments.user}" if arguments.user else "",
            f"sync {arguments.sync}" if arguments.sync else "",
            f"active since {_when(arguments.since)}" if arguments.since else "",
        )
        if part
    )
    counts = _table(
        f"Syncs by state{f' ({scope})' if scope else ''}", "state", "syncs", right=("syncs",)
    )
    for state, count in view.counts.items():
        counts.add_row(state, f"{count:,}")
    console.print(counts)
    numbers = ("chunks", "failed", "received", "inserted", "updated", "unchanged", "deleted")
    syncs = _table(
        f"Newest {arguments.state or ''} syncs (at most {arguments.limit})".replace("  ", " "),
        "user",
        "sync",
        "state",
        *numbers,
        "last activity",
        right=numbers,
    )
    if not view.syncs:
        console.print("no syncs match")
        return 0
    for sync in view.syncs:
        syncs.add_row(
            sync.user_id,
            str(sync.sync_id),
            sync.state,
            f"{sync.chunks_processed}/{sync.chunk_count if sync.chunk_count is not None else '?'}",
            str(sync.chunks_failed),
            f"{sync.samples_received:,}",
            f"{sync.samples_inserted:,}",
            f"{sync.samples_updated:,}",
            f"{sync.samples_unchanged:,}",
            f"{sync.samples_deleted:,}",
            _ago(sync.updated_at),
        )
    console.print(syncs)
    return 0


def _sync(operations: Operations, arguments: argparse.Namespace, console: Console) -> int:
    detail = operations.sync(arguments.user, arguments.sync_id)
    if arguments.json:
        _print_json(detail)
        return 0
    status = detail.status
    summary = _table(f"Sync {status.sync_id} of {arguments.user}", "", "")
    samples = status.samples
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
            f"{samples.deleted:,} deleted",
        ),
        ("first upload", _when(detail.first_upload_at)),
        ("committed", _when(status.committed_at)),
        ("completed", _when(status.completed_at)),
        ("last activity", f"{_when(detail.last_activity_at)} ({_ago(detail.last_activity_at)})"),
    ):
        summary.add_row(name, value)
    console.print(summary)
    if detail.failed_chunks:
        failed = _table("Failed chunks", "seq", "type", "processed", "reason", right=("seq",))
        for chunk in detail.failed_chunks:
            failed.add_row(
                str(chunk.seq),
                _short_type(chunk.sample_type),
                _when(chunk.processed_at),
                chunk.failure_reason,
            )
        console.print(failed)
    if detail.unprocessed_seqs:
        console.print(
            f"uploaded, not processed yet: chunks {_seqs(detail.unprocessed_seqs)} "
            "(in flight, throttled, or dead-lettered: `hksync ops dlq list`)"
        )
    if detail.never_uploaded_seqs:
        console.print(
            f"committed but never uploaded: chunks {_seqs(detail.never_uploaded_seqs)} "
            "(the app must upload them; the sync cannot complete without them)"
        )
    return 0


def _seqs(seqs: list[int]) -> str:
    shown = ", ".join(str(seq) for seq in seqs[:20])
    return shown + (f" and {len(seqs) - 20} more" if len(seqs) > 20 else "")


def _failures(operations: Operations, arguments: argparse.Namespace, console: Console) -> int:
    view = operations.failures(user_id=arguments.user, since=arguments.since, limit=arguments.limit)
    if arguments.json:
        _print_json(view)
        return 0
    if not view.failures:
        console.print("no failed chunks")
        return 0
    table = _table(
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
        table.add_row(
            _when(failure.processed_at),
            failure.user_id,
            str(failure.sync_id),
            str(failure.seq),
            _short_type(failure.sample_type),
            failure.failure_reason,
        )
    console.print(table)
    return 0


def _anchors(operations: Operations, arguments: argparse.Namespace, console: Console) -> int:
    view = operations.anchors(arguments.user)
    if arguments.json:
        _print_json(view)
        return 0
    if not view.anchors:
        console.print(f"{arguments.user} has no anchors: none of their syncs has completed")
        return 0
    table = _table(f"Anchors of {arguments.user}", "type", "anchor", "sync", "committed")
    for anchor in view.anchors:
        table.add_row(
            _short_type(anchor.sample_type),
            anchor.anchor,
            str(anchor.sync_id),
            _when(anchor.committed_at),
        )
    console.print(table)
    return 0


def _connections(operations: Operations, arguments: argparse.Namespace, console: Console) -> int:
    view = operations.connections()
    if arguments.json:
        _print_json(view)
        return 0
    table = _table(
        f"Database connections: {view.in_use} of max_connections {view.max_connections}",
        "application",
        "state",
        "connections",
        "oldest state change",
        right=("connections",),
    )
    for group in view.groups:
        table.add_row(
            group.application_name,
            group.state,
            str(group.connections),
            _ago(group.oldest_state_change),
        )
    console.print(table)
    return 0


def _dlq_list(operations: Operations, arguments: argparse.Namespace, console: Console) -> int:
    view = operations.dead_letters(max_messages=arguments.max)
    if arguments.json:
        _print_json(view)
        return 0
    console.print(
        f"{view.queue_url}: about {view.approximate_visible} message(s) waiting, "
        f"{view.approximate_in_flight} in flight"
    )
    if not view.messages:
        return 0
    table = _table("Dead-lettered processor events, oldest first", "sent", "why", "objects")
    for letter in view.messages:
        table.add_row(_when(letter.sent_at), _why(letter), "\n".join(letter.keys) or "-")
    console.print(table)
    console.print("replay them with `hksync ops dlq replay`")
    return 0


def _why(letter: DeadLetter) -> str:
    if letter.problem:
        return f"cannot replay: {letter.problem}"
    attempts = f" after {letter.invoke_count} attempts" if letter.invoke_count else ""
    error = f": {letter.error_type}: {letter.error_message}" if letter.error_type else ""
    return f"{letter.condition or letter.function_error or 'failed'}{attempts}{error}"


def _dlq_replay(operations: Operations, arguments: argparse.Namespace, console: Console) -> int:
    from rich.console import Console

    status = Console(stderr=True)

    def progress(message: ReplayedMessage) -> None:
        verdict = "deleted" if message.deleted else f"kept: {message.error}"
        outcomes = ", ".join(message.outcomes) or "-"
        status.print(f"{message.message_id}: {outcomes}; {verdict}", highlight=False)

    report = operations.replay_dead_letters(max_messages=arguments.max, on_message=progress)
    if arguments.json:
        _print_json(report)
    else:
        console.print(
            f"replayed {len(report.messages)} message(s): {report.deleted} processed and "
            f"deleted, {report.kept} kept in the queue"
        )
    return 1 if report.kept else 0


def _reprocess(operations: Operations, arguments: argparse.Namespace, console: Console) -> int:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from hksync.keys import user_prefix

    prefix = user_prefix(arguments.user) if arguments.user else arguments.prefix
    objects = operations.raw_objects(
        prefix, modified_from=arguments.modified_from, modified_to=arguments.modified_to
    )
    if arguments.dry_run:
        commits = sum(obj.key.endswith("/commit.json") for obj in objects)
        if arguments.json:
            listing = [obj.model_dump(mode="json") for obj in objects]
            sys.stdout.write(json.dumps(listing, indent=2) + "\n")
        else:
            console.print(
                f"{len(objects)} object(s) under {prefix}: {len(objects) - commits} chunk(s) "
                f"and {commits} commit(s) would be processed, in this order"
            )
            for obj in objects[:50]:
                console.print(f"  {_when(obj.last_modified)}  {obj.key}", highlight=False)
        return 0
    with Progress(
        TextColumn("reprocessing"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    ) as bar:
        task = bar.add_task("reprocess", total=len(objects))
        report = operations.reprocess(objects, on_object=lambda _: bar.advance(task))
    if arguments.json:
        _print_json(report)
    else:
        table = _table(
            f"Reprocessed {report.objects} object(s) under {prefix}",
            "outcome",
            "objects",
            right=("objects",),
        )
        for outcome, count in report.outcomes.items():
            table.add_row(str(outcome), f"{count:,}")
        table.add_row("error", f"{len(report.errors):,}")
        console.print(table)
        for error in report.errors[:20]:
            console.print(f"  {error.key}: {error.error}", highlight=False)
        if report.aborted:
            console.print(f"[red]stopped early[/red]: {report.aborted}")
    return 1 if report.errors or report.aborted else 0
