"""The sample factory: sample dicts as HealthKit gives them, put in the store when added."""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from hksync_tools.simulator.healthkit import UNITS, Sample
from hksync_tools.simulator.profile import Profile, Writer, Writers
from hksync_tools.simulator.random_streams import random_uuid
from hksync_tools.simulator.store import HealthStore


class SampleFactory:
    """Everything a signal module needs to write the user's samples.

    It holds the life stream (``rng``: sample values and UUIDs are drawn from it in timeline
    order), the person and their writers, the user's zone, and the *history horizon*: samples
    starting before it are dropped (the backfill's strict start-date predicate), which the
    timeline sets when it starts.
    """

    def __init__(
        self,
        rng: random.Random,
        *,
        time_zone: str,
        profile: Profile,
        writers: Writers,
        store: HealthStore,
        horizon: float,
    ) -> None:
        self.rng = rng
        self.time_zone = time_zone
        self.zone = ZoneInfo(time_zone)
        self.profile = profile
        self.writers = writers
        self.horizon = horizon
        self._store = store

    def within_history(self, start: float) -> bool:
        """Whether a sample starting at ``start`` is kept (it starts at or after the horizon)."""
        return int(start) >= self.horizon

    def sample(
        self,
        sample_type: str,
        start: int,
        end: int,
        writer: Writer,
        metadata: dict[str, Any] | None,
    ) -> Sample:
        """The fields every sample has, with a new UUID; the caller adds its value fields."""
        start_text = self.iso(start)
        sample: Sample = {
            "uuid": random_uuid(self.rng),
            "sample_type": sample_type,
            "start_date": start_text,
            "end_date": start_text if end == start else self.iso(end),
            "source": writer.source,
        }
        if writer.device is not None:
            sample["device"] = writer.device
        if metadata:
            sample["metadata"] = metadata
        return sample

    def add(self, sample: Sample, added_at: float) -> None:
        """Puts ``sample`` in the store at ``added_at``."""
        self._store.add(sample, added_at)

    def quantity(
        self,
        sample_type: str,
        start: float,
        end: float,
        value: float,
        writer: Writer,
        added_at: float | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """A quantity sample in the type's canonical unit, added at its end unless told."""
        start_s, end_s = int(start), int(end)
        if start_s < self.horizon:
            return
        sample = self.sample(sample_type, start_s, end_s, writer, metadata)
        sample["unit"] = UNITS[sample_type]
        sample["value"] = value
        self.add(sample, end_s if added_at is None else added_at)

    def category(
        self,
        sample_type: str,
        start: int,
        end: int,
        value: int,
        writer: Writer,
        added_at: float,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """A category sample with its raw value, added at ``added_at``."""
        if start < self.horizon:
            return
        sample = self.sample(sample_type, start, end, writer, metadata)
        sample["value"] = value
        self.add(sample, added_at)

    def correlation(
        self,
        sample_type: str,
        t: int,
        members: list[tuple[str, float]],
        writer: Writer,
        added_at: float,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """A correlation at instant ``t`` with one quantity member per (type, value), added at
        ``added_at``. Each member is also added on its own: HealthKit's query of the member's
        type returns it too, so the app uploads it in that type's chunk as well."""
        if t < self.horizon:
            return
        correlation = self.sample(sample_type, t, t, writer, metadata)
        objects = [self.member(member_type, t, value, writer) for member_type, value in members]
        correlation["objects"] = objects
        self.add(correlation, added_at)
        for member in objects:
            self.add(member, added_at)

    def member(self, sample_type: str, t: int, value: float, writer: Writer) -> Sample:
        """A quantity sample at instant ``t`` for a correlation, in the type's canonical unit."""
        member = self.sample(sample_type, t, t, writer, None)
        member["unit"] = UNITS[sample_type]
        member["value"] = value
        return member

    def iso(self, t: int) -> str:
        """Epoch seconds as ISO 8601 with the user's UTC offset at that instant."""
        return datetime.fromtimestamp(t, self.zone).isoformat()
