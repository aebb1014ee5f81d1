"""Account function: the caller's erasure (``DELETE /v1/me``, ``GET /v1/me/erasure``) and the
background worker that performs it.

Two event shapes, like the processor: HTTP API requests, which record an erasure and queue it
(202 at once), and batches from the erasure queue, which perform it (hksync.erasure). A failed
erasure raises for its message alone: SQS redelivers it, and after the queue's receive limit
it moves to the erasure dead-letter queue.

One function rather than two: it is one feature over the same tables, settings and grants
(the API half needs no S3 or Scheduler access, but it only ever acts on the verified caller).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from hksync import erasure
from hksync.aws.clients import s3_client, scheduler_client, sqs_client
from hksync.aws.s3 import RawObjectEraser
from hksync.aws.scheduler import ReminderSchedules, ScheduleTarget
from hksync.aws.sqs import SqsErasureQueue
from hksync.contract.aws_events import is_sqs_batch
from hksync.contract.erasure import ErasureRequested
from hksync.db.connection import connection
from hksync.db.erasure import ErasureRepository
from hksync.db.reminders import ReminderRepository
from hksync.http_api import current_user, http_resolver, json_response
from hksync.observability import logger, tracer, user_ref
from hksync.settings import AccountSettings, settings_for

settings = settings_for(AccountSettings)
app = http_resolver()
batch = BatchProcessor(event_type=EventType.SQS)
#: Erasing only deletes schedules; a target is what creating one would need.
_NO_TARGET = ScheduleTarget(dispatcher_arn="", role_arn="", dead_letter_arn="")


def _caller() -> str:
    user_id = current_user(app)
    logger.append_keys(user=user_ref(user_id))
    return user_id


def _erasures(user_id: str) -> ErasureRepository:
    """The repository, acting for the verified caller: the database shows it nobody else."""
    repository = ErasureRepository(connection(settings))
    repository.act_for(user_id)
    return repository


@app.delete("/v1/me")
def erase_me() -> Response[str]:
    """Erase every sample, sync, anchor, reminder and raw object of the caller (202)."""
    user_id = _caller()
    view, created = erasure.request_erasure(
        _erasures(user_id), SqsErasureQueue(sqs_client(), settings.erasure_queue_url), user_id
    )
    logger.info(
        "erasure requested" if created else "erasure requested again",
        extra={"erasure_id": str(view.erasure_id), "state": view.state},
    )
    return json_response(HTTPStatus.ACCEPTED, view)


@app.get("/v1/me/erasure")
def my_erasure() -> Response[str]:
    """The caller's latest erasure: pending, or complete with when and what."""
    user_id = _caller()
    return json_response(HTTPStatus.OK, erasure.erasure_status(_erasures(user_id), user_id))


def _perform(record: SQSRecord) -> None:
    """One queued erasure. Raising fails this message alone (SQS redelivers it)."""
    request = ErasureRequested.model_validate_json(record.body)
    # Acting for nobody until ErasureRepository.start finds whose erasure this is; the
    # reminders repository shares the connection, and so the user.
    database = connection(settings)
    outcome = erasure.perform_erasure(
        ErasureRepository(database),
        ReminderRepository(database),
        ReminderSchedules(scheduler_client(), settings.reminder_schedule_group, _NO_TARGET),
        RawObjectEraser(s3_client(), settings.raw_bucket),
        request.erasure_id,
    )
    logger.info(
        "erasure performed",
        extra={
            "erasure_id": str(outcome.erasure_id),
            "outcome": outcome.outcome,
            "objects": outcome.objects,
            "samples": outcome.samples,
            "syncs": outcome.syncs,
            "reminders": outcome.reminders,
        },
    )


@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True
)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if is_sqs_batch(event):
        return dict(
            process_partial_response(
                event=event, record_handler=_perform, processor=batch, context=context
            )
        )
    return app.resolve(event, context)
