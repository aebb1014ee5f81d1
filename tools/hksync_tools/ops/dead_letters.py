"""The processor's dead-letter queue: what it holds, decoded (`hksync ops dlq`).

It holds the S3 events the processor gave up on: Lambda on-failure records in direct mode
and in the local stack, bare S3 notifications in queue mode. Reading a message hides it from
other readers for a while; everything read here is made visible again before a command
returns, except what it deleted, so looking never consumes anything.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hksync.contract.aws_events import S3Notification

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

    from hksync_tools.ops.resources import OpsResources

#: Listing hides messages from other readers only for this long, and gives them back at once.
LIST_VISIBILITY_S: Final = 30
_SQS_BATCH: Final = 10


@dataclass(frozen=True, slots=True)
class Received:
    """One received message, with the receipt handle that deletes or releases it."""

    message_id: str
    receipt_handle: str
    body: str
    sent_at: datetime | None

    @classmethod
    def of(cls, message: MessageTypeDef) -> Received:
        sent = message.get("Attributes", {}).get("SentTimestamp")
        return cls(
            message["MessageId"],
            message["ReceiptHandle"],
            message.get("Body", ""),
            datetime.fromtimestamp(int(sent) / 1000, UTC) if sent else None,
        )


class DeadLetterQueue:
    """One SQS dead-letter queue: receiving, giving back and deleting messages."""

    def __init__(self, sqs: SQSClient, url: str) -> None:
        self._sqs = sqs
        self.url = url

    def counts(self) -> tuple[int, int]:
        """About how many messages wait (visible), and how many are being read (in flight)."""
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=self.url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        ).get("Attributes", {})
        return (
            int(attributes.get("ApproximateNumberOfMessages", 0)),
            int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
        )

    def receive(self, limit: int, visibility_timeout: int) -> list[Received]:
        """Up to limit (at most 10) visible messages, hidden for visibility_timeout seconds."""
        response = self._sqs.receive_message(
            QueueUrl=self.url,
            MaxNumberOfMessages=max(1, min(_SQS_BATCH, limit)),
            VisibilityTimeout=visibility_timeout,
            # Long polling asks every SQS server, so a short queue is not reported empty.
            WaitTimeSeconds=1,
            MessageSystemAttributeNames=["SentTimestamp"],
        )
        return [Received.of(message) for message in response.get("Messages", [])]

    def receive_all(self, max_messages: int | None, visibility_timeout: int) -> list[Received]:
        """Every visible message (up to max_messages), each once; all hidden on return."""
        received: dict[str, Received] = {}
        try:
            # Until the queue has nothing visible left: what was read stays hidden meanwhile.
            while max_messages is None or len(received) < max_messages:
                wanted = _SQS_BATCH if max_messages is None else max_messages - len(received)
                batch = self.receive(wanted, visibility_timeout)
                if not batch:
                    break
                # A message seen again (its visibility ran out) is hidden again by this
                # receive; its newest receipt handle is the one that can release it.
                received.update((message.message_id, message) for message in batch)
        except BaseException:
            self.release(received.values())
            raise
        return list(received.values())

    def release(self, messages: Iterable[Received]) -> None:
        """Makes received messages visible again at once (for the next reader)."""
        for batch in _batches(list(messages)):
            # A handle that expired meanwhile fails here harmlessly: that message is visible.
            self._sqs.change_message_visibility_batch(
                QueueUrl=self.url,
                Entries=[
                    {
                        "Id": str(index),
                        "ReceiptHandle": message.receipt_handle,
                        "VisibilityTimeout": 0,
                    }
                    for index, message in enumerate(batch)
                ],
            )

    def delete(self, messages: Iterable[Received]) -> set[str]:
        """Deletes received messages; the ids of those deleted."""
        deleted: set[str] = set()
        for batch in _batches(list(messages)):
            response = self._sqs.delete_message_batch(
                QueueUrl=self.url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": message.receipt_handle}
                    for index, message in enumerate(batch)
                ],
            )
            deleted.update(batch[int(entry["Id"])].message_id for entry in response["Successful"])
        return deleted


def _batches(messages: Sequence[Received]) -> Iterable[Sequence[Received]]:
    for start in range(0, len(messages), _SQS_BATCH):
        yield messages[start : start + _SQS_BATCH]


# --- what the messages say --------------------------------------------------------------------


class _View(BaseModel):
    model_config = ConfigDict(frozen=True)


class DeadLetter(_View):
    """One message of the processor's dead-letter queue, decoded."""

    message_id: str
    sent_at: datetime | None
    condition: str | None = Field(description="RetriesExhausted or EventAgeExceeded.")
    function_error: str | None
    error_type: str | None
    error_message: str | None
    invoke_count: int | None
    buckets: list[str]
    keys: list[str]
    problem: str | None = Field(description="Why this message cannot be replayed as it is.")


class DeadLetterQueueView(_View):
    queue_url: str
    approximate_visible: int
    approximate_in_flight: int
    messages: list[DeadLetter]


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class _RequestContext(_Lenient):
    condition: str | None = None
    approximate_invoke_count: int | None = Field(default=None, alias="approximateInvokeCount")


class _ResponseContext(_Lenient):
    function_error: str | None = Field(default=None, alias="functionError")


class _LambdaFailure(_Lenient):
    """A Lambda on-failure destination record: the original event and why it failed."""

    request_context: _RequestContext = Field(
        default_factory=_RequestContext, alias="requestContext"
    )
    response_context: _ResponseContext = Field(
        default_factory=_ResponseContext, alias="responseContext"
    )
    response_payload: Any = Field(default=None, alias="responsePayload")
    request_payload: S3Notification = Field(alias="requestPayload")


def read_dead_letter(message: Received) -> DeadLetter:
    """Decodes a processor dead-letter message: a Lambda on-failure record (the template's
    asynchronous S3 -> processor mode, and the local stack), or a bare S3 event (an SQS
    redrive queue)."""
    failure: _LambdaFailure | None = None
    notification: S3Notification | None = None
    problem: str | None = None
    try:
        document = json.loads(message.body)
        if isinstance(document, dict) and "requestPayload" in document:
            failure = _LambdaFailure.model_validate(document)
            notification = failure.request_payload
        elif isinstance(document, dict) and "Records" in document:
            notification = S3Notification.model_validate(document)
        else:
            problem = "neither a Lambda on-failure record nor an S3 event notification"
    except json.JSONDecodeError:
        problem = "the body is not JSON"
    except ValidationError as error:
        problem = f"not a readable S3 event: {error.errors()[0]['msg']}"
    records = notification.created_objects() if notification else []
    if notification is not None and not records:
        problem = "the event has no ObjectCreated records to replay"
    payload = failure.response_payload if failure else None
    details = payload if isinstance(payload, dict) else {}
    return DeadLetter(
        message_id=message.message_id,
        sent_at=message.sent_at,
        condition=failure.request_context.condition if failure else None,
        function_error=failure.response_context.function_error if failure else None,
        error_type=details.get("errorType"),
        error_message=details.get("errorMessage"),
        invoke_count=failure.request_context.approximate_invoke_count if failure else None,
        buckets=sorted({record.s3.bucket.name for record in records}),
        keys=[record.key for record in records],
        problem=problem,
    )


# --- showing --------------------------------------------------------------------------------------


def show(resources: OpsResources, *, max_messages: int = 100) -> DeadLetterQueueView:
    """The queue's size and up to max_messages messages, decoded, oldest first; every
    message read is visible again when this returns."""
    dead_letters = resources.dead_letter_queue()
    visible, in_flight = dead_letters.counts()
    received = dead_letters.receive_all(max_messages, LIST_VISIBILITY_S)
    try:
        letters = [read_dead_letter(message) for message in received]
    finally:
        dead_letters.release(received)
    letters.sort(key=lambda letter: letter.sent_at or datetime.max.replace(tzinfo=UTC))
    return DeadLetterQueueView(
        queue_url=dead_letters.url,
        approximate_visible=visible,
        approximate_in_flight=in_flight,
        messages=letters,
    )
