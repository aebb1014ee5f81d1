"""CloudFormation custom resources: the request a stack sends, and the answer it waits for.

CloudFormation invokes the function asynchronously with a request (``RequestType`` Create,
Update or Delete, and a presigned ``ResponseURL``) and then waits until a JSON response is PUT
to that URL, or until the resource's ServiceTimeout passes. Every path must therefore answer,
or a deploy hangs for the whole timeout:

- the work fails: :func:`handle` turns any exception into a FAILED response;
- the work outlasts the function: :func:`answer` sends FAILED :data:`ANSWER_MARGIN_S` before
  Lambda would stop it, and nothing more after that (one answer per request);
- the function cannot initialise (an import that cannot load, such as a layer built for the
  wrong platform): its module keeps the error and answers each request with
  :func:`answer_init_failure`.

The standard library alone, and no pydantic model, for that last case: this module must still
load when the layer's compiled dependencies (pydantic-core, psycopg's libpq) do not.

crhelper also answers on timeouts and init failures, but does not fit here: it reconfigures the
root logger (the functions log JSON through Powertools), fires its timeout answer 0.5 s before
the end (short for a PUT from inside a VPC), sends over HTTPS only and retries a failed PUT
without end, and sleeps 120 s before answering a Delete unless told otherwise.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal, Protocol, cast
from urllib.parse import urlsplit

#: CloudFormation rejects a response larger than 4 KiB; the reason is what gets cut.
MAX_RESPONSE_BYTES: Final = 4096
_MAX_REASON_CHARS: Final = 1024
#: How long a PUT of the response may take before it is given up.
PUT_TIMEOUT_S: Final = 5.0
#: How long before the Lambda timeout an unfinished request is answered FAILED: the PUT's own
#: timeout and time to spare.
ANSWER_MARGIN_S: Final = 2 * PUT_TIMEOUT_S
_REQUEST_TYPES: Final = ("Create", "Update", "Delete")
_REQUIRED_FIELDS: Final = ("ResponseURL", "StackId", "RequestId", "LogicalResourceId")


class LambdaTime(Protocol):
    """The part of Lambda's context that says how long the invocation has left."""

    def get_remaining_time_in_millis(self) -> int: ...


@dataclass(frozen=True, slots=True)
class CustomResourceRequest:
    """The fields of CloudFormation's request that the answer needs."""

    request_type: Literal["Create", "Update", "Delete"]
    response_url: str
    stack_id: str
    request_id: str
    logical_resource_id: str
    physical_resource_id: str | None = None

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> CustomResourceRequest:
        request_type = event.get("RequestType")
        if request_type not in _REQUEST_TYPES:
            raise ValueError(f"RequestType must be one of {_REQUEST_TYPES}, not {request_type!r}")
        missing = [name for name in _REQUIRED_FIELDS if not isinstance(event.get(name), str)]
        if missing:
            raise ValueError(f"custom resource request without {', '.join(missing)}")
        physical_resource_id = event.get("PhysicalResourceId")
        return cls(
            request_type=cast(Literal["Create", "Update", "Delete"], request_type),
            response_url=event["ResponseURL"],
            stack_id=event["StackId"],
            request_id=event["RequestId"],
            logical_resource_id=event["LogicalResourceId"],
            physical_resource_id=physical_resource_id
            if isinstance(physical_resource_id, str)
            else None,
        )


@dataclass(frozen=True, slots=True)
class CustomResourceResponse:
    status: Literal["SUCCESS", "FAILED"]
    physical_resource_id: str
    reason: str = ""
    data: Mapping[str, str] = field(default_factory=dict)


def is_custom_resource_request(event: Mapping[str, Any]) -> bool:
    """A request from CloudFormation, rather than a direct invocation."""
    return "RequestType" in event and "ResponseURL" in event


def _failed(resource_id: str, reason: str) -> CustomResourceResponse:
    return CustomResourceResponse("FAILED", resource_id, reason[:_MAX_REASON_CHARS])


def handle(
    request: CustomResourceRequest,
    apply: Callable[[], Mapping[str, str]],
    *,
    physical_resource_id: str,
) -> CustomResourceResponse:
    """Runs ``apply`` on Create and Update; Delete does nothing (it never removes data).

    The physical id stays the same on every request, so CloudFormation never sees a
    replacement (which would send a Delete for the "old" resource).
    """
    resource_id = request.physical_resource_id or physical_resource_id
    if request.request_type == "Delete":
        return CustomResourceResponse("SUCCESS", resource_id, "nothing to delete")
    try:
        data = apply()
    except Exception as error:  # any failure must reach CloudFormation, not hang the deploy
        return _failed(resource_id, f"{type(error).__name__}: {error}")
    return CustomResourceResponse("SUCCESS", resource_id, data=dict(data))


class _OneAnswer:
    """Sends the first response offered for a request and drops the rest: the work and the
    timeout guard race, and CloudFormation takes one answer."""

    def __init__(self, request: CustomResourceRequest) -> None:
        self._request = request
        self._lock = threading.Lock()
        self.sent: CustomResourceResponse | None = None

    def send(self, response: CustomResourceResponse) -> CustomResourceResponse:
        """Sends ``response`` unless one was sent already; returns the one that was sent."""
        with self._lock:
            if self.sent is not None:
                return self.sent
            self.sent = response
        send_response(self._request, response)
        return response


def answer(
    request: CustomResourceRequest,
    apply: Callable[[], Mapping[str, str]],
    *,
    physical_resource_id: str,
    context: LambdaTime,
) -> CustomResourceResponse:
    """Handles the request and sends its one response, FAILED if the invocation is about to
    time out first. Returns the response sent.

    The work goes on after a timeout answer, until it ends or Lambda stops the function: a
    migration interrupted that way rolls back with its connection.
    """
    resource_id = request.physical_resource_id or physical_resource_id
    budget_s = context.get_remaining_time_in_millis() / 1000 - ANSWER_MARGIN_S
    reply = _OneAnswer(request)
    timed_out = _failed(
        resource_id,
        f"the work did not finish within the function's timeout (answered {ANSWER_MARGIN_S:g} s "
        "before it); raise the function's Timeout or run the work directly, then retry",
    )
    guard = threading.Timer(max(budget_s, 0), reply.send, args=(timed_out,))
    guard.daemon = True
    guard.start()
    try:
        response = handle(request, apply, physical_resource_id=physical_resource_id)
    finally:
        guard.cancel()
    return reply.send(response)


def answer_init_failure(
    event: Mapping[str, Any], error: BaseException, *, physical_resource_id: str
) -> CustomResourceResponse:
    """Reports an initialisation error to CloudFormation as FAILED, or raises it again for a
    direct invocation (which has nobody to answer but the caller)."""
    if not is_custom_resource_request(event):
        raise error
    request = CustomResourceRequest.from_event(event)
    response = _failed(
        request.physical_resource_id or physical_resource_id,
        f"the function could not initialise: {type(error).__name__}: {error}",
    )
    send_response(request, response)
    return response


def response_body(request: CustomResourceRequest, response: CustomResourceResponse) -> bytes:
    body = {
        "Status": response.status,
        "Reason": response.reason,
        "PhysicalResourceId": response.physical_resource_id,
        "StackId": request.stack_id,
        "RequestId": request.request_id,
        "LogicalResourceId": request.logical_resource_id,
        "NoEcho": False,
        "Data": dict(response.data),
    }
    encoded = json.dumps(body).encode()
    if len(encoded) > MAX_RESPONSE_BYTES:
        raise ValueError(f"custom resource response is {len(encoded)} bytes, over 4096")
    return encoded


def send_response(request: CustomResourceRequest, response: CustomResourceResponse) -> None:
    """PUTs the response to the presigned URL CloudFormation waits on.

    The presigned URL is signed without a content type, so the request must send an empty one.
    """
    if urlsplit(request.response_url).scheme not in {"https", "http"}:
        raise ValueError("the custom resource ResponseURL is not an HTTP(S) URL")
    body = response_body(request, response)
    put = urllib.request.Request(  # noqa: S310 - scheme checked above
        request.response_url,
        data=body,
        method="PUT",
        headers={"Content-Type": "", "Content-Length": str(len(body))},
    )
    with urllib.request.urlopen(put, timeout=PUT_TIMEOUT_S) as answered:  # noqa: S310 - as above
        answered.read()
