"""Domain errors. Each carries the HTTP status it maps to; the mapping to a response body lives
in one place (hksync.http_api.errors), so handlers never build error responses themselves."""

from __future__ import annotations

from hksync.contract.field_errors import FieldError


class HksyncError(Exception):
    """Base of every error a client can cause; never a 5xx.

    Every error names at least one field: given ``details``, or else ``field`` (the class's
    own by default) with the message as the reason."""

    status: int = 400
    code: str = "bad_request"
    #: What the error is about when no details are given.
    field: str = "body"

    def __init__(
        self, message: str, details: list[FieldError] | None = None, *, field: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or [FieldError(field=field or self.field, reason=message)]


class MalformedBody(HksyncError):
    status, code = 400, "malformed_body"


class ChunkTooLarge(HksyncError):
    status, code = 413, "payload_too_large"

    def __init__(self, size: int | None, limit: int) -> None:
        told = f"{size} bytes" if size is not None else "the decompressed body"
        super().__init__(
            f"{told} exceeds the limit of {limit} bytes; "
            "upload large chunks through a presigned URL, or split them",
            [FieldError(field="body", reason=f"larger than {limit} bytes")],
        )


class UnsupportedMediaType(HksyncError):
    status, code = 415, "unsupported_media_type"


class ContractViolation(HksyncError):
    status, code = 422, "validation_failed"

    def __init__(self, details: list[FieldError]) -> None:
        summary = "; ".join(f"{detail.field}: {detail.reason}" for detail in details[:5])
        more = f" (and {len(details) - 5} more)" if len(details) > 5 else ""
        super().__init__(f"the request does not match the contract: {summary}{more}", details)


class ChunkConflict(HksyncError):
    status, code = 409, "conflict"


class ReminderConflict(HksyncError):
    status, code = 409, "conflict"


class NotFound(HksyncError):
    status, code = 404, "not_found"
