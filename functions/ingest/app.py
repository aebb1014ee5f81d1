"""Ingest function: accepts chunk uploads and sync commits into S3 and answers at once (202).

Routes parse the request and call hksync.ingest; no database is reached from here.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated, Any
from uuid import UUID

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from hksync import ingest
from hksync.aws.clients import s3_client
from hksync.aws.s3 import RawStore
from hksync.contract.models import MAX_CHUNKS_PER_SYNC
from hksync.http_api import (
    PathInt,
    PathUuid,
    body_bytes,
    current_user,
    http_resolver,
    json_response,
    require_json,
    resolve,
)
from hksync.observability import Metric, logger, metrics, record, tracer, user_ref
from hksync.settings import IngestSettings, settings_for

settings = settings_for(IngestSettings)
app = http_resolver()

Seq = Annotated[
    PathInt,
    Path(
        ge=0,
        lt=MAX_CHUNKS_PER_SYNC,
        description=(
            "Chunk number, from 0, in decimal (no sign, leading zero or fraction). It must equal "
            "the body's seq (and sync_id the body's sync_id): a mismatch is a 422."
        ),
    ),
]


def _store() -> RawStore:
    return RawStore(s3_client(), settings.raw_bucket)


def _caller(sync_id: UUID) -> str:
    user_id = current_user(app)
    logger.append_keys(user=user_ref(user_id), sync_id=str(sync_id))
    return user_id


@app.put("/v1/syncs/<sync_id>/chunks/<seq>")
def put_chunk(sync_id: PathUuid, seq: Seq) -> Response[str]:
    """Upload one chunk of a sync (JSON, optionally Content-Encoding: gzip)."""
    require_json(app)
    body = body_bytes(app)
    accepted = ingest.accept_chunk(
        _store(), _caller(sync_id), sync_id, seq, body, max_bytes=settings.max_chunk_bytes
    )
    record(Metric.CHUNKS_ACCEPTED if accepted.created else Metric.CHUNK_RETRIES_ACKNOWLEDGED)
    record(Metric.CHUNK_BYTES, len(body))
    logger.info(
        "chunk accepted",
        extra={
            "seq": seq,
            "new_chunk": accepted.created,
            "items": accepted.samples + accepted.deleted,
        },
    )
    return json_response(HTTPStatus.ACCEPTED, accepted)


@app.post("/v1/syncs/<sync_id>/chunks/<seq>/upload-url")
def upload_url(sync_id: PathUuid, seq: Seq) -> Response[str]:
    """A presigned S3 PUT for a chunk too large for a request body."""
    target = ingest.presign_chunk_upload(
        _store(), _caller(sync_id), sync_id, seq, expires_in=settings.presign_expiry_s
    )
    return json_response(HTTPStatus.OK, target)


@app.put("/v1/syncs/<sync_id>/commit")
def commit_sync(sync_id: PathUuid) -> Response[str]:
    """Close a sync: its chunk count and the new anchor per sample type."""
    require_json(app)
    accepted = ingest.accept_commit(_store(), _caller(sync_id), sync_id, body_bytes(app))
    if accepted.created:
        record(Metric.SYNCS_COMMITTED)
    logger.info("sync committed", extra={"chunk_count": accepted.chunk_count})
    return json_response(HTTPStatus.ACCEPTED, accepted)


@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True
)
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return resolve(
        app,
        event,
        context,
        max_body_bytes=settings.max_body_bytes,
        max_decoded_bytes=settings.max_chunk_bytes,
    )
