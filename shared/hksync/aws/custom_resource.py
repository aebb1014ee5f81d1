"""CloudFormation custom resources: the request a stack sends, and the answer it waits for.

CloudFormation invokes the function asynchronously with a request (``RequestType`` Create,
Update or Delete, and a presigned ``ResponseURL``) and then waits until a JSON response is PUT
to that URL, or until the resource's ServiceTimeout passes. Every path must therefore answer,
failures included, or a deploy hangs for the whole timeout: :func:`handle` turns any exception
into a FAILED response, and :func:`send_response` delivers it.

A dozen lines of documented protocol do not justify a dependency (crhelper adds polling and
timers this synchronous use does not need).
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

#: CloudFormation rejects a response larger than 4 KiB; the reason is what gets cut.
MAX_RESPONSE_BYTES: Final = 4096
_MAX_REASON_CHARS: Final = 1024


class CustomResourceRequest(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    request_type: Literal["Create", "Update", "Delete"] = Field(alias="RequestType")
    response_url: str = Field(alias="ResponseURL")
    stack_id: str = Field(alias="StackId")
    request_id: str = Field(alias="RequestId")
    logical_resource_id: str = Field(alias="LogicalResourceId")
    resource_type: str = Field(alias="ResourceType")
    physical_resource_id: str | None = Field(default=None, alias="PhysicalResourceId")
    resource_properties: dict[str, Any] = Field(default_factory=dict, alias="ResourceProperties")


@dataclass(frozen=True, slots=True)
class CustomResourceResponse:
    status: Literal["SUCCESS", "FAILED"]
    physical_resource_id: str
    reason: str = ""
    data: Mapping[str, str] = field(default_factory=dict)


def is_custom_resource_request(event: Mapping[str, Any]) -> bool:
    """A request from CloudFormation, rather than a direct invocation."""
    return "RequestType" in event and "ResponseURL" in event


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
        reason = f"{type(error).__name__}: {error}"
        return CustomResourceResponse("FAILED", resource_id, reason[:_MAX_REASON_CHARS])
    return CustomResourceResponse("SUCCESS", resource_id, data=dict(data))


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


def send_response(
    request: CustomResourceRequest, response: CustomResourceResponse, *, timeout_s: float = 30
) -> None:
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
    with urllib.request.urlopen(put, timeout=timeout_s) as answer:  # noqa: S310 - as above
        answer.read()
