"""The HealthKit simulator: deterministic, contract-valid, realistic enough to be trusted.

One module-scoped scenario (a 30-day backfill then three incremental syncs with deletions) is
generated once and shared by the read-only checks; a few tests build small users of their own.
"""

from __future__ import annotations

import json
from bisect import bisect_left, bisect_right
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from hksync.contract.models import Chunk, SyncCommit
from hksync_tools.simulator.user import AppleWatchUser, SimulatedSync

BERLIN = ZoneInfo("Europe/Berlin")
#: A fixed past instant, so the contract's "not in the future" check never depends on today.
#: The 30 days before it include the switch to summer time (2024-03-31).
NOW = datetime(2024, 4, 12, 20, 15, 30, tzinfo=BERLIN)
SEED = 2024
CHUNK_SIZE = 5000
INCREMENTS = ((6.0, 0.01), (20.0, 0.01), (1.5, 0.05))
MINUTE = timedelta(minutes=1)

HEART_RATE = "HKQuantityTypeIdentifierHeartRate"
ACTIVE_ENERGY = "HKQuantityTypeIdentifierActiveEnergyBurned"
BODY_MASS = "HKQuantityTypeIdentifierBodyMass"
SLEEP = "HKCategoryTypeIdentifierSleepAnalysis"
WORKOUT = "HKWorkoutTypeIdentifier"


@dataclass
class Scenario:
    user: AppleWatchUser
    syncs: list[SimulatedSync]
    #: The user's clock after each sync.
    clocks: list[datetime]


def _run(seed: int = SEED) -> Scenario:
    user = AppleWatchUser(seed, now=NOW, chunk_size=CHUNK_SIZE)
    syncs = [user.backfill(30)]
    clocks = [user.now]
    for hours, fraction in INCREMENTS:
        syncs.append(user.incremental(hours, delete_fraction=fraction))
        clocks.append(user.now)
    return Scenario(user, syncs, clocks)


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return _run()


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _span(sample: dict[str, Any]) -> tuple[datetime, datetime]:
    return _at(sample["start_date"]), _at(sample["end_date"])


def _items(chunk: dict[str, Any]) -> int:
    return len(chunk["samples"]) + len(chunk["deleted"])


def test_same_seed_gives_identical_syncs(scenario: Scenario) -> None:
    again = _run()

    assert again.syncs == scenario.syncs
    assert again.user.live_samples() == scenario.user.live_samples()
    assert again.user.deleted_uuids() == scenario.user.deleted_uuids()


def test_another_seed_gives_other_data() -> None:
    one = AppleWatchUser(1, now=NOW).backfill(2)
    two = AppleWatchUser(2, now=NOW).backfill(2)

    assert one.sync_id != two.sync_id
    assert {s["uuid"] for s in one.samples()}.isdisjoint(s["uuid"] for s in two.samples())


def test_every_chunk_and_commit_validates_through_the_json_path(scenario: Scenario) -> None:
    for sync in scenario.syncs:
        for body in sync.chunks:
            chunk = Chunk.model_validate_json(json.dumps(body))
            assert chunk.sync_id == sync.sync_id
            assert len(chunk.unique_samples()) == len(body["samples"])
            assert len(chunk.deleted_uuids()) == len(body["deleted"])
        commit = SyncCommit.model_validate_json(json.dumps(sync.commit))
        assert commit.chunk_count == len(sync.chunks)


def test_backfill_is_large_varied_and_within_its_window(scenario: Scenario) -> None:
    backfill = scenario.syncs[0]
    samples = backfill.samples()
    counts = Counter(sample["sample_type"] for sample in samples)

    assert len(samples) >= 50_000
    assert len(counts) >= 5
    assert {name for name, _ in counts.most_common(2)} == {HEART_RATE, ACTIVE_ENERGY}
    for expected in (
        "HKQuantityTypeIdentifierRestingHeartRate",
        "HKQuantityTypeIdentifierHeartRateVariabilitySDNN",
        "HKQuantityTypeIdentifierStepCount",
        "HKQuantityTypeIdentifierDistanceWalkingRunning",
        "HKQuantityTypeIdentifierBasalEnergyBurned",
        "HKQuantityTypeIdentifierFlightsClimbed",
        "HKQuantityTypeIdentifierOxygenSaturation",
        "HKQuantityTypeIdentifierRespiratoryRate",
        BODY_MASS,
        SLEEP,
        WORKOUT,
    ):
        assert counts[expected] > 0, expected
    assert backfill.deleted() == []
    assert all(chunk["anchor"] is None for chunk in backfill.chunks)
    horizon = NOW - timedelta(days=30)
    for sample in samples:
        assert horizon <= _at(sample["start_date"]) <= _at(sample["end_date"]) <= NOW


def test_incrementals_never_reach_past_the_users_clock(scenario: Scenario) -> None:
    for (hours, _), previous, clock, sync in zip(
        INCREMENTS, scenario.clocks[:-1], scenario.clocks[1:], scenario.syncs[1:], strict=True
    ):
        assert clock - previous == timedelta(hours=hours)
        assert sync.samples()
        assert all(_at(sample["end_date"]) <= clock for sample in sync.samples())


def test_chunks_respect_the_size_the_sequence_and_the_anchors(scenario: Scenario) -> None:
    anchors: dict[str, str] = {}
    for sync in scenario.syncs:
        assert [chunk["seq"] for chunk in sync.chunks] == list(range(len(sync.chunks)))
        assert sync.commit["chunk_count"] == len(sync.chunks)
        assert set(sync.commit["anchors"]) == {chunk["sample_type"] for chunk in sync.chunks}
        for chunk in sync.chunks:
            assert 1 <= _items(chunk) <= CHUNK_SIZE
            assert {s["sample_type"] for s in chunk["samples"]} <= {chunk["sample_type"]}
            assert chunk["anchor"] == anchors.get(chunk["sample_type"])
        for sample_type, anchor in sync.commit["anchors"].items():
            assert anchor != anchors.get(sample_type)
        anchors.update(sync.commit["anchors"])


def test_a_small_chunk_size_splits_a_type_over_several_chunks() -> None:
    sync = AppleWatchUser(5, now=NOW, chunk_size=300).backfill(2)
    per_type = Counter(chunk["sample_type"] for chunk in sync.chunks)

    assert max(per_type.values()) > 1
    assert all(1 <= _items(chunk) <= 300 for chunk in sync.chunks)
    assert [chunk["seq"] for chunk in sync.chunks] == list(range(len(sync.chunks)))
    uuids = [sample["uuid"] for sample in sync.samples()]
    assert len(uuids) == len(set(uuids))


def test_deletions_are_earlier_live_samples_and_leave_the_expectation(
    scenario: Scenario,
) -> None:
    live = {sample["uuid"]: sample for sample in scenario.syncs[0].samples()}
    deleted: set[str] = set()
    deleted_types: Counter[str] = Counter()
    for sync in scenario.syncs[1:]:
        new = {sample["uuid"]: sample for sample in sync.samples()}
        assert new.keys().isdisjoint(live.keys() | deleted)
        for chunk in sync.chunks:
            for item in chunk["deleted"]:
                uuid = item["uuid"]
                assert uuid in live, "only a sample uploaded earlier and still live is deleted"
                assert live[uuid]["sample_type"] == chunk["sample_type"]
                deleted_types[chunk["sample_type"]] += 1
                del live[uuid]
                deleted.add(uuid)
        live.update(new)

    assert deleted, "the scenario's delete fractions should produce deletions"
    assert scenario.user.deleted_uuids() == deleted
    expectation = scenario.user.live_samples()
    assert expectation == live
    assert expectation.keys().isdisjoint(deleted)
    # What people delete in the Health app: weigh-ins and workouts, besides any other sample.
    assert deleted_types[BODY_MASS] + deleted_types[WORKOUT] > 0


def test_the_expectation_is_a_copy(scenario: Scenario) -> None:
    uuid, sample = next(iter(scenario.user.live_samples().items()))
    sample["source"]["name"] = "tampered"
    sample["value"] = -1

    assert scenario.user.live_samples()[uuid]["source"]["name"] != "tampered"


def test_heart_rate_is_dense_during_workouts_and_sparse_at_rest(scenario: Scenario) -> None:
    samples = scenario.syncs[0].samples()
    workouts = [_span(s) for s in samples if s["sample_type"] == WORKOUT]
    readings = sorted(
        (_at(s["start_date"]), s["value"]) for s in samples if s["sample_type"] == HEART_RATE
    )
    times = [at for at, _ in readings]
    assert len(workouts) >= 10  # 3-5 a week

    during: list[float] = []
    busy = 0
    for start, end in workouts:
        inside = readings[bisect_left(times, start) : bisect_right(times, end)]
        assert len(inside) / ((end - start) / MINUTE) >= 10  # about one reading every 5 s
        during += [value for _, value in inside]
        # The recovery readings of the 3 minutes after the workout are not "at rest" either.
        busy += bisect_right(times, end + 3 * MINUTE) - bisect_left(times, start)
        assert bisect_right(times, end + 3 * MINUTE) - bisect_right(times, end) >= 30

    at_rest = len(readings) - busy
    rest_minutes = (
        timedelta(days=30) - sum((e - s + 3 * MINUTE for s, e in workouts), timedelta())
    ) / MINUTE
    assert at_rest / rest_minutes <= 0.3  # one background reading every 4-10 minutes
    rest_mean = (sum(value for _, value in readings) - sum(during)) / (len(readings) - len(during))
    assert sum(during) / len(during) > rest_mean + 20


def test_workout_totals_add_up_their_samples(scenario: Scenario) -> None:
    samples = scenario.syncs[0].samples()
    energy = sorted((*_span(s), s["value"]) for s in samples if s["sample_type"] == ACTIVE_ENERGY)
    starts = [start for start, _, _ in energy]
    for workout in (s for s in samples if s["sample_type"] == WORKOUT):
        start, end = _span(workout)
        window = energy[bisect_left(starts, start) : bisect_right(starts, end)]
        inside = sum(value for _, stop, value in window if stop <= end)
        assert workout["total_energy_kcal"] == pytest.approx(inside, abs=1e-6)
        assert workout["duration_s"] == (end - start).total_seconds()
        has_distance = workout["activity_type"] in {"running", "walking", "cycling"}
        assert ("total_distance_m" in workout) == has_distance


def test_sleep_is_recorded_at_night_local_time_in_realistic_stages(scenario: Scenario) -> None:
    sleep = [s for s in scenario.syncs[0].samples() if s["sample_type"] == SLEEP]
    seconds: Counter[int] = Counter()
    for sample in sleep:
        start, end = _at(sample["start_date"]), _at(sample["end_date"])
        for moment in (start, end):
            local = moment.astimezone(BERLIN)
            assert local.hour >= 20 or local.hour < 11, sample
        assert sample["metadata"]["HKTimeZone"] == "Europe/Berlin"
        seconds[sample["value"]] += int((end - start).total_seconds())

    in_bed = [s for s in sleep if s["value"] == 0]
    assert 28 <= len(in_bed) <= 31  # one per night
    asleep = sum(total for value, total in seconds.items() if value != 0)
    shares = {value: seconds[value] / asleep for value in (2, 3, 4, 5)}
    assert 0.45 <= shares[3] <= 0.70  # core
    assert 0.08 <= shares[4] <= 0.25  # deep
    assert 0.15 <= shares[5] <= 0.30  # REM
    assert 0.01 <= shares[2] <= 0.12  # awake


def test_sources_devices_and_uuids_look_like_healthkit(scenario: Scenario) -> None:
    every = [sample for sync in scenario.syncs for sample in sync.samples()]
    uuids = [sample["uuid"] for sample in every]
    assert len(uuids) == len(set(uuids))
    assert all(uuid == uuid.upper() for uuid in uuids)
    watch_name = scenario.user.source_name
    assert watch_name.startswith("Apple Watch van ")
    for sample in every:
        source = sample["source"]
        if sample["sample_type"] == BODY_MASS:
            assert source["name"] == "Health"
            assert "device" not in sample
            assert sample["metadata"]["HKWasUserEntered"] is True
        else:
            assert source["name"] in {watch_name, "iPhone"}
            assert source["bundle_id"].startswith("com.apple.health.")
            assert sample["device"]["manufacturer"] == "Apple Inc."
        if sample["sample_type"] == WORKOUT:
            assert sample["metadata"]["HKTimeZone"] == "Europe/Berlin"


def test_cutting_the_timeline_differently_uploads_the_same_samples() -> None:
    one = AppleWatchUser(11, now=NOW)
    one.backfill(3)
    one.incremental(12, delete_fraction=0)
    one.incremental(12, delete_fraction=0)
    other = AppleWatchUser(11, now=NOW)
    other.backfill(3)
    other.incremental(24, delete_fraction=0)

    assert one.live_samples() == other.live_samples()


def test_a_sync_with_nothing_new_still_commits_its_anchors() -> None:
    user = AppleWatchUser(3, now=NOW)
    backfill = user.backfill(1)
    empty = user.incremental(0.000_01, delete_fraction=0)

    assert empty.chunks == []
    assert empty.commit == {"chunk_count": 0, "anchors": backfill.commit["anchors"]}
    SyncCommit.model_validate_json(json.dumps(empty.commit))


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"now": datetime(2024, 4, 12, 20, 15)}, "timezone-aware"),
        ({"now": NOW, "time_zone": "Mars/Olympus"}, "IANA"),
        ({"now": NOW, "chunk_size": 0}, "chunk_size"),
        ({"now": NOW, "chunk_size": 20_001}, "chunk_size"),
    ],
)
def test_refuses_bad_arguments(arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        AppleWatchUser(1, **arguments)


def test_backfill_comes_first_and_only_once() -> None:
    user = AppleWatchUser(1, now=NOW)
    user.backfill(1)
    with pytest.raises(RuntimeError):
        user.backfill(1)
    with pytest.raises(ValueError, match="hours"):
        user.incremental(0)
    with pytest.raises(ValueError, match="delete_fraction"):
        user.incremental(1, delete_fraction=2)
