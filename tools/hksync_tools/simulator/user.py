"""Deterministic HealthKit data for one simulated Apple Watch wearer.

`AppleWatchUser` plays the iPhone of one person who wears an Apple Watch day and night. It
produces exactly what the mobile app would upload: a first *backfill* sync with ``days`` of
history, then *incremental* syncs that advance the user's clock, each as JSON-ready chunk dicts
(valid for `hksync.contract.chunk_wire.ChunkIn`, decoded by `decoding.decode_chunk`) and a
commit dict (valid for `SyncCommit`). It also keeps the independent expectation that end-to-end
tests compare the database with: every sample stored and not deleted, correlation members
included (`AppleWatchUser.live_samples`), every deleted UUID (`AppleWatchUser.deleted_uuids`)
and every planted bad sample with the field it is rejected on
(`AppleWatchUser.rejected_samples`). Pure Python, no I/O; docs/simulator.md has more.

Determinism: everything comes from ``random.Random(seed)``. The same seed, ``now``, time zone,
chunk size and sequence of calls give identical syncs, UUIDs and sync ids included. Three
streams are derived from the seed: one generates the user's life in timeline order (sample
content and UUIDs), one sync ids and deletion choices, so the samples do not depend on how the
timeline is cut into syncs (backfill + 12 h + 12 h uploads the same samples as backfill + 24 h),
and one the samples planted in the backfill.

Planted (`planted`): every backfill also holds one sample of a type from a future SDK
(HKQuantityTypeIdentifierAppleSleepScore, stored as sent) and six bad samples, each to be
rejected alone on a named field whatever the server's clock: a heart rate in ``count``, an SpO2
of 96 "%", an unknown sleep stage, steps ending before they start, a blood-pressure correlation
whose diastolic value is text, a weigh-in dated 2100.

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
live sample but correlations and their members.

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
BloodPressure (cuff app)  2-4 mornings a week, a correlation   ~112/72 at 24, rising with age
                          of systolic + diastolic (mmHg)       (assumed), reading sd 6/4
Food (nutrition app)      60-95 % of meals logged: breakfast,  ~1.5 x BMR kcal a day; carbs 48,
                          lunch, dinner, 40 % a snack          protein 18 %, fat the rest (Atwater)
DietaryWater (same app)   3-8 glasses or bottles a day         200-500 mL
Workout (watch)           3-5 a week, 25-100 min: running,     energy and distance are the sums
                          walking, cycling, strength, yoga     of its own samples; half the
                                                               outdoor ones paused 1-2 times
WorkoutRoute (watch)      outdoor workouts, a location every   near the zone's city, at the
                          4-6 s while not paused               workout's pace
(charging)                85 % of days 25-60 min off wrist     no watch samples meanwhile
========================  ===================================  ==================================

HKTimeZone metadata is set on sleep samples and workouts, where HealthKit sets it. A correlation's
members are also uploaded in their own types' chunks, as HealthKit's per-type queries return
them. A 30-day backfill holds ~55-65 thousand samples of about 28 types (heart rate and active
energy about 80 % of them) and takes about a second to generate.

This module composes the model; the parts live beside it: `random_streams` (the streams),
`profile` (the person and their devices), `planner` (nights and waking days, minute by minute),
`timeline` (the lazy day/night loop and the order of the signals), `factory` (sample dicts) and
`store` (what was added when), `signals/` (one module per signal family), `syncs` (chunks,
anchors, commit), `expectation` (live samples, deletions, rejections) and `planted`.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hksync.contract.models import MAX_CHUNK_ITEMS, is_iana_time_zone
from hksync_tools.simulator.expectation import Expectation
from hksync_tools.simulator.factory import SampleFactory
from hksync_tools.simulator.planner import HOUR, DayPlanner
from hksync_tools.simulator.planted import Planter
from hksync_tools.simulator.profile import make_profile, make_writers
from hksync_tools.simulator.random_streams import RandomStreams
from hksync_tools.simulator.store import HealthStore
from hksync_tools.simulator.syncs import SimulatedSync, SyncCutter
from hksync_tools.simulator.timeline import Timeline

__all__ = ["AppleWatchUser", "SimulatedSync"]


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
        streams = RandomStreams.from_seed(seed)
        # The profile, then the writers, are the life stream's first draws.
        profile = make_profile(streams.life)
        writers = make_writers(streams.life, profile)
        self._source_name = str(writers.watch.source["name"])
        self._store = HealthStore()
        factory = SampleFactory(
            streams.life,
            time_zone=time_zone,
            profile=profile,
            writers=writers,
            store=self._store,
            horizon=self._clock,
        )
        self._timeline = Timeline(factory, DayPlanner(streams.life, profile, self._zone))
        self._expectation = Expectation()
        # Same writers and store as the life, but its own stream: see `planted`.
        planted = SampleFactory(
            streams.planted,
            time_zone=time_zone,
            profile=profile,
            writers=writers,
            store=self._store,
            horizon=self._clock,
        )
        self._planter = Planter(planted, self._expectation)
        self._cutter = SyncCutter(streams.syncs, chunk_size, self._expectation)
        self._syncs = 0

    @property
    def now(self) -> datetime:
        """The user's clock: the end of the last sync's window."""
        return datetime.fromtimestamp(self._clock, self._zone)

    @property
    def source_name(self) -> str:
        """The watch's source name, "Apple Watch van <first name>"."""
        return self._source_name

    def backfill(self, days: int = 30) -> SimulatedSync:
        """The first connect: ``days`` of history ending at ``now``, every anchor None."""
        if self._syncs or self._timeline.started:
            raise RuntimeError("backfill must be the user's first sync")
        if days <= 0:
            raise ValueError("days must be positive")
        # Calendar days in ``now``'s own time zone, as `now - timedelta(days=days)` computes it.
        horizon = (self._start_now - timedelta(days=days)).timestamp()
        self._timeline.start(horizon)
        self._planter.plant(math.ceil(horizon), int(self._clock))
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
        if not self._timeline.started:
            self._timeline.start(self._clock)
        return self._sync(until=self._clock + hours * HOUR, delete_fraction=delete_fraction)

    def live_samples(self) -> dict[str, dict[str, Any]]:
        """uuid -> sample dict (a copy): every sample uploaded and not deleted so far."""
        return self._expectation.live_samples()

    def deleted_uuids(self) -> set[str]:
        """Every UUID deleted by a sync so far."""
        return self._expectation.deleted_uuids()

    def rejected_samples(self) -> dict[str, str]:
        """uuid -> field: every bad sample uploaded so far, with the field the server names
        when it rejects it (none of them is in `live_samples`)."""
        return self._expectation.rejected_samples()

    def _sync(self, *, until: float, delete_fraction: float) -> SimulatedSync:
        self._timeline.generate_until(until)
        sync = self._cutter.cut(self._store.added_until(until), delete_fraction)
        self._store.drop_until(until)
        self._clock = until
        self._syncs += 1
        return sync
