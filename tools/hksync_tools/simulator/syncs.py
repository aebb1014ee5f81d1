"""Cutting syncs: chunks per type in the contract's order, anchors per type, the commit."""

from __future__ import annotations

import base64
import math
import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from hksync.contract.models import MAX_CHUNKS_PER_SYNC
from hksync_tools.simulator.expectation import Expectation
from hksync_tools.simulator.healthkit import HEART_RATE, Sample, copy_sample, type_order
from hksync_tools.simulator.random_streams import uuid_text


@dataclass(frozen=True)
class SimulatedSync:
    """One sync as the app uploads it: chunk bodies, then the commit body."""

    sync_id: UUID
    #: JSON-ready bodies valid for `ChunkIn` (hksync.contract.chunk_wire): seq 0..n-1, one
    #: sample type each.
    chunks: list[dict[str, Any]]
    #: JSON-ready body valid for `SyncCommit`.
    commit: dict[str, Any]

    def samples(self) -> list[dict[str, Any]]:
        """Every sample dict of the sync, in chunk order."""
        return [sample for chunk in self.chunks for sample in chunk["samples"]]

    def deleted(self) -> list[str]:
        """Every deleted UUID of the sync, in chunk order."""
        return [item["uuid"] for chunk in self.chunks for item in chunk["deleted"]]


def anchor_token(sample_type: str, delivered: int) -> str:
    """An opaque anchor token: where this type's anchored query has got to."""
    return base64.urlsafe_b64encode(f"hksync-sim:{sample_type}:{delivered}".encode()).decode()


class SyncCutter:
    """Turns the samples added since the last sync, plus deletions, into one sync.

    Draws the deletions and the sync id from the syncs stream, keeps the anchors the app holds,
    and records each sync in the expectation.
    """

    def __init__(self, rng: random.Random, chunk_size: int, expectation: Expectation) -> None:
        self._rng = rng
        self._chunk_size = chunk_size
        self._expectation = expectation
        self._anchors: dict[str, str] = {}
        #: Objects delivered so far per type: what the next anchor token encodes.
        self._delivered: dict[str, int] = {}

    def cut(self, new_samples: list[Sample], delete_fraction: float) -> SimulatedSync:
        """The sync of ``new_samples`` (in the order added) and deletions of earlier uploads.

        Raises `ValueError` (changing nothing but the syncs stream) if it needs more chunks
        than a sync may have.
        """
        deletions = self._expectation.pick_deletions(self._rng, len(new_samples), delete_fraction)
        samples_by_type: dict[str, list[Sample]] = {}
        for sample in new_samples:
            samples_by_type.setdefault(sample["sample_type"], []).append(sample)
        deleted_by_type: dict[str, list[str]] = {}
        for uuid in deletions:
            deleted_by_type.setdefault(self._expectation.sample_type(uuid), []).append(uuid)
        types = sorted(samples_by_type.keys() | deleted_by_type.keys(), key=type_order)
        self._check_chunk_count(
            len(samples_by_type.get(t, ())) + len(deleted_by_type.get(t, ())) for t in types
        )

        sync_text = uuid_text(self._rng.getrandbits(128))
        chunks: list[dict[str, Any]] = []
        new_anchors: dict[str, str] = {}
        for sample_type in types:
            samples = samples_by_type.get(sample_type, [])
            deleted = deleted_by_type.get(sample_type, [])
            chunks.extend(self._type_chunks(sync_text, len(chunks), sample_type, samples, deleted))
            delivered = self._delivered.get(sample_type, 0) + len(samples) + len(deleted)
            self._delivered[sample_type] = delivered
            new_anchors[sample_type] = anchor_token(sample_type, delivered)

        # Nothing new: the app still closes the sync, re-committing the anchors it holds.
        anchors = new_anchors or dict(self._anchors) or {HEART_RATE: anchor_token(HEART_RATE, 0)}
        commit = {"chunk_count": len(chunks), "anchors": anchors}
        self._expectation.record(new_samples, deletions)
        self._anchors.update(anchors)
        return SimulatedSync(sync_id=UUID(sync_text), chunks=chunks, commit=commit)

    def _check_chunk_count(self, items_per_type: Iterable[int]) -> None:
        chunk_count = sum(math.ceil(count / self._chunk_size) for count in items_per_type)
        if chunk_count > MAX_CHUNKS_PER_SYNC:
            raise ValueError(
                f"this sync needs {chunk_count} chunks of {self._chunk_size}; "
                f"at most {MAX_CHUNKS_PER_SYNC} fit in one sync"
            )

    def _type_chunks(
        self,
        sync_text: str,
        first_seq: int,
        sample_type: str,
        samples: list[Sample],
        deleted: list[str],
    ) -> list[dict[str, Any]]:
        """One type's chunks: its samples, then its deletions, ``chunk_size`` items at most."""
        chunks: list[dict[str, Any]] = []
        for offset in range(0, len(samples) + len(deleted), self._chunk_size):
            stop = offset + self._chunk_size
            chunks.append(
                {
                    "sync_id": sync_text,
                    "seq": first_seq + len(chunks),
                    "sample_type": sample_type,
                    # The anchor this type's previous commit ended at (None if never synced).
                    "anchor": self._anchors.get(sample_type),
                    "samples": [copy_sample(s) for s in samples[offset:stop]],
                    "deleted": [
                        {"uuid": uuid}
                        for uuid in deleted[
                            max(0, offset - len(samples)) : max(0, stop - len(samples))
                        ]
                    ],
                }
            )
        return chunks
