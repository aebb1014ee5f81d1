"""Deterministic HealthKit data for one simulated Apple Watch wearer.

`AppleWatchUser` plays the iPhone of one person who wears an Apple Watch day and night. It
produces exactly what the mobile app would upload: a first *backfill* sync with ``days`` of
history, then *incremental* syncs that advance the user's clock, each as JSON-ready chunk dicts
(valid for `hksync.contract.models.Chunk`) and a commit dict (valid for `SyncCommit`). It also
keeps the independent expectation that end-to-end tests compare the database with: every sample
uploaded and not deleted (`AppleWatchUser.live_samples`) and every deleted UUID
(`AppleWatchUser.deleted_uuids`). Pure Python, no I/O; docs/simulator.md has more.

Determinism: everything comes from ``random.Random(seed)``. The same seed, ``now``, time zone,
chunk size and sequence of calls give identical syncs, UUIDs and sync ids included. Two streams
are derived from the seed: one generates the user's life in timeline order (sample content and
UUIDs), the other sync ids and deletion choices, so the samples do not depend on how the
timeline is cut into syncs (backfill + 12 h + 12 h uploads the same samples as backfill + 24 h).

Timeline: the life is generated lazily, one local day at a time, as alternating awake (get-up to
bedtime) and night (bedtime to get-up) segments. Every sample has the moment it is *added* to
the phone's HealthKit store: its end for most samples; the end of the workout for what is
recorded during a workout (the end of the 3 recovery minutes for those readings); the get-up time
for the night's sleep analysis; the end of the waking day for the daily resting and walking
heart rates. A sync uploads what was added since the previous sync, in the order it was added
(as HealthKit's anchored queries do), so no sample ends after the user's clock, and a workout in
progress at sync time arrives with the next sync. The backfill uses a strict start-date
predicate: samples starting before ``now - timedelta(days=days)`` are never uploaded.

Deletions: ``incremental(hours, delete_fraction=f)`` deletes on average ``f`` times the number
of new samples in that sync (so deletions scale with elapsed time, not with the number of
syncs), chosen among samples uploaded by earlier syncs and still live: each is, with even odds,
a body-mass entry or a workout (what people delete in the Health app) when one is live, or any
live sample.

Calibration (reasoning and sources in docs/simulator.md; "assumed" = plausible, not measured):

========================  ===================================  ==================================
Type (writer)             Cadence                              Values and basis
========================  ===================================  ==================================
HeartRate (watch)         background every 4-10 min (Apple     awake RHR +14 still, +30/+45
                          support; Cardiogram: 3-7 min);       walking; asleep RHR -4 (stage +/-);
                          workouts every 4-6 s, plus 3 min     workouts Karvonen RHR + f x HRR,
                          of recovery readings (Apple)         HRmax 208 - 0.7 age (Tanaka 2001)
RestingHeartRate          1 a day over the waking day          RHR ~ N(60, 5) per person, +/-1.5
WalkingHeartRateAverage   1 a day (>= 10 walking minutes)      RHR + ~38
HRV SDNN                  2-4 a night, 0-2 by day, 1 min each  ~ N(45, 10) ms, x1.15 night
StepCount + Distance      watch 1-5 min walking, 3-12 min      70-105 /min walk, 105-125 brisk,
WalkingRunning (paired)   pottering; iPhone 2-8 min on walks   150-175 run; stride 0.415/0.65 x h
DistanceCycling           ~1 min, cycling workouts only        ~24 km/h
ActiveEnergyBurned        contiguous: 40-80 s moving, 45-110   (MET - 1) x kg / 60 per min,
                          s still (assumed), 3-8 s in workouts 2011 Compendium METs
BasalEnergyBurned         contiguous 45-75 min windows         Mifflin-St Jeor BMR, x0.95 asleep
FlightsClimbed            30 % of walks (iPhone if carried)    1-3 floors
AppleExerciseTime         1 min per brisk/workout minute       1 min
AppleStandHour            each local hour awake and worn       stood 0 / idle 1
SleepAnalysis             each night: inBed (iPhone) + stages  ~90 min cycles; ~59 % core, 14 %
                          (watch), written at get-up; bed      deep, 22 % REM, 5 % awake of sleep
                          ~23:06, up ~06:45, weekends later    (adult PSG norms, Ohayon 2004)
OxygenSaturation          2-5 a night                          ~ N(0.955, 0.015), 0.92-1.00
RespiratoryRate           asleep, 1-5 min every 15-45 min      ~ N(14.5, 1.2) per person
BodyMass (Health app)     manual, every 2-5 days, no device    slow drift, HKWasUserEntered
Workout (watch)           3-5 a week, 25-100 min: running,     energy and distance are the sums
                          walking, cycling, strength, yoga     of its own samples
(charging)                85 % of days 25-60 min off wrist     no watch samples meanwhile
========================  ===================================  ==================================

HKTimeZone metadata is set on sleep samples and workouts, where HealthKit sets it. A 30-day
backfill holds ~55-65 thousand samples of 16-17 types (heart rate and active energy about 80 %
of them) and takes about a second to generate.
"""

from __future__ import annotations

import base64
import math
import random
from bisect import bisect_right
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Final, NamedTuple
from uuid import UUID
from zoneinfo import ZoneInfo

from hksync.contract.models import (
    MAX_CHUNK_ITEMS,
    MAX_CHUNKS_PER_SYNC,
    METADATA_TIME_ZONE_KEY,
    is_iana_time_zone,
)
from hksync.contract.types import SAMPLE_TYPES, WORKOUT_TYPE

__all__ = ["AppleWatchUser", "SimulatedSync"]

HEART_RATE: Final = "HKQuantityTypeIdentifierHeartRate"
RESTING_HEART_RATE: Final = "HKQuantityTypeIdentifierRestingHeartRate"
WALKING_HEART_RATE: Final = "HKQuantityTypeIdentifierWalkingHeartRateAverage"
HRV_SDNN: Final = "HKQuantityTypeIdentifierHeartRateVariabilitySDNN"
STEP_COUNT: Final = "HKQuantityTypeIdentifierStepCount"
DISTANCE_WALKING: Final = "HKQuantityTypeIdentifierDistanceWalkingRunning"
DISTANCE_CYCLING: Final = "HKQuantityTypeIdentifierDistanceCycling"
ACTIVE_ENERGY: Final = "HKQuantityTypeIdentifierActiveEnergyBurned"
BASAL_ENERGY: Final = "HKQuantityTypeIdentifierBasalEnergyBurned"
FLIGHTS_CLIMBED: Final = "HKQuantityTypeIdentifierFlightsClimbed"
EXERCISE_TIME: Final = "HKQuantityTypeIdentifierAppleExerciseTime"
OXYGEN_SATURATION: Final = "HKQuantityTypeIdentifierOxygenSaturation"
RESPIRATORY_RATE: Final = "HKQuantityTypeIdentifierRespiratoryRate"
BODY_MASS: Final = "HKQuantityTypeIdentifierBodyMass"
SLEEP_ANALYSIS: Final = "HKCategoryTypeIdentifierSleepAnalysis"
STAND_HOUR: Final = "HKCategoryTypeIdentifierAppleStandHour"
WORKOUT: Final = WORKOUT_TYPE

#: The unit the simulated app asks HealthKit for, per quantity type (the canonical ones).
UNITS: Final[dict[str, str]] = {
    identifier: spec.canonical_unit
    for identifier, spec in SAMPLE_TYPES.items()
    if spec.canonical_unit is not None
}

# HKCategoryValueSleepAnalysis raw values.
IN_BED: Final = 0
AWAKE: Final = 2
CORE: Final = 3
DEEP: Final = 4
REM: Final = 5
# HKCategoryValueAppleStandHour raw values.
STOOD: Final = 0
IDLE: Final = 1

#: Chunks list types in the contract table's order.
_TYPE_ORDER: Final = {identifier: index for index, identifier in enumerate(SAMPLE_TYPES)}

_FIRST_NAMES: Final = (
    "Anna", "Daan", "Emma", "Finn", "Jan", "Julia", "Lena", "Lotte",
    "Lukas", "Max", "Mila", "Noah", "Pieter", "Sanne", "Sophie", "Tim",
)  # fmt: skip
#: (hardware model identifier, watchOS) of recent Apple Watches; (model, iOS) of iPhones.
_WATCHES: Final = (("Watch6,15", "10.4"), ("Watch7,2", "10.5"), ("Watch7,4", "10.5.1"))
_IPHONES: Final = (("iPhone14,5", "17.4.1"), ("iPhone15,3", "17.5"), ("iPhone16,1", "17.5.1"))

_RUNNING: Final = "running"
_WALKING: Final = "walking"
_CYCLING: Final = "cycling"
_STRENGTH: Final = "traditionalStrengthTraining"
_YOGA: Final = "yoga"
_WORKOUT_KINDS: Final = (_RUNNING, _WALKING, _CYCLING, _STRENGTH, _YOGA)
_WORKOUT_MINUTES: Final = {
    _RUNNING: (25, 60),
    _WALKING: (30, 75),
    _CYCLING: (35, 100),
    _STRENGTH: (35, 70),
    _YOGA: (30, 60),
}
#: Compendium of Physical Activities (2011) METs.
_WORKOUT_METS: Final = {_RUNNING: 9.8, _WALKING: 4.3, _CYCLING: 7.5, _STRENGTH: 5.0, _YOGA: 2.5}
#: Fraction of the heart-rate reserve (Karvonen) each workout is done at.
_WORKOUT_HRR: Final = {_RUNNING: 0.75, _WALKING: 0.45, _CYCLING: 0.68, _STRENGTH: 0.5, _YOGA: 0.3}
_INDOOR: Final = frozenset({_STRENGTH, _YOGA})

# Activity level of one awake minute.
_SEDENTARY: Final = 0
_WALK: Final = 1
_BRISK: Final = 2
_WORKOUT_MINUTE: Final = 3
_OFF_WRIST: Final = -1

_SITTING_MET: Final = 1.05
_POTTERING_MET: Final = 1.5
_WALK_MET: Final = 2.8
_BRISK_MET: Final = 4.3

_MINUTE: Final = 60
_HOUR: Final = 3600
#: The watch keeps measuring heart rate densely for 3 minutes after a workout (recovery).
_RECOVERY_S: Final = 180

Sample = dict[str, Any]


@dataclass(frozen=True)
class SimulatedSync:
    """One sync as the app uploads it: chunk bodies, then the commit body."""

    sync_id: UUID
    #: JSON-ready bodies valid for `Chunk`: seq 0..n-1, one sample type each.
    chunks: list[dict[str, Any]]
    #: JSON-ready body valid for `SyncCommit`.
    commit: dict[str, Any]

    def samples(self) -> list[dict[str, Any]]:
        """Every sample dict of the sync, in chunk order."""
        return [sample for chunk in self.chunks for sample in chunk["samples"]]

    def deleted(self) -> list[str]:
        """Every deleted UUID of the sync, in chunk order."""
        return [item["uuid"] for chunk in self.chunks for item in chunk["deleted"]]


@dataclass(frozen=True, slots=True)
class _Profile:
    first_name: str
    age: int
    female: bool
    height_cm: float
    weight_kg: float
    resting_hr: float
    max_hr: float
    hrv_ms: float
    respiratory_rate: float
    bmr_kcal_per_day: float
    walk_stride_m: float
    run_stride_m: float
    bedtime_h: float
    get_up_h: float
    morning_workouts: float
    workout_weights: tuple[float, ...]
    carries_phone: float


@dataclass(frozen=True, slots=True)
class _Writer:
    """A HealthKit source revision with its device."""

    source: dict[str, Any]
    device: dict[str, Any] | None


class _Pending(NamedTuple):
    added_at: float
    order: int
    sample: Sample


@dataclass(frozen=True, slots=True)
class _Night:
    bed: int
    onset: int
    final_wake: int
    up: int


@dataclass(frozen=True, slots=True)
class _WorkoutPlan:
    kind: str
    first_minute: int
    end_minute: int
    intensity: float


class AppleWatchUser:
    """One Apple Watch wearer and the HealthKit store of their iPhone.

    ``now`` is the user's clock at the end of the backfill; each `incremental` advances it. The
    contract refuses samples more than a day ahead of the *server's* clock, so keep ``now`` plus
    all incremental hours at most a day past the real time (tests use a fixed past date).
    """

    def __init__(
        self,
        seed: int,
        *,
        now: datetime,
        time_zone: str = "Europe/Berlin",
        chunk_size: int = 5000,
    ) -> None:
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError("now must be timezone-aware")
        if not is_iana_time_zone(time_zone):
            raise ValueError(f"{time_zone!r} is not an IANA time zone")
        if not 1 <= chunk_size <= MAX_CHUNK_ITEMS:
            raise ValueError(f"chunk_size must be between 1 and {MAX_CHUNK_ITEMS}")
        self.seed = seed
        self.time_zone = time_zone
        self.chunk_size = chunk_size
        self._zone = ZoneInfo(time_zone)
        self._start_now = now
        self._clock = now.timestamp()
        root = random.Random(seed)  # noqa: S311 - reproducible test data, not cryptography
        # Separate streams: the world (sample content and UUIDs) is generated in timeline order
        # whatever the sync boundaries; sync ids and deletion choices come from the other one.
        self._rng = random.Random(root.getrandbits(64))  # noqa: S311
        self._sync_rng = random.Random(root.getrandbits(64))  # noqa: S311
        self._profile = self._make_profile()
        self._watch, self._iphone, self._health_app = self._make_writers()
        self._sleep_metadata = {METADATA_TIME_ZONE_KEY: time_zone}

        # Timeline generation state.
        self._started = False
        self._horizon = self._clock
        self._get_up = 0
        self._next_evening = date.min
        self._pending: list[_Pending] = []
        self._order = 0
        self._workout_weeks: dict[tuple[int, int], frozenset[int]] = {}
        self._next_weigh_in: date | None = None
        self._weight = self._profile.weight_kg

        # Sync state.
        self._syncs = 0
        self._anchors: dict[str, str] = {}
        self._delivered: dict[str, int] = {}
        self._live: dict[str, Sample] = {}
        self._live_keys: list[str] = []
        self._live_index: dict[str, int] = {}
        self._manual: list[str] = []
        self._deleted: set[str] = set()

    # -- public API -------------------------------------------------------------------------

    @property
    def now(self) -> datetime:
        """The user's clock: the end of the last sync's window."""
        return datetime.fromtimestamp(self._clock, self._zone)

    @property
    def source_name(self) -> str:
        """The watch's source name, "Apple Watch van <first name>"."""
        return str(self._watch.source["name"])

    def backfill(self, days: int = 30) -> SimulatedSync:
        """The first connect: ``days`` of history ending at ``now``, every anchor None."""
        if self._syncs or self._started:
            raise RuntimeError("backfill must be the user's first sync")
        if days <= 0:
            raise ValueError("days must be positive")
        # Calendar days in ``now``'s own time zone, as `now - timedelta(days=days)` computes it.
        self._start((self._start_now - timedelta(days=days)).timestamp())
        return self._sync(until=self._clock, delete_fraction=0.0)

    def incremental(self, hours: float, *, delete_fraction: float = 0.002) -> SimulatedSync:
        """Advances the clock by ``hours`` and uploads what was added meanwhile, plus deletions.

        Holds only types with new samples or deletions. Without a previous backfill, history
        starts at the current clock.
        """
        if not hours > 0 or not math.isfinite(hours):
            raise ValueError("hours must be positive")
        if not 0.0 <= delete_fraction <= 1.0:
            raise ValueError("delete_fraction must be between 0 and 1")
        if not self._started:
            self._start(self._clock)
        return self._sync(until=self._clock + hours * _HOUR, delete_fraction=delete_fraction)

    def live_samples(self) -> dict[str, dict[str, Any]]:
        """uuid -> sample dict (a copy): every sample uploaded and not deleted so far."""
        return {uuid: _copy_sample(sample) for uuid, sample in self._live.items()}

    def deleted_uuids(self) -> set[str]:
        """Every UUID deleted by a sync so far."""
        return set(self._deleted)

    # -- syncs ------------------------------------------------------------------------------

    def _sync(self, *, until: float, delete_fraction: float) -> SimulatedSync:
        self._generate_until(until)
        ready = [item for item in self._pending if item.added_at <= until]
        ready.sort(key=lambda item: (item.added_at, item.order))
        new_samples = [item.sample for item in ready]
        deletions = self._pick_deletions(len(new_samples), delete_fraction)

        samples_by_type: dict[str, list[Sample]] = {}
        for sample in new_samples:
            samples_by_type.setdefault(sample["sample_type"], []).append(sample)
        deleted_by_type: dict[str, list[str]] = {}
        for uuid in deletions:
            deleted_by_type.setdefault(self._live[uuid]["sample_type"], []).append(uuid)
        types = sorted(samples_by_type.keys() | deleted_by_type.keys(), key=_TYPE_ORDER.__getitem__)
        items = {
            t: len(samples_by_type.get(t, ())) + len(deleted_by_type.get(t, ())) for t in types
        }
        chunk_count = sum(math.ceil(count / self.chunk_size) for count in items.values())
        if chunk_count > MAX_CHUNKS_PER_SYNC:
            raise ValueError(
                f"this sync needs {chunk_count} chunks of {self.chunk_size}; "
                f"at most {MAX_CHUNKS_PER_SYNC} fit in one sync"
            )

        sync_text = _uuid_text(self._sync_rng.getrandbits(128))
        sync_id = UUID(sync_text)
        chunks: list[dict[str, Any]] = []
        new_anchors: dict[str, str] = {}
        for sample_type in types:
            samples = samples_by_type.get(sample_type, [])
            deleted = deleted_by_type.get(sample_type, [])
            total = len(samples) + len(deleted)
            for offset in range(0, total, self.chunk_size):
                stop = offset + self.chunk_size
                chunks.append(
                    {
                        "sync_id": sync_text,
                        "seq": len(chunks),
                        "sample_type": sample_type,
                        "anchor": self._anchors.get(sample_type),
                        "samples": [_copy_sample(s) for s in samples[offset:stop]],
                        "deleted": [
                            {"uuid": uuid}
                            for uuid in deleted[
                                max(0, offset - len(samples)) : max(0, stop - len(samples))
                            ]
                        ],
                    }
                )
            delivered = self._delivered.get(sample_type, 0) + total
            self._delivered[sample_type] = delivered
            new_anchors[sample_type] = _anchor(sample_type, delivered)

        # Nothing new: the app still closes the sync, re-committing the anchors it holds.
        anchors = new_anchors or dict(self._anchors) or {HEART_RATE: _anchor(HEART_RATE, 0)}
        commit = {"chunk_count": len(chunks), "anchors": anchors}

        # Apply: pending -> uploaded, deletions, anchors, clock.
        self._pending = [item for item in self._pending if item.added_at > until]
        for uuid in deletions:
            self._forget(uuid)
            self._deleted.add(uuid)
        for sample in new_samples:
            uuid = sample["uuid"]
            self._live[uuid] = sample
            self._live_index[uuid] = len(self._live_keys)
            self._live_keys.append(uuid)
            if sample["sample_type"] in (BODY_MASS, WORKOUT):
                self._manual.append(uuid)
        self._anchors.update(anchors)
        self._clock = until
        self._syncs += 1
        return SimulatedSync(sync_id=sync_id, chunks=chunks, commit=commit)

    def _pick_deletions(self, new_samples: int, delete_fraction: float) -> list[str]:
        expected = delete_fraction * new_samples
        count = int(expected)
        if self._sync_rng.random() < expected - count:
            count += 1
        count = min(count, len(self._live_keys))
        rng = self._sync_rng
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

    def _forget(self, uuid: str) -> None:
        del self._live[uuid]
        index = self._live_index.pop(uuid)
        last = self._live_keys.pop()
        if last != uuid:
            self._live_keys[index] = last
            self._live_index[last] = index
        if uuid in self._manual:
            self._manual.remove(uuid)

    # -- the person --------------------------------------------------------------------------

    def _make_profile(self) -> _Profile:
        rng = self._rng
        female = rng.random() < 0.5
        age = rng.randint(24, 58)
        height = rng.gauss(167.0 if female else 180.0, 6.0)
        weight = rng.gauss(23.5, 2.5) * (height / 100) ** 2
        # Mifflin-St Jeor resting metabolic rate.
        bmr = 10 * weight + 6.25 * height - 5 * age + (-161 if female else 5)
        return _Profile(
            first_name=rng.choice(_FIRST_NAMES),
            age=age,
            female=female,
            height_cm=height,
            weight_kg=weight,
            resting_hr=_clamp(rng.gauss(60.0, 5.0), 48.0, 72.0),
            max_hr=208 - 0.7 * age,
            hrv_ms=_clamp(rng.gauss(45.0, 10.0), 25.0, 80.0),
            respiratory_rate=_clamp(rng.gauss(14.5, 1.2), 11.0, 18.0),
            bmr_kcal_per_day=bmr,
            walk_stride_m=0.415 * height / 100,
            run_stride_m=0.65 * height / 100,
            bedtime_h=_clamp(rng.gauss(23.1, 0.4), 22.0, 24.3),
            get_up_h=_clamp(rng.gauss(6.75, 0.35), 6.0, 7.8),
            morning_workouts=rng.random(),
            workout_weights=tuple(rng.uniform(0.5, 3.0) for _ in _WORKOUT_KINDS),
            carries_phone=rng.uniform(0.6, 0.9),
        )

    def _make_writers(self) -> tuple[_Writer, _Writer, _Writer]:
        rng = self._rng
        watch_model, watch_os = rng.choice(_WATCHES)
        phone_model, ios = rng.choice(_IPHONES)
        watch = _Writer(
            source={
                "name": f"Apple Watch van {self._profile.first_name}",
                "bundle_id": f"com.apple.health.{self._uuid()}",
                "version": watch_os,
            },
            device={
                "name": "Apple Watch",
                "manufacturer": "Apple Inc.",
                "model": "Watch",
                "hardware_version": watch_model,
                "software_version": watch_os,
            },
        )
        iphone = _Writer(
            source={
                "name": "iPhone",
                "bundle_id": f"com.apple.health.{self._uuid()}",
                "version": ios,
            },
            device={
                "name": "iPhone",
                "manufacturer": "Apple Inc.",
                "model": "iPhone",
                "hardware_version": phone_model,
                "software_version": ios,
            },
        )
        health_app = _Writer(
            source={"name": "Health", "bundle_id": "com.apple.Health", "version": ios}, device=None
        )
        return watch, iphone, health_app

    # -- timeline ----------------------------------------------------------------------------

    def _start(self, horizon: float) -> None:
        """Starts the timeline the morning before the horizon; earlier samples are dropped."""
        self._started = True
        self._horizon = horizon
        first = datetime.fromtimestamp(horizon, self._zone).date() - timedelta(days=1)
        self._get_up = self._plan_get_up(first)
        self._next_evening = first
        self._next_weigh_in = first + timedelta(days=self._rng.randint(0, 3))

    def _generate_until(self, until: float) -> None:
        while self._get_up < until:
            evening = self._next_evening
            night = self._plan_night(evening)
            self._awake(evening, self._get_up, night.bed)
            self._night(night)
            self._get_up = night.up
            self._next_evening = evening + timedelta(days=1)

    def _local(self, day: date, hours: float) -> int:
        """Epoch seconds of ``hours`` of wall-clock time after local midnight of ``day``."""
        midnight = datetime.combine(day, time(), self._zone)
        return int((midnight + timedelta(hours=hours)).timestamp())

    def _plan_get_up(self, morning: date) -> int:
        weekend = 1.0 if morning.weekday() >= 5 else 0.0
        hours = _clamp(self._profile.get_up_h + self._rng.gauss(0, 0.25) + weekend, 5.5, 10.0)
        return self._local(morning, hours)

    def _plan_night(self, evening: date) -> _Night:
        rng = self._rng
        late = 0.7 if evening.weekday() in (4, 5) else 0.0  # Friday and Saturday nights
        bed = self._local(
            evening, _clamp(self._profile.bedtime_h + rng.gauss(0, 0.35) + late, 21.5, 25.5)
        )
        up = self._plan_get_up(evening + timedelta(days=1))
        up = min(max(up, bed + 5 * _HOUR), bed + 10 * _HOUR)
        onset = bed + rng.randint(4 * _MINUTE, 25 * _MINUTE)
        final_wake = up - rng.randint(2 * _MINUTE, 15 * _MINUTE)
        return _Night(bed=bed, onset=onset, final_wake=final_wake, up=up)

    # -- samples -----------------------------------------------------------------------------

    def _uuid(self) -> str:
        """A random (version 4) UUID as HealthKit prints it: uppercase."""
        return _uuid_text(self._rng.getrandbits(128))

    def _iso(self, t: int) -> str:
        return datetime.fromtimestamp(t, self._zone).isoformat()

    def _base(
        self,
        sample_type: str,
        start: int,
        end: int,
        writer: _Writer,
        metadata: dict[str, Any] | None,
    ) -> Sample:
        start_text = self._iso(start)
        sample: Sample = {
            "uuid": self._uuid(),
            "sample_type": sample_type,
            "start_date": start_text,
            "end_date": start_text if end == start else self._iso(end),
            "source": writer.source,
        }
        if writer.device is not None:
            sample["device"] = writer.device
        if metadata:
            sample["metadata"] = metadata
        return sample

    def _add(self, sample: Sample, added_at: float) -> None:
        self._pending.append(_Pending(added_at, self._order, sample))
        self._order += 1

    def _quantity(
        self,
        sample_type: str,
        start: float,
        end: float,
        value: float,
        writer: _Writer,
        added_at: float | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        start_s, end_s = int(start), int(end)
        if start_s < self._horizon:
            return
        sample = self._base(sample_type, start_s, end_s, writer, metadata)
        sample["unit"] = UNITS[sample_type]
        sample["value"] = value
        self._add(sample, end_s if added_at is None else added_at)

    def _category(
        self,
        sample_type: str,
        start: int,
        end: int,
        value: int,
        writer: _Writer,
        added_at: float,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        if start < self._horizon:
            return
        sample = self._base(sample_type, start, end, writer, metadata)
        sample["value"] = value
        self._add(sample, added_at)

    def _basal(self, start: int, end: int, factor: float) -> None:
        """Contiguous ~hourly basal energy windows over [start, end)."""
        rng = self._rng
        per_second = self._profile.bmr_kcal_per_day / 86_400 * factor
        t = start
        while t < end:
            stop = min(end, t + rng.randint(45 * _MINUTE, 75 * _MINUTE))
            if end - stop < 10 * _MINUTE:
                stop = end
            value = round(per_second * (stop - t) * rng.uniform(0.97, 1.03), 3)
            self._quantity(BASAL_ENERGY, t, stop, value, self._watch)
            t = stop

    # -- nights ------------------------------------------------------------------------------

    def _night(self, night: _Night) -> None:
        rng = self._rng
        p = self._profile
        watch = self._watch
        self._basal(night.bed, night.up, 0.95)

        # Sleep stages: ~90 min cycles of core -> deep -> core -> REM -> (awake).
        stages: list[tuple[int, int, int]] = []
        span = night.final_wake - night.onset
        long_wake_at = rng.uniform(0.3, 0.8) if rng.random() < 0.2 else 2.0
        t = float(night.onset)
        while t < night.final_wake:
            position = (t - night.onset) / span
            length = _clamp(rng.gauss(90.0, 8.0), 70.0, 110.0) * _MINUTE
            deep = max(0.0, 0.26 - 0.32 * position) + rng.uniform(0.0, 0.03)
            rem = 0.15 + 0.26 * position + rng.uniform(-0.03, 0.03)
            awake = rng.uniform(2, 12) * _MINUTE if rng.random() < 0.7 else 0.0
            if position >= long_wake_at:
                awake += rng.uniform(10, 25) * _MINUTE
                long_wake_at = 2.0
            core = max(0.0, length * (1.0 - deep - rem))
            first_core = core * rng.uniform(0.35, 0.6)
            for stage, duration in (
                (CORE, first_core),
                (DEEP, length * deep),
                (CORE, core - first_core),
                (REM, length * rem),
                (AWAKE, awake),
            ):
                if duration <= 0 or t >= night.final_wake:
                    continue
                start = int(t)
                t = min(t + duration, float(night.final_wake))
                end = int(t)
                if end <= start:
                    continue
                if stages and stages[-1][2] == stage and stages[-1][1] == start:
                    stages[-1] = (stages[-1][0], end, stage)
                else:
                    stages.append((start, end, stage))
        self._category(
            SLEEP_ANALYSIS,
            night.bed,
            night.up,
            IN_BED,
            self._iphone,
            night.up,
            self._sleep_metadata,
        )
        for start, end, stage in stages:
            self._category(SLEEP_ANALYSIS, start, end, stage, watch, night.up, self._sleep_metadata)

        # Background heart rate, lower while asleep.
        stage_starts = [start for start, _, _ in stages]
        offsets = {CORE: 0.0, DEEP: -3.0, REM: 5.0, AWAKE: 8.0}
        sedentary = {"HKMetadataKeyHeartRateMotionContext": 1}
        t = night.bed + rng.uniform(60, 300)
        while t < night.up:
            index = bisect_right(stage_starts, t) - 1
            if index >= 0 and t < stages[index][1]:
                base = p.resting_hr - 4.0 + offsets[stages[index][2]]
            else:
                base = p.resting_hr + 6.0  # in bed, awake
            value = float(round(max(38.0, base + rng.gauss(0, 2.5))))
            self._quantity(HEART_RATE, t, t, value, watch, metadata=sedentary)
            t += rng.uniform(240, 600)

        asleep_from = night.onset + 30 * _MINUTE
        asleep_to = max(asleep_from + 1, night.final_wake - 10 * _MINUTE)
        for _ in range(rng.randint(2, 4)):
            t = rng.uniform(asleep_from, asleep_to)
            value = round(p.hrv_ms * 1.15 * rng.lognormvariate(0, 0.2), 3)
            self._quantity(HRV_SDNN, t, t + 60, value, watch)
        for _ in range(rng.randint(2, 5)):
            t = rng.uniform(asleep_from, asleep_to)
            value = round(_clamp(rng.gauss(0.955, 0.015), 0.92, 1.0), 2)
            self._quantity(OXYGEN_SATURATION, t, t, value, watch)
        t = night.onset + rng.uniform(10, 30) * _MINUTE
        while t < night.final_wake:
            stop = min(t + rng.uniform(60, 300), night.final_wake)
            value = round(rng.gauss(p.respiratory_rate, 0.8) * 2) / 2
            self._quantity(RESPIRATORY_RATE, t, stop, value, watch)
            t = stop + rng.uniform(15, 45) * _MINUTE

    # -- days --------------------------------------------------------------------------------

    def _workout_days(self, day: date) -> frozenset[int]:
        year, week, _ = day.isocalendar()
        key = (year, week)
        if key not in self._workout_weeks:
            count = self._rng.randint(3, 5)
            self._workout_weeks[key] = frozenset(self._rng.sample(range(7), count))
        return self._workout_weeks[key]

    def _plan_workout(self, day: date, start: int, minutes: int) -> _WorkoutPlan | None:
        rng = self._rng
        if day.weekday() not in self._workout_days(day):
            return None
        kind = rng.choices(_WORKOUT_KINDS, weights=self._profile.workout_weights)[0]
        duration = rng.randint(*_WORKOUT_MINUTES[kind])
        if day.weekday() >= 5:
            begin = self._local(day, rng.uniform(9.5, 11.5))
        elif rng.random() < self._profile.morning_workouts:
            begin = start + rng.randint(15, 60) * _MINUTE
        else:
            begin = self._local(day, rng.uniform(17.0, 19.5))
        first = max(10, (begin - start) // _MINUTE)
        if first + duration > minutes - 30:
            return None
        return _WorkoutPlan(kind, first, first + duration, rng.uniform(0.9, 1.08))

    def _awake(self, day: date, s: int, e: int) -> None:
        rng = self._rng
        p = self._profile
        watch = self._watch
        self._basal(s, e, 1.0)
        n = (e - s) // _MINUTE
        if n < 120:
            return

        # The day's plan, minute by minute.
        workout = self._plan_workout(day, s, n)
        level = [_SEDENTARY] * n
        worn = [True] * n
        phone = [False] * n
        if workout is not None:
            for m in range(workout.first_minute, workout.end_minute):
                level[m] = _WORKOUT_MINUTE
            carried = rng.random() < (0.5 if workout.kind in (_RUNNING, _WALKING) else 0.1)
            for m in range(workout.first_minute, workout.end_minute):
                phone[m] = carried

        if rng.random() < 0.85:  # off the wrist to charge
            length = rng.randint(25, 60)
            slots = [rng.randint(0, 30), n - length - rng.randint(10, 40)]
            if rng.random() < 0.3:
                slots.reverse()
            for first in slots:
                if first >= 0 and _WORKOUT_MINUTE not in level[first : first + length]:
                    for m in range(first, first + length):
                        worn[m] = False
                    break

        walks: list[tuple[int, int, bool]] = []
        for _ in range(rng.randint(6, 12)):
            brisk = rng.random() < 0.2
            length = rng.randint(8, 25) if brisk else rng.randint(2, 12)
            first = rng.randint(0, n - length - 1)
            if _WORKOUT_MINUTE in level[first : first + length]:
                continue
            carried = rng.random() < p.carries_phone
            for m in range(first, first + length):
                level[m] = max(level[m], _BRISK if brisk else _WALK)
                phone[m] = phone[m] or carried
            walks.append((first, length, carried))

        kind = workout.kind if workout is not None else ""
        steps = [0] * n
        metres = [0.0] * n
        for m in range(n):
            activity = level[m]
            if activity == _SEDENTARY:
                if rng.random() < 0.15:
                    steps[m] = rng.randint(4, 40)
                    metres[m] = steps[m] * p.walk_stride_m * 0.8
            elif activity == _WALK:
                steps[m] = rng.randint(70, 105)
                metres[m] = steps[m] * p.walk_stride_m
            elif activity == _BRISK or kind == _WALKING:
                steps[m] = rng.randint(105, 125)
                metres[m] = steps[m] * p.walk_stride_m * 1.08
            elif kind == _RUNNING:
                steps[m] = rng.randint(150, 175)
                metres[m] = steps[m] * p.run_stride_m * rng.uniform(0.97, 1.03)
            elif kind == _STRENGTH and rng.random() < 0.4:
                steps[m] = rng.randint(3, 15)
                metres[m] = steps[m] * p.walk_stride_m * 0.8

        def met(m: int) -> float:
            activity = level[m]
            if activity == _WORKOUT_MINUTE:
                assert workout is not None
                return _WORKOUT_METS[kind] * workout.intensity
            if activity == _BRISK:
                return _BRISK_MET
            if activity == _WALK:
                return _WALK_MET
            return _POTTERING_MET if steps[m] else _SITTING_MET

        workout_start = s + workout.first_minute * _MINUTE if workout else 0
        workout_end = s + workout.end_minute * _MINUTE if workout else 0

        def added(end: float) -> float:
            """Samples recorded during the workout reach the phone when it is saved."""
            return workout_end if workout_start < end <= workout_end else end

        # Watch state per minute: activity level, or off the wrist.
        watch_state = [level[m] if worn[m] else _OFF_WRIST for m in range(n)]
        kcal_per_kg_min = p.weight_kg / 60.0

        # Active energy: contiguous small windows while worn.
        workout_kcal = 0.0
        for first, stop, state in _runs(watch_state):
            if state == _OFF_WRIST:
                continue
            t = float(s + first * _MINUTE)
            run_end = float(s + stop * _MINUTE)
            while t < run_end:
                if state == _WORKOUT_MINUTE:
                    duration = rng.uniform(3.0, 8.0)
                elif state == _SEDENTARY:
                    duration = rng.uniform(45, 110)
                else:
                    duration = rng.uniform(40, 80)
                end = min(t + duration, run_end)
                if run_end - end < 5:
                    end = run_end
                minute = min(n - 1, int((t - s) // _MINUTE))
                rate = (met(minute) - 1.0) * kcal_per_kg_min
                value = round(rate * (end - t) / _MINUTE * rng.uniform(0.85, 1.15), 3)
                if int(end) > int(t):
                    self._quantity(ACTIVE_ENERGY, t, end, value, watch, added(end))
                    if state == _WORKOUT_MINUTE and int(t) >= self._horizon:
                        workout_kcal += value
                t = end

        # Steps and distance from the watch: windows within runs of one activity level.
        workout_metres = 0.0
        for first, stop, state in _runs(watch_state):
            if state == _OFF_WRIST:
                continue
            m = first
            while m < stop:
                size = rng.randint(3, 12) if state == _SEDENTARY else rng.randint(1, 5)
                window = range(m, min(stop, m + size))
                m = window.stop
                count = sum(steps[i] for i in window)
                if count == 0:
                    continue
                moving = [i for i in window if steps[i]]
                start = s + moving[0] * _MINUTE
                end = s + (moving[-1] + 1) * _MINUTE
                distance = round(sum(metres[i] for i in window), 2)
                self._quantity(STEP_COUNT, start, end, float(count), watch, added(end))
                self._quantity(DISTANCE_WALKING, start, end, distance, watch, added(end))
                if state == _WORKOUT_MINUTE and start >= self._horizon:
                    workout_metres += distance

        # Steps and distance from the iPhone while it is carried on walks.
        phone_state = [
            level[m] if phone[m] and level[m] != _SEDENTARY and steps[m] else _OFF_WRIST
            for m in range(n)
        ]
        for first, stop, state in _runs(phone_state):
            if state == _OFF_WRIST:
                continue
            m = first
            while m < stop:
                window = range(m, min(stop, m + rng.randint(2, 8)))
                m = window.stop
                count = round(sum(steps[i] for i in window) * rng.gauss(1.0, 0.03))
                if count <= 0:
                    continue
                start = s + window.start * _MINUTE
                end = s + window.stop * _MINUTE
                running = state == _WORKOUT_MINUTE and kind == _RUNNING
                stride = p.run_stride_m if running else p.walk_stride_m
                distance = round(count * stride, 2)
                self._quantity(STEP_COUNT, start, end, float(count), self._iphone, added(end))
                self._quantity(DISTANCE_WALKING, start, end, distance, self._iphone, added(end))

        # Flights of stairs on some walks.
        for first, length, carried in walks:
            if rng.random() < 0.3:
                start = s + (first + rng.randint(0, length - 1)) * _MINUTE + rng.randint(0, 30)
                writer = self._iphone if carried else watch
                if carried or worn[first]:
                    floors = float(rng.randint(1, 3))
                    self._quantity(
                        FLIGHTS_CLIMBED, start, start + rng.randint(20, 90), floors, writer
                    )

        # Exercise minutes: brisk walking and workouts.
        for m in range(n):
            if worn[m] and level[m] >= _BRISK:
                start = s + m * _MINUTE
                self._quantity(
                    EXERCISE_TIME, start, start + _MINUTE, 1.0, watch, added(start + _MINUTE)
                )

        # Background heart rate, except during the workout (recorded densely below).
        sedentary = {"HKMetadataKeyHeartRateMotionContext": 1}
        active = {"HKMetadataKeyHeartRateMotionContext": 2}
        t = s + rng.uniform(30, 300)
        while t < e:
            m = min(n - 1, int((t - s) // _MINUTE))
            state = watch_state[m]
            if state in (_SEDENTARY, _WALK, _BRISK):
                bump = (14.0, 30.0, 45.0)[state]
                value = float(round(p.resting_hr + bump + rng.gauss(0, 5)))
                metadata = sedentary if state == _SEDENTARY else active
                self._quantity(HEART_RATE, t, t, value, watch, metadata=metadata)
            t += rng.uniform(240, 600)

        # Heart rate variability at rest by day.
        for _ in range(rng.choice((0, 1, 1, 2))):
            m = rng.randrange(n)
            if watch_state[m] == _SEDENTARY:
                t = s + m * _MINUTE + rng.uniform(0, 60)
                value = round(p.hrv_ms * 0.85 * rng.lognormvariate(0, 0.2), 3)
                self._quantity(HRV_SDNN, t, t + 60, value, watch)

        # Stand hours: every local clock hour awake with the watch on.
        offset = int(
            (datetime.fromtimestamp(s, self._zone).utcoffset() or timedelta()).total_seconds()
        )
        hour = s + (_HOUR - (s + offset) % _HOUR) % _HOUR
        while hour + _HOUR <= e:
            first = (hour - s) // _MINUTE
            minutes = range(first, min(n, first + 60))
            if sum(worn[m] for m in minutes) >= 30:
                moved = any(level[m] > _SEDENTARY for m in minutes)
                pottered = any(steps[m] for m in minutes)
                stood = moved or (pottered and rng.random() < 0.6)
                value = STOOD if stood else IDLE
                self._category(STAND_HOUR, hour, hour + _HOUR, value, watch, hour + _HOUR)
            hour += _HOUR

        if workout is not None:
            self._workout(workout, workout_start, workout_end, workout_kcal, workout_metres)

        # Daily resting and walking heart rate, written at the end of the day.
        resting = float(round(p.resting_hr + rng.gauss(0, 1.5)))
        self._quantity(RESTING_HEART_RATE, s, e, resting, watch)
        if sum(1 for x in level if x in (_WALK, _BRISK)) >= 10:
            value = float(round(p.resting_hr + 38 + rng.gauss(0, 3)))
            self._quantity(WALKING_HEART_RATE, s, e, value, watch)

        # A manual weigh-in every few days, just after getting up.
        if self._next_weigh_in is not None and day >= self._next_weigh_in:
            self._weight += rng.gauss(0, 0.15)
            t = s + rng.randint(5, 40) * _MINUTE
            value = round(self._weight + rng.gauss(0, 0.3), 1)
            self._quantity(
                BODY_MASS, t, t, value, self._health_app, metadata={"HKWasUserEntered": True}
            )
            self._next_weigh_in = day + timedelta(days=rng.randint(2, 5))

    def _workout(
        self, plan: _WorkoutPlan, start: int, end: int, kcal: float, metres: float
    ) -> None:
        """The workout's dense heart rate, cycling distance and the HKWorkout itself.

        ``kcal`` and ``metres`` sum the active energy and walking/running distance samples
        recorded during it (by `_awake`); a cycling workout sums its own distance samples.
        """
        rng = self._rng
        p = self._profile
        watch = self._watch
        kind = plan.kind
        reserve = p.max_hr - p.resting_hr
        target = p.resting_hr + _WORKOUT_HRR[kind] * plan.intensity * reserve
        duration = end - start
        warm_up = rng.uniform(180, 360)
        cool_down = 120.0
        drift = 6.0 if kind in (_RUNNING, _CYCLING) else 2.0
        noise = 0.0
        t = start + rng.uniform(1, 5)
        while t < end:
            elapsed = t - start
            if elapsed < warm_up:
                base = p.resting_hr + 20 + (target - p.resting_hr - 20) * elapsed / warm_up
            else:
                base = target + drift * elapsed / duration
            if kind == _STRENGTH:
                base += 12 * math.sin(2 * math.pi * elapsed / 180)
            remaining = end - t
            if remaining < cool_down:
                base -= (target - p.resting_hr - 25) * (1 - remaining / cool_down)
            noise = 0.9 * noise + rng.gauss(0, 1.5)
            value = float(round(_clamp(base + noise, p.resting_hr - 5, p.max_hr)))
            self._quantity(HEART_RATE, t, t, value, watch, end)
            t += rng.uniform(4.0, 6.0)
        # ... and for 3 minutes after it, for the heart-rate recovery.
        recovered = end + _RECOVERY_S
        settle = p.resting_hr + 15
        level = p.resting_hr + 25 + noise
        while t < recovered:
            level = settle + (level - settle) * 0.95
            value = float(round(_clamp(level + rng.gauss(0, 1.0), p.resting_hr - 5, p.max_hr)))
            self._quantity(HEART_RATE, t, t, value, watch, recovered)
            t += rng.uniform(4.0, 6.0)

        if kind == _CYCLING:
            metres = 0.0
            speed = rng.gauss(24.0, 2.0) / 3.6 * plan.intensity
            t = float(start)
            while t < end:
                stop = min(t + rng.uniform(50, 70), float(end))
                distance = round(speed * (stop - t) * rng.uniform(0.9, 1.1), 2)
                if int(stop) > int(t):
                    self._quantity(DISTANCE_CYCLING, t, stop, distance, watch, end)
                    if int(t) >= self._horizon:
                        metres += distance
                t = stop

        metadata: dict[str, Any] = {
            METADATA_TIME_ZONE_KEY: self.time_zone,
            "HKIndoorWorkout": kind in _INDOOR,
            "HKAverageMETs": f"{_WORKOUT_METS[kind] * plan.intensity:.1f} kcal/hr·kg",
        }
        if kind not in _INDOOR:
            climbed = metres / 1000 * rng.uniform(3, 15)
            metadata["HKElevationAscended"] = f"{round(climbed * 100)} cm"
        if start >= self._horizon:
            sample = self._base(WORKOUT, start, end, watch, metadata)
            sample["activity_type"] = kind
            sample["duration_s"] = float(end - start)
            sample["total_energy_kcal"] = round(kcal, 3)
            if kind in (_RUNNING, _WALKING, _CYCLING):
                sample["total_distance_m"] = round(metres, 2)
            self._add(sample, end)


def _runs(states: list[int]) -> list[tuple[int, int, int]]:
    """(first, stop, state) for each run of equal consecutive states."""
    runs: list[tuple[int, int, int]] = []
    first = 0
    for index in range(1, len(states) + 1):
        if index == len(states) or states[index] != states[first]:
            runs.append((first, index, states[first]))
            first = index
    return runs


def _uuid_text(bits: int) -> str:
    """``str(UUID(int=bits, version=4)).upper()``, three times faster."""
    bits = (bits & ~(0xF000 << 64)) | (0x4000 << 64)  # version 4
    bits = (bits & ~(0xC000 << 48)) | (0x8000 << 48)  # RFC 4122 variant
    h = f"{bits:032X}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _anchor(sample_type: str, delivered: int) -> str:
    """An opaque anchor token: where this type's anchored query has got to."""
    return base64.urlsafe_b64encode(f"hksync-sim:{sample_type}:{delivered}".encode()).decode()


def _copy_sample(sample: Sample) -> Sample:
    """A copy that shares nothing mutable with the simulator's own record."""
    copy = dict(sample)
    copy["source"] = dict(sample["source"])
    if "device" in sample:
        copy["device"] = dict(sample["device"])
    if "metadata" in sample:
        copy["metadata"] = dict(sample["metadata"])
    return copy


def _clamp(value: float, low: float, high: float) -> float:
    return min(high, max(low, value))
