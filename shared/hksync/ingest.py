"""Accepting uploads: the write path. It touches only S3, never the database, so uploads keep
working (and stay fast) while Aurora is paused, scaling or down. See docs/adr/0001.

One rule for a sync's size: a sync is its chunks 0 to ``chunk_count - 1``. Once the commit is
stored, a chunk at or beyond its ``chunk_count`` is refused (and so is its upload URL); a
commit is refused while chunks at or beyond its ``chunk_count`` are stored. The processor
applies the same rule to whatever reaches the bucket past these checks (hksync.processing).
"""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from hksync.codec import decode_body
from hksync.contract.chunk_wire import ChunkIn
from hksync.contract.decoding import read_envelope
from hksync.contract.field_errors import FieldError
from hksync.contract.models import StoredCommit, SyncCommit
from hksync.contract.parse import parse_json
from hksync.contract.responses import ChunkAccepted, CommitAccepted, UploadUrl
from hksync.errors import ChunkConflict, ContractViolation
from hksync.keys import ChunkKey, CommitKey, chunk_seqs, chunks_prefix
from hksync.ports import RawObjects


def _path_matches(chunk: ChunkIn, sync_id: UUID, seq: int) -> None:
    mismatches = [
        FieldError(field=name, reason=f"is {in_body} in the body but {in_path} in the path")
        for name, in_body, in_path in (("sync_id", chunk.sync_id, sync_id), ("seq", chunk.seq, seq))
        if in_body != in_path
    ]
    if mismatches:
        raise ContractViolation(mismatches)


def stored_commit(store: RawObjects, user_id: str, sync_id: UUID) -> StoredCommit | None:
    """The sync's commit as stored in the raw bucket, if it was committed."""
    existing = store.get(str(CommitKey(user_id, sync_id)))
    return StoredCommit.model_validate_json(existing.body) if existing else None


def _within_commit(store: RawObjects, user_id: str, sync_id: UUID, seq: int) -> None:
    commit = stored_commit(store, user_id, sync_id)
    if commit is not None and seq >= commit.chunk_count:
        raise ChunkConflict(
            f"sync {sync_id} is committed with {commit.chunk_count} chunk(s): there is no chunk "
            f"{seq}; start a new sync to send more",
            [FieldError(field="seq", reason="is not below the commit's chunk_count")],
        )


def accept_chunk(
    store: RawObjects, user_id: str, sync_id: UUID, seq: int, body: bytes, *, max_bytes: int
) -> ChunkAccepted:
    """Checks a chunk's structure and stores it once; the same bytes again are a retry, not an
    error. Its samples are checked one by one by the processor, which rejects a bad one alone
    (docs/adr/0004-per-sample-quarantine.md): so the answer does not wait on them.

    Raises ChunkConflict when a different chunk is already stored under this sync and seq:
    chunks are immutable, so a client that changed its data must start a new sync.
    """
    payload = decode_body(body, max_bytes)
    chunk = read_envelope(payload)
    _path_matches(chunk, sync_id, seq)
    _within_commit(store, user_id, sync_id, seq)
    key = str(ChunkKey(user_id, sync_id, seq))
    created = store.put_if_absent(key, payload, content_type="application/json")
    if not created:
        existing = store.get(key)
        if existing is None or decode_body(existing.body, max_bytes) != payload:
            raise ChunkConflict(
                f"chunk {seq} of sync {sync_id} is already stored with different content; "
                "chunks are immutable: start a new sync to send changed data",
                [FieldError(field="body", reason="differs from the chunk stored under this seq")],
            )
    return ChunkAccepted(
        sync_id=sync_id,
        seq=seq,
        created=created,
        samples=len(chunk.samples),
        deleted=len(chunk.deleted),
    )


def accept_commit(store: RawObjects, user_id: str, sync_id: UUID, body: bytes) -> CommitAccepted:
    """Records that the sync is complete on the client, with its chunk count and new anchors.

    Refused (409) while chunks at or beyond its chunk_count are stored: they cannot be part of
    it. Chunks below it may still be missing (the sync then waits for them, and says so)."""
    commit = parse_json(SyncCommit, body)
    stored_seqs = chunk_seqs(store.keys(chunks_prefix(user_id, sync_id)))
    beyond = sorted(seq for seq in stored_seqs if seq >= commit.chunk_count)
    if beyond:
        raise ChunkConflict(
            f"sync {sync_id} already has chunk(s) {_listed(beyond)}, at or beyond a chunk_count "
            f"of {commit.chunk_count}",
            [FieldError(field="chunk_count", reason=f"is not above the stored chunk {beyond[-1]}")],
        )
    stored = StoredCommit(**commit.model_dump(), committed_at=datetime.now(UTC))
    key = str(CommitKey(user_id, sync_id))
    created = store.put_if_absent(
        key, stored.model_dump_json().encode(), content_type="application/json"
    )
    if not created:
        existing = store.get(key)
        previous = StoredCommit.model_validate_json(existing.body) if existing else None
        if (
            previous is None
            or SyncCommit(**previous.model_dump(exclude={"committed_at"})) != commit
        ):
            raise ChunkConflict(
                f"sync {sync_id} is already committed with a different chunk count or anchors",
                [FieldError(field="body", reason="differs from the commit stored for this sync")],
            )
        stored = previous
    return CommitAccepted(
        sync_id=sync_id,
        chunk_count=stored.chunk_count,
        created=created,
        committed_at=stored.committed_at,
    )


def _listed(seqs: list[int], most: int = 10) -> str:
    more = f" and {len(seqs) - most} more" if len(seqs) > most else ""
    return ", ".join(map(str, seqs[:most])) + more


def presign_chunk_upload(
    store: RawObjects, user_id: str, sync_id: UUID, seq: int, *, expires_in: int
) -> UploadUrl:
    """A presigned PUT for one chunk's key; the processor validates what arrives there.
    Refused (409) for a chunk at or beyond the chunk_count of a stored commit."""
    _within_commit(store, user_id, sync_id, seq)
    url, headers = store.presign_put(str(ChunkKey(user_id, sync_id, seq)), expires_in=expires_in)
    return UploadUrl(sync_id=sync_id, seq=seq, url=url, headers=headers, expires_in=expires_in)
