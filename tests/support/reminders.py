"""Drives the reminder functions the way AWS would: API Gateway v2 events into the reminders
function, EventBridge Scheduler (moto's store, fired by the local scheduler on a clock the test
moves) into the dispatcher, SNS fanning out to an SQS queue the test reads."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import boto3

from hksync_tools.local.functions import FakeLambdaContext, load_handler
from hksync_tools.local.lambda_events import http_api_event
from hksync_tools.local.queues import drain_queue
from hksync_tools.local.scheduler import (
    Firing,
    LocalClock,
    LocalReminderResources,
    LocalScheduler,
    in_process,
)
from tests.support.pipeline import HttpResult

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"
REGION = "us-east-1"


class ReminderDriver:
    def __init__(self, resources: LocalReminderResources, *, duplicate_rate: float = 0.0) -> None:
        self.resources = resources
        self.api = load_handler(FUNCTIONS / "reminders", "app.handler")
        self.dispatcher = load_handler(FUNCTIONS / "dispatcher", "app.handler")
        self.clock = LocalClock()
        self.scheduler_client = boto3.client("scheduler", region_name=REGION)
        self.scheduler = LocalScheduler(
            self.scheduler_client,
            resources.group,
            in_process(self.dispatcher),
            clock=self.clock,
            sqs=boto3.client("sqs", region_name=REGION),
            duplicate_rate=duplicate_rate,
        )

    # --- the app's calls -----------------------------------------------------------------------

    def call(
        self,
        method: str,
        route: str,
        params: dict[str, str],
        *,
        user: str,
        body: dict[str, Any] | None = None,
    ) -> HttpResult:
        event = http_api_event(
            method,
            f"{method} {route}",
            route.format(**params),
            path_parameters=params or None,
            headers={"content-type": "application/json"},
            body=json.dumps(body).encode() if body is not None else None,
            claims={"sub": user},
        )
        response = self.api(event, FakeLambdaContext("RemindersFunction"))
        text = response.get("body") or ""
        return HttpResult(
            response["statusCode"], json.loads(text) if text else None, response.get("headers", {})
        )

    def create(self, user: str, body: dict[str, Any]) -> HttpResult:
        return self.call("POST", "/v1/reminders", {}, user=user, body=body)

    def list(self, user: str) -> HttpResult:
        return self.call("GET", "/v1/reminders", {}, user=user)

    def reschedule(self, user: str, reminder_id: UUID | str, body: dict[str, Any]) -> HttpResult:
        return self.call(
            "PUT",
            "/v1/reminders/{reminder_id}",
            {"reminder_id": str(reminder_id)},
            user=user,
            body=body,
        )

    def cancel(self, user: str, reminder_id: UUID | str) -> HttpResult:
        return self.call(
            "DELETE", "/v1/reminders/{reminder_id}", {"reminder_id": str(reminder_id)}, user=user
        )

    def upkeep(self) -> dict[str, Any]:
        """The scheduled rule's invocation of the reminders function (template: Upkeep)."""
        from hksync.reminder_upkeep import UPKEEP_TASK

        result: dict[str, Any] = self.api({"task": UPKEEP_TASK}, FakeLambdaContext("Upkeep"))
        return result

    # --- Scheduler and the dispatcher ----------------------------------------------------------

    def schedules(self) -> list[dict[str, Any]]:
        """Every schedule in the reminders' group, in full (get_schedule), by name."""
        names = [
            summary["Name"]
            for summary in self.scheduler_client.list_schedules(GroupName=self.resources.group)[
                "Schedules"
            ]
        ]
        return [
            dict(self.scheduler_client.get_schedule(Name=name, GroupName=self.resources.group))
            for name in sorted(names)
        ]

    def advance(self, by: timedelta) -> list[Firing]:
        """Moves the clock, then fires what became due (as Scheduler would have meanwhile)."""
        self.clock.advance(by)
        return self.scheduler.fire_due()

    def advance_to(self, instant: datetime) -> list[Firing]:
        self.clock.advance_to(instant)
        return self.scheduler.fire_due()

    def invoke_dispatcher(self, event: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.dispatcher(event, FakeLambdaContext("DispatcherFunction"))
        return result

    def notifications(self) -> list[dict[str, Any]]:
        """What mobile push would have received since the last call."""
        return drain_queue(self.resources.deliveries_queue_url, REGION)

    def dead_letters(self) -> list[dict[str, Any]]:
        return drain_queue(self.resources.dead_letter_queue_url, REGION)
