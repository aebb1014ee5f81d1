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
from rich.console import Console

from hksync.contract.chunk_wire import MAX_CHUNK_ITEMS
from hksync.contract.decoding import decode_chunk, read_envelope
from hksync.contract.models import SyncCommit
from hksync.contract.sample_rows import DecodedChunk, DeviceKind
from hksync.contract.types import SAMPLE_TYPES, SampleKind
from hksync_tools.simulator.runner import SimulationReport, SyncReport, print_report
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
ROUTE = "HKWorkoutRouteTypeIdentifier"
STEPS = "HKQuantityTypeIdentifierStepCount"
DISTANCE = "HKQuantityTypeIdentifierDistanceWalkingRunning"
BLOOD_PRESSURE = "HKCorrelationTypeIdentifierBloodPressure"
SYSTOLIC = "HKQuantityTypeIdentifierBloodPressureSystolic"
DIASTOLIC = "HKQuantityTypeIdentifierBloodPressureDiastolic"
FOOD = "HKCorrelationTypeIdentifierFood"
ENERGY_EATEN = "HKQuantityTypeIdentifierDietaryEnergyConsumed"
CARBOHYDRATES = "HKQuantityTypeIdentifierDietaryCarbohydrates"
PROTEIN = "HKQuantityTypeIdentifierDietaryProtein"
FAT = "HKQuantityTypeIdentifierDietaryFatTotal"
WATER = "HKQuantityTypeIdentifierDietaryWater"
FUTURE_TYPE = "HKQuantityTypeIdentifierAppleSleepScore"
OUTDOOR = {"running", "walking", "cycling"}
#: The planted bad samples of every backfill: the field each is rejected on.
PLANTED_FIELDS = Counter(
    {"unit": 1, "value": 2, "end_date": 1, "start_date": 1, "objects[1].value": 1}
)


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


@pytest.fixture(scope="module")
def decoded_backfill(scenario: Scenario) -> list[DecodedChunk]:
    """The backfill's chunks as the processor decodes them (at the real clock)."""
    return _decoded(scenario.syncs[0])


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _span(sample: dict[str, Any]) -> tuple[datetime, datetime]:
    return _at(sample["start_date"]), _at(sample["end_date"])


def _items(chunk: dict[str, Any]) -> int:
    return len(chunk["samples"]) + len(chunk["deleted"])


def _accepted(scenario: Scenario, sync: SimulatedSync) -> list[dict[str, Any]]:
    """The sync's samples but the planted bad ones."""
    rejected = scenario.user.rejected_samples()
    return [sample for sample in sync.samples() if sample["uuid"] not in rejected]


def _of_type(samples: list[dict[str, Any]], sample_type: str) -> list[dict[str, Any]]:
    return [sample for sample in samples if sample["sample_type"] == sample_type]


def _decoded(sync: SimulatedSync, now: datetime | None = None) -> list[DecodedChunk]:
    return [decode_chunk(json.dumps(body).encode(), now=now) for body in sync.chunks]


def test_same_seed_gives_identical_syncs(scenario: Scenario) -> None:
    again = _run()

    assert again.syncs == scenario.syncs
    assert again.user.live_samples() == scenario.user.live_samples()
    assert again.user.deleted_uuids() == scenario.user.deleted_uuids()
    assert again.user.rejected_samples() == scenario.user.rejected_samples()


def test_another_seed_gives_other_data() -> None:
    one = AppleWatchUser(1, now=NOW).backfill(2)
    two = AppleWatchUser(2, now=NOW).backfill(2)

    assert one.sync_id != two.sync_id
    assert {s["uuid"] for s in one.samples()}.isdisjoint(s["uuid"] for s in two.samples())


def test_every_chunk_and_commit_validates_through_the_json_path(scenario: Scenario) -> None:
    rejected = scenario.user.rejected_samples()
    for sync in scenario.syncs:
        for body in sync.chunks:
            payload = json.dumps(body).encode()
            envelope = read_envelope(payload)
            assert envelope.sync_id == sync.sync_id
            assert len(envelope.samples) + len(envelope.deleted) <= MAX_CHUNK_ITEMS
            chunk = decode_chunk(payload)
            assert chunk.sync_id == sync.sync_id
            assert chunk.received == len(body["samples"])
            # No UUID twice in a chunk, and every sample is stored or (if planted) rejected.
            uuids = [sample["uuid"] for sample in body["samples"]]
            assert len(set(uuids)) == len(uuids)
            stored = {str(row.uuid).upper() for row in chunk.rows}
            refused = {str(rejection.uuid).upper() for rejection in chunk.rejected}
            assert refused == {uuid for uuid in uuids if uuid in rejected}
            assert stored >= {uuid for uuid in uuids if uuid not in rejected}
            assert len(chunk.deleted) == len(body["deleted"])
        commit = SyncCommit.model_validate_json(json.dumps(sync.commit))
        assert commit.chunk_count == len(sync.chunks)


def test_decoding_rejects_exactly_the_planted_samples_at_any_clock(scenario: Scenario) -> None:
    """Rejected alone, on the field the expectation names, whether the server's clock is the
    real one or the user's own (past) clock; everything else becomes exactly the expected
    rows, correlation members included."""
    expected = scenario.user.rejected_samples()
    assert Counter(expected.values()) == PLANTED_FIELDS
    backfill_uuids = {sample["uuid"] for sample in scenario.syncs[0].samples()}
    assert expected.keys() <= backfill_uuids

    for now in (None, scenario.clocks[-1]):
        rejected: dict[str, str] = {}
        stored: set[str] = set()
        for sync in scenario.syncs:
            for chunk in _decoded(sync, now):
                for rejection in chunk.rejected:
                    rejected[str(rejection.uuid).upper()] = rejection.field
                    assert len(chunk.rows) > 0, "a bad sample is rejected alone"
                stored |= {str(row.uuid).upper() for row in chunk.rows}
        assert rejected == expected
        live, deleted = scenario.user.live_samples(), scenario.user.deleted_uuids()
        assert stored == live.keys() | deleted
        assert stored.isdisjoint(expected)


def test_decoded_rows_carry_members_statistics_and_the_unknown_type(
    decoded_backfill: list[DecodedChunk],
) -> None:
    rows = [row for chunk in decoded_backfill for row in chunk.rows]
    by_type = Counter(row.sample_type for row in rows)
    correlations = {row.uuid for row in rows if row.kind == SampleKind.CORRELATION}
    members = [row for row in rows if row.correlation_uuid is not None]
    assert {row.correlation_uuid for row in members} == correlations
    assert {row.sample_type for row in members} == {
        SYSTOLIC,
        DIASTOLIC,
        ENERGY_EATEN,
        CARBOHYDRATES,
        PROTEIN,
        FAT,
    }
    workouts = [row for row in rows if row.kind == SampleKind.WORKOUT]
    assert workouts
    for row in workouts:
        assert row.details is not None
        details = json.loads(row.details)
        assert {s["sample_type"] for s in details["statistics"]} >= {HEART_RATE, ACTIVE_ENERGY}
        assert (details["route_uuid"] is not None) == (row.activity_type in OUTDOOR)
    (future,) = [row for row in rows if row.sample_type == FUTURE_TYPE]
    assert (future.kind, future.normalised) == ("unknown", False)
    assert by_type[ROUTE] == sum(1 for row in workouts if row.activity_type in OUTDOOR)


def test_backfill_is_large_varied_and_within_its_window(scenario: Scenario) -> None:
    backfill = scenario.syncs[0]
    samples = _accepted(scenario, backfill)
    counts = Counter(sample["sample_type"] for sample in samples)

    assert len(samples) >= 50_000
    assert len(counts) >= 5
    assert {name for name, _ in counts.most_common(2)} == {HEART_RATE, ACTIVE_ENERGY}
    for expected in (
        "HKQuantityTypeIdentifierRestingHeartRate",
        "HKQuantityTypeIdentifierHeartRateVariabilitySDNN",
        STEPS,
        DISTANCE,
        "HKQuantityTypeIdentifierBasalEnergyBurned",
        "HKQuantityTypeIdentifierFlightsClimbed",
        "HKQuantityTypeIdentifierOxygenSaturation",
        "HKQuantityTypeIdentifierRespiratoryRate",
        BODY_MASS,
        SLEEP,
        WORKOUT,
        ROUTE,
        BLOOD_PRESSURE,
        SYSTOLIC,
        DIASTOLIC,
        FOOD,
        ENERGY_EATEN,
        CARBOHYDRATES,
        PROTEIN,
        FAT,
        WATER,
    ):
        assert counts[expected] > 0, expected
    # One sample of a type from a future SDK, unknown to the contract's table.
    assert FUTURE_TYPE not in SAMPLE_TYPES
    assert counts[FUTURE_TYPE] == 1
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
        # Planted samples come with the backfill only.
        assert not _of_type(sync.samples(), FUTURE_TYPE)
        assert sync.samples() == _accepted(scenario, sync)


def test_chunks_respect_the_size_the_sequence_and_the_anchors(scenario: Scenario) -> None:
    anchors: dict[str, str] = {}
    for sync in scenario.syncs:
        assert [chunk["seq"] for chunk in sync.chunks] == list(range(len(sync.chunks)))
        assert sync.commit["chunk_count"] == len(sync.chunks)
        assert set(sync.commit["anchors"]) == {chunk["sample_type"] for chunk in sync.chunks}
        for chunk in sync.chunks:
            assert 1 <= _items(chunk) <= CHUNK_SIZE <= MAX_CHUNK_ITEMS
            assert {s["sample_type"] for s in chunk["samples"]} <= {chunk["sample_type"]}
            assert chunk["anchor"] == anchors.get(chunk["sample_type"])
        for sample_type, anchor in sync.commit["anchors"].items():
            assert anchor != anchors.get(sample_type)
        anchors.update(sync.commit["anchors"])


def test_a_small_chunk_size_splits_a_type_over_several_chunks() -> None:
    user = AppleWatchUser(5, now=NOW, chunk_size=300)
    sync = user.backfill(2)
    rejected = user.rejected_samples()
    per_type = Counter(chunk["sample_type"] for chunk in sync.chunks)

    assert max(per_type.values()) > 1
    assert all(1 <= _items(chunk) <= 300 for chunk in sync.chunks)
    assert [chunk["seq"] for chunk in sync.chunks] == list(range(len(sync.chunks)))
    members = {
        member["uuid"]: member
        for sample in sync.samples()
        for member in sample.get("objects", ())
        if sample["uuid"] not in rejected
    }
    # Every UUID once, but the members of correlations: their types' chunks repeat them as
    # they are inside their correlation (HealthKit's per-type queries return them too).
    on_their_own = [sample for sample in sync.samples() if sample["uuid"] in members]
    assert on_their_own == [members[sample["uuid"]] for sample in on_their_own]
    assert len(on_their_own) == len(members)
    uuids = [sample["uuid"] for sample in sync.samples() if sample["uuid"] not in members]
    assert len(uuids) == len(set(uuids))


def _stored_as_sent(scenario: Scenario, sync: SimulatedSync) -> dict[str, dict[str, Any]]:
    """uuid -> sample of what the sync stores: its accepted samples and their members."""
    stored: dict[str, dict[str, Any]] = {}
    for sample in _accepted(scenario, sync):
        stored[sample["uuid"]] = sample
        stored.update((member["uuid"], member) for member in sample.get("objects", ()))
    return stored


def test_deletions_are_earlier_live_samples_and_leave_the_expectation(
    scenario: Scenario,
) -> None:
    live = _stored_as_sent(scenario, scenario.syncs[0])
    deleted: set[str] = set()
    deleted_types: Counter[str] = Counter()
    correlated = {BLOOD_PRESSURE, FOOD, SYSTOLIC, DIASTOLIC, ENERGY_EATEN, CARBOHYDRATES}
    for sync in scenario.syncs[1:]:
        new = _stored_as_sent(scenario, sync)
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
    assert expectation.keys().isdisjoint(scenario.user.rejected_samples())
    # What people delete in the Health app: weigh-ins and workouts, besides any other sample;
    # never a correlation or one of its members (how those go is the server's rule).
    assert deleted_types[BODY_MASS] + deleted_types[WORKOUT] > 0
    assert not correlated & deleted_types.keys()


def test_the_expectation_is_a_copy(scenario: Scenario) -> None:
    live = scenario.user.live_samples()
    uuid, sample = next(iter(live.items()))
    sample["source"]["name"] = "tampered"
    sample["value"] = -1
    correlation = next(s for s in live.values() if s["sample_type"] == FOOD)
    correlation["objects"][0]["value"] = -1
    workout = next(s for s in live.values() if s["sample_type"] == WORKOUT)
    workout["statistics"].clear()

    again = scenario.user.live_samples()
    assert again[uuid]["source"]["name"] != "tampered"
    assert again[correlation["uuid"]]["objects"][0]["value"] != -1
    assert again[workout["uuid"]]["statistics"]


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


def _pauses(workout: dict[str, Any]) -> list[tuple[datetime, datetime]]:
    events = workout["events"]
    assert [event["type"] for event in events] == ["pause", "resume"] * (len(events) // 2)
    moments = [_at(event["start_date"]) for event in events]
    assert moments == sorted(moments)
    return list(zip(moments[::2], moments[1::2], strict=True))


def test_workout_totals_and_statistics_add_up_their_samples(scenario: Scenario) -> None:
    samples = scenario.syncs[0].samples()
    energy = sorted((*_span(s), s["value"]) for s in _of_type(samples, ACTIVE_ENERGY))
    starts = [start for start, _, _ in energy]
    rates = sorted((_at(s["start_date"]), s["value"]) for s in _of_type(samples, HEART_RATE))
    times = [at for at, _ in rates]
    paused_some = 0
    for workout in _of_type(samples, WORKOUT):
        start, end = _span(workout)
        window = energy[bisect_left(starts, start) : bisect_right(starts, end)]
        inside = sum(value for _, stop, value in window if stop <= end)
        assert workout["total_energy_kcal"] == pytest.approx(inside, abs=1e-6)
        pauses = _pauses(workout)
        paused_some += bool(pauses)
        paused = sum((resume - pause for pause, resume in pauses), timedelta())
        assert workout["duration_s"] == (end - start - paused).total_seconds()
        has_distance = workout["activity_type"] in OUTDOOR
        assert ("total_distance_m" in workout) == has_distance

        statistics = {s["sample_type"]: s for s in workout["statistics"]}
        assert statistics[ACTIVE_ENERGY]["sum"] == workout["total_energy_kcal"]
        # Heart rate over the active time: the readings of the span but its pauses.
        active = [
            value
            for at, value in rates[bisect_left(times, start) : bisect_left(times, end)]
            if not any(pause <= at < resume for pause, resume in pauses)
        ]
        heart = statistics[HEART_RATE]
        assert (heart["minimum"], heart["maximum"]) == (min(active), max(active))
        assert heart["average"] == pytest.approx(sum(active) / len(active), abs=0.05)
        if has_distance:
            (distance,) = statistics.keys() - {HEART_RATE, ACTIVE_ENERGY}
            assert statistics[distance]["sum"] == workout["total_distance_m"]
    assert paused_some > 0


def test_outdoor_workouts_have_a_route_of_their_active_time(scenario: Scenario) -> None:
    samples = scenario.syncs[0].samples()
    routes = {route["uuid"]: route for route in _of_type(samples, ROUTE)}
    workouts = _of_type(samples, WORKOUT)
    assert {w["route_uuid"] for w in workouts if w["activity_type"] in OUTDOOR} == routes.keys()
    assert all("route_uuid" not in w for w in workouts if w["activity_type"] not in OUTDOOR)
    for workout in workouts:
        if workout["activity_type"] not in OUTDOOR:
            continue
        route = routes[workout["route_uuid"]]
        assert route["workout_uuid"] == workout["uuid"]
        assert _span(route) == _span(workout)
        assert route["source"] == workout["source"]
        start, end = _span(workout)
        moments = [_at(location["timestamp"]) for location in route["locations"]]
        assert moments == sorted(moments)
        assert start <= moments[0]
        assert moments[-1] <= end
        assert len(moments) >= (end - start).total_seconds() / 10
        for pause, resume in _pauses(workout):
            assert not any(pause <= moment < resume for moment in moments)
        # Near the user's city (Berlin), moving at the workout's pace.
        for location in route["locations"]:
            assert abs(location["latitude"] - 52.52) < 0.5
            assert abs(location["longitude"] - 13.405) < 0.8
        pace = sum(location["speed_m_s"] for location in route["locations"]) / len(moments)
        assert pace == pytest.approx(workout["total_distance_m"] / workout["duration_s"], rel=0.1)


def test_sleep_is_recorded_at_night_local_time_in_realistic_stages(scenario: Scenario) -> None:
    sleep = _of_type(_accepted(scenario, scenario.syncs[0]), SLEEP)
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


#: Types -> the app that writes them, for the types not written by the watch or the iPhone.
_APP_TYPES = {
    BODY_MASS: "Health",
    BLOOD_PRESSURE: "OMRON connect",
    SYSTOLIC: "OMRON connect",
    DIASTOLIC: "OMRON connect",
    FOOD: "MyFitnessPal",
    ENERGY_EATEN: "MyFitnessPal",
    CARBOHYDRATES: "MyFitnessPal",
    PROTEIN: "MyFitnessPal",
    FAT: "MyFitnessPal",
    WATER: "MyFitnessPal",
}


def test_sources_devices_and_uuids_look_like_healthkit(
    scenario: Scenario, decoded_backfill: list[DecodedChunk]
) -> None:
    every = [sample for sync in scenario.syncs for sample in _accepted(scenario, sync)]
    assert all(uuid == uuid.upper() for uuid in (sample["uuid"] for sample in every))
    watch_name = scenario.user.source_name
    assert watch_name.startswith("Apple Watch van ")
    phone_models: set[str] = set()
    for sample in every:
        source = sample["source"]
        app = _APP_TYPES.get(sample["sample_type"])
        if app is None:
            assert source["name"] in {watch_name, "iPhone"}
            assert source["bundle_id"].startswith("com.apple.health.")
            assert sample["device"]["manufacturer"] == "Apple Inc."
            assert sample["device"]["hardware_version"] == source["product_type"]
            assert source["product_type"].startswith(
                "Watch" if source["name"] == watch_name else "iPhone"
            )
            if source["name"] == "iPhone":
                phone_models.add(source["product_type"])
        else:
            # Apps run on the iPhone: HKSourceRevision.productType is the phone's.
            assert source["name"] == app
            assert source["product_type"].startswith("iPhone")
            phone_models.add(source["product_type"])
            assert ("device" in sample) == (app == "OMRON connect")
        if sample["sample_type"] == BODY_MASS:
            assert source["bundle_id"] == "com.apple.Health"
            assert sample["metadata"]["HKWasUserEntered"] is True
        if sample["sample_type"] == WORKOUT:
            assert sample["metadata"]["HKTimeZone"] == "Europe/Berlin"
    assert len(phone_models) == 1, "one iPhone"

    kinds = {
        source.name: source.device_kind for chunk in decoded_backfill for source in chunk.sources
    }
    assert kinds[watch_name] == DeviceKind.WATCH
    assert kinds["iPhone"] == DeviceKind.PHONE
    assert kinds["Health"] == DeviceKind.MANUAL
    # Apps on the phone report the phone's product type, yet are apps, not the phone.
    assert kinds["OMRON connect"] == kinds["MyFitnessPal"] == DeviceKind.APP


def test_watch_and_iphone_both_count_the_same_walks(scenario: Scenario) -> None:
    """HealthKit keeps both sources' steps and distance over overlapping intervals: the read
    side has to deduplicate them."""
    watch_name = scenario.user.source_name
    for sample_type in (STEPS, DISTANCE):
        by_source: dict[str, list[tuple[datetime, datetime]]] = {}
        for sample in _of_type(_accepted(scenario, scenario.syncs[0]), sample_type):
            by_source.setdefault(sample["source"]["name"], []).append(_span(sample))
        assert by_source.keys() == {watch_name, "iPhone"}
        watch = sorted(by_source[watch_name])
        watch_starts = [start for start, _ in watch]
        overlapping = 0
        for start, end in by_source["iPhone"]:
            before = bisect_left(watch_starts, end)
            overlapping += any(
                s < end and start < e for s, e in watch[max(0, before - 10) : before]
            )
        assert overlapping >= 0.8 * len(by_source["iPhone"])


def test_blood_pressure_a_few_mornings_a_week(scenario: Scenario) -> None:
    readings = _of_type(_accepted(scenario, scenario.syncs[0]), BLOOD_PRESSURE)
    assert 8 <= len(readings) <= 4 * 30 / 7 + 4
    for reading in readings:
        members = {member["sample_type"]: member for member in reading["objects"]}
        assert members.keys() == {SYSTOLIC, DIASTOLIC}
        assert {member["unit"] for member in members.values()} == {"mmHg"}
        assert 85 <= members[DIASTOLIC]["value"] + 20 <= members[SYSTOLIC]["value"] <= 190
        for member in members.values():
            assert _span(member) == _span(reading)
            assert member["source"] == reading["source"]
        local = _at(reading["start_date"]).astimezone(BERLIN)
        assert 5 <= local.hour < 12


def test_meals_are_food_correlations_and_water_is_logged_on_its_own(scenario: Scenario) -> None:
    samples = _accepted(scenario, scenario.syncs[0])
    meals = _of_type(samples, FOOD)
    assert 1.5 * 30 <= len(meals) <= 4 * 30
    daily: Counter[str] = Counter()
    for meal in meals:
        members = {member["sample_type"]: member["value"] for member in meal["objects"]}
        assert members.keys() == {ENERGY_EATEN, CARBOHYDRATES, PROTEIN, FAT}
        atwater = 4 * members[CARBOHYDRATES] + 4 * members[PROTEIN] + 9 * members[FAT]
        assert atwater == pytest.approx(members[ENERGY_EATEN], rel=0.01, abs=1)
        name = meal["metadata"]["HKFoodType"]
        local = _at(meal["start_date"]).astimezone(BERLIN)
        if name != "Breakfast":
            hours = {"Lunch": (12, 13), "Snack": (15, 16), "Dinner": (18, 20)}[name]
            assert hours[0] <= local.hour <= hours[1]
        daily[local.date().isoformat()] += members[ENERGY_EATEN]
    assert 1000 <= sum(daily.values()) / len(daily) <= 4000
    water = _of_type(samples, WATER)
    assert 3 * 29 <= len(water) <= 8 * 31
    assert all(sample["unit"] == "mL" and 150 <= sample["value"] <= 500 for sample in water)


def test_cutting_the_timeline_differently_uploads_the_same_samples() -> None:
    one = AppleWatchUser(11, now=NOW)
    one.backfill(3)
    one.incremental(12, delete_fraction=0)
    one.incremental(12, delete_fraction=0)
    other = AppleWatchUser(11, now=NOW)
    other.backfill(3)
    other.incremental(24, delete_fraction=0)

    assert one.live_samples() == other.live_samples()
    assert one.rejected_samples() == other.rejected_samples()


def test_samples_are_planted_in_a_backfill_only() -> None:
    user = AppleWatchUser(0, now=NOW)
    sync = user.incremental(30, delete_fraction=0)

    assert user.rejected_samples() == {}
    assert not _of_type(sync.samples(), FUTURE_TYPE)


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


def _report(statuses: list[dict[str, Any]]) -> SimulationReport:
    syncs = [
        SyncReport("backfill 1d", "sync", 1, Counter(), 0, 0.0, 0.0, status) for status in statuses
    ]
    return SimulationReport(user_id="u", syncs=syncs, planted_bad=6)


def test_the_report_counts_rejections_from_the_sync_status() -> None:
    counts = {"inserted": 9, "updated": 0, "unchanged": 0, "deleted": 0}
    counted = _report(
        [
            {"state": "complete", "samples": {**counts, "rejected": 6}},
            {"state": "complete", "samples": {**counts, "rejected": 0}},
        ]
    )
    # A server whose status has no rejected count yet is reported as such, not as zero.
    uncounted = _report([{"state": "complete", "samples": counts}])

    assert counted.rejected == 6
    assert uncounted.rejected is None
    for report, line in ((counted, "6 reported"), (uncounted, "not reported")):
        console = Console(record=True, width=200)
        print_report(report, console)
        assert f"rejected samples: {line} by the server, 6 planted" in console.export_text()
