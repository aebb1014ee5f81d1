"""Storing uploaded chunks and commits: the processor's domain logic, free of Lambda types.

At-least-once in, exactly-once effect out: S3 events may arrive twice, late or out of order,
and Lambda retries. One transaction per object stores its samples, tombstones, ledger row and
the sync's counters together; a chunk already in the ledger is a no-op; the sync completes,
and its anchors advance, only when its commit and every one of its chunks are stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum

from hksync.codec import decode_body
from hksync.contract.decoding import decode_chunk
from hksync.contract.field_errors import FieldError
from hksync.contract.models import StoredCommit
from hksync.contract.sample_rows import DecodedChunk
from hksync.db.erasure import ErasureBarrier
from hksync.db.samples import WriteCounts
from hksync.db.syncs import SyncRepository
from hksync.errors import ContractViolation, HksyncError
from hksync.ingest import stored_commit
from hksync.keys import ChunkKey, CommitKey, parse_key
from hksync.ports import RawObjects
from hksync.read_side import refresh, stale_days_of, touched_by


class Outcome(StrEnum):
    STORED = "stored"  # a chunk's samples are in the database (possibly all unchanged)
    DUPLICATE = "duplicate"  # already in the ledger: nothing to do
    FAILED = "failed"  # permanently rejected; the reason is in the ledger
    COMMITTED = "committed"  # a commit was recorded
    MISSING = "missing"  # the object is gone (erased after upload)
    ERASED = "erased"  # the user's erasure is pending: nothing of theirs is stored
    BEYOND_COMMIT = "beyond_commit"  # at or beyond the commit's chunk_count: never stored
    IGNORED = "ignored"  # not a chunk or commit key


@dataclass(frozen=True, slots=True)
class ObjectResult:
    """What processing one raw object did: identifiers and counts, never sample content."""

    key: str
    outcome: Outcome
    target: ChunkKey | CommitKey | None = None
    sync_state: str | None = None
    previous_sync_state: str | None = None
    sample_type: str | None = None
    counts: WriteCounts = field(default_factory=WriteCounts)
    failure: HksyncError | None = None
    #: Seconds from the object's upload to its rows being committed.
    lag_s: float | None = None

    @property
    def kind(self) -> str:
        return {ChunkKey: "chunk", CommitKey: "commit"}.get(type(self.target), "other")

    @property
    def user_id(self) -> str | None:
        return self.target.user_id if self.target else None

    @property
    def sync_id(self) -> str | None:
        return str(self.target.sync_id) if self.target else None

    @property
    def seq(self) -> int | None:
        return self.target.seq if isinstance(self.target, ChunkKey) else None

    @property
    def failure_reason(self) -> str | None:
        return self.failure.message if self.failure else None

    @property
    def failure_fields(self) -> list[str]:
        """Where a rejected chunk broke the contract: field paths only, safe to log."""
        return [detail.field for detail in self.failure.details] if self.failure else []

    @property
    def completed_sync(self) -> bool:
        """This object completed its sync (and advanced its anchors): true exactly once."""
        return self.sync_state == "complete" and self.previous_sync_state != "complete"

    @property
    def failed_sync(self) -> bool:
        return self.sync_state == "failed" and self.previous_sync_state != "failed"


class _ErasureBarrierMoved(Exception):
    """An erasure of the user was asked for since the object was read: what was read may be
    erased data. Raised inside the write transaction (which then writes nothing)."""


class ChunkProcessor:
    def __init__(self, store: RawObjects, repository: SyncRepository, *, max_bytes: int) -> None:
        self._store = store
        self._repository = repository
        self._max_bytes = max_bytes

    def process(self, key: str) -> ObjectResult:
        """Brings one raw object into the database; safe to call any number of times."""
        target = parse_key(key)
        if not isinstance(target, ChunkKey | CommitKey):
            return ObjectResult(key, Outcome.IGNORED)
        # The user the key names: the ingest API wrote it under the verified caller's prefix.
        self._repository.act_for(target.user_id)
        while True:
            # Each pass needs a new erasure of the user to fail; while one is pending the next
            # pass stops at the first barrier read. So this ends after one or two passes.
            try:
                if isinstance(target, ChunkKey):
                    result = self._process_chunk(key, target)
                else:
                    result = self._process_commit(key, target)
            except _ErasureBarrierMoved:
                continue  # read the object again: the erasure deletes it, or has
            if result.completed_sync:
                # The sync's days, summarised now (after its transaction: a summary never holds
                # up storing). If this raises, the invocation fails and its retry finds the
                # object in the ledger (a duplicate, no refresh): the days stay stale, and the
                # next read of them computes them.
                refresh(self._repository.summaries, target.user_id)
            return result

    def _hold_barrier(self, user_id: str, barrier: ErasureBarrier) -> None:
        """Inside the write transaction: the barrier read before the object must still hold."""
        if self._repository.erasure_barrier(user_id) != barrier:
            raise _ErasureBarrierMoved

    def _process_chunk(self, key: str, target: ChunkKey) -> ObjectResult:
        repository = self._repository
        # Cheap early exit for redelivered events, before downloading anything.
        if repository.chunk_recorded(target.user_id, target.sync_id, target.seq):
            return ObjectResult(key, Outcome.DUPLICATE, target)
        barrier = repository.erasure_barrier(target.user_id)
        if barrier.pending:
            return ObjectResult(key, Outcome.ERASED, target)
        stored = self._store.get(key)
        if stored is None:
            return ObjectResult(key, Outcome.MISSING, target)
        chunk, failure = self._read_chunk(stored.body, target)
        count_before = self._chunk_count_known_before(target)
        with repository.transaction():
            self._hold_barrier(target.user_id, barrier)
            previous = repository.lock_sync(target.user_id, target.sync_id)
            if repository.chunk_recorded(target.user_id, target.sync_id, target.seq):
                # A concurrent delivery won the race.
                return ObjectResult(key, Outcome.DUPLICATE, target)
            count = repository.chunk_count(target.user_id, target.sync_id)
            if count is None:
                count = count_before
            if count is not None and target.seq >= count:
                # Not part of the sync, whenever it comes (before or after the sync completed,
                # before or after the commit was processed): nothing of it is written.
                return ObjectResult(
                    key, Outcome.BEYOND_COMMIT, target, previous_sync_state=previous
                )
            counts = WriteCounts()
            if chunk is not None:
                counts = self._store_chunk(target, chunk, stored.last_modified)
            repository.record_chunk(
                target.user_id,
                target.sync_id,
                target.seq,
                object_key=key,
                uploaded_at=stored.last_modified,
                sample_type=chunk.sample_type if chunk else None,
                counts=counts,
                failure_reason=failure.message if failure else None,
            )
            state = repository.settle(target.user_id, target.sync_id)
        return ObjectResult(
            key,
            Outcome.FAILED if failure else Outcome.STORED,
            target,
            sync_state=state,
            previous_sync_state=previous,
            sample_type=chunk.sample_type if chunk else None,
            counts=counts,
            failure=failure,
            lag_s=(datetime.now(UTC) - stored.last_modified).total_seconds(),
        )

    def _store_chunk(
        self, target: ChunkKey, chunk: DecodedChunk, uploaded_at: datetime
    ) -> WriteCounts:
        """The chunk's rows, tombstones, reconciliation and rejected samples, inside the
        caller's transaction; the days it changed are marked for their summaries."""
        samples = self._repository.samples
        user_id, sync_id = target.user_id, target.sync_id
        counts = samples.upsert_samples(
            user_id, sync_id, chunk.rows, chunk.sources, uploaded_at=uploaded_at
        )
        deleted, gone = samples.tombstone(
            user_id, sync_id, chunk.sample_type, chunk.deleted, uploaded_at=uploaded_at
        )
        reconciled = (
            samples.reconcile(
                user_id, sync_id, chunk.sample_type, chunk.reconcile, uploaded_at=uploaded_at
            )
            if chunk.reconcile is not None
            else []
        )
        samples.record_rejections(user_id, sync_id, target.seq, chunk.sample_type, chunk.rejected)
        self._repository.summaries.mark_stale(
            user_id, stale_days_of([*touched_by(chunk.rows), *gone, *reconciled])
        )
        # A rejected sample was received too; exact repeats of a UUID in the chunk count once
        # (as before), and a correlation's members count as the samples they are.
        rejected = len(chunk.rejected)
        return replace(
            counts,
            received=counts.received + rejected,
            deleted=deleted,
            reconciled=len(reconciled),
            rejected=rejected,
        )

    def _chunk_count_known_before(self, target: ChunkKey) -> int | None:
        """The chunk_count in the database, or else in the commit already in the bucket (its
        event may come after this chunk's): so that a chunk uploaded after its sync's commit
        is judged by that commit, whichever of the two is processed first."""
        count = self._repository.chunk_count(target.user_id, target.sync_id)
        if count is not None:
            return count
        commit = stored_commit(self._store, target.user_id, target.sync_id)
        return commit.chunk_count if commit else None

    def _read_chunk(
        self, body: bytes, target: ChunkKey
    ) -> tuple[DecodedChunk | None, HksyncError | None]:
        """The decoded chunk (bad samples set aside in it), or why the chunk as a whole can never
        be stored (permanent: not retried)."""
        try:
            chunk = decode_chunk(decode_body(body, self._max_bytes))
        except HksyncError as error:
            return None, error
        if (chunk.sync_id, chunk.seq) != (target.sync_id, target.seq):
            return None, ContractViolation(
                [
                    FieldError(
                        field="sync_id/seq",
                        reason=f"the body says sync {chunk.sync_id} chunk {chunk.seq}, but it "
                        f"was uploaded as sync {target.sync_id} chunk {target.seq}",
                    )
                ]
            )
        return chunk, None

    def _process_commit(self, key: str, target: CommitKey) -> ObjectResult:
        repository = self._repository
        barrier = repository.erasure_barrier(target.user_id)
        if barrier.pending:
            return ObjectResult(key, Outcome.ERASED, target)
        stored = self._store.get(key)
        if stored is None:
            return ObjectResult(key, Outcome.MISSING, target)
        # Written by the ingest function after validation, so a parse error here is a bug or
        # tampering: let it raise, retry and land in the dead-letter queue.
        commit = StoredCommit.model_validate_json(stored.body)
        with repository.transaction():
            self._hold_barrier(target.user_id, barrier)
            previous = repository.lock_sync(target.user_id, target.sync_id)
            repository.record_commit(
                target.user_id,
                target.sync_id,
                chunk_count=commit.chunk_count,
                anchors=dict(commit.anchors),
                committed_at=commit.committed_at,
            )
            state = repository.settle(target.user_id, target.sync_id)
        return ObjectResult(
            key, Outcome.COMMITTED, target, sync_state=state, previous_sync_state=previous
        )
