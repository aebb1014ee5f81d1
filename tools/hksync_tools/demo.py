"""`make demo`: the whole pipeline on one machine, on a simulated Apple Watch user.

Starts the local stack, uploads a 30-day backfill and incremental syncs with deletions over
HTTP (the backfill holds a few planted bad samples, which the server must reject alone), prints
a summary, checks it against a direct query of the database and the sync status, schedules a
medication reminder and shows it delivered once, and stops everything it started.
"""

from __future__ import annotations

import time
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from rich.console import Console
from rich.table import Table

from hksync_tools.client import HksyncClient
from hksync_tools.local.auth import issue_token
from hksync_tools.local.queues import drain_queue
from hksync_tools.local.stack import LOCAL_REGION, LocalStack
from hksync_tools.simulator.runner import (
    SimulationReport,
    print_report,
    short_type_name,
    simulate,
    simulated_user,
)

STEP_COUNT = "HKQuantityTypeIdentifierStepCount"
DEMO_USER = "demo-user-0001"


def _database_view(database_url: str, user_id: str) -> dict[str, tuple[int, int]]:
    """sample_type -> (live rows, tombstones), straight from PostgreSQL."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            """SELECT sample_type, count(*) FILTER (WHERE deleted_at IS NULL),
                      count(*) FILTER (WHERE deleted_at IS NOT NULL)
               FROM health_samples WHERE user_id = %s GROUP BY sample_type""",
            (user_id,),
        ).fetchall()
    return {sample_type: (live, gone) for sample_type, live, gone in rows}


def _reset_user(database_url: str, user_id: str) -> None:
    # The demo's user starts from nothing, so the summary describes this run only.
    with psycopg.connect(database_url) as conn:
        conn.execute("DELETE FROM health_samples WHERE user_id = %s", (user_id,))
        conn.execute("DELETE FROM sources WHERE user_id = %s", (user_id,))
        conn.execute("DELETE FROM sync_anchors WHERE user_id = %s", (user_id,))
        # Their chunk ledgers and rejected samples go with them (ON DELETE CASCADE).
        conn.execute("DELETE FROM sync_sessions WHERE user_id = %s", (user_id,))
        conn.execute("DELETE FROM reminders WHERE user_id = %s", (user_id,))


def run_demo(root: Path, options: dict[str, Any], *, database_url: str | None = None) -> int:
    # Wide enough for the tables when the output is not a terminal (CI logs, `| tee`).
    console = Console(width=None if Console().is_terminal else 132)
    started = time.perf_counter()
    console.print(
        "[bold]hksync demo[/bold]: starting the local stack (moto, PostgreSQL, functions)..."
    )
    stack = LocalStack(root, port=0, database_url=database_url, function_log_level="WARNING")
    try:
        info = stack.start()
        console.print(f"stack up in {time.perf_counter() - started:.1f}s at {info.api_url}")
        _reset_user(info.database_url, DEMO_USER)
        user = simulated_user(options)
        token = issue_token(DEMO_USER, stack.signing_secret)
        with HksyncClient(info.api_url, token) as client:
            report = simulate(
                client,
                user,
                user_id=DEMO_USER,
                days=options["days"],
                incremental_syncs=options["incremental_syncs"],
                hours_between=options["hours_between"],
            )
        print_report(report, console)
        consistent = _check_against_database(
            console, report, user.live_samples(), user.deleted_uuids(), info.database_url
        )
        consistent &= _check_rejections(console, report)
        with HksyncClient(info.api_url, token) as client:
            _print_daily_steps(console, client, user.now.date())
            reminded = _remind(console, stack, client)
    finally:
        stack.stop()
    console.print(f"stack stopped; demo took {time.perf_counter() - started:.1f}s")
    return 0 if report.complete and consistent and reminded else 1


def _check_against_database(
    console: Console,
    report: SimulationReport,
    live: dict[str, dict[str, Any]],
    deleted: set[str],
    database_url: str,
) -> bool:
    expected: dict[str, int] = {}
    for sample in live.values():
        expected[sample["sample_type"]] = expected.get(sample["sample_type"], 0) + 1
    stored = _database_view(database_url, report.user_id)
    table = Table(
        title="Check: the simulator's expectation vs a direct database query", title_justify="left"
    )
    for column in ("type", "expected live", "live rows", "tombstones", "match"):
        table.add_column(column, justify="left" if column == "type" else "right")
    consistent = True
    for sample_type in sorted(set(expected) | set(stored)):
        live_rows, tombstones = stored.get(sample_type, (0, 0))
        match = live_rows == expected.get(sample_type, 0)
        consistent &= match
        table.add_row(
            short_type_name(sample_type),
            f"{expected.get(sample_type, 0):,}",
            f"{live_rows:,}",
            f"{tombstones:,}",
            "yes" if match else "NO",
        )
    total_tombstones = sum(gone for _, gone in stored.values())
    total_live = sum(live_rows for live_rows, _ in stored.values())
    consistent &= total_tombstones == len(deleted)
    console.print(table)
    console.print(
        f"live samples: expected {len(live):,}, stored {total_live:,}; "
        f"deletions: expected {len(deleted):,}, tombstones {total_tombstones:,} -> "
        + ("[green]consistent[/green]" if consistent else "[red]INCONSISTENT[/red]")
    )
    return consistent


def _print_daily_steps(console: Console, client: HksyncClient, today: date) -> None:
    """The last week of merged daily steps beside the naive sum of every source: the iPhone +
    Watch double count the merge removes."""
    start = today - timedelta(days=7)
    answer = client.daily_summaries([STEP_COUNT], start, today - timedelta(days=1))
    table = Table(
        title="Daily steps: merged by source priority vs the naive sum of every source",
        title_justify="left",
    )
    for column in ("day", "merged", "naive sum", "sources"):
        table.add_column(column, justify="left" if column in {"day", "sources"} else "right")
    for entry in answer["summaries"][0]["days"]:
        summary = entry["summary"]
        table.add_row(
            entry["date"],
            f"{summary['total']:,.0f}",
            f"{summary['naive_total']:,.0f}",
            ", ".join(
                f"{source['device_kind']} {source['total']:,.0f}" for source in summary["by_source"]
            ),
        )
    console.print(table)


def _check_rejections(console: Console, report: SimulationReport) -> bool:
    """The sync status's rejected count against the simulator's planted bad samples; a server
    that does not count rejections yet is reported, not failed."""
    planted = report.planted_bad
    if report.rejected is None:
        console.print(f"rejections: {planted} planted, not counted by this server's status")
        return True
    matches = report.rejected == planted
    console.print(
        f"rejections: {planted} planted, {report.rejected} in the sync status -> "
        + ("[green]as expected[/green]" if matches else "[red]UNEXPECTED[/red]")
    )
    return matches


def _remind(console: Console, stack: LocalStack, client: HksyncClient) -> bool:
    """A medication reminder a few minutes ahead (sent twice, as a retrying phone would) and a
    daily check-in; the local clock moves past the reminder, the local scheduler fires it, and
    the summary shows it delivered once: the ledger row and the one push notification."""
    assert stack.reminder_scheduler is not None
    assert stack.reminder_resources is not None
    zone = ZoneInfo("Europe/Berlin")
    due = (datetime.now(zone) + timedelta(minutes=5)).replace(second=0, microsecond=0)
    medication = {
        "reminder_id": str(uuid.uuid4()),
        "kind": "medication",
        "title": "Levothyroxine 50 µg",
        "time_zone": zone.key,
        "at": due.replace(tzinfo=None).isoformat(),
    }
    check_in = {
        "reminder_id": str(uuid.uuid4()),
        "kind": "check_in",
        "title": "How did you sleep?",
        "time_zone": zone.key,
        "cron": "0 8 * * ? *",
    }
    for body in (medication, medication, check_in):
        client.create_reminder(body)
    stack.clock.advance(timedelta(minutes=6))
    stack.reminder_scheduler.fire_due()
    notifications = drain_queue(stack.reminder_resources.deliveries_queue_url, LOCAL_REGION)
    assert stack.info is not None
    with psycopg.connect(stack.info.database_url) as conn:
        ledger = {
            str(reminder_id): (count, invocations)
            for reminder_id, count, invocations in conn.execute(
                """SELECT reminder_id, count(*) FILTER (WHERE state = 'published'),
                          count(*) + coalesce(sum(duplicate_invocations), 0)
                   FROM reminder_deliveries GROUP BY reminder_id"""
            )
        }
    table = Table(
        title="Reminders: EventBridge Scheduler (local), the clock moved 6 minutes ahead",
        title_justify="left",
    )
    for column in ("reminder", "schedule (Europe/Berlin)", "state", "next", "invocations"):
        table.add_column(column)
    table.add_column("delivered", justify="right")
    table.add_column("pushed", justify="right")
    for reminder in client.reminders():
        delivered, invocations = ledger.get(reminder["reminder_id"], (0, 0))
        pushed = sum(1 for n in notifications if n["reminder_id"] == reminder["reminder_id"])
        next_fire = reminder["next_fire_at"]
        table.add_row(
            f"{reminder['kind']}: {reminder['title']}",
            f"at {reminder['at']}" if reminder["at"] else f"cron({reminder['cron']})",
            reminder["state"],
            datetime.fromisoformat(next_fire).astimezone(zone).strftime("%a %H:%M")
            if next_fire
            else "-",
            str(invocations),
            str(delivered),
            str(pushed),
        )
    console.print(table)
    mine = [n for n in notifications if n["reminder_id"] == medication["reminder_id"]]
    once = ledger.get(medication["reminder_id"], (0, 0))[0] == 1 and len(mine) == 1
    console.print(
        f"medication reminder due {due:%H:%M} {zone.key}, created twice: "
        + (
            f"[green]delivered once[/green] (push {mine[0]['delivery_id'][:8]} at "
            f"{mine[0]['local_time']})"
            if once
            else "[red]NOT delivered exactly once[/red]"
        )
    )
    return once
