"""The `hksync ops dlq` commands: list and replay the processor's dead-letter queue, showing
what it holds as a table (or JSON)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from rich.console import Console

from hksync_tools.ops import dead_letters
from hksync_tools.ops.dead_letters import DeadLetter
from hksync_tools.ops.replay import ReplayedMessage, replay_dead_letters
from hksync_tools.ops.resources import OpsResources
from hksync_tools.ops.tables import TitledTable, new_console, print_json, table, when


def dlq_list(resources: OpsResources, arguments: argparse.Namespace, console: Console) -> int:
    view = dead_letters.show(resources, max_messages=arguments.max)
    if arguments.json:
        print_json(view)
        return 0
    console.print(
        f"{view.queue_url}: about {view.approximate_visible} message(s) waiting, "
        f"{view.approximate_in_flight} in flight"
    )
    if not view.messages:
        return 0
    console.print(letters_table("Dead-lettered processor events, oldest first", view.messages))
    console.print("replay them with `hksync ops dlq replay`")
    return 0


def dlq_replay(resources: OpsResources, arguments: argparse.Namespace, console: Console) -> int:
    status = new_console(stderr=True)

    def progress(message: ReplayedMessage) -> None:
        verdict = "deleted" if message.deleted else f"kept: {message.error}"
        outcomes = ", ".join(message.outcomes) or "-"
        status.print(f"{message.message_id}: {outcomes}; {verdict}", highlight=False)

    report = replay_dead_letters(resources, max_messages=arguments.max, on_message=progress)
    if arguments.json:
        print_json(report)
    else:
        console.print(
            f"replayed {len(report.messages)} message(s): {report.deleted} processed and "
            f"deleted, {report.kept} kept in the queue"
        )
    return 1 if report.kept else 0


def letters_table(title: str, letters: Sequence[DeadLetter]) -> TitledTable:
    """Dead letters, one row each."""
    events = table(title, "sent", "why", "objects")
    for letter in letters:
        events.add_row(when(letter.sent_at), _why(letter), "\n".join(letter.keys) or "-")
    return events


def _why(letter: DeadLetter) -> str:
    if letter.problem:
        return f"cannot replay: {letter.problem}"
    attempts = f" after {letter.invoke_count} attempts" if letter.invoke_count else ""
    error = f": {letter.error_type}: {letter.error_message}" if letter.error_type else ""
    return f"{letter.condition or letter.function_error or 'failed'}{attempts}{error}"
