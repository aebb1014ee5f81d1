"""The simulator's own record of what the database should hold, and the choice of deletions."""

from __future__ import annotations

import random
from typing import Final

from hksync_tools.simulator.healthkit import BODY_MASS, WORKOUT, Sample, copy_sample

#: What people delete in the Health app.
_MANUALLY_DELETED_TYPES: Final = (BODY_MASS, WORKOUT)


class Expectation:
    """Every stored sample (uploaded, accepted and not deleted), every deleted UUID, and every
    planted sample the server must reject, with the field it names.

    Independent of the pipeline: end-to-end tests compare the database with it. A correlation's
    members are stored rows of their own, so they are live samples too; neither a correlation
    nor its members are ever deleted (whether deleting one takes the others along is the
    server's rule to define, not the simulator's to guess).
    """

    def __init__(self) -> None:
        self._live: dict[str, Sample] = {}
        # The deletable live UUIDs in a list too, for uniform random picks (swap-remove keeps
        # it O(1)).
        self._live_keys: list[str] = []
        self._live_index: dict[str, int] = {}
        self._manual: list[str] = []
        self._deleted: set[str] = set()
        #: Correlations and their members: stored, never deleted.
        self._correlated: set[str] = set()
        #: Planted bad samples not yet uploaded: uuid -> the field the server names.
        self._planted: dict[str, str] = {}
        self._rejected: dict[str, str] = {}

    def live_samples(self) -> dict[str, Sample]:
        """uuid -> sample dict (a copy): every sample stored and not deleted so far,
        correlation members included (as sent inside their correlation)."""
        return {uuid: copy_sample(sample) for uuid, sample in self._live.items()}

    def deleted_uuids(self) -> set[str]:
        """Every UUID deleted so far."""
        return set(self._deleted)

    def rejected_samples(self) -> dict[str, str]:
        """uuid -> field: every planted bad sample uploaded so far, and the field the server
        names when it rejects it."""
        return dict(self._rejected)

    def sample_type(self, uuid: str) -> str:
        """The type of a live sample."""
        return str(self._live[uuid]["sample_type"])

    def plant(self, uuid: str, field: str) -> None:
        """Marks a sample about to be uploaded as one the server must reject, naming ``field``."""
        self._planted[uuid] = field

    def pick_deletions(
        self, rng: random.Random, new_samples: int, delete_fraction: float
    ) -> list[str]:
        """Live UUIDs to delete: on average ``delete_fraction`` x ``new_samples`` of them.

        Each is, with even odds, a body-mass entry or a workout when one is live, or any live
        sample but a correlation or its members. Nothing changes until `record`.
        """
        expected = delete_fraction * new_samples
        count = int(expected)
        if rng.random() < expected - count:
            count += 1
        count = min(count, len(self._live_keys))
        chosen: list[str] = []
        taken: set[str] = set()
        manual = list(self._manual)
        while len(chosen) < count:
            if manual and rng.random() < 0.5:
                uuid = manual.pop(rng.randrange(len(manual)))
            else:
                uuid = self._live_keys[rng.randrange(len(self._live_keys))]
            if uuid not in taken:
                taken.add(uuid)
                chosen.append(uuid)
        return chosen

    def record(self, uploaded: list[Sample], deleted: list[str]) -> None:
        """Applies one sync: its deletions, then its new samples (a correlation before its
        members' own copies, as the store adds them)."""
        for uuid in deleted:
            self._forget(uuid)
            self._deleted.add(uuid)
        for sample in uploaded:
            uuid = sample["uuid"]
            field = self._planted.pop(uuid, None)
            if field is not None:
                self._rejected[uuid] = field
            elif "objects" in sample:
                self._live[uuid] = sample
                self._correlated.add(uuid)
                for member in sample["objects"]:
                    self._live[member["uuid"]] = member
                    self._correlated.add(member["uuid"])
            elif uuid not in self._correlated:
                self._live[uuid] = sample
                self._live_index[uuid] = len(self._live_keys)
                self._live_keys.append(uuid)
                if sample["sample_type"] in _MANUALLY_DELETED_TYPES:
                    self._manual.append(uuid)

    def _forget(self, uuid: str) -> None:
        del self._live[uuid]
        index = self._live_index.pop(uuid)
        last = self._live_keys.pop()
        if last != uuid:
            self._live_keys[index] = last
            self._live_index[last] = index
        if uuid in self._manual:
            self._manual.remove(uuid)
