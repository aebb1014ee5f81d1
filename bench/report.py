"""The benchmark report: one table on the console, docs/benchmarks.md with the details."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.harness import Figure, Section

_VERDICT = {True: "met", False: "MISSED", None: "-"}
#: The spread sits next to the verdict: a target inside it is within this run's noise.
_SPREAD = ("rounds: min / median / max", "verdict")

_INTRO = """\
Every performance claim of hksync, measured by `make bench` (`python -m bench`), beside the
baseline it is claimed against. This file is written by that command: it holds the latest full
run, on the machine described below. Re-run it to refresh every number.

**How to read it.** The machine is shared and noisy (two cores, other work running), so no
figure stands alone: each is compared with a baseline measured in the same process, in rounds
interleaved with it, within the same minute or so, and reported as a ratio. Times are medians of
those rounds. Next to each verdict stands the spread of its rounds (min / median / max of the
quantity the verdict judges): a difference between two runs that stays inside it is noise, not
a change. Absolute figures (samples per second, milliseconds) are given too, but only the
ratios carry from one run, or one machine, to another. Where a target is missed, the table says
so and the section below says by how much and why. Each section ends with how busy the machine
was while it ran.
"""


def _verdict(figure: Figure) -> str:
    return _VERDICT[figure.met]


def print_table(console: Console, sections: Sequence[Section]) -> None:
    table = Table(title="hksync benchmarks", title_justify="left", show_lines=False)
    for column in ("section", "figure", "value", "against its baseline", "target", *_SPREAD):
        table.add_column(column, overflow="fold")
    for section in sections:
        for figure in section.figures:
            verdict = _verdict(figure)
            style = {"met": "green", "MISSED": "red"}.get(verdict, "")
            table.add_row(
                section.title,
                figure.name,
                figure.formatted(),
                figure.ratio,
                figure.target or "-",
                str(figure.spread) if figure.spread else "-",
                f"[{style}]{verdict}[/{style}]" if style else verdict,
            )
    console.print(table)


def _markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(name) for name in header) + " |"]
    lines.append("| " + " | ".join("---" for _ in header) + " |")
    lines.extend("| " + " | ".join(cell(value) for value in row) + " |" for row in rows)
    return lines


def write_markdown(
    path: Path, about: dict[str, str], sections: Sequence[Section], *, quick: bool
) -> None:
    lines = ["# Benchmarks", ""]
    if quick:
        lines += ["> A **quick** run (small sizes, few rounds): it checks the machinery only.", ""]
    lines += [_INTRO, "## The machine and the run", ""]
    lines += _markdown_table(["", ""], [[name, value] for name, value in about.items()])
    lines += ["", "## Summary", ""]
    summary = [
        [
            section.title,
            figure.name,
            figure.formatted(),
            figure.ratio,
            figure.target or "-",
            str(figure.spread) if figure.spread else "-",
            _verdict(figure) + (f": {figure.note}" if figure.note and figure.met is False else ""),
        ]
        for section in sections
        for figure in section.figures
    ]
    lines += _markdown_table(
        ["section", "figure", "value", "against its baseline", "target", *_SPREAD], summary
    )
    for section in sections:
        lines += ["", f"## {section.title}", ""]
        for note in section.notes:
            lines += [note, ""]
        for chart in section.charts:
            lines += [f"![{section.title}]({chart})", ""]
        for caption, header, rows in section.tables:
            lines += [caption, ""]
            lines += _markdown_table(header, rows)
            lines += [""]
        lines += [f"_Section run time: {section.seconds:.0f} s; {section.machine}._"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")
