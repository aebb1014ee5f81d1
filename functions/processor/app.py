"""Processor function: S3 ObjectCreated -> validated, deduplicated rows in PostgreSQL.

Two delivery shapes, set by the template's ProcessingMode (docs/adr/0003): S3 invokes the
function with a notification (``direct``), or an SQS queue buffers the notifications and the
function gets a batch of messages (``queue``). Either way each object goes through the same
ChunkProcessor.

A result that finds its sync complete is followed by publishing the sync's change event, if it
is not published yet (hksync.change_events): after the object's transaction, so a publish that
fails leaves the event for the hourly upkeep, and never fails the object.

Contract errors are permanent (recorded as failed chunks, not retried). Database and network
errors raise: in direct mode Lambda retries the event and then sends it to the on-failure
destination; in queue mode only the message that raised is reported as failed, SQS redelivers
it, and the redrive policy moves it to the dead-letter queue in the end.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from hksync.aws.clients import events_client, s3_client
from hksync.aws.eventbridge import ChangeEventPublisher
from hksync.aws.s3 import RawStore
from hksync.change_events import publish_sync_event
from hksync.contract.aws_events import S3Notification, is_sqs_batch, notification_in_message
from hksync.db.change_events import ChangeEventRepository
from hksync.db.connection import connection
from hksync.db.syncs import SyncRepository
from hksync.observability import logger, metrics, report_processed, tracer
from hksync.processing import ChunkProcessor, ObjectResult
from hksync.settings import ProcessorSettings, settings_for

settings = settings_for(ProcessorSettings)
batch = BatchProcessor(event_type=EventType.SQS)


def _process(notification: S3Notification) -> list[dict[str, Any]]:
    processor = ChunkProcessor(
        RawStore(s3_client(), settings.raw_bucket),
        SyncRepository(connection(settings)),
        max_bytes=settings.max_chunk_bytes,
    )
    results = []
    for record in notification.created_objects():
        if record.s3.bucket.name != settings.raw_bucket:
            logger.warning(
                "object from an unexpected bucket ignored", extra={"bucket": record.s3.bucket.name}
            )
            continue
        result = processor.process(record.key)
        report_processed(result)
        _publish_change_event(result)
        results.append(
            {"key": result.key, "outcome": result.outcome, "sync_state": result.sync_state}
        )
    return results


def _publish_change_event(result: ObjectResult) -> None:
    """Publishes the change event of the sync this object found complete, unless it went out
    before (a replay finds nothing to publish). A completing object always finds it here; a
    later one finds it only if publishing after completion failed, and tries again."""
    if result.sync_state != "complete" or result.target is None:
        return
    publish_sync_event(
        ChangeEventRepository(connection(settings)),
        ChangeEventPublisher(events_client(), settings.event_bus_name),
        result.target.user_id,
        result.target.sync_id,
    )


def _process_message(record: SQSRecord) -> None:
    """Queue mode: one message, one S3 notification. Raising fails this message alone."""
    _process(notification_in_message(record.body))


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if is_sqs_batch(event):
        return dict(
            process_partial_response(
                event=event, record_handler=_process_message, processor=batch, context=context
            )
        )
    return {"results": _process(S3Notification.model_validate(event))}
