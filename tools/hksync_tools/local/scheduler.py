"""EventBridge Scheduler, locally: moto stores schedules but never fires them, so this does.

:class:`LocalScheduler` reads the schedules of one group through the Scheduler API (moto's),
works out which occurrences are due by a :class:`LocalClock` that tests and the demo move
forward instead of waiting, and invokes each schedule's target the way Scheduler does:

- the target input with Scheduler's ``<aws.scheduler.*>`` placeholders filled in;
- at least once: with ``duplicate_rate`` an occurrence is invoked twice, so the dispatcher's
  de-duplication is exercised, not assumed;
- asynchronously, as Scheduler invokes Lambda: a failing invocation is retried twice (Lambda's
  asynchronous retries), then its event goes to the dead-letter queue;
- ``at()`` once, ``cron()`` at every occurrence from the schedule's StartDate, both in the
  schedule's time zone (hksync.cron: skipped and repeated local times as Scheduler documents);
- a one-time schedule with ActionAfterCompletion DELETE is deleted after it fired.

It also provisions what the template creates for reminders (schedule group, dead-letter queue,
SNS topic) on the moto server, plus an SQS queue subscribed to the topic: the local stand-in for
the mobile push that subscribes there in production.
"""

from __future__ import annotations

import json
import random
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import takewhile
from typing import TYPE_CHECKING, Any, Final
from zoneinfo import ZoneInfo

import boto3
from botocore.exceptions import ClientError

from hksync.cron import CronExpression, local_instant
from hksync_tools.cfn_template import resolve_environment
from hksync_tools.local.functions import FakeLambdaContext, Handler
from hksync_tools.local.workers import Invocation

if TYPE_CHECKING:
    from mypy_boto3_scheduler import EventBridgeSchedulerClient
    from mypy_boto3_scheduler.type_defs import GetScheduleOutputTypeDef
    from mypy_boto3_sqs import SQSClient

#: Lambda retries a failed asynchronous invocation twice (the template's MaximumRetryAttempts).
ASYNC_RETRIES: Final = 2
TOPIC_NAME: Final = "hksync-reminders-local"
DEAD_LETTER_QUEUE_NAME: Final = "hksync-reminders-dlq-local"
#: Subscribed to the topic: what mobile push would receive.
DELIVERIES_QUEUE_NAME: Final = "hksync-reminder-deliveries-local"

#: (target ARN, event) -> what the invocation returned.
Invoke = Callable[[str, dict[str, Any]], Invocation]


class LocalClock:
    """The local stack's "now": the real time, plus however far it has been moved forward."""

    def __init__(self) -> None:
        self._offset = timedelta(0)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self._offset

    def advance(self, by: timedelta) -> datetime:
        """Moves the clock forward (never back: time does not run backwards for Scheduler)."""
        if by < timedelta(0):
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._offset += by
        return self.now()

    def advance_to(self, instant: datetime) -> datetime:
        return self.advance(max(timedelta(0), instant - self.now()))


@dataclass(frozen=True, slots=True)
class Firing:
    """One invocation of a schedule's target, as Scheduler would make it."""

    schedule_name: str
    scheduled_time: datetime
    event: dict[str, Any]
    invocation: Invocation


def in_process(handler: Handler, name: str = "DispatcherFunction") -> Invoke:
    """Invokes a handler loaded in this process (tests), reporting errors as Lambda does."""

    def invoke(_: str, event: dict[str, Any]) -> Invocation:
        try:
            return Invocation(result=handler(event, FakeLambdaContext(name)))
        except Exception as error:  # the scheduler decides: retry, then dead-letter
            return Invocation(error_type=type(error).__name__, error_message=str(error))

    return invoke


def _placeholders(schedule: GetScheduleOutputTypeDef, instant: datetime) -> dict[str, str]:
    return {
        "<aws.scheduler.schedule-arn>": schedule["Arn"],
        "<aws.scheduler.scheduled-time>": instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "<aws.scheduler.execution-id>": uuid.uuid4().hex[:16],
        "<aws.scheduler.attempt-number>": "1",
    }


class LocalScheduler:
    """Fires the due schedules of one group; call :meth:`fire_due` (the local stack does, in a
    loop) after moving the clock."""

    def __init__(
        self,
        client: EventBridgeSchedulerClient,
        group: str,
        invoke: Invoke,
        *,
        clock: LocalClock,
        sqs: SQSClient | None = None,
        duplicate_rate: float = 0.0,
        rng: random.Random | None = None,
    ) -> None:
        self._client = client
        self._group = group
        self._invoke = invoke
        self._clock = clock
        self._sqs = sqs
        self._duplicate_rate = duplicate_rate
        self._rng = rng or random.Random()  # noqa: S311 - simulates duplicates, not secrets
        self._lock = threading.Lock()
        #: Per version of a schedule (name, expression, zone, input): the last instant fired.
        self._fired_until: dict[tuple[str, ...], datetime] = {}

    def fire_due(self) -> list[Firing]:
        """Invokes every occurrence that is due by the clock and was not invoked yet."""
        with self._lock:
            now = self._clock.now()
            firings: list[Firing] = []
            for name in self._schedule_names():
                try:
                    schedule = self._client.get_schedule(Name=name, GroupName=self._group)
                except ClientError as error:  # deleted since it was listed
                    if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                        continue
                    raise
                if schedule.get("State", "ENABLED") != "ENABLED":
                    continue
                due = self._due(schedule, now)
                for instant in due:
                    firings.extend(self._fire(schedule, instant))
                if (
                    due
                    and schedule["ScheduleExpression"].startswith("at(")
                    and schedule.get("ActionAfterCompletion") == "DELETE"
                ):
                    self._client.delete_schedule(Name=name, GroupName=self._group)
            return firings

    def _schedule_names(self) -> list[str]:
        names: list[str] = []
        paginator = self._client.get_paginator("list_schedules")
        for page in paginator.paginate(GroupName=self._group):
            names.extend(summary["Name"] for summary in page["Schedules"] if "Name" in summary)
        return sorted(names)

    def _due(self, schedule: GetScheduleOutputTypeDef, now: datetime) -> list[datetime]:
        expression = schedule["ScheduleExpression"]
        zone = ZoneInfo(schedule.get("ScheduleExpressionTimezone") or "UTC")
        version = (
            schedule["Name"],
            expression,
            zone.key,
            schedule["Target"].get("Input", ""),
        )
        start = schedule.get("StartDate") or schedule.get("CreationDate") or now
        after = self._fired_until.get(version, start - timedelta(microseconds=1))
        until = min(now, schedule.get("EndDate") or now)
        if expression.startswith("at(") and expression.endswith(")"):
            instant = local_instant(datetime.fromisoformat(expression[3:-1]), zone)
            due = [instant] if instant is not None and version not in self._fired_until else []
            due = [instant for instant in due if instant <= until]
        elif expression.startswith("cron(") and expression.endswith(")"):
            cron = CronExpression.parse(expression[5:-1])
            due = list(takewhile(lambda instant: instant <= until, cron.occurrences(zone, after)))
        else:
            raise ValueError(f"the local scheduler runs at() and cron() only, not {expression}")
        if due:
            self._fired_until[version] = due[-1]
        return due

    def _fire(self, schedule: GetScheduleOutputTypeDef, instant: datetime) -> list[Firing]:
        target = schedule["Target"]
        text = target.get("Input", "{}")
        for placeholder, value in _placeholders(schedule, instant).items():
            text = text.replace(placeholder, value)
        event: dict[str, Any] = json.loads(text)
        copies = 2 if self._rng.random() < self._duplicate_rate else 1
        firings = []
        for _ in range(copies):
            invocation = self._invoke(target["Arn"], event)
            for _ in range(ASYNC_RETRIES):
                if not invocation.failed:
                    break
                invocation = self._invoke(target["Arn"], event)
            if invocation.failed:
                self._dead_letter(target.get("DeadLetterConfig", {}).get("Arn"), event, invocation)
            firings.append(Firing(schedule["Name"], instant, event, invocation))
        return firings

    def _dead_letter(
        self, queue_arn: str | None, event: dict[str, Any], invocation: Invocation
    ) -> None:
        """Lambda's on-failure destination: the event, with why it failed."""
        if self._sqs is None or queue_arn is None:
            return
        queue_url = self._sqs.get_queue_url(QueueName=queue_arn.rsplit(":", 1)[-1])["QueueUrl"]
        self._sqs.send_message(
            QueueUrl=queue_url,
            MessageBody=json.dumps(
                {
                    "requestContext": {
                        "condition": "RetriesExhausted",
                        "approximateInvokeCount": 1 + ASYNC_RETRIES,
                    },
                    "responseContext": {"functionError": invocation.error_type},
                    "requestPayload": event,
                }
            ),
        )


# --- what the template creates for reminders, as local resources ------------------------------


def function_arn(logical_id: str, references: Mapping[str, str]) -> str:
    """The ARN a function of the local stack answers to (its target ARN in schedules)."""
    return (
        f"arn:aws:lambda:{references['AWS::Region']}:{references['AWS::AccountId']}:function:"
        f"{references['AWS::StackName']}-{logical_id}"
    )


def reminder_references(
    template: Mapping[str, Any], references: Mapping[str, str]
) -> dict[str, str]:
    """Local values for what the reminder functions' environment refers to: the schedule
    group's name (from the template), the queue, topic and role ARNs, function ARNs."""
    region, account = references["AWS::Region"], references["AWS::AccountId"]
    resources = template.get("Resources", {})
    group = resources.get("ReminderScheduleGroup", {}).get("Properties", {}).get("Name")
    local = {
        "ReminderScheduleGroup": (
            resolve_environment({"group": group}, references).get("group") if group else None
        )
        or "hksync-reminders-local",
        "ReminderTopic": f"arn:aws:sns:{region}:{account}:{TOPIC_NAME}",
        "ReminderDeadLetterQueue.Arn": f"arn:aws:sqs:{region}:{account}:{DEAD_LETTER_QUEUE_NAME}",
        "ReminderSchedulerRole.Arn": (
            f"arn:aws:iam::{account}:role/{references['AWS::StackName']}-reminder-scheduler"
        ),
    }
    for logical_id, resource in resources.items():
        if resource.get("Type") == "AWS::Serverless::Function":
            local[f"{logical_id}.Arn"] = function_arn(logical_id, references)
    return local


@dataclass(frozen=True, slots=True)
class LocalReminderResources:
    group: str
    topic_arn: str
    dead_letter_queue_url: str
    deliveries_queue_url: str


def provision_reminders(references: Mapping[str, str], region: str) -> LocalReminderResources:
    """Creates the schedule group, dead-letter queue and topic the template declares (moto
    cannot create a schedule in a group that does not exist), and the deliveries queue."""
    group = references["ReminderScheduleGroup"]
    boto3.client("scheduler", region_name=region).create_schedule_group(Name=group)
    sqs = boto3.client("sqs", region_name=region)
    sns = boto3.client("sns", region_name=region)
    dead_letter_url = sqs.create_queue(QueueName=DEAD_LETTER_QUEUE_NAME)["QueueUrl"]
    topic_arn = sns.create_topic(Name=TOPIC_NAME)["TopicArn"]
    deliveries_url = sqs.create_queue(QueueName=DELIVERIES_QUEUE_NAME)["QueueUrl"]
    deliveries_arn = sqs.get_queue_attributes(QueueUrl=deliveries_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=deliveries_arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    return LocalReminderResources(group, topic_arn, dead_letter_url, deliveries_url)
