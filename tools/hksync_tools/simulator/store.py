"""The iPhone's HealthKit store as the next sync sees it: samples and when each was added."""

from __future__ import annotations

from typing import NamedTuple

from hksync_tools.simulator.healthkit import Sample


class _Pending(NamedTuple):
    added_at: float
    #: Insertion order, which breaks ties between samples added at the same second.
    order: int
    sample: Sample


class HealthStore:
    """Samples generated but not yet uploaded, each with the moment it reached the store.

    A sync uploads what was added since the previous one in the order it was added, as
    HealthKit's anchored queries do, so generation order and upload order can differ.
    """

    def __init__(self) -> None:
        self._pending: list[_Pending] = []
        self._order = 0

    def add(self, sample: Sample, added_at: float) -> None:
        """Records that ``sample`` reaches the store at ``added_at`` (epoch seconds)."""
        self._pending.append(_Pending(added_at, self._order, sample))
        self._order += 1

    def added_until(self, until: float) -> list[Sample]:
        """Every pending sample added by ``until``, in the order added (they stay pending)."""
        ready = [item for item in self._pending if item.added_at <= until]
        ready.sort(key=lambda item: (item.added_at, item.order))
        return [item.sample for item in ready]

    def drop_until(self, until: float) -> None:
        """Forgets the samples added by ``until``: a sync has uploaded them."""
        self._pending = [item for item in self._pending if item.added_at > until]
