"""The OpenAPI document of the HTTP API, generated from the contract models.

Routes come from template.yaml (what API Gateway serves); what each route takes and answers
comes from ``OPERATIONS`` below and the pydantic models; path parameters are the fields of the
contract they name (a chunk's sync_id and seq, a reminder's id), so their bounds have one
source. `hksync openapi` writes docs/openapi.json; tests check that it is current, that it
covers exactly the template's routes, and that real responses conform to it.

Hand-written, not Powertools' get_openapi_schema and OpenAPIMerge: those need every function
imported under made-up settings and add their own 422 and validation-error schemas for ErrorBody
to replace, while the bodies, the gzip header and the error responses would still be added here.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import msgspec
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from hksync.contract import chunk_wire
from hksync.contract.erasure import ErasureView
from hksync.contract.models import SyncCommit
from hksync.contract.read_side import (
    SAMPLE_CURSOR_PATTERN,
    SAMPLE_PAGE_DEFAULT,
    SAMPLE_PAGE_MAX,
    SAMPLE_TYPE_PATTERN,
    SUMMARY_DAYS_MAX,
    SUMMARY_TYPES_PATTERN,
    DailySummariesView,
    SamplesPage,
    SourcePriority,
)
from hksync.contract.reminders import CreateReminder, OneTimeReminder, RescheduleReminder
from hksync.contract.responses import (
    REJECTED_CURSOR_PATTERN,
    REJECTED_PAGE_DEFAULT,
    REJECTED_PAGE_MAX,
    AnchorsView,
    ChunkAccepted,
    CommitAccepted,
    ErrorBody,
    RejectedSamplesPage,
    ReminderList,
    ReminderView,
    SyncStatusView,
    UploadUrl,
)

_ERRORS: Final = {
    400: "The body is not JSON, not valid gzip, or not UTF-8.",
    401: (
        "No valid token. API Gateway's JWT authorizer answers it, in its own shape "
        '({"message": "Unauthorized"}); a verified token without a subject gets an ErrorBody.'
    ),
    404: "Not found for this user.",
    409: (
        "A different chunk or commit is already stored under this id (chunks are immutable), "
        "or a reminder exists with other content or is cancelled."
    ),
    413: "The body is larger than the limit; use the presigned upload URL.",
    415: "Content-Type is not application/json.",
    422: "The request breaks the contract; details name each field and the reason.",
}


class GatewayError(BaseModel):
    """What API Gateway answers by itself, before any function runs (the JWT authorizer's 401)."""

    message: str


@dataclass(frozen=True)
class Operation:
    summary: str
    description: str
    responses: dict[int, type[BaseModel]]
    #: A pydantic model, or the chunk's msgspec struct (hksync.contract.chunk_wire).
    request: type[BaseModel] | type[msgspec.Struct] | None = None
    errors: tuple[int, ...] = (401, 422)
    gzip: bool = False
    path_parameters: dict[str, dict[str, Any]] = field(default_factory=dict)
    query_parameters: dict[str, dict[str, Any]] = field(default_factory=dict)


def _path_parameter(model: type[BaseModel], name: str, description: str) -> dict[str, Any]:
    """The schema of a path parameter that names a field of a contract model."""
    schema = dict(model.model_json_schema()["properties"][name])
    schema.pop("title", None)
    return {**schema, "description": description}


def _chunk_parameter(name: str, description: str) -> dict[str, Any]:
    """The schema of a path parameter that names a field of the chunk's envelope."""
    return {
        **msgspec.json.schema(chunk_wire.ChunkIn)["$defs"]["ChunkIn"]["properties"][name],
        "description": description,
    }


#: The sample structs, one per kind, that a chunk's ``samples`` hold (by its sample_type).
SAMPLE_STRUCTS: Final = (
    chunk_wire.QuantityIn,
    chunk_wire.CategoryIn,
    chunk_wire.CorrelationIn,
    chunk_wire.WorkoutIn,
    chunk_wire.WorkoutRouteIn,
    chunk_wire.ElectrocardiogramIn,
    chunk_wire.AudiogramIn,
    chunk_wire.HeartbeatSeriesIn,
    chunk_wire.StateOfMindIn,
    chunk_wire.ScoredAssessmentIn,
    chunk_wire.MedicationDoseIn,
    chunk_wire.UnknownSampleIn,
)


def chunk_schemas() -> dict[str, Any]:
    """The chunk's component schemas from its msgspec structs. Samples are decoded one by one
    (raw in the envelope), so their list is given its item schemas here."""
    _, components = msgspec.json.schema_components(
        (chunk_wire.ChunkIn, *SAMPLE_STRUCTS), ref_template="#/components/schemas/{name}"
    )
    samples = components["ChunkIn"]["properties"]["samples"]
    samples["items"] = {
        "anyOf": [{"$ref": f"#/components/schemas/{struct.__name__}"} for struct in SAMPLE_STRUCTS]
    }
    samples["description"] = (
        "Samples of the chunk's sample_type, in the shape of its kind (docs/healthkit-types.md). "
        "A bad sample is rejected alone and reported in the sync status."
    )
    members = components["CorrelationIn"]["properties"]["objects"]
    members["items"] = {
        "anyOf": [
            {"$ref": "#/components/schemas/QuantityIn"},
            {"$ref": "#/components/schemas/CategoryIn"},
        ]
    }
    return components


_SYNC_ID: Final = _chunk_parameter("sync_id", "Client-generated sync id.")
_SEQ: Final = _chunk_parameter("seq", "Chunk number, from 0.")
_REMINDER_ID: Final = _path_parameter(OneTimeReminder, "reminder_id", "Client-chosen reminder id.")

OPERATIONS: Final[dict[str, Operation]] = {
    "PUT /v1/syncs/{sync_id}/chunks/{seq}": Operation(
        "Upload one chunk of a sync",
        "Samples and deletions of one HealthKit type. Stored once in S3 and processed in the "
        "background; the same bytes again answer 202 with created=false.",
        {202: ChunkAccepted},
        request=chunk_wire.ChunkIn,
        errors=(400, 401, 409, 413, 415, 422),
        gzip=True,
        path_parameters={"sync_id": _SYNC_ID, "seq": _SEQ},
    ),
    "POST /v1/syncs/{sync_id}/chunks/{seq}/upload-url": Operation(
        "Get a presigned S3 URL for a large chunk",
        "PUT the chunk (JSON, optionally gzip) to the URL with the returned headers.",
        {200: UploadUrl},
        path_parameters={"sync_id": _SYNC_ID, "seq": _SEQ},
    ),
    "PUT /v1/syncs/{sync_id}/commit": Operation(
        "Commit a sync",
        "Its chunk count and the new anchor per type. The anchors become the server's once "
        "every chunk is stored, unless a newer sync already moved them.",
        {202: CommitAccepted},
        request=SyncCommit,
        errors=(400, 401, 409, 415, 422),
        path_parameters={"sync_id": _SYNC_ID},
    ),
    "GET /v1/syncs/{sync_id}": Operation(
        "A sync's status",
        "State, chunks uploaded/processed/failed (with reasons) and sample counts.",
        {200: SyncStatusView},
        errors=(401, 404, 422),
        path_parameters={"sync_id": _SYNC_ID},
    ),
    "GET /v1/syncs/{sync_id}/rejected": Operation(
        "A sync's rejected samples",
        "The samples refused on their own (the rest of their chunks is stored): chunk, index, "
        "uuid, the field at fault and why, in chunk order, a page at a time.",
        {200: RejectedSamplesPage},
        errors=(401, 404, 422),
        path_parameters={"sync_id": _SYNC_ID},
        query_parameters={
            "after": {
                "type": "string",
                "pattern": REJECTED_CURSOR_PATTERN,
                "description": "The previous page's next_after.",
            },
            "limit": {
                "type": "integer",
                "minimum": 1,
                "maximum": REJECTED_PAGE_MAX,
                "default": REJECTED_PAGE_DEFAULT,
            },
        },
    ),
    "GET /v1/samples": Operation(
        "The caller's samples of one type",
        "Samples of sample_type starting in [start, end), keyset-paged by (start, uuid): "
        "stable while new samples arrive. With include_deleted, tombstones (deleted in the "
        "range, keeping only their type) too, so that a backend can mirror changes.",
        {200: SamplesPage},
        errors=(401, 422),
        query_parameters={
            "sample_type": {"type": "string", "pattern": SAMPLE_TYPE_PATTERN, "required": True},
            "start": {"type": "string", "format": "date-time", "required": True},
            "end": {"type": "string", "format": "date-time", "required": True},
            "include_deleted": {"type": "boolean", "default": False},
            "after": {
                "type": "string",
                "pattern": SAMPLE_CURSOR_PATTERN,
                "description": "The previous page's next_after.",
            },
            "limit": {
                "type": "integer",
                "minimum": 1,
                "maximum": SAMPLE_PAGE_MAX,
                "default": SAMPLE_PAGE_DEFAULT,
            },
        },
    ),
    "GET /v1/summaries/daily": Operation(
        "Daily summaries",
        "Per local day of each type, from start to end (local dates, at most "
        f"{SUMMARY_DAYS_MAX} days): cumulative types merged across sources by priority (no "
        "iPhone + Watch double count) beside each source's own total; discrete types' minimum, "
        "maximum, average and latest; sleep per night (the night ending on the day); workouts "
        "per activity. docs/read-side.md says how.",
        {200: DailySummariesView},
        errors=(401, 422),
        query_parameters={
            "types": {"type": "string", "pattern": SUMMARY_TYPES_PATTERN, "required": True},
            "start": {"type": "string", "format": "date", "required": True},
            "end": {"type": "string", "format": "date", "required": True},
        },
    ),
    "PUT /v1/me/source-priority": Operation(
        "Set the source priority",
        "The app's order of sources (bundle ids, highest first) for one type or every type "
        "('*'); the summaries it affects are computed again.",
        {200: SourcePriority},
        request=SourcePriority,
        errors=(400, 401, 415, 422),
    ),
    "GET /v1/anchors": Operation(
        "The server's anchors",
        "Per sample type: where a reinstalled app resumes its anchored queries.",
        {200: AnchorsView},
        errors=(401,),
    ),
    "POST /v1/reminders": Operation(
        "Create a reminder",
        "One-time (at: a local date-time in time_zone, from a minute to 90 days ahead) or "
        "recurring (cron: EventBridge Scheduler's six fields, in time_zone). The client picks "
        "reminder_id: the same request again answers 200 with the reminder as it is; other "
        "content under the same id is a 409.",
        {201: ReminderView, 200: ReminderView},
        request=CreateReminder,
        errors=(400, 401, 409, 415, 422),
    ),
    "GET /v1/reminders": Operation(
        "The caller's reminders",
        "Every reminder of the caller, with its state and next occurrence (UTC).",
        {200: ReminderList},
        errors=(401,),
    ),
    "PUT /v1/reminders/{reminder_id}": Operation(
        "Reschedule a reminder",
        "A new one-time or recurring schedule; a delivered one-time reminder fires again. "
        "Occurrences of the old schedule are not delivered. A cancelled reminder is a 409.",
        {200: ReminderView},
        request=RescheduleReminder,
        errors=(400, 401, 404, 409, 415, 422),
        path_parameters={"reminder_id": _REMINDER_ID},
    ),
    "DELETE /v1/reminders/{reminder_id}": Operation(
        "Cancel a reminder",
        "For good: it never fires again, even an occurrence already on its way. Cancelling "
        "again answers the same.",
        {200: ReminderView},
        errors=(401, 404, 422),
        path_parameters={"reminder_id": _REMINDER_ID},
    ),
    "DELETE /v1/me": Operation(
        "Erase the caller",
        "Every sample, sync, anchor, reminder (with its schedule) and raw object of the caller "
        "is deleted, in the background; poll GET /v1/me/erasure until it is complete. Asking "
        "again while it runs answers the same erasure.",
        {202: ErasureView},
        errors=(401,),
    ),
    "GET /v1/me/erasure": Operation(
        "The caller's erasure",
        "The latest erasure the caller asked for: pending, or complete with when and what was "
        "deleted. 404 when none was asked for.",
        {200: ErasureView},
        errors=(401, 404),
    ),
}


#: Where a model's schema is referenced from: the document's components.
Ref = Callable[[type[BaseModel] | type[msgspec.Struct]], dict[str, Any]]
_GZIP_HEADER: Final = {
    "name": "Content-Encoding",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "enum": ["gzip"]},
    "description": "Send gzip-compressed JSON.",
}


def openapi_document(routes: list[tuple[str, str]], *, version: str = "1") -> dict[str, Any]:
    """The document for these (method, path) routes, every one of which needs an Operation."""
    models: set[type[BaseModel]] = {ErrorBody, GatewayError}
    for operation in OPERATIONS.values():
        models.update(operation.responses.values())
        if isinstance(operation.request, type) and issubclass(operation.request, BaseModel):
            models.add(operation.request)
    ordered = sorted(models, key=lambda model: model.__name__)
    refs, schema = models_json_schema(
        [(model, "validation") for model in ordered],
        ref_template="#/components/schemas/{model}",
    )

    def ref(model: type[BaseModel] | type[msgspec.Struct]) -> dict[str, Any]:
        if issubclass(model, msgspec.Struct):
            return {"$ref": f"#/components/schemas/{model.__name__}"}
        return refs[(model, "validation")]

    paths: dict[str, dict[str, Any]] = {}
    for method, path in sorted(routes, key=lambda route: (route[1], route[0])):
        operation = OPERATIONS[f"{method} {path}"]
        paths.setdefault(path, {})[method.lower()] = _operation(method, path, operation, ref)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "hksync",
            "version": version,
            "description": "Apple HealthKit samples from phones to PostgreSQL. Every route "
            "needs a bearer JWT; the user is its `sub` claim.",
        },
        "security": [{"bearerAuth": []}],
        "paths": paths,
        "components": {
            "schemas": dict(sorted({**schema.get("$defs", {}), **chunk_schemas()}.items())),
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }


def _operation(method: str, path: str, operation: Operation, ref: Ref) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "summary": operation.summary,
        "description": operation.description,
        "operationId": _operation_id(method, path),
        "parameters": [
            {"name": name, "in": "path", "required": True, "schema": parameter}
            for name, parameter in operation.path_parameters.items()
        ]
        + [
            {
                "name": name,
                "in": "query",
                "required": bool(parameter.get("required")),
                "schema": {key: value for key, value in parameter.items() if key != "required"},
            }
            for name, parameter in operation.query_parameters.items()
        ],
        "responses": _responses(operation, ref),
    }
    if operation.request is not None:
        entry["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": ref(operation.request)}},
        }
        if operation.gzip:
            entry["parameters"].append(_GZIP_HEADER)
    return entry


def _responses(operation: Operation, ref: Ref) -> dict[str, Any]:
    """Its answers, then its errors in the one error shape (401 also in API Gateway's)."""
    responses: dict[str, Any] = {
        str(status): {
            "description": "OK" if status < 300 else "Accepted",
            "content": {"application/json": {"schema": ref(model)}},
        }
        for status, model in operation.responses.items()
    }
    for status in operation.errors:
        error_schema = (
            {"anyOf": [ref(GatewayError), ref(ErrorBody)]} if status == 401 else ref(ErrorBody)
        )
        responses[str(status)] = {
            "description": _ERRORS[status],
            "content": {"application/json": {"schema": error_schema}},
        }
    return responses


def template_routes(template_path: Path) -> list[tuple[str, str]]:
    """(method, path) of every HTTP route template.yaml declares."""
    from hksync_tools.cfn_template import functions, load_template

    template = load_template(template_path)
    return [
        (route.method, route.path)
        for spec in functions(template, template_path.parent).values()
        for route in spec.routes
    ]


def _operation_id(method: str, path: str) -> str:
    words = [part.strip("{}") for part in path.strip("/").split("/") if part != "v1"]
    return method.lower() + "".join(
        word.replace("-", "_").title().replace("_", "") for word in words
    )


if __name__ == "__main__":
    # python -m hksync_tools.openapi template.yaml > docs/openapi.json
    document = openapi_document(
        template_routes(Path(sys.argv[1] if len(sys.argv) > 1 else "template.yaml"))
    )
    print(json.dumps(document, indent=2))
