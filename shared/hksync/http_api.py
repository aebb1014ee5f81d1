"""What every HTTP function shares: the resolver, the caller's identity, body decoding and the
one mapping from errors to responses (a documented shape with a reason per field)."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from http import HTTPStatus
from typing import Annotated, Any, Final
from uuid import UUID

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from pydantic import BaseModel, BeforeValidator

from hksync.codec import decode_body
from hksync.contract.field_errors import FieldError, field_path
from hksync.contract.responses import ErrorBody
from hksync.errors import ChunkTooLarge, HksyncError, MalformedBody, UnsupportedMediaType
from hksync.keys import user_id_problem

#: Content-Encodings a body may have: none, or gzip (decoded by decode_event_body).
ACCEPTED_ENCODINGS: Final = frozenset({"", "gzip"})
_CANONICAL_DECIMAL: Final = re.compile(r"0|[1-9][0-9]*")
_HYPHENATED_UUID: Final = re.compile(r"[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")


class Unauthenticated(HksyncError):
    status, code, field = 401, "unauthenticated", "Authorization"


class RequestInvalid(HksyncError):
    """A path, query or body parameter failed the route's declared types."""

    status, code = 422, "validation_failed"


def _canonical_decimal(value: Any) -> Any:
    # Path parameters arrive as text, which pydantic's lax int reads generously ("1_0" is 10,
    # "+1", "01" and "1.0" are 1): take digits only, without a sign or leading zeros.
    if isinstance(value, str) and not _CANONICAL_DECIMAL.fullmatch(value):
        raise ValueError(
            "must be a decimal integer: digits only, no sign, leading zero or fraction"
        )
    return value


def _hyphenated_uuid(value: Any) -> Any:
    # Lax UUID parsing also takes 32 bare hex digits, braces and "urn:uuid:": only the form
    # the document's "format": "uuid" names is an id here.
    if isinstance(value, str) and not _HYPHENATED_UUID.fullmatch(value):
        raise ValueError("must be a UUID in its hyphenated form, 8-4-4-4-12 hex digits")
    return value


#: Integer path parameters: canonical decimal text only.
PathInt = Annotated[int, BeforeValidator(_canonical_decimal)]
#: UUID path parameters: the hyphenated form only.
PathUuid = Annotated[UUID, BeforeValidator(_hyphenated_uuid)]


def error_response(error: HksyncError) -> Response[str]:
    body = ErrorBody(error=error.code, message=error.message, details=error.details)
    return Response(
        status_code=error.status,
        content_type=content_types.APPLICATION_JSON,
        body=body.model_dump_json(),
    )


def json_response(status: HTTPStatus, model: BaseModel) -> Response[str]:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=model.model_dump_json(),
    )


def _request_validation_error(error: RequestValidationError) -> Response[str]:
    # Powertools' default 422 body omits "msg", which its own OpenAPI schema requires: answer
    # in our one shape instead. Its locations start with "path", "query" or "body".
    details = [
        FieldError(
            field=field_path(tuple(item["loc"])),
            reason=str(item.get("msg", item["type"])).removeprefix("Value error, "),
        )
        for item in error.errors()
    ]
    summary = "; ".join(f"{detail.field}: {detail.reason}" for detail in details)
    return error_response(
        RequestInvalid(f"the request does not match the contract: {summary}", details)
    )


def http_resolver() -> APIGatewayHttpResolver:
    """An HTTP API resolver with validation on and our error shape for every failure."""
    app = APIGatewayHttpResolver(enable_validation=True)
    app.exception_handler(HksyncError)(error_response)
    app.exception_handler(RequestValidationError)(_request_validation_error)
    return app


def current_user(app: APIGatewayHttpResolver) -> str:
    """The caller, from the claims API Gateway's JWT authorizer verified. Never from the body.

    The one place a user id enters: a subject that cannot name keys and rows is refused here,
    before any route stores or looks up anything under it (the authorizer checks the token's
    signature, never what its subject holds).
    """
    authorizer = app.current_event.request_context.authorizer
    subject = authorizer.jwt_claim.get("sub") if authorizer and authorizer.jwt_claim else None
    if not isinstance(subject, str) or not subject:
        raise Unauthenticated("the request carries no verified user (JWT claim 'sub')")
    problem = user_id_problem(subject)
    if problem is not None:
        raise Unauthenticated(f"the verified user (JWT claim 'sub') {problem}: it cannot be a user")
    return subject


def require_json(app: APIGatewayHttpResolver) -> None:
    """A body route's media type: JSON, plain or gzip-encoded; anything else is a 415."""
    headers = app.current_event.headers or {}
    content_type = headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() != content_types.APPLICATION_JSON:
        raise UnsupportedMediaType(
            f"Content-Type must be application/json (optionally with Content-Encoding: gzip), "
            f"not {content_type or 'missing'!r}",
            field="Content-Type",
        )
    encoding = headers.get("content-encoding", "").strip().lower()
    if encoding not in ACCEPTED_ENCODINGS:
        raise UnsupportedMediaType(
            f"Content-Encoding must be gzip or absent, not {encoding!r}", field="Content-Encoding"
        )


def body_bytes(app: APIGatewayHttpResolver) -> bytes:
    return (app.current_event.body or "").encode()


def decode_event_body(
    event: Mapping[str, Any], *, max_body_bytes: int, max_decoded_bytes: int
) -> Mapping[str, Any]:
    """Unwraps base64 and gzip request bodies before the resolver sees them.

    Powertools decodes base64 bodies as UTF-8 text and fails with a raw UnicodeDecodeError on
    gzip; here the body is size-checked, gunzipped with a cap (zip bombs) and handed on as text.
    """
    body = event.get("body")
    if not body:
        return event
    if not event.get("isBase64Encoded"):
        if len(body) > max_body_bytes:
            raise ChunkTooLarge(len(body), max_body_bytes)
        return event
    try:
        raw = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise MalformedBody("body is marked base64 but is not valid base64") from None
    if len(raw) > max_body_bytes:
        raise ChunkTooLarge(len(raw), max_body_bytes)
    decoded = decode_body(raw, max_decoded_bytes)
    try:
        text = decoded.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedBody("body is neither UTF-8 JSON nor gzip-compressed JSON") from None
    return {**event, "body": text, "isBase64Encoded": False}


def resolve(
    app: APIGatewayHttpResolver,
    event: Mapping[str, Any],
    context: Any,
    *,
    max_body_bytes: int,
    max_decoded_bytes: int,
) -> dict[str, Any]:
    """Decodes the body, then routes; a body that cannot be decoded is answered here."""
    try:
        event = decode_event_body(
            event, max_body_bytes=max_body_bytes, max_decoded_bytes=max_decoded_bytes
        )
    except HksyncError as error:
        response = error_response(error)
        return {
            "statusCode": response.status_code,
            "headers": {"Content-Type": content_types.APPLICATION_JSON},
            "body": response.body,
            "isBase64Encoded": False,
        }
    return app.resolve(event, context)
