"""Query function: the read side, for the caller only: sync status, rejected samples, anchors,
samples, daily summaries and the app's source priority."""

from __future__ import annotations

from datetime import date, datetime
from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from hksync import query, read_side
from hksync.aws.clients import s3_client
from hksync.aws.s3 import RawStore
from hksync.contract.parse import parse_json
from hksync.contract.read_side import (
    SAMPLE_CURSOR_PATTERN,
    SAMPLE_PAGE_DEFAULT,
    SAMPLE_PAGE_MAX,
    SAMPLE_TYPE_PATTERN,
    SUMMARY_TYPES_PATTERN,
    SourcePriority,
)
from hksync.contract.responses import (
    REJECTED_CURSOR_PATTERN,
    REJECTED_PAGE_DEFAULT,
    REJECTED_PAGE_MAX,
)
from hksync.db.connection import connection
from hksync.db.syncs import SyncRepository
from hksync.http_api import (
    PathUuid,
    body_bytes,
    current_user,
    http_resolver,
    json_response,
    require_json,
)
from hksync.observability import logger, tracer, user_ref
from hksync.settings import QuerySettings, settings_for

settings = settings_for(QuerySettings)
app = http_resolver()


def _caller() -> str:
    user_id = current_user(app)
    logger.append_keys(user=user_ref(user_id))
    return user_id


def _repository(user_id: str) -> SyncRepository:
    """The repository, acting for the verified caller: the database shows it nobody else."""
    repository = SyncRepository(connection(settings))
    repository.act_for(user_id)
    return repository


@app.get("/v1/syncs/<sync_id>")
def get_sync(sync_id: PathUuid) -> Response[str]:
    """A sync's state and counts: uploaded, processed, failed (with reasons), samples."""
    user_id = _caller()
    status = query.sync_status(
        _repository(user_id), RawStore(s3_client(), settings.raw_bucket), user_id, sync_id
    )
    return json_response(HTTPStatus.OK, status)


@app.get("/v1/syncs/<sync_id>/rejected")
def get_rejected_samples(
    sync_id: PathUuid,
    after: Annotated[
        str | None,
        Query(pattern=REJECTED_CURSOR_PATTERN, description="A previous page's next_after."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=REJECTED_PAGE_MAX)] = REJECTED_PAGE_DEFAULT,
) -> Response[str]:
    """The samples of a sync refused on their own (field and reason each), paged."""
    user_id = _caller()
    page = query.rejected_samples(_repository(user_id), user_id, sync_id, after=after, limit=limit)
    return json_response(HTTPStatus.OK, page)


@app.get("/v1/anchors")
def get_anchors() -> Response[str]:
    """The server's anchor per sample type, for an app resuming after a reinstall."""
    user_id = _caller()
    anchors = query.anchors(_repository(user_id), user_id)
    return json_response(HTTPStatus.OK, anchors)


@app.get("/v1/samples")
def get_samples(
    sample_type: Annotated[str, Query(pattern=SAMPLE_TYPE_PATTERN)],
    start: Annotated[datetime, Query(description="From this instant (ISO 8601 with offset).")],
    end: Annotated[datetime, Query(description="Up to this instant, excluded.")],
    include_deleted: Annotated[bool, Query()] = False,
    after: Annotated[
        str | None, Query(pattern=SAMPLE_CURSOR_PATTERN, description="A page's next_after.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=SAMPLE_PAGE_MAX)] = SAMPLE_PAGE_DEFAULT,
) -> Response[str]:
    """The caller's samples of one type over a time range, keyset-paged."""
    user_id = _caller()
    page = read_side.samples_page(
        _repository(user_id).summaries,
        user_id,
        sample_type,
        start,
        end,
        include_deleted=include_deleted,
        after=after,
        limit=limit,
    )
    return json_response(HTTPStatus.OK, page)


@app.get("/v1/summaries/daily")
def get_daily_summaries(
    types: Annotated[
        str,
        Query(
            pattern=SUMMARY_TYPES_PATTERN,
            description="Sample types, comma-separated.",
        ),
    ],
    start: Annotated[date, Query(description="First local day.")],
    end: Annotated[date, Query(description="Last local day, included.")],
) -> Response[str]:
    """Per local day: merged totals, discrete figures, sleep nights or workouts."""
    user_id = _caller()
    summaries = read_side.daily_summaries(
        _repository(user_id).summaries, user_id, types.split(","), start, end
    )
    return json_response(HTTPStatus.OK, summaries)


@app.put("/v1/me/source-priority")
def put_source_priority() -> Response[str]:
    """The app's order of sources for a type (or every type), highest first."""
    require_json(app)
    user_id, priority = _caller(), parse_json(SourcePriority, body_bytes(app))
    stored = read_side.set_source_priority(_repository(user_id).summaries, user_id, priority)
    return json_response(HTTPStatus.OK, stored)


@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True
)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
