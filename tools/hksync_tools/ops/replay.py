"""Replaying what failed: dead-lettered messages (`hksync ops dlq replay`) and raw objects
processed again (`hksync ops reprocess`).

Processor events and raw objects go through the same ChunkProcessor the processor function
runs, in this process, so a replayed object is stored exactly as the function would have
stored it: idempotently, with the chunk ledger making a second replay a no-op. Erasures go
back to the queue the account function reads (the dead-letter queue's redrive source), so
that the worker performs them with its own grants and retries; one already complete is only
deleted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from hksync.aws.sqs import SqsErasureQueue
from hksync.contract.erasure import ErasureRequested
from hksync.keys import RAW_PREFIX, ChunkKey, CommitKey, parse_key
from hksync.processing import ChunkProcessor, Outcome
from hksync_tools.ops.dead_letters import (
    DeadLetterQueue,
    Received,
    erasure_letter_reader,
    read_dead_letter,
)
from hksync_tools.ops.target import OpsError, QueueName

if TYPE_CHECKING:
    from hksync_tools.ops.resources import OpsResources

#: A replayed message stays invisible while it is processed (one object each, in seconds).
REPLAY_VISIBILITY_S: Final = 300


class _View(BaseModel):
    model_config = ConfigDict(frozen=True)


class ReplayedMessage(_View):
    """One processor dead letter, replayed: what each of its objects came to."""

    message_id: str
    keys: list[str]
    outcomes: list[Outcome]
    deleted: bool
    error: str | None


#: What replaying an erasure dead letter did: sent it back to the worker, or found it done.
RequeueOutcome = Literal["requeued", "already_complete"]


class RequeuedErasure(_View):
    """One erasure dead letter, replayed: sent back to the worker's queue, or already done."""

    message_id: str
    erasure_id: UUID | None
    outcome: RequeueOutcome | None
    deleted: bool
    error: str | None


Replayed = ReplayedMessage | RequeuedErasure


class ReplayReport(_View):
    messages: list[Replayed]

    @property
    def deleted(self) -> int:
        return sum(message.deleted for message in self.messages)

    @property
    def kept(self) -> int:
        return len(self.messages) - self.deleted


# --- dead letters -------------------------------------------------------------------------------


def replay_dead_letters(
    resources: OpsResources,
    queue: QueueName = "processor",
    *,
    max_messages: int | None = None,
    on_message: Callable[[Replayed], None] | None = None,
) -> ReplayReport:
    """Replays each message of the queue, deleting it only when its replay succeeded; the
    others stay in the queue (visible again when this returns) with the error that kept
    them."""
    dead_letters = resources.dead_letter_queue(queue)
    replay: Callable[[Received], Replayed]
    if queue == "erasure":
        replay = _ErasureRequeue(resources, _source_queue(dead_letters))
    else:
        replay = _ProcessorReplay(resources.processor(), resources.store.bucket)
    return _replay_queue(dead_letters, replay, max_messages=max_messages, on_message=on_message)


def _replay_queue(
    queue: DeadLetterQueue,
    replay: Callable[[Received], Replayed],
    *,
    max_messages: int | None,
    on_message: Callable[[Replayed], None] | None,
) -> ReplayReport:
    replayed: list[Replayed] = []
    kept: dict[str, Received] = {}
    try:
        # Kept messages stay hidden while the run goes on, so that each is tried once;
        # the run ends when nothing visible is left (or after max_messages).
        while max_messages is None or len(replayed) < max_messages:
            wanted = 10 if max_messages is None else max_messages - len(replayed)
            batch = queue.receive(wanted, REPLAY_VISIBILITY_S)
            if not batch:
                break
            for message in batch:
                if message.message_id in kept:
                    # Tried already; visible again after a long run. This receive hid it
                    # again, and its newest receipt handle is the one that releases it.
                    kept[message.message_id] = message
                    continue
                result = replay(message)
                if result.deleted:
                    queue.delete([message])
                else:
                    kept[message.message_id] = message
                replayed.append(result)
                if on_message is not None:
                    on_message(result)
    finally:
        queue.release(kept.values())
    return ReplayReport(messages=replayed)


class _ProcessorReplay:
    """Processes a dead-lettered S3 event's objects as the processor would."""

    def __init__(self, processor: ChunkProcessor, bucket: str) -> None:
        self._processor = processor
        self._bucket = bucket

    def __call__(self, message: Received) -> ReplayedMessage:
        letter = read_dead_letter(message)

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
        foreign = [bucket for bucket in letter.buckets if bucket != self._bucket]
        if foreign:
            return kept(
                f"the event is for bucket {', '.join(foreign)}, but ops targets "
                f"{self._bucket}: point ops at that stack",
                [],
            )
        outcomes: list[Outcome] = []
        for key in letter.keys:
            try:
                outcomes.append(self._processor.process(key).outcome)
            except Exception as error:  # any failure keeps the message for a later replay
                return kept(f"{key}: {type(error).__name__}: {error}".strip(), outcomes)
        return ReplayedMessage(
            message_id=message.message_id,
            keys=letter.keys,
            outcomes=outcomes,
            deleted=True,
            error=None,
        )


def _source_queue(dead_letters: DeadLetterQueue) -> str:
    sources = dead_letters.source_queues()
    if len(sources) != 1:
        raise OpsError(
            f"{dead_letters.url} is the dead-letter queue of {len(sources)} queues, not of one: "
            "ops cannot tell where to send its erasures back"
        )
    return sources[0]


class _ErasureRequeue:
    """Sends a dead-lettered erasure back to the worker's queue, unless it is complete."""

    def __init__(self, resources: OpsResources, source_queue_url: str) -> None:
        self._read = erasure_letter_reader(resources.erasures)
        self._worker_queue = SqsErasureQueue(resources.sqs, source_queue_url)

    def __call__(self, message: Received) -> RequeuedErasure:
        letter = self._read(message)

        def result(outcome: RequeueOutcome | None, *, error: str | None = None) -> RequeuedErasure:
            return RequeuedErasure(
                message_id=message.message_id,
                erasure_id=letter.erasure_id,
                outcome=outcome,
                deleted=error is None,
                error=error,
            )

        if letter.problem is not None or letter.erasure_id is None:
            return result(None, error=letter.problem or "the message names no erasure")
        if letter.state == "complete":
            return result("already_complete")
        try:
            self._worker_queue.send(ErasureRequested(erasure_id=letter.erasure_id))
        except Exception as error:  # kept for a later replay, with the reason
            return result(None, error=f"{type(error).__name__}: {error}")
        return result("requeued")


# --- reprocessing from the raw bucket -----------------------------------------------------------


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


def raw_objects(
    resources: OpsResources,
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
        raise OpsError(f"prefix {prefix!r} is outside the raw bucket's layout ({RAW_PREFIX}...)")
    # RawStore.keys lists keys only; the selection by time and the replay order need each
    # object's LastModified, which the same listing carries.
    paginator = resources.s3.get_paginator("list_objects_v2")
    objects = [
        RawObject(key=item["Key"], last_modified=item["LastModified"], size=item["Size"])
        for page in paginator.paginate(Bucket=resources.store.bucket, Prefix=prefix)
        for item in page.get("Contents", [])
        if (modified_from is None or item["LastModified"] >= modified_from)
        and (modified_to is None or item["LastModified"] < modified_to)
    ]
    return _replay_order(objects)


def reprocess(
    resources: OpsResources,
    objects: Iterable[RawObject],
    *,
    on_object: Callable[[RawObject], None] | None = None,
) -> ReprocessReport:
    """Processes each object as the processor would; objects already in the ledger are
    duplicates, so running this twice changes nothing the second time."""
    processor = resources.processor()
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
            if resources.connection.broken:
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
