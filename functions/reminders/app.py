"""Reminders function: create, list, reschedule and cancel the caller's reminders, and their
hourly upkeep.

Routes parse the request and call hksync.reminders; the rows live in PostgreSQL and each
scheduled reminder has one EventBridge Scheduler schedule, whose target is the dispatcher.
The template's scheduled rule invokes it with ``{"task": "reminder-upkeep"}`` too: the change
events the processor could not publish are published (hksync.change_events.sweep, in the
first half of the invocation's time), then hksync.reminder_upkeep puts back missing schedules
and purges old ledger rows. One hourly job for both, so that a scaled-to-zero database wakes
once an hour for upkeep, not twice. A failed run raises; the next hour's run does the same
work, so nothing is retried or dead-lettered.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from hksync import change_events, reminder_upkeep, reminders
from hksync.aws.clients import events_client, scheduler_client
from hksync.aws.eventbridge import ChangeEventPublisher
from hksync.aws.scheduler import ReminderSchedules, ScheduleTarget
from hksync.db.change_events import ChangeEventRepository
from hksync.db.connection import connection
from hksync.db.reminders import ReminderRepository
from hksync.http_api import (
    PathUuid,
    body_bytes,
    current_user,
    http_resolver,
    json_response,
    require_json,
)
from hksync.observability import Metric, logger, metrics, record, tracer, user_ref
from hksync.settings import RemindersSettings, settings_for

settings = settings_for(RemindersSettings)
app = http_resolver()


def _caller() -> str:
    user_id = current_user(app)
    logger.append_keys(user=user_ref(user_id))
    return user_id


def _repository(user_id: str | None) -> ReminderRepository:
    """The repository, acting for the verified caller (the upkeep: for nobody; it reads across
    users only through the functions the database gives it for that)."""
    repository = ReminderRepository(connection(settings))
    repository.act_for(user_id)
    return repository


def _schedules() -> ReminderSchedules:
    return ReminderSchedules(
        scheduler_client(),
        settings.reminder_schedule_group,
        ScheduleTarget(
            dispatcher_arn=settings.dispatcher_function_arn,
            role_arn=settings.scheduler_role_arn,
            dead_letter_arn=settings.reminder_dlq_arn,
            flexible_window_minutes=settings.reminder_flexible_window_minutes,
        ),
    )


@app.post("/v1/reminders")
def create_reminder() -> Response[str]:
    """Create a reminder (201); the same reminder_id and content again is a no-op (200)."""
    require_json(app)
    user_id = _caller()
    view, created = reminders.create_reminder(
        _repository(user_id), _schedules(), user_id, body_bytes(app), datetime.now(UTC)
    )
    if created:
        record(Metric.REMINDERS_SCHEDULED)
    logger.info(
        "reminder created" if created else "reminder create repeated",
        extra={"reminder_id": str(view.reminder_id), "kind": view.kind, "state": view.state},
    )
    return json_response(HTTPStatus.CREATED if created else HTTPStatus.OK, view)


@app.get("/v1/reminders")
def list_reminders() -> Response[str]:
    """The caller's reminders."""
    user_id = _caller()
    return json_response(HTTPStatus.OK, reminders.list_reminders(_repository(user_id), user_id))


@app.put("/v1/reminders/<reminder_id>")
def reschedule_reminder(reminder_id: PathUuid) -> Response[str]:
    """Give a reminder a new schedule (one-time or recurring)."""
    require_json(app)
    user_id = _caller()
    view = reminders.reschedule_reminder(
        _repository(user_id), _schedules(), user_id, reminder_id, body_bytes(app), datetime.now(UTC)
    )
    logger.info("reminder rescheduled", extra={"reminder_id": str(reminder_id)})
    return json_response(HTTPStatus.OK, view)


@app.delete("/v1/reminders/<reminder_id>")
def cancel_reminder(reminder_id: PathUuid) -> Response[str]:
    """Cancel a reminder for good; cancelling it again changes nothing."""
    user_id = _caller()
    view = reminders.cancel_reminder(_repository(user_id), _schedules(), user_id, reminder_id)
    logger.info("reminder cancelled", extra={"reminder_id": str(reminder_id)})
    return json_response(HTTPStatus.OK, view)


@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True
)
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if event.get("task") == reminder_upkeep.UPKEEP_TASK:
        return _upkeep(context)
    return app.resolve(event, context)


def _upkeep(context: LambdaContext) -> dict[str, Any]:
    half_time_ms = context.get_remaining_time_in_millis() / 2
    published = change_events.sweep(
        ChangeEventRepository(connection(settings)),
        ChangeEventPublisher(events_client(), settings.event_bus_name),
        time_left_s=lambda: (context.get_remaining_time_in_millis() - half_time_ms) / 1000,
    )
    logger.info("change event sweep", extra=asdict(published))
    report = reminder_upkeep.run_upkeep(
        _repository(None),
        _schedules(),
        datetime.now(UTC),
        retention=timedelta(days=settings.reminder_delivery_retention_days),
    )
    logger.info("reminder upkeep", extra=asdict(report))
    return {**asdict(report), "change_events": asdict(published)}
