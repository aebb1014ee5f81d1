"""Read side: what the app asks about its syncs and where to resume. Always scoped to the
caller: another user's sync is simply not found."""

from __future__ import annotations

from uuid import UUID

from hksync.contract.field_errors import FieldError
from hksync.contract.responses import (
    AnchorsView,
    AnchorView,
    FailedChunkView,
    RejectedSamplesPage,
    RejectedSampleView,
    SyncCounts,
    SyncStatusView,
)
from hksync.db.syncs import SyncRepository
from hksync.errors import ContractViolation, NotFound
from hksync.keys import chunk_seqs, chunks_prefix
from hksync.ports import RawObjects


def sync_status(
    repository: SyncRepository, store: RawObjects, user_id: str, sync_id: UUID
) -> SyncStatusView:
    """The sync as the app sees it. A committed sync some of whose chunks were never uploaded
    (refused at upload, or never sent) says so at once, as ``incomplete`` with the missing
    chunks, rather than waiting for ever."""
    uploaded_seqs = chunk_seqs(store.keys(chunks_prefix(user_id, sync_id)))
    uploaded = len(uploaded_seqs)
    status = repository.sync_status(user_id, sync_id)
    if status is None:
        if uploaded == 0:
            raise NotFound(f"no sync {sync_id} for this user", field="sync_id")
        return SyncStatusView(
            sync_id=sync_id,
            state="uploading",
            chunk_count=None,
            missing_chunks=[],
            chunks_uploaded=uploaded,
            chunks_processed=0,
            chunks_failed=0,
            samples=SyncCounts(
                received=0,
                inserted=0,
                updated=0,
                unchanged=0,
                deleted=0,
                reconciled=0,
                rejected=0,
            ),
            failed_chunks=[],
            committed_at=None,
            completed_at=None,
        )
    failed = repository.failed_chunks(user_id, sync_id) if status.chunks_failed else []
    missing = (
        sorted(set(range(status.chunk_count)) - uploaded_seqs)
        if status.state == "committed" and status.chunk_count is not None
        else []
    )
    return SyncStatusView(
        sync_id=sync_id,
        state="incomplete" if missing else status.state,
        chunk_count=status.chunk_count,
        missing_chunks=missing,
        chunks_uploaded=uploaded,
        chunks_processed=status.chunks_processed,
        chunks_failed=status.chunks_failed,
        samples=SyncCounts(
            received=status.samples_received,
            inserted=status.samples_inserted,
            updated=status.samples_updated,
            unchanged=status.samples_unchanged,
            deleted=status.samples_deleted,
            reconciled=status.samples_reconciled,
            rejected=status.samples_rejected,
        ),
        failed_chunks=[
            FailedChunkView(seq=chunk.seq, reason=chunk.failure_reason) for chunk in failed
        ],
        committed_at=status.committed_at,
        completed_at=status.completed_at,
    )


def rejected_samples(
    repository: SyncRepository, user_id: str, sync_id: UUID, *, after: str | None, limit: int
) -> RejectedSamplesPage:
    """One page of the samples of a sync refused on their own. ``after`` is the previous page's
    ``next_after`` ("seq:sample_index")."""
    if repository.sync_status(user_id, sync_id) is None:
        raise NotFound(f"no sync {sync_id} for this user", field="sync_id")
    cursor = None
    if after is not None:
        seq, _, index = after.partition(":")
        try:
            cursor = (int(seq), int(index))
        except ValueError:  # the route's pattern refuses it first; ops passes it as typed
            raise ContractViolation(
                [FieldError(field="after", reason="is not a next_after this API gave")]
            ) from None
    # One more than asked: whether a next page exists, without a count.
    rows = repository.samples.rejected_page(user_id, sync_id, after=cursor, limit=limit + 1)
    page = rows[:limit]
    return RejectedSamplesPage(
        rejected=[
            RejectedSampleView(
                seq=row.seq,
                sample_index=row.sample_index,
                sample_type=row.sample_type,
                uuid=row.uuid,
                field=row.field,
                reason=row.reason,
            )
            for row in page
        ],
        next_after=f"{page[-1].seq}:{page[-1].sample_index}" if len(rows) > limit else None,
    )


def anchors(repository: SyncRepository, user_id: str) -> AnchorsView:
    return AnchorsView(
        anchors=[
            AnchorView(
                sample_type=anchor.sample_type,
                anchor=anchor.anchor,
                sync_id=anchor.sync_id,
                committed_at=anchor.committed_at,
            )
            for anchor in repository.anchors(user_id)
        ]
    )
