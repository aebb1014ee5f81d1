"""Dead-letter queues: what they hold, decoded, and purging them (`hksync ops dlq`).

Two queues: the processor's (S3 events it gave up on: Lambda on-failure records in direct
mode and in the local stack, bare S3 notifications in queue mode) and the erasure queue's
(ErasureRequested messages the account function failed five times). Reading a message hides
it from other readers for a while; everything read here is made visible again before a
command returns, except what it deleted, so looking never consumes anything.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hksync.contract.aws_events import S3Notification
from hksync.contract.erasure import ErasureRequested
from hksync.db.erasure import ErasureRepository

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

    from hksync_tools.ops.resources import OpsResources
    from hksync_tools.ops.target import QueueName

#: Listing hides messages from other readers only for this long, and gives them back at once.
LIST_VISIBILITY_S: Final = 30
#: A purge holds what it listed while the operator reads the list and confirms.
PURGE_VISIBILITY_S: Final = 900
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

    def source_queues(self) -> list[str]:
        """The queues whose redrive policy moves their failed messages here."""
        return self._sqs.list_dead_letter_source_queues(QueueUrl=self.url).get("queueUrls", [])


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


class ErasureDeadLetter(_View):
    """One message of the erasure dead-letter queue, with the erasure it asks for."""

    message_id: str
    sent_at: datetime | None
    erasure_id: UUID | None = None
    user_id: str | None = None
    state: str | None = Field(default=None, description="pending or complete, in the database.")
    requested_at: datetime | None = None
    attempts: int | None = Field(default=None, description="Runs of the worker that started it.")
    problem: str | None = Field(description="Why this message cannot be replayed as it is.")


#: A decoded message of either queue.
Letter = DeadLetter | ErasureDeadLetter
#: Decodes one received message of a queue.
LetterReader = Callable[[Received], Letter]


class DeadLetterQueueView(_View):
    queue_url: str
    approximate_visible: int
    approximate_in_flight: int
    messages: list[Letter]


class PurgeReport(_View):
    """What a purge listed for deletion, whether the operator confirmed, and what went."""

    queue_url: str
    messages: list[Letter] = Field(description="The messages the purge would delete.")
    confirmed: bool
    deleted: int


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


def erasure_letter_reader(erasures: ErasureRepository) -> Callable[[Received], ErasureDeadLetter]:
    """Decodes erasure dead-letter messages, looking each erasure up in the database."""

    def read(message: Received) -> ErasureDeadLetter:
        try:
            request = ErasureRequested.model_validate_json(message.body)
        except ValidationError as error:
            return ErasureDeadLetter(
                message_id=message.message_id,
                sent_at=message.sent_at,
                problem=f"not an erasure request: {error.errors()[0]['msg']}",
            )
        erasure = erasures.get(request.erasure_id)
        if erasure is None:
            return ErasureDeadLetter(
                message_id=message.message_id,
                sent_at=message.sent_at,
                erasure_id=request.erasure_id,
                # Erasure rows are never deleted: an unknown one belongs to another database.
                problem="no such erasure in this database",
            )
        return ErasureDeadLetter(
            message_id=message.message_id,
            sent_at=message.sent_at,
            erasure_id=erasure.erasure_id,
            user_id=erasure.user_id,
            state=erasure.state,
            requested_at=erasure.requested_at,
            attempts=erasure.attempts,
            problem=None,
        )

    return read


def letter_reader(resources: OpsResources, queue: QueueName) -> LetterReader:
    """How to decode the messages of that queue of the target."""
    if queue == "erasure":
        return erasure_letter_reader(resources.erasures)
    return read_dead_letter


# --- showing and purging ------------------------------------------------------------------------


def _oldest_first(letters: Iterable[Letter]) -> list[Letter]:
    return sorted(letters, key=lambda letter: letter.sent_at or datetime.max.replace(tzinfo=UTC))


def show(
    resources: OpsResources, queue: QueueName = "processor", *, max_messages: int = 100
) -> DeadLetterQueueView:
    """The queue's size and up to max_messages messages, decoded, oldest first; every
    message read is visible again when this returns."""
    dead_letters, read = resources.dead_letter_queue(queue), letter_reader(resources, queue)
    visible, in_flight = dead_letters.counts()
    received = dead_letters.receive_all(max_messages, LIST_VISIBILITY_S)
    try:
        letters = [read(message) for message in received]
    finally:
        dead_letters.release(received)
    return DeadLetterQueueView(
        queue_url=dead_letters.url,
        approximate_visible=visible,
        approximate_in_flight=in_flight,
        messages=_oldest_first(letters),
    )


def purge(
    resources: OpsResources,
    queue: QueueName = "processor",
    *,
    confirm: Callable[[list[Letter]], bool],
    unreplayable_only: bool = False,
    max_messages: int | None = None,
) -> PurgeReport:
    """Deletes the queue's messages (or only those that cannot be replayed as they are):
    exactly those that confirm was shown and said yes to; nothing when it said no.

    What is listed stays hidden from other readers until the purge ends, so a message that
    arrives meanwhile is neither listed nor deleted (unlike SQS's PurgeQueue)."""
    dead_letters, read = resources.dead_letter_queue(queue), letter_reader(resources, queue)
    received = dead_letters.receive_all(max_messages, PURGE_VISIBILITY_S)
    deleted: set[str] = set()
    try:
        letters = [read(message) for message in received]
        chosen = _oldest_first(
            letter for letter in letters if not unreplayable_only or letter.problem is not None
        )
        confirmed = bool(chosen) and confirm(chosen)
        if confirmed:
            chosen_ids = {letter.message_id for letter in chosen}
            deleted = dead_letters.delete(
                message for message in received if message.message_id in chosen_ids
            )
    finally:
        dead_letters.release(message for message in received if message.message_id not in deleted)
    return PurgeReport(
        queue_url=dead_letters.url, messages=chosen, confirmed=confirmed, deleted=len(deleted)
    )
