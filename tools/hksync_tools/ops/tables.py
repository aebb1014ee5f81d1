"""How `hksync ops` prints its answers: rich tables with their title on a line of their own,
times in UTC, ages, and JSON with --json."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from pydantic import BaseModel
    from rich.console import Console

#: Free text wraps; identifiers, states, times and numbers never do.
_WRAPPING: Final = frozenset({"", "reason", "why", "objects", "anchor", "types"})


def new_console(*, stderr: bool = False) -> Console:
    """A console for tables: the terminal's width, or 200 columns when redirected."""
    from rich.console import Console

    probe = Console(stderr=stderr)
    return probe if probe.is_terminal else Console(stderr=stderr, width=200)


def print_json(view: BaseModel) -> None:
    sys.stdout.write(view.model_dump_json(indent=2) + "\n")


def when(moment: datetime | None) -> str:
    return "-" if moment is None else f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S}Z"


def ago(moment: datetime | None) -> str:
    if moment is None:
        return "-"
    seconds = max(0, int((datetime.now(UTC) - moment).total_seconds()))
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m")):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


def short_type(sample_type: str | None) -> str:
    if sample_type is None:
        return "-"
    if sample_type == "HKWorkoutTypeIdentifier":
        return "Workout"
    return sample_type.removeprefix("HKQuantityTypeIdentifier").removeprefix(
        "HKCategoryTypeIdentifier"
    )


def seqs(numbers: list[int]) -> str:
    """Chunk numbers, the first 20 of them."""
    shown = ", ".join(str(seq) for seq in numbers[:20])
    return shown + (f" and {len(numbers) - 20} more" if len(numbers) > 20 else "")


class TitledTable:
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


def table(title: str, *columns: str, right: tuple[str, ...] = ()) -> TitledTable:
    return TitledTable(title, columns, right)
