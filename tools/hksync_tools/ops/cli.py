"""hksync ops: what the pipeline is doing, what failed, and replaying it.

hksync ops syncs [--state S] [--user U] [--sync ID] [--since 1h] [--limit N]
                                      syncs by state, then the newest ones with their counters
hksync ops sync USER SYNC_ID          one sync: status, failed chunks, chunks not yet processed
hksync ops failures [--since 24h]     rejected chunks across users, newest first, with reasons
hksync ops rejected USER SYNC_ID [--after SEQ:INDEX] [--limit N]
                                      samples of a sync refused on their own: field and reason
hksync ops anchors USER               the server's anchors of a user
hksync ops events [--user U] [--since 1h] [--limit N]
                                      change events (SyncCompleted), newest first, published or not
hksync ops connections                database connections by application, against the limit
hksync ops dlq list                   the processor's dead-letter queue, decoded
hksync ops dlq replay [--max N]       reprocess dead-lettered events; delete those that succeed
hksync ops dlq purge [--unreplayable] [--yes]
                                      list messages, then delete them once confirmed
hksync ops reprocess (--user U | --prefix P) [--from T] [--to T] [--dry-run]

`dlq` commands take --queue erasure for the erasure worker's dead-letter queue (replaying an
erasure sends it back to the worker's queue). Target: the running local stack
(.hksync/stack.json, or $HKSYNC_STATE_DIR), or a deployed stack given with --database-url,
--bucket, --dlq-url and --erasure-dlq-url (AWS credentials and region from the environment).
Every command takes --json. docs/runbook.md says which command answers which alarm.
(This module parses; hksync_tools.ops.commands and .dlq_commands run and render.)
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from uuid import UUID

if TYPE_CHECKING:  # imported when a command runs, so that `hksync --help` stays fast
    from rich.console import Console

    from hksync_tools.ops.resources import OpsResources

    _Verbs = argparse._SubParsersAction[argparse.ArgumentParser]

Command = Callable[["OpsResources", argparse.Namespace, "Console"], int]


def add_ops_commands(commands: _Verbs) -> None:
    """Adds the `ops` command group to the `hksync` parser."""
    ops = commands.add_parser(
        "ops",
        help="inspect syncs, failures, anchors and the dead-letter queues; replay and reprocess",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    verbs = ops.add_subparsers(dest="ops_command", required=True)
    common = _common_options()
    _add_inspection_commands(verbs, common)
    _add_dlq_commands(verbs, common)
    _add_reprocess_command(verbs, common)


def _add_inspection_commands(verbs: _Verbs, common: argparse.ArgumentParser) -> None:
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
    syncs.set_defaults(run=_runner("commands", "syncs"))

    sync = verbs.add_parser("sync", parents=[common], help="one sync's status and failed chunks")
    sync.add_argument("user")
    sync.add_argument("sync_id", type=_sync_id)
    sync.set_defaults(run=_runner("commands", "sync"))

    failures = verbs.add_parser(
        "failures", parents=[common], help="rejected chunks across users, newest first"
    )
    failures.add_argument(
        "--since", type=_moment, metavar="TIME", help="15m, 1h, 2d, or an ISO 8601 time"
    )
    failures.add_argument("--user", help="only this user's chunks")
    failures.add_argument("--limit", type=_positive, default=50)
    failures.set_defaults(run=_runner("commands", "failures"))

    rejected = verbs.add_parser(
        "rejected", parents=[common], help="a sync's samples refused on their own, with reasons"
    )
    rejected.add_argument("user")
    rejected.add_argument("sync_id", type=_sync_id)
    rejected.add_argument("--after", metavar="SEQ:INDEX", help="the previous page's next_after")
    rejected.add_argument("--limit", type=_positive, default=50)
    rejected.set_defaults(run=_runner("commands", "rejected"))

    anchors = verbs.add_parser("anchors", parents=[common], help="a user's server anchors")
    anchors.add_argument("user")
    anchors.set_defaults(run=_runner("commands", "anchors"))

    events = verbs.add_parser(
        "events",
        parents=[common],
        help="change events (one per completed sync), newest first, published or waiting",
    )
    events.add_argument("--user", help="only this user's events")
    events.add_argument(
        "--since", type=_moment, metavar="TIME", help="written since: 15m, 1h, 2d, or ISO 8601"
    )
    events.add_argument("--limit", type=_positive, default=20, help="events listed (default 20)")
    events.set_defaults(run=_runner("commands", "events"))

    connections = verbs.add_parser(
        "connections", parents=[common], help="database connections by application and state"
    )
    connections.set_defaults(run=_runner("commands", "connections"))


def _add_dlq_commands(verbs: _Verbs, common: argparse.ArgumentParser) -> None:
    from hksync_tools.ops.target import QUEUE_NAMES

    queue = argparse.ArgumentParser(add_help=False)
    queue.add_argument(
        "--queue",
        choices=QUEUE_NAMES,
        default="processor",
        help="the processor's dead-letter queue (default) or the erasure worker's",
    )
    dlq = verbs.add_parser("dlq", help="the dead-letter queues (processor, erasure)")
    dlq_verbs = dlq.add_subparsers(dest="dlq_command", required=True)
    dlq_list = dlq_verbs.add_parser(
        "list", parents=[common, queue], help="decode the messages (they stay in the queue)"
    )
    dlq_list.add_argument("--max", type=_positive, default=100, help="messages read (100)")
    dlq_list.set_defaults(run=_runner("dlq_commands", "dlq_list"))
    replay = dlq_verbs.add_parser(
        "replay",
        parents=[common, queue],
        help="replay each message; delete the message when that succeeded",
    )
    replay.add_argument("--max", type=_positive, default=None, help="at most N messages")
    replay.set_defaults(run=_runner("dlq_commands", "dlq_replay"))
    purge = dlq_verbs.add_parser(
        "purge",
        parents=[common, queue],
        help="list the messages, then delete them once confirmed",
    )
    purge.add_argument(
        "--unreplayable",
        action="store_true",
        help="only the messages that cannot be replayed as they are",
    )
    purge.add_argument("--yes", action="store_true", help="delete without asking (after listing)")
    purge.add_argument("--max", type=_positive, default=None, help="at most N messages")
    purge.set_defaults(run=_runner("dlq_commands", "dlq_purge"))


def _add_reprocess_command(verbs: _Verbs, common: argparse.ArgumentParser) -> None:
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
    reprocess.set_defaults(run=_runner("commands", "reprocess"))


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
    target.add_argument(
        "--erasure-dlq-url",
        dest="erasure_dead_letter_queue_url",
        metavar="URL",
        help="its erasure dead-letter queue URL",
    )
    return common


# --- argument types ---------------------------------------------------------------------------


def _moment(text: str) -> datetime:
    from hksync_tools.ops.times import parse_time

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


def _runner(module: str, name: str) -> Callable[[argparse.Namespace], int]:
    """Imports the command (hksync_tools.ops.<module>.<name>) when it runs, resolves the
    target, runs the command, and turns unreachable parts into one line."""

    def run(arguments: argparse.Namespace) -> int:
        import psycopg
        from botocore.exceptions import BotoCoreError, ClientError

        from hksync_tools.local.stack import default_state_dir
        from hksync_tools.ops.resources import OpsResources
        from hksync_tools.ops.tables import new_console
        from hksync_tools.ops.target import OpsError, OpsTarget

        command: Command = getattr(importlib.import_module(f"hksync_tools.ops.{module}"), name)
        try:
            target = OpsTarget.resolve(
                default_state_dir(Path.cwd()),
                database_url=arguments.database_url,
                raw_bucket=arguments.raw_bucket,
                dead_letter_queue_url=arguments.dead_letter_queue_url,
                erasure_dead_letter_queue_url=arguments.erasure_dead_letter_queue_url,
            )
            with OpsResources(target) as resources:
                return command(resources, arguments, new_console())
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
