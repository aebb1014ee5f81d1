"""Fixtures shared by integration test modules."""

from __future__ import annotations

import boto3
import pytest

from hksync_tools.local.scheduler import provision_reminders
from tests.support.reminders import REGION, ReminderDriver

GROUP = "hksync-reminders-test"
DISPATCHER_ARN = "arn:aws:lambda:us-east-1:123456789012:function:hksync-test-DispatcherFunction"
SCHEDULER_ROLE_ARN = "arn:aws:iam::123456789012:role/hksync-test-reminder-scheduler"


@pytest.fixture
def reminders(pipeline_env: None, monkeypatch: pytest.MonkeyPatch) -> ReminderDriver:
    """The reminder functions with the environment the template gives them, on moto."""
    resources = provision_reminders({"ReminderScheduleGroup": GROUP}, REGION)
    dead_letter_arn = boto3.client("sqs", region_name=REGION).get_queue_attributes(
        QueueUrl=resources.dead_letter_queue_url, AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    monkeypatch.setenv("REMINDER_SCHEDULE_GROUP", GROUP)
    monkeypatch.setenv("DISPATCHER_FUNCTION_ARN", DISPATCHER_ARN)
    monkeypatch.setenv("SCHEDULER_ROLE_ARN", SCHEDULER_ROLE_ARN)
    monkeypatch.setenv("REMINDER_DLQ_ARN", dead_letter_arn)
    monkeypatch.setenv("REMINDER_TOPIC_ARN", resources.topic_arn)
    return ReminderDriver(resources)
