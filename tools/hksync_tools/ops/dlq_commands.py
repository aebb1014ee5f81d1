"""The `hksync ops dlq` commands: list, replay and purge either dead-letter queue (--queue
processor, the default, or erasure), each showing what the queue holds as a table (or JSON)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from rich.console import Console

from hksync_tools.ops import dead_letters
from hksync_tools.ops.dead_letters import DeadLetter, ErasureDeadLetter, Letter
from hksync_tools.ops.replay import Replayed, ReplayedMessage, replay_dead_letters
from hksync_tools.ops.resources import OpsResources
from hksync_tools.ops.tables import TitledTable, new_console, print_json, table, when

_TITLES = {
    "processor": "Dead-lettered processor events, oldest first",
    "erasure": "Dead-lettered erasures, oldest first",
}


def dlq_list(resources: OpsResources, arguments: argparse.Namespace, console: Console) -> int:
    queue = arguments.queue
    view = dead_letters.show(resources, queue, max_messages=arguments.max)
    if arguments.json:
        print_json(view)
        return 0
    console.print(
        f"{view.queue_url}: about {view.approximate_visible} message(s) waiting, "
        f"{view.approximate_in_flight} in flight"
    )
    if not view.messages:
        return 0
    console.print(letters_table(_TITLES[queue], view.messages))
    option = "" if queue == "processor" else f" --queue {queue}"
    console.print(f"replay them with `hksync ops dlq replay{option}`")
    unreplayable = sum(letter.problem is not None for letter in view.messages)
    if unreplayable:
        console.print(
            f"{unreplayable} cannot be replayed as they are: "
            f"`hksync ops dlq purge{option} --unreplayable` deletes them, after listing them"
        )
    return 0


def dlq_replay(resources: OpsResources, arguments: argparse.Namespace, console: Console) -> int:
    status = new_console(stderr=True)

    def progress(message: Replayed) -> None:
        verdict = "deleted" if message.deleted else f"kept: {message.error}"
        if isinstance(message, ReplayedMessage):
            done = ", ".join(message.outcomes) or "-"
        else:
            done = f"erasure {message.erasure_id or '?'}: {message.outcome or '-'}"
        status.print(f"{message.message_id}: {done}; {verdict}", highlight=False)

    report = replay_dead_letters(
        resources, arguments.queue, max_messages=arguments.max, on_message=progress
    )
    if arguments.json:
        print_json(report)
    else:
        done = "processed" if arguments.queue == "processor" else "sent back or found complete"
        console.print(
            f"replayed {len(report.messages)} message(s): {report.deleted} {done} and "
            f"deleted, {report.kept} kept in the queue"
        )
    return 1 if report.kept else 0


def dlq_purge(resources: OpsResources, arguments: argparse.Namespace, console: Console) -> int:
    queue = arguments.queue
    # With --json, stdout carries the report alone: the list and the question go to stderr.
    shown = new_console(stderr=True) if arguments.json else console
    url = resources.target.dead_letter_queue(queue)
    what = "unreplayable message(s)" if arguments.unreplayable else "message(s)"

    def confirm(letters: list[Letter]) -> bool:
        shown.print(letters_table(f"To purge from {url}", letters))
        if arguments.yes:
            return True
        return _ask(shown, f"Delete these {len(letters)} {what}? They cannot be recovered. [y/N] ")

    report = dead_letters.purge(
        resources,
        queue,
        confirm=confirm,
        unreplayable_only=arguments.unreplayable,
        max_messages=arguments.max,
    )
    if arguments.json:
        print_json(report)
    elif not report.messages:
        console.print(f"{url}: no {what} to purge")
    elif report.confirmed:
        console.print(f"deleted {report.deleted} of {len(report.messages)} {what}")
    else:
        console.print("nothing deleted")
    if not report.messages:
        return 0
    return 0 if report.confirmed and report.deleted == len(report.messages) else 1


def _ask(console: Console, question: str) -> bool:
    """Yes only for an explicit y or yes; no input at all (end of file) is a no."""
    console.print(question, end="", highlight=False)
    return sys.stdin.readline().strip().lower() in {"y", "yes"}


def letters_table(title: str, letters: Sequence[Letter]) -> TitledTable:
    """Dead letters, one row each (a queue holds one kind of them)."""
    erasures = [letter for letter in letters if isinstance(letter, ErasureDeadLetter)]
    if erasures:
        return _erasures_table(title, erasures)
    return _events_table(title, [letter for letter in letters if isinstance(letter, DeadLetter)])


def _events_table(title: str, letters: list[DeadLetter]) -> TitledTable:
    events = table(title, "sent", "why", "objects")
    for letter in letters:
        events.add_row(when(letter.sent_at), _why(letter), "\n".join(letter.keys) or "-")
    return events


def _erasures_table(title: str, letters: list[ErasureDeadLetter]) -> TitledTable:
    erasures = table(title, "sent", "erasure", "user", "state", "requested", "attempts", "why")
    for letter in letters:
        erasures.add_row(
            when(letter.sent_at),
            str(letter.erasure_id or "-"),
            letter.user_id or "-",
            letter.state or "-",
            when(letter.requested_at),
            "-" if letter.attempts is None else str(letter.attempts),
            f"cannot replay: {letter.problem}" if letter.problem else "failed, retries exhausted",
        )
    return erasures


def _why(letter: DeadLetter) -> str:
    if letter.problem:
        return f"cannot replay: {letter.problem}"
    attempts = f" after {letter.invoke_count} attempts" if letter.invoke_count else ""
    error = f": {letter.error_type}: {letter.error_message}" if letter.error_type else ""
    return f"{letter.condition or letter.function_error or 'failed'}{attempts}{error}"
