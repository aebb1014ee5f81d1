"""Operations: what the pipeline is doing, what failed, and replaying it (`hksync ops`).

The operator's answers to the questions Flower and `celery inspect` used to answer, read from
where the truth is: the database (syncs, the chunk ledger, anchors), the raw bucket (what was
uploaded) and the processor's dead-letter queue (what the processor gave up on).

Replays go through the same ChunkProcessor the processor function runs, in this process, so a
replayed object is stored exactly as the function would have stored it: idempotently, with
the chunk ledger making a second replay a no-op.

This module is the domain of the `hksync ops` command: no argument parsing, no printing; every
answer is a pydantic model the command renders as a table or as JSON.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from uuid import UUID

import boto3
import psycopg
from botocore.config import Config
from psycopg.conninfo import make_conninfo
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hksync import query
from hksync.aws.s3 import RawStore
from hksync.contract.aws_events import S3Notification
from hksync.contract.responses import AnchorsView, SyncStatusView
from hksync.db.syncs import FailedChunk, SyncRepository, SyncStatus
from hksync.errors import NotFound
from hksync.keys import RAW_PREFIX, ChunkKey, CommitKey, parse_key, sync_prefix
from hksync.processing import ChunkProcessor, Outcome
from hksync.settings import ProcessorSettings
from hksync_tools.ops.queries import ChunkFailure, ConnectionGroup, OpsQueries

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

#: The processor's own limit, so that ops accepts and rejects exactly the chunks it does.
DEFAULT_MAX_CHUNK_BYTES: Final[int] = ProcessorSettings.model_fields["max_chunk_bytes"].default
#: Listing hides messages from other readers only for this long, and gives them back at once.
LIST_VISIBILITY_S: Final = 30
#: A replayed message stays invisible while it is processed (one object each, in seconds).
REPLAY_VISIBILITY_S: Final = 300
APPLICATION_NAME: Final = "hksync-ops"
# Same retry behaviour as the functions' clients (hksync.aws), which ops cannot reuse: those
# take their endpoint from the process environment, ops from the target it is pointed at.
_AWS_CONFIG: Final = Config(retries={"mode": "standard", "max_attempts": 5})


class OpsError(Exception):
    """A command could not do what was asked; the message says why, for the operator."""

    exit_code = 1


class OpsConfigurationError(OpsError):
    """ops does not know how to reach part of the system a command needs."""

    exit_code = 2


# --- where the system is --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OpsTarget:
    """How ops reaches the system: the running local stack, or a deployed stack given
    explicitly (reachable from here through a bastion or an SSM port-forward, or with ops
    running as a one-off task inside the VPC; AWS credentials and region from the environment).
    """

    database_url: str | None = None
    raw_bucket: str | None = None
    dead_letter_queue_url: str | None = None
    #: The local stack's moto server; None means AWS itself (or AWS_ENDPOINT_URL).
    aws_endpoint_url: str | None = None
    description: str = "explicit options"

    @classmethod
    def resolve(
        cls,
        state_dir: Path,
        *,
        database_url: str | None = None,
        raw_bucket: str | None = None,
        dead_letter_queue_url: str | None = None,
    ) -> OpsTarget:
        """The explicit target if any part of one is given, else the running local stack.

        Explicit options are never mixed with the local stack's: pointing at a deployed bucket
        through the local moto server would silently read the wrong system.
        """
        if database_url or raw_bucket or dead_letter_queue_url:
            return cls(database_url, raw_bucket, dead_letter_queue_url)
        from hksync_tools.local.stack import StackInfo  # local tooling, only for the default target

        state = state_dir / "stack.json"
        if not state.exists():
            raise OpsConfigurationError(
                f"no local stack is running (no {state}): start `hksync local up`, or point ops "
                "at a deployed stack with --database-url, --bucket and --dlq-url"
            )
        info = StackInfo.load(state)
        return cls(
            info.database_url,
            info.raw_bucket,
            info.dead_letter_queue_url,
            info.aws_endpoint_url,
            description=f"local stack ({state})",
        )


def _require(value: str | None, what: str) -> str:
    if not value:
        raise OpsConfigurationError(f"this command needs {what}")
    return value


# --- answers ----------------------------------------------------------------------------------


class _View(BaseModel):
    model_config = ConfigDict(frozen=True)


class SyncsOverview(_View):
    """Syncs per state, then the most recently active syncs matching the filters."""

    counts: dict[str, int] = Field(description="Per state, for the user/since filters.")
    syncs: list[SyncStatus]


class SyncDetail(_View):
    """One sync as the app sees it (``status``), plus what an operator needs to unstick it."""

    status: SyncStatusView
    first_upload_at: datetime | None
    last_activity_at: datetime | None
    failed_chunks: list[FailedChunk]
    unprocessed_seqs: list[int] = Field(
        description="Uploaded to S3 but not in the ledger: in flight, throttled or in the DLQ."
    )
    never_uploaded_seqs: list[int] = Field(
        description="Below the committed chunk count but not in S3: the client never sent them."
    )


class FailuresView(_View):
    failures: list[ChunkFailure]


class ConnectionsView(_View):
    max_connections: int
    in_use: int
    groups: list[ConnectionGroup]


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


class ReplayedMessage(_View):
    message_id: str
    keys: list[str]
    outcomes: list[Outcome]
    deleted: bool
    error: str | None


class ReplayReport(_View):
    messages: list[ReplayedMessage]

    @property
    def deleted(self) -> int:
        return sum(message.deleted for message in self.messages)

    @property
    def kept(self) -> int:
        return len(self.messages) - self.deleted


class RawObject(_View):
    key: str
    last_modified: datetime
    size: int


class ObjectError(_View):
    key: str
    error: str


class ReprocessReport(_View):
    objects: int
    outcomes: dict[Outcome, int]
    errors: list[ObjectError]
    aborted: str | None = Field(
        default=None, description="Why the run stopped early (the database went away)."
    )


# --- dead-letter messages -----------------------------------------------------------------


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


def read_dead_letter(message_id: str, body: str, sent_at: datetime | None = None) -> DeadLetter:
    """Decodes a dead-letter message: a Lambda on-failure record (the template's asynchronous
    S3 -> processor mode, and the local stack), or a bare S3 event (an SQS redrive queue)."""
    failure: _LambdaFailure | None = None
    notification: S3Notification | None = None
    problem: str | None = None
    try:
        document = json.loads(body)
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
        message_id=message_id,
        sent_at=sent_at,
        condition=failure.request_context.condition if failure else None,
        function_error=failure.response_context.function_error if failure else None,
        error_type=details.get("errorType"),
        error_message=details.get("errorMessage"),
        invoke_count=failure.request_context.approximate_invoke_count if failure else None,
        buckets=sorted({record.s3.bucket.name for record in records}),
        keys=[record.key for record in records],
        problem=problem,
    )


@dataclass(frozen=True, slots=True)
class _Received:
    message_id: str
    receipt_handle: str
    body: str
    sent_at: datetime | None

    @classmethod
    def of(cls, message: MessageTypeDef) -> _Received:
        sent = message.get("Attributes", {}).get("SentTimestamp")
        return cls(
            message["MessageId"],
            message["ReceiptHandle"],
            message.get("Body", ""),
            datetime.fromtimestamp(int(sent) / 1000, UTC) if sent else None,
        )


# --- the operations -------------------------------------------------------------------------


class Operations:
    """Every `hksync ops` command, against one target. Connections and clients are opened on
    first use, so a command needs only the parts of the target it touches."""

    def __init__(
        self, target: OpsTarget, *, max_chunk_bytes: int = DEFAULT_MAX_CHUNK_BYTES
    ) -> None:
        self.target = target
        self._max_chunk_bytes = max_chunk_bytes

    def __enter__(self) -> Operations:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if "_connection" in self.__dict__:
            self._connection.close()
            del self.__dict__["_connection"]

    # --- resources ------------------------------------------------------------------------

    @cached_property
    def _connection(self) -> psycopg.Connection:
        url = _require(self.target.database_url, "the database (--database-url)")
        # Autocommit, as the functions' connection: the processor's writes open their own
        # transaction per object. The application name shows ops in pg_stat_activity.
        return psycopg.connect(
            make_conninfo(url, application_name=APPLICATION_NAME, connect_timeout=10),
            autocommit=True,
        )

    @cached_property
    def _repository(self) -> SyncRepository:
        return SyncRepository(self._connection)

    @cached_property
    def _queries(self) -> OpsQueries:
        return OpsQueries(self._connection)

    def _client_options(self) -> dict[str, Any]:
        if not self.target.aws_endpoint_url:
            return {"config": _AWS_CONFIG}
        from hksync_tools.local.stack import FAKE_CREDENTIALS, LOCAL_REGION

        return {
            "config": _AWS_CONFIG,
            "endpoint_url": self.target.aws_endpoint_url,
            "region_name": LOCAL_REGION,
            "aws_access_key_id": FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            "aws_session_token": FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
        }

    @cached_property
    def _s3(self) -> S3Client:
        client: S3Client = boto3.client("s3", **self._client_options())
        return client

    @cached_property
    def _store(self) -> RawStore:
        return RawStore(self._s3, _require(self.target.raw_bucket, "the raw bucket (--bucket)"))

    @cached_property
    def _sqs(self) -> SQSClient:
        client: SQSClient = boto3.client("sqs", **self._client_options())
        return client

    @property
    def _dead_letter_queue(self) -> str:
        return _require(
            self.target.dead_letter_queue_url, "the processor's dead-letter queue (--dlq-url)"
        )

    def _processor(self) -> ChunkProcessor:
        return ChunkProcessor(self._store, self._repository, max_bytes=self._max_chunk_bytes)

    # --- syncs, failures, anchors -------------------------------------------------------------

    def syncs(
        self,
        *,
        state: str | None = None,
        user_id: str | None = None,
        sync_id: UUID | None = None,
        since: datetime | None = None,
        limit: int = 20,
    ) -> SyncsOverview:
        """Counts per state (for the user, sync and since filters), then the newest matching
        syncs. A sync id alone finds the user of a sync seen in the logs (which carry only a
        pseudonym of the user).

        Syncs the processor has not seen at all (only uploaded) are not in the database yet:
        `sync` and `dlq list` show those."""
        return SyncsOverview(
            counts=self._queries.state_counts(user_id=user_id, sync_id=sync_id, since=since),
            syncs=self._queries.recent_syncs(
                state=state, user_id=user_id, sync_id=sync_id, since=since, limit=limit
            ),
        )

    def sync(self, user_id: str, sync_id: UUID) -> SyncDetail:
        """One sync: the app's status view, its failed chunks with reasons, and which chunks
        are uploaded but unprocessed or committed but never uploaded."""
        try:
            status = query.sync_status(self._repository, self._store, user_id, sync_id)
        except NotFound:
            raise OpsError(
                f"no sync {sync_id} of user {user_id!r}, in the database or in S3"
            ) from None
        row = self._repository.sync_status(user_id, sync_id)
        uploaded = {
            target.seq
            for key in self._store.keys(f"{sync_prefix(user_id, sync_id)}chunks/")
            if isinstance(target := parse_key(key), ChunkKey)
        }
        recorded = set(self._queries.recorded_seqs(user_id, sync_id)) if row else set()
        expected = set(range(status.chunk_count)) if status.chunk_count is not None else set()
        return SyncDetail(
            status=status,
            first_upload_at=row.first_upload_at if row else None,
            last_activity_at=row.updated_at if row else None,
            failed_chunks=self._repository.failed_chunks(user_id, sync_id) if row else [],
            unprocessed_seqs=sorted(uploaded - recorded),
            never_uploaded_seqs=sorted(expected - uploaded),
        )

    def failures(
        self, *, user_id: str | None = None, since: datetime | None = None, limit: int = 50
    ) -> FailuresView:
        """Chunks the processor rejected for good, across users, newest first."""
        return FailuresView(
            failures=self._queries.recent_failures(user_id=user_id, since=since, limit=limit)
        )

    def anchors(self, user_id: str) -> AnchorsView:
        return query.anchors(self._repository, user_id)

    def connections(self) -> ConnectionsView:
        """Who holds the database's connections, against its limit."""
        groups = self._queries.connection_groups()
        return ConnectionsView(
            max_connections=self._queries.max_connections(),
            in_use=sum(group.connections for group in groups),
            groups=groups,
        )

    # --- dead-letter queue --------------------------------------------------------------------

    def _receive(self, limit: int, visibility_timeout: int) -> list[_Received]:
        response = self._sqs.receive_message(
            QueueUrl=self._dead_letter_queue,
            MaxNumberOfMessages=max(1, min(10, limit)),
            VisibilityTimeout=visibility_timeout,
            # Long polling asks every SQS server, so a short queue is not reported empty.
            WaitTimeSeconds=1,
            MessageSystemAttributeNames=["SentTimestamp"],
        )
        return [_Received.of(message) for message in response.get("Messages", [])]

    def _release(self, messages: Iterable[_Received]) -> None:
        """Makes received messages visible again at once (for the next reader)."""
        pending = list(messages)
        for start in range(0, len(pending), 10):
            batch = pending[start : start + 10]
            # A handle that expired meanwhile fails here harmlessly: that message is visible.
            self._sqs.change_message_visibility_batch(
                QueueUrl=self._dead_letter_queue,
                Entries=[
                    {
                        "Id": str(index),
                        "ReceiptHandle": message.receipt_handle,
                        "VisibilityTimeout": 0,
                    }
                    for index, message in enumerate(batch)
                ],
            )

    def dead_letters(self, *, max_messages: int = 100) -> DeadLetterQueueView:
        """The queue's size and up to max_messages messages, decoded, oldest first.

        Reading a message hides it briefly from other readers; every message read is made
        visible again before this returns, so listing never consumes anything."""
        queue = self._dead_letter_queue
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=queue,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        ).get("Attributes", {})
        received: dict[str, _Received] = {}
        try:
            # Until the queue has nothing visible left: what was read stays hidden meanwhile.
            while len(received) < max_messages:
                batch = self._receive(max_messages - len(received), LIST_VISIBILITY_S)
                if not batch:
                    break
                # A message seen again (its visibility ran out) is hidden again by this
                # receive; its newest receipt handle is the one that can release it.
                received.update((message.message_id, message) for message in batch)
        finally:
            self._release(received.values())
        letters = [
            read_dead_letter(message.message_id, message.body, message.sent_at)
            for message in received.values()
        ]
        letters.sort(key=lambda letter: letter.sent_at or datetime.max.replace(tzinfo=UTC))
        return DeadLetterQueueView(
            queue_url=queue,
            approximate_visible=int(attributes.get("ApproximateNumberOfMessages", 0)),
            approximate_in_flight=int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
            messages=letters,
        )

    def replay_dead_letters(
        self,
        *,
        max_messages: int | None = None,
        on_message: Callable[[ReplayedMessage], None] | None = None,
    ) -> ReplayReport:
        """Processes each dead-lettered event's objects as the processor would, deleting a
        message only when all of its objects were processed; the others stay in the queue
        (visible again when this returns) with the error that kept them."""
        processor = self._processor()
        replayed: list[ReplayedMessage] = []
        kept: dict[str, _Received] = {}
        try:
            # Kept messages stay hidden while the run goes on, so that each is tried once;
            # the run ends when nothing visible is left (or after max_messages).
            while max_messages is None or len(replayed) < max_messages:
                wanted = 10 if max_messages is None else max_messages - len(replayed)
                batch = self._receive(wanted, REPLAY_VISIBILITY_S)
                if not batch:
                    break
                for message in batch:
                    if message.message_id in kept:
                        # Tried already; visible again after a long run. This receive hid it
                        # again, and its newest receipt handle is the one that releases it.
                        kept[message.message_id] = message
                        continue
                    result = self._replay(processor, message)
                    if result.deleted:
                        self._sqs.delete_message(
                            QueueUrl=self._dead_letter_queue, ReceiptHandle=message.receipt_handle
                        )
                    else:
                        kept[message.message_id] = message
                    replayed.append(result)
                    if on_message is not None:
                        on_message(result)
        finally:
            self._release(kept.values())
        return ReplayReport(messages=replayed)

    def _replay(self, processor: ChunkProcessor, message: _Received) -> ReplayedMessage:
        letter = read_dead_letter(message.message_id, message.body, message.sent_at)

        def kept(error: str, outcomes: list[Outcome]) -> ReplayedMessage:
            return ReplayedMessage(
                message_id=message.message_id,
                keys=letter.keys,
                outcomes=outcomes,
                deleted=False,
                error=error,
            )

        if letter.problem is not None:
            return kept(letter.problem, [])
        foreign = [bucket for bucket in letter.buckets if bucket != self._store.bucket]
        if foreign:
            return kept(
                f"the event is for bucket {', '.join(foreign)}, but ops targets "
                f"{self._store.bucket}: point ops at that stack",
                [],
            )
        outcomes: list[Outcome] = []
        for key in letter.keys:
            try:
                outcomes.append(processor.process(key).outcome)
            except Exception as error:  # any failure keeps the message for a later replay
                return kept(f"{key}: {type(error).__name__}: {error}".strip(), outcomes)
        return ReplayedMessage(
            message_id=message.message_id,
            keys=letter.keys,
            outcomes=outcomes,
            deleted=True,
            error=None,
        )

    # --- reprocessing from the raw bucket -----------------------------------------------------

    def raw_objects(
        self,
        prefix: str,
        *,
        modified_from: datetime | None = None,
        modified_to: datetime | None = None,
    ) -> list[RawObject]:
        """The objects under prefix uploaded in [modified_from, modified_to), in replay order.

        Content comes out the same in any order (the processor is order-independent), but the
        bookkeeping does not: which sync first stored a sample, and whether it counted as
        inserted or unchanged, follow processing order. Replaying in upload order (each sync's
        chunks by number, then its commit; syncs by their first upload) reproduces it."""
        if not prefix.startswith(RAW_PREFIX):
            raise OpsError(
                f"prefix {prefix!r} is outside the raw bucket's layout ({RAW_PREFIX}...)"
            )
        paginator = self._s3.get_paginator("list_objects_v2")
        objects = [
            RawObject(key=item["Key"], last_modified=item["LastModified"], size=item["Size"])
            for page in paginator.paginate(Bucket=self._store.bucket, Prefix=prefix)
            for item in page.get("Contents", [])
            if (modified_from is None or item["LastModified"] >= modified_from)
            and (modified_to is None or item["LastModified"] < modified_to)
        ]
        return _replay_order(objects)

    def reprocess(
        self,
        objects: Iterable[RawObject],
        *,
        on_object: Callable[[RawObject], None] | None = None,
    ) -> ReprocessReport:
        """Processes each object as the processor would; objects already in the ledger are
        duplicates, so running this twice changes nothing the second time."""
        processor = self._processor()
        outcomes: Counter[Outcome] = Counter()
        errors: list[ObjectError] = []
        count = 0
        aborted = None
        for obj in objects:
            count += 1
            try:
                outcomes[processor.process(obj.key).outcome] += 1
            except Exception as error:  # reported per object; the run goes on
                errors.append(ObjectError(key=obj.key, error=f"{type(error).__name__}: {error}"))
                if self._connection.broken:
                    aborted = f"the database connection broke at {obj.key}: {error}"
                    break
            finally:
                if on_object is not None:
                    on_object(obj)
        return ReprocessReport(
            objects=count,
            outcomes={outcome: outcomes[outcome] for outcome in Outcome},
            errors=errors,
            aborted=aborted,
        )


def _replay_order(objects: list[RawObject]) -> list[RawObject]:
    by_sync: dict[tuple[str, UUID] | None, list[tuple[int, RawObject]]] = {}
    for obj in objects:
        target = parse_key(obj.key)
        if isinstance(target, ChunkKey):
            by_sync.setdefault((target.user_id, target.sync_id), []).append((target.seq, obj))
        elif isinstance(target, CommitKey):
            by_sync.setdefault((target.user_id, target.sync_id), []).append((2**31, obj))
        else:
            by_sync.setdefault(None, []).append((0, obj))
    others = by_sync.pop(None, [])

    def first_upload(item: tuple[tuple[str, UUID] | None, list[tuple[int, RawObject]]]) -> Any:
        sync, members = item
        return (min(obj.last_modified for _, obj in members), str(sync))

    ordered = [
        obj
        for _, members in sorted(by_sync.items(), key=first_upload)
        for _, obj in sorted(members, key=lambda member: member[0])
    ]
    return ordered + [obj for _, obj in others]


# --- times given on the command line ------------------------------------------------------

_AGO: Final = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS: Final = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_time(text: str, *, now: datetime | None = None) -> datetime:
    """A moment given as a duration ago ("90s", "15m", "1h", "2d", "1w") or as ISO 8601
    (a time without a zone is UTC)."""
    ago = _AGO.match(text)
    if ago:
        amount, unit = float(ago.group(1)), _UNITS[ago.group(2)]
        return (now or datetime.now(UTC)) - timedelta(**{unit: amount})
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"{text!r} is neither a duration (15m, 1h, 2d) nor an ISO 8601 time"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
