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
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, BeforeValidator

from hksync import dev_tokens
from hksync.codec import decode_body
from hksync.contract.field_errors import FieldError, field_path
from hksync.contract.responses import ErrorBody
from hksync.errors import ChunkTooLarge, HksyncError, MalformedBody, UnsupportedMediaType
from hksync.keys import user_id_problem
from hksync.settings import CallerSettings, load_settings

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


def under_stage_prefix(event: Mapping[str, Any]) -> Mapping[str, Any]:
    """The event with its path under the stage's prefix, as API Gateway sends it.

    On a named stage API Gateway's rawPath starts with "/<stage>", which Powertools strips
    before routing; `sam local start-api` sends the same stage but mounts the routes at the
    root, so Powertools would strip the first characters of the route itself (a 404). Adding
    the missing prefix makes both shapes route the same.
    """
    stage = (event.get("requestContext") or {}).get("stage")
    raw_path = event.get("rawPath")
    if not stage or stage == "$default" or not isinstance(raw_path, str):
        return event
    prefix = f"/{stage}"
    if raw_path == prefix or raw_path.startswith(f"{prefix}/"):
        return event
    return {**event, "rawPath": prefix + raw_path}


class HttpResolver(APIGatewayHttpResolver):
    """An HTTP API resolver that knows where its caller comes from and routes both event
    shapes (API Gateway's, and sam local's without the stage prefix) the same."""

    def __init__(self, caller: CallerSettings) -> None:
        super().__init__(enable_validation=True)
        self.caller = caller

    def resolve(self, event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
        return super().resolve(under_stage_prefix(event), context)


def http_resolver() -> HttpResolver:
    """An HTTP API resolver with validation on and our error shape for every failure.

    Reads the caller settings at cold start, so a sam local run without its env.json stops
    there, with the variable named.
    """
    app = HttpResolver(load_settings(CallerSettings))
    app.exception_handler(HksyncError)(error_response)
    app.exception_handler(RequestValidationError)(_request_validation_error)
    return app


def _verified_claims(app: HttpResolver) -> Mapping[str, Any]:
    authorizer = app.current_event.request_context.authorizer
    if authorizer and authorizer.jwt_claim:
        return authorizer.jwt_claim
    caller = app.caller
    if caller.aws_sam_local and not caller.accepts_dev_tokens:
        raise Unauthenticated(
            f"the request carries no verified user (JWT claim 'sub'); sam local takes dev "
            f"tokens only in the local stage (STAGE=local, events/env.json), never in "
            f"{caller.stage}"
        )
    if not caller.accepts_dev_tokens or caller.dev_token_secret is None:
        raise Unauthenticated("the request carries no verified user (JWT claim 'sub')")
    # SAM's local mode runs no JWT authorizer: the dev token is checked here instead.
    headers = app.current_event.headers or {}
    try:
        return dev_tokens.verify_authorization(
            headers.get("authorization"), caller.dev_token_secret.get_secret_value()
        )
    except dev_tokens.DevTokenRejected as error:
        raise Unauthenticated(f"sam local: the dev token is refused: {error}") from None


def current_user(app: HttpResolver) -> str:
    """The caller, from the claims API Gateway's JWT authorizer verified. Never from the body.

    Only in SAM's local mode in the local stage (CallerSettings.accepts_dev_tokens), where no
    authorizer runs, from a dev token checked like the local stack checks it.

    The one place a user id enters: a subject that cannot name keys and rows is refused here,
    before any route stores or looks up anything under it (the authorizer checks the token's
    signature, never what its subject holds).
    """
    subject = _verified_claims(app).get("sub")
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
