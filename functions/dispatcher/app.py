"""Reminder dispatcher: the target of every reminder schedule (EventBridge Scheduler invokes it
asynchronously, once per occurrence, at least once). Delivers each occurrence exactly once to
the reminders SNS topic; see hksync.dispatch for how, and for the publish-then-crash trade-off.

A malformed event raises (it goes to the dead-letter queue after Lambda's retries); so does an
SNS refusal, after the claim is released, so that Lambda's retry may deliver it.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from hksync.aws.clients import sns_client
from hksync.aws.sns import ReminderTopic
from hksync.contract.reminders import ReminderOccurrence
from hksync.db.connection import connection
from hksync.db.reminders import ReminderRepository
from hksync.dispatch import ReminderDispatcher
from hksync.observability import Metric, logger, metrics, record, tracer, user_ref
from hksync.settings import DispatcherSettings, settings_for

settings = settings_for(DispatcherSettings)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    occurrence = ReminderOccurrence.model_validate(event)
    # The user the schedule's input names (hksync.reminders wrote it for the verified caller).
    repository = ReminderRepository(connection(settings))
    repository.act_for(occurrence.user_id)
    dispatcher = ReminderDispatcher(
        repository,
        ReminderTopic(sns_client(), settings.reminder_topic_arn),
    )
    result = dispatcher.dispatch(occurrence)
    # Identifiers and the outcome only: never the title (it may name a medication).
    details = {
        "user": user_ref(occurrence.user_id),
        "reminder_id": str(result.reminder_id),
        "scheduled_for": result.scheduled_for.isoformat(),
        "outcome": result.outcome,
        "attempt": occurrence.attempt,
    }
    if result.outcome == "delivered":
        record(Metric.REMINDERS_DELIVERED)
    elif result.outcome != "unconfirmed":  # duplicate, cancelled, stale or unknown
        record(Metric.REMINDERS_SKIPPED)
    if result.outcome == "unconfirmed":
        logger.error("reminder publish unconfirmed: not retried, check the ledger", extra=details)
    else:
        logger.info("reminder occurrence dispatched", extra=details)
    return {
        "outcome": result.outcome,
        "reminder_id": str(result.reminder_id),
        "scheduled_for": result.scheduled_for.isoformat(),
        "message_id": result.message_id,
    }
