"""Processor function: S3 ObjectCreated -> validated, deduplicated rows in PostgreSQL.

Contract errors are permanent (recorded as failed chunks, not retried). Database and network
errors raise, so Lambda retries the event and then sends it to the on-failure destination.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from hksync.aws import s3_client
from hksync.contract.events import S3Notification
from hksync.db.connection import connection
from hksync.db.repository import Repository
from hksync.observability import logger, metrics, report_processed, tracer
from hksync.processing import ChunkProcessor
from hksync.settings import ProcessorSettings, settings_for
from hksync.storage import RawStore

settings = settings_for(ProcessorSettings)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    processor = ChunkProcessor(
        RawStore(s3_client(), settings.raw_bucket),
        Repository(connection(settings)),
        max_bytes=settings.max_chunk_bytes,
    )
    results = []
    for record in S3Notification.model_validate(event).created_objects():
        if record.s3.bucket.name != settings.raw_bucket:
            logger.warning(
                "object from an unexpected bucket ignored", extra={"bucket": record.s3.bucket.name}
            )
            continue
        result = processor.process(record.key)
        report_processed(result)
        results.append(
            {"key": result.key, "outcome": result.outcome, "sync_state": result.sync_state}
        )
    return {"results": results}
