"""The report's charts (PNG, next to docs/benchmarks.md), where a picture says it faster."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt

if TYPE_CHECKING:
    from bench.write_path import Scenario

_COLOURS = {"seed": "#c0504d", "ours": "#1f77b4", "limit": "#7f7f7f", "other": "#2ca02c"}


def _save(figure: Any, path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path.name


def write_path(results: Sequence[Scenario], size: int, path: Path) -> str:
    """Rows per second by scenario and method, on a log scale (they differ by ~100x)."""
    from bench.write_path import METHOD_NAMES, METHODS

    scenarios = [scenario for scenario in results if scenario.size == size]
    figure, axes = plt.subplots(figsize=(8, 4.5))
    width = 0.26
    for offset, method in enumerate(METHODS):
        positions = [index + (offset - 1) * width for index in range(len(scenarios))]
        rates = [scenario.rate(method) for scenario in scenarios]
        bars = axes.bar(positions, rates, width, label=METHOD_NAMES[method], color=_COLOURS[method])
        axes.bar_label(bars, labels=[f"{rate:,.0f}" for rate in rates], fontsize=7, padding=2)
    axes.set_yscale("log")
    axes.set_xticks(range(len(scenarios)), [scenario.name for scenario in scenarios])
    axes.set_ylabel("samples written per second (log scale)")
    axes.set_title(f"Write path, {size:,} heart-rate samples (same PostgreSQL, same minute)")
    axes.legend(fontsize=8, loc="upper left")
    axes.set_ylim(top=axes.get_ylim()[1] * 4)
    return _save(figure, path)


def ingest_latency(
    sizes_kb: Sequence[float], series: Mapping[str, Sequence[float]], path: Path
) -> str:
    """Acknowledgement latency against body size, ours (with and without a database) vs the
    seed's inline request, on log-log axes."""
    figure, axes = plt.subplots(figsize=(8, 4.5))
    styles = {
        "ours, database running": ("ours", "o-"),
        "ours, no database at all": ("other", "s--"),
        "seed: processed inline": ("seed", "^-"),
    }
    for name, values in series.items():
        colour, style = styles.get(name, ("limit", "x-"))
        axes.plot(sizes_kb, values, style, color=_COLOURS[colour], label=name)
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("request body (KB, log scale)")
    axes.set_ylabel("time to the response (ms, log scale)")
    axes.set_title("Upload acknowledgement latency against chunk size")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8)
    return _save(figure, path)


def cold_start(
    names: Sequence[str],
    medians_ms: Sequence[float],
    parts_ms: Sequence[float],
    p90s_ms: Sequence[float],
    target_ms: float,
    path: Path,
    *,
    baselines: int = 2,
) -> str:
    """Median (bar) and p90 (tick) import-and-initialise time per module, each bar split into
    what it costs without Tracer (``parts_ms``) and Tracer's share on top; the first
    ``baselines`` bars are the bare libraries."""
    from matplotlib.patches import Patch

    figure, axes = plt.subplots(figsize=(8, 4))
    # Noise can make a handler without Tracer the slower one: then the bar shows no Tracer part.
    base = [min(part, total) for part, total in zip(parts_ms, medians_ms, strict=True)]
    colours = [
        _COLOURS["limit"] if index < baselines else _COLOURS["ours"] for index in range(len(names))
    ]
    axes.bar(names, base, color=colours)
    tracer = [total - part for total, part in zip(medians_ms, base, strict=True)]
    bars = axes.bar(names, tracer, bottom=base, color=_COLOURS["other"])
    axes.bar_label(bars, labels=[f"{value:.0f}" for value in medians_ms], fontsize=8)
    axes.scatter(names, p90s_ms, marker="_", s=400, color="black", zorder=3)
    axes.axhline(target_ms, color=_COLOURS["seed"], linestyle="--")
    axes.legend(
        handles=[
            Patch(color=_COLOURS["limit"], label="bare libraries"),
            Patch(color=_COLOURS["ours"], label="handler without Tracer"),
            Patch(color=_COLOURS["other"], label="Tracer's set-up"),
            plt.Line2D([], [], color="black", marker="_", linestyle="", markersize=12, label="p90"),
            plt.Line2D(
                [],
                [],
                color=_COLOURS["seed"],
                linestyle="--",
                label=f"target: {target_ms:.0f} ms (400 ms at the libraries' 340 ms)",
            ),
        ],
        fontsize=8,
        loc="lower right",
    )
    axes.set_ylabel("ms of CPU (fresh process, bytecode cached)")
    axes.set_title("Cold start under Lambda's environment: import and initialise each handler")
    axes.tick_params(axis="x", labelsize=8)
    return _save(figure, path)
