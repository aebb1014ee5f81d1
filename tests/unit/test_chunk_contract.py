"""The chunk contract as the processor applies it: decode_chunk and read_envelope.

Two kinds of problem, two answers (docs/adr/0004-per-sample-quarantine.md): a broken envelope
refuses the whole chunk (MalformedBody, 400; ContractViolation, 422) naming the field; anything
wrong with one sample rejects that sample alone, as Rejection(index, uuid, field, reason), and
every other sample of the chunk becomes its rows. Bad chunks are built from the realistic
fixtures in tests/fixtures/healthkit by changing one thing, and sent as JSON bytes, as a phone
sends them.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from hksync.contract.chunk_wire import MAX_CHUNK_ITEMS, MAX_CHUNKS_PER_SYNC, MAX_METADATA_KEYS
from hksync.contract.decoding import (
    HEALTHKIT_EPOCH,
    MAX_CLOCK_SKEW,
    decode_chunk,
    read_envelope,
)
from hksync.contract.field_errors import FieldError
from hksync.contract.sample_rows import (
    DecodedChunk,
    DeviceKind,
    Rejection,
    SampleRow,
    SourceRow,
    ZoneSource,
    source_key,
)
from hksync.contract.types import SAMPLE_TYPES, WORKOUT_TYPE, SampleKind, SampleTypeSpec
from hksync.errors import ContractViolation, MalformedBody
from tests.support.healthkit_fixtures import (
    FUTURE_TYPE,
    fixture_bytes,
    fixture_chunk,
    fixture_types,
)

#: The server's clock in these tests: the fixtures were "recorded" before this instant.
NOW = datetime(2026, 11, 26, tzinfo=UTC)

HEART_RATE = "HKQuantityTypeIdentifierHeartRate"
RESTING_HEART_RATE = "HKQuantityTypeIdentifierRestingHeartRate"
STEP_COUNT = "HKQuantityTypeIdentifierStepCount"
OXYGEN = "HKQuantityTypeIdentifierOxygenSaturation"
SYSTOLIC = "HKQuantityTypeIdentifierBloodPressureSystolic"
DIASTOLIC = "HKQuantityTypeIdentifierBloodPressureDiastolic"
SLEEP = "HKCategoryTypeIdentifierSleepAnalysis"
STAND_HOUR = "HKCategoryTypeIdentifierAppleStandHour"
BLOOD_PRESSURE = "HKCorrelationTypeIdentifierBloodPressure"
FOOD = "HKCorrelationTypeIdentifierFood"
ROUTE = "HKWorkoutRouteTypeIdentifier"
ECG = "HKDataTypeIdentifierElectrocardiogram"
AUDIOGRAM = "HKDataTypeIdentifierAudiogram"
HEARTBEATS = "HKDataTypeIdentifierHeartbeatSeries"
STATE_OF_MIND = "HKDataTypeIdentifierStateOfMind"
GAD7 = "HKScoredAssessmentTypeIdentifierGAD7"
MEDICATION = "HKMedicationDoseEventTypeIdentifierMedicationDoseEvent"

#: The kinds added with the per-sample decoder, and the fixture that shows each.
NEW_KIND_FIXTURES = {
    SampleKind.CORRELATION: [BLOOD_PRESSURE, FOOD],
    SampleKind.WORKOUT_ROUTE: [ROUTE],
    SampleKind.ELECTROCARDIOGRAM: [ECG],
    SampleKind.AUDIOGRAM: [AUDIOGRAM],
    SampleKind.HEARTBEAT_SERIES: [HEARTBEATS],
    SampleKind.STATE_OF_MIND: [STATE_OF_MIND],
    SampleKind.SCORED_ASSESSMENT: [GAD7],
    SampleKind.MEDICATION_DOSE: [MEDICATION],
}
#: The per-sample decoder's fixtures are dated 2024; the older ones November 2026.
DATED_2024 = [*(t for types in NEW_KIND_FIXTURES.values() for t in types), FUTURE_TYPE]

CET = timezone(timedelta(hours=1))

NUL_REASON = "must not contain the NUL character (U+0000), which cannot be stored"

#: Marks a key to remove from a sample.
DROP = object()


@dataclass(frozen=True)
class JsonText:
    """JSON text json.dumps would not write (``1e309``, ``NaN``), sent as it is."""

    text: str


def encode(document: dict[str, Any]) -> bytes:
    """The document as a phone sends it, with any JsonText written as its text."""
    literals: list[str] = []

    def placeholder(value: object) -> str:
        if not isinstance(value, JsonText):
            raise TypeError(f"cannot encode {value!r}")
        literals.append(value.text)
        return f"@@literal-{len(literals) - 1}@@"

    text = json.dumps(document, default=placeholder, ensure_ascii=False)
    for position, literal in enumerate(literals):
        text = text.replace(f'"@@literal-{position}@@"', literal)
    return text.encode()


def decode(document: dict[str, Any], now: datetime = NOW) -> DecodedChunk:
    return decode_chunk(encode(document), now=now)


def apply(target: dict[str, Any], changes: dict[str, Any]) -> None:
    for key, value in changes.items():
        if value is DROP:
            del target[key]
        else:
            target[key] = value


def _fresh_uuid(old: str, copy_number: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_OID, f"{old}/{copy_number}")).upper()


def chunk_of(sample_type: str, *, at_least: int = 3) -> dict[str, Any]:
    """The fixture chunk, with copies of its first sample under fresh UUIDs (members included)
    when it holds fewer than ``at_least`` samples: a bad sample then has neighbours."""
    document = fixture_chunk(sample_type)
    samples = document["samples"]
    first = samples[0]
    while len(samples) < at_least:
        twin = copy.deepcopy(first)
        twin["uuid"] = _fresh_uuid(first["uuid"], len(samples))
        for member in twin.get("objects", []):
            member["uuid"] = _fresh_uuid(member["uuid"], len(samples))
        samples.append(twin)
    return document


def single_sample_chunk(sample_type: str, changes: dict[str, Any] | None = None) -> dict[str, Any]:
    """The fixture chunk cut down to its first sample, with ``changes`` applied to it."""
    document = fixture_chunk(sample_type)
    sample = document["samples"][0]
    apply(sample, changes or {})
    document["samples"] = [sample]
    document.pop("deleted", None)
    return document


def only_row(document: dict[str, Any], now: datetime = NOW) -> SampleRow:
    decoded = decode(document, now)
    assert decoded.rejected == []
    (row,) = decoded.rows
    return row


def sample_uuids(decoded: DecodedChunk) -> list[UUID]:
    """The stored samples, in chunk order, without the members of correlations."""
    return [row.uuid for row in decoded.rows if row.correlation_uuid is None]


#: The columns that differ by kind; the rest (dates, zone, source) are every sample's.
_KIND_COLUMNS = (
    "value",
    "unit",
    "original_value",
    "original_unit",
    "sample_count",
    "category_value",
    "activity_type",
    "duration_s",
    "total_energy_kcal",
    "total_distance_m",
    "correlation_uuid",
)


def kind_columns(row: SampleRow) -> dict[str, Any]:
    """A row's kind-specific columns, its details parsed."""
    return {
        **{name: getattr(row, name) for name in _KIND_COLUMNS},
        "kind": row.kind,
        "normalised": row.normalised,
        "details": json.loads(row.details) if row.details is not None else None,
    }


def expected_columns(
    kind: str, *, normalised: bool = True, details: Any = None, **columns: Any
) -> dict[str, Any]:
    """What kind_columns gives for a row with only ``columns`` set."""
    return {
        **dict.fromkeys(_KIND_COLUMNS),
        "kind": kind,
        "normalised": normalised,
        "details": details,
        **columns,
    }


#: The fields every sample has (chunk_wire.SampleIn), as a client writes them.
_COMMON_FIELDS = frozenset(
    {
        "uuid",
        "sample_type",
        "kind",
        "start_date",
        "end_date",
        "source",
        "device",
        "metadata",
        "time_zone",
    }
)


def kind_fields(sample: dict[str, Any]) -> dict[str, Any]:
    """What a sample holds beyond the fields every sample has: its details, as sent."""
    return {key: value for key, value in sample.items() if key not in _COMMON_FIELDS}


# --- The fixtures -----------------------------------------------------------------------------


def test_each_fixture_is_named_by_its_sample_type() -> None:
    for sample_type in fixture_types():
        document = fixture_chunk(sample_type)
        assert document["sample_type"] == sample_type
        assert {sample["sample_type"] for sample in document["samples"]} == {sample_type}


def test_there_is_a_fixture_for_every_kind_and_for_a_type_the_server_does_not_know() -> None:
    known = [SAMPLE_TYPES[t].kind for t in fixture_types() if t in SAMPLE_TYPES]
    assert set(known) == set(SampleKind)
    assert FUTURE_TYPE in fixture_types()
    assert FUTURE_TYPE not in SAMPLE_TYPES
    for kind, types in NEW_KIND_FIXTURES.items():
        assert {SAMPLE_TYPES[t].kind for t in types} == {kind}


def test_the_fixtures_are_one_sync_with_distinct_seqs() -> None:
    documents = [fixture_chunk(t) for t in fixture_types()]
    assert len({document["sync_id"] for document in documents}) == 1
    seqs = [document["seq"] for document in documents]
    assert len(set(seqs)) == len(seqs)
    assert all(0 <= seq < MAX_CHUNKS_PER_SYNC for seq in seqs)


@pytest.mark.parametrize("sample_type", fixture_types())
def test_fixture_decodes_with_nothing_rejected(sample_type: str) -> None:
    document = fixture_chunk(sample_type)
    samples = document["samples"]

    decoded = decode_chunk(fixture_bytes(sample_type), now=NOW)

    assert decoded.rejected == []
    assert (decoded.sync_id, decoded.seq) == (UUID(document["sync_id"]), document["seq"])
    assert (decoded.sample_type, decoded.anchor) == (sample_type, document.get("anchor"))
    assert decoded.received == len(samples)
    assert sample_uuids(decoded) == [UUID(sample["uuid"]) for sample in samples]
    members = [UUID(member["uuid"]) for sample in samples for member in sample.get("objects", [])]
    assert [row.uuid for row in decoded.rows if row.correlation_uuid is not None] == members
    assert {row.source_key for row in decoded.rows} == {row.source_key for row in decoded.sources}
    for row in decoded.rows:
        assert HEALTHKIT_EPOCH <= row.start_at <= row.end_at <= NOW
    expected_deleted = sorted({UUID(item["uuid"]) for item in document.get("deleted", [])})
    assert decoded.deleted == expected_deleted
    assert not set(decoded.deleted) & {row.uuid for row in decoded.rows}


@pytest.mark.parametrize("sample_type", DATED_2024)
def test_the_new_kind_fixtures_are_dated_2024(sample_type: str) -> None:
    decoded = decode_chunk(fixture_bytes(sample_type))  # the server's real clock

    assert decoded.rejected == []
    assert {row.start_at.year for row in decoded.rows} == {2024}
    assert {row.end_at.year for row in decoded.rows} == {2024}


# --- What each kind becomes ---------------------------------------------------------------------


def test_a_quantity_sample_is_one_row_in_the_canonical_unit_keeping_what_was_sent() -> None:
    document = fixture_chunk(HEART_RATE)
    sample = document["samples"][0]
    apply(sample, {"unit": "count/s", "value": 1.25, "count": 3})
    source, device = sample["source"], sample["device"]
    key = source_key(
        source["bundle_id"], source["name"], source["version"], None, "Watch", "Apple Watch"
    )
    at = datetime(2026, 11, 24, 7, 42, 13, 512000, tzinfo=CET)

    decoded = decode(document)

    row = decoded.rows[0]
    assert row == SampleRow(
        uuid=UUID(sample["uuid"]),
        sample_type=HEART_RATE,
        kind="quantity",
        start_at=at,
        end_at=at,
        start_offset_s=3600,
        end_offset_s=3600,
        time_zone="Europe/Berlin",
        zone_source=ZoneSource.METADATA,
        local_date=date(2026, 11, 24),
        value=75.0,
        unit="count/min",
        original_value=1.25,
        original_unit="count/s",
        sample_count=3,
        category_value=None,
        activity_type=None,
        duration_s=None,
        total_energy_kcal=None,
        total_distance_m=None,
        correlation_uuid=None,
        normalised=True,
        source_key=key,
        device=row.device,
        metadata=row.metadata,
        details=None,
    )
    assert row.device is not None
    assert json.loads(row.device) == device
    assert row.metadata is not None
    assert json.loads(row.metadata) == sample["metadata"]
    assert decoded.sources == [
        SourceRow(
            source_key=key,
            bundle_id=source["bundle_id"],
            name=source["name"],
            version=source["version"],
            product_type=None,
            device_model="Watch",
            device_name="Apple Watch",
            device_kind=DeviceKind.WATCH,
        )
    ]


def test_a_sample_without_device_or_metadata_stores_neither() -> None:
    row = only_row(single_sample_chunk(HEART_RATE, {"device": DROP, "metadata": DROP}))

    assert (row.device, row.metadata) == (None, None)
    assert (row.time_zone, row.zone_source) == (None, ZoneSource.OFFSET)


@pytest.mark.parametrize(
    ("sample_type", "unit", "value", "canonical"),
    [
        pytest.param(HEART_RATE, "count/s", 1.2, 72.0, id="heart-rate-per-second"),
        pytest.param(HEART_RATE, "count/min", 72, 72.0, id="heart-rate-per-minute"),
        pytest.param(HEART_RATE, "Hz", 1.5, 90.0, id="heart-rate-in-hertz"),
        pytest.param(RESTING_HEART_RATE, "count/s", 0.9, 54.0, id="resting-heart-rate"),
        pytest.param(
            "HKQuantityTypeIdentifierRespiratoryRate", "count/s", 0.25, 15.0, id="respiration"
        ),
        pytest.param(
            "HKQuantityTypeIdentifierHeartRateVariabilitySDNN", "s", 0.0427, 42.7, id="hrv-s"
        ),
        pytest.param("HKQuantityTypeIdentifierDistanceWalkingRunning", "km", 5.21, 5210.0, id="km"),
        pytest.param("HKQuantityTypeIdentifierDistanceWalkingRunning", "mi", 1, 1609.344, id="mi"),
        pytest.param("HKQuantityTypeIdentifierDistanceCycling", "ft", 1000, 304.8, id="ft"),
        pytest.param("HKQuantityTypeIdentifierDistanceCycling", "yd", 100, 91.44, id="yd"),
        pytest.param("HKQuantityTypeIdentifierActiveEnergyBurned", "Cal", 250, 250.0, id="Cal"),
        pytest.param("HKQuantityTypeIdentifierBasalEnergyBurned", "kJ", 418.4, 100.0, id="kJ"),
        pytest.param(
            "HKQuantityTypeIdentifierAppleExerciseTime", "s", 90, 1.5, id="exercise-seconds"
        ),
        pytest.param(
            "HKQuantityTypeIdentifierAppleExerciseTime", "hr", 0.75, 45.0, id="exercise-hours"
        ),
        pytest.param("HKQuantityTypeIdentifierBodyMass", "lb", 160, 72.5747792, id="lb"),
        pytest.param("HKQuantityTypeIdentifierBodyMass", "g", 72400, 72.4, id="g"),
        pytest.param("HKQuantityTypeIdentifierBodyMass", "st", 11, 69.85322498, id="stone"),
        pytest.param(OXYGEN, "%", 0.97, 0.97, id="oxygen-fraction"),
        pytest.param(
            "HKQuantityTypeIdentifierBodyTemperature", "degF", 98.6, 37.0, id="fahrenheit"
        ),
        pytest.param(
            "HKQuantityTypeIdentifierBloodGlucose",
            "mmol<180.15588000005408>/L",
            5.5,
            99.085734,
            id="glucose-molar",
        ),
    ],
)
def test_a_quantity_is_stored_in_its_canonical_unit(
    sample_type: str, unit: str, value: float, canonical: float
) -> None:
    document = single_sample_chunk(HEART_RATE, {"unit": unit, "value": value})
    document["sample_type"] = document["samples"][0]["sample_type"] = sample_type

    row = only_row(document)

    assert row.value == pytest.approx(canonical)
    assert row.unit == SAMPLE_TYPES[sample_type].canonical_unit
    assert (row.original_value, row.original_unit) == (value, unit)


def test_a_category_sample_keeps_its_value() -> None:
    document = fixture_chunk(SLEEP)

    decoded = decode(document)

    assert [row.category_value for row in decoded.rows] == [
        sample["value"] for sample in document["samples"]
    ]
    assert kind_columns(decoded.rows[1]) == expected_columns(
        "category", category_value=document["samples"][1]["value"]
    )


def test_a_blood_pressure_is_the_correlation_row_and_its_members_pointing_to_it() -> None:
    document = fixture_chunk(BLOOD_PRESSURE)
    correlation = document["samples"][0]
    systolic, diastolic = correlation["objects"]

    decoded = decode(document)

    assert len(decoded.rows) == 3 * len(document["samples"])
    head, first, second = decoded.rows[:3]
    assert head.uuid == UUID(correlation["uuid"])
    assert kind_columns(head) == expected_columns(
        "correlation", details={"objects": [systolic["uuid"].lower(), diastolic["uuid"].lower()]}
    )
    assert (first.uuid, first.sample_type) == (UUID(systolic["uuid"]), SYSTOLIC)
    assert kind_columns(first) == expected_columns(
        "quantity",
        value=128.0,
        unit="mmHg",
        original_value=128,
        original_unit="mmHg",
        correlation_uuid=head.uuid,
    )
    assert (second.uuid, second.sample_type, second.value) == (
        UUID(diastolic["uuid"]),
        DIASTOLIC,
        82.0,
    )
    assert second.correlation_uuid == head.uuid
    for row in (first, second):
        assert (row.start_at, row.time_zone, row.source_key) == (
            head.start_at,
            head.time_zone,
            head.source_key,
        )


def test_each_correlations_members_point_to_their_own_correlation() -> None:
    for sample_type in (BLOOD_PRESSURE, FOOD):
        document = fixture_chunk(sample_type)

        decoded = decode(document)

        members_of = {
            UUID(sample["uuid"]): {UUID(member["uuid"]) for member in sample["objects"]}
            for sample in document["samples"]
        }
        for correlation, members in members_of.items():
            assert {
                row.uuid for row in decoded.rows if row.correlation_uuid == correlation
            } == members


def test_a_manual_blood_pressure_comes_from_the_health_app() -> None:
    decoded = decode(fixture_chunk(BLOOD_PRESSURE))

    kinds = {source.bundle_id: source.device_kind for source in decoded.sources}
    assert kinds == {
        "com.withings.wiScaleNG": DeviceKind.APP,
        "com.apple.Health": DeviceKind.MANUAL,
    }


def test_a_meals_nutrients_are_its_members_in_their_canonical_units() -> None:
    document = fixture_chunk(FOOD)

    decoded = decode(document)

    meal, coffee = document["samples"][0], document["samples"][2]
    by_uuid = {row.uuid: row for row in decoded.rows}
    nutrients = {
        by_uuid[UUID(member["uuid"])].sample_type.removeprefix("HKQuantityTypeIdentifierDietary"): (
            by_uuid[UUID(member["uuid"])].value,
            by_uuid[UUID(member["uuid"])].unit,
        )
        for member in meal["objects"]
    }
    assert nutrients == {
        "EnergyConsumed": (312.0, "kcal"),
        "Protein": (pytest.approx(10.2), "g"),
        "Carbohydrates": (pytest.approx(54.1), "g"),
        "FatTotal": (pytest.approx(6.3), "g"),
        "Fiber": (pytest.approx(7.8), "g"),
        "Sugar": (pytest.approx(12.4), "g"),
        "Sodium": (pytest.approx(0.095), "g"),  # sent in mg
    }
    energy, caffeine, calcium, water = (by_uuid[UUID(m["uuid"])] for m in coffee["objects"])
    assert energy.value == pytest.approx(460 / 4.184)
    assert (energy.unit, energy.original_value, energy.original_unit) == ("kcal", 460, "kJ")
    assert caffeine.value == pytest.approx(0.13)
    assert calcium.value == pytest.approx(0.24)
    assert {caffeine.unit, calcium.unit} == {"g"}
    assert (water.value, water.unit) == (180.0, "mL")
    head = by_uuid[UUID(meal["uuid"])]
    assert head.metadata is not None
    assert json.loads(head.metadata)["HKFoodType"] == "Porridge with blueberries"


def test_a_workout_keeps_its_totals_events_statistics_and_route() -> None:
    document = fixture_chunk(WORKOUT_TYPE)
    sample = document["samples"][-1]
    route = fixture_chunk(ROUTE)["samples"][0]

    row = decode(document).rows[-1]

    columns = kind_columns(row)
    details = columns.pop("details")
    expected = expected_columns(
        "workout",
        activity_type="running",
        duration_s=sample["duration_s"],
        total_energy_kcal=486.2,
        total_distance_m=7412.8,
    )
    del expected["details"]
    assert columns == expected
    paused = datetime.fromisoformat(sample["events"][4]["start_date"]) - datetime.fromisoformat(
        sample["events"][3]["start_date"]
    )
    span = row.end_at - row.start_at
    assert row.duration_s == (span - paused).total_seconds()  # active time: less the pause
    assert details["route_uuid"] == route["uuid"].lower()
    assert details["events"] == [{"metadata": {}, **event} for event in sample["events"]]
    assert [event["type"] for event in details["events"]] == [
        "segment",
        "lap",
        "lap",
        "pause",
        "resume",
        "marker",
    ]
    statistics = {statistic.pop("sample_type"): statistic for statistic in details["statistics"]}
    prefix = "HKQuantityTypeIdentifier"
    assert statistics == {
        prefix + "HeartRate": {
            "unit": "count/min",
            "average": 152.4,
            "minimum": 96.0,
            "maximum": 178.0,
        },
        prefix + "ActiveEnergyBurned": {"unit": "kcal", "sum": 486.2},
        prefix + "DistanceWalkingRunning": {"unit": "m", "sum": pytest.approx(7412.8)},  # km
        prefix + "StepCount": {"unit": "count", "sum": 6734.0},
        prefix + "RunningSpeed": {  # sent in km/hr
            "unit": "m/s",
            "average": pytest.approx(11.3 / 3.6),
            "minimum": pytest.approx(6.8 / 3.6),
            "maximum": pytest.approx(15.9 / 3.6),
        },
        prefix + "RunningPower": {"unit": "W", "average": 231.0, "maximum": 402.0},
        prefix + "RunningGroundContactTime": {"unit": "ms", "average": 248.0},
    }


def test_a_workout_without_events_or_statistics_has_empty_lists() -> None:
    row = decode(fixture_chunk(WORKOUT_TYPE)).rows[1]

    assert kind_columns(row) == expected_columns(
        "workout",
        activity_type="traditionalStrengthTraining",
        duration_s=2850.0,
        total_energy_kcal=241.7,
        details={"events": [], "statistics": [], "route_uuid": None},
    )


def test_a_workout_route_keeps_its_locations_and_names_its_workout() -> None:
    route = fixture_chunk(ROUTE)["samples"][0]
    workout = fixture_chunk(WORKOUT_TYPE)["samples"][-1]

    row = only_row(fixture_chunk(ROUTE))

    assert kind_columns(row) == expected_columns(
        "workout_route",
        details={"locations": route["locations"], "workout_uuid": workout["uuid"].lower()},
    )
    assert len(route["locations"]) == 60
    # Sent without a zone: local time comes from the offset.
    assert (row.time_zone, row.zone_source, row.start_offset_s) == (None, "offset", 7200)
    start, end = (datetime.fromisoformat(workout[key]) for key in ("start_date", "end_date"))
    assert start <= row.start_at <= row.end_at <= end


def test_an_electrocardiogram_keeps_its_classification_and_voltages() -> None:
    document = fixture_chunk(ECG)
    recorded, unread = document["samples"]

    decoded = decode(document)

    assert kind_columns(decoded.rows[0]) == expected_columns(
        "electrocardiogram",
        details={
            "classification": "sinusRhythm",
            "symptoms_status": "none",
            "average_heart_rate": 64.0,
            "sampling_frequency_hz": 512.0,
            "voltages_uv": recorded["voltages_uv"],
        },
    )
    assert len(recorded["voltages_uv"]) == 30 * 512  # thirty seconds at 512 Hz
    assert kind_columns(decoded.rows[1])["details"] == {
        "classification": "inconclusiveHighHeartRate",
        "symptoms_status": "present",
        "average_heart_rate": 131.0,
        "sampling_frequency_hz": 512.0,
        "voltages_uv": [],  # the app did not read them
    }
    assert "voltages_uv" not in unread


def test_an_audiogram_keeps_both_ears_at_each_frequency() -> None:
    document = fixture_chunk(AUDIOGRAM)

    decoded = decode(document)

    assert kind_columns(decoded.rows[0]) == expected_columns(
        "audiogram", details=kind_fields(document["samples"][0])
    )
    assert kind_columns(decoded.rows[1])["details"] == {
        "sensitivity_points": [
            {"frequency_hz": frequency, "left_ear_db_hl": level, "right_ear_db_hl": None}
            for frequency, level in ((500, 10), (1000, 10), (2000, 15), (4000, 25))
        ]
    }


def test_a_heartbeat_series_keeps_each_beat_and_its_gaps() -> None:
    sample = fixture_chunk(HEARTBEATS)["samples"][0]

    row = only_row(fixture_chunk(HEARTBEATS))

    beats = [{"preceded_by_gap": False, **beat} for beat in sample["beats"]]
    assert kind_columns(row) == expected_columns("heartbeat_series", details={"beats": beats})
    assert [index for index, beat in enumerate(beats) if beat["preceded_by_gap"]] == [31]


@pytest.mark.parametrize(
    ("sample_type", "kind"),
    [
        pytest.param(STATE_OF_MIND, "state_of_mind", id="state-of-mind"),
        pytest.param(GAD7, "scored_assessment", id="gad-7"),
    ],
)
def test_details_are_the_kinds_fields_as_sent(sample_type: str, kind: str) -> None:
    document = fixture_chunk(sample_type)

    decoded = decode(document)

    assert [kind_columns(row) for row in decoded.rows] == [
        expected_columns(kind, details=kind_fields(sample)) for sample in document["samples"]
    ]


def test_a_state_of_mind_keeps_kind_valence_labels_and_associations() -> None:
    row = decode(fixture_chunk(STATE_OF_MIND)).rows[1]

    assert kind_columns(row)["details"] == {
        "state_kind": "dailyMood",
        "valence": -0.18,
        "labels": ["stressed", "drained"],
        "associations": ["work"],
    }


def test_a_gad7_assessment_keeps_its_answers_score_and_risk() -> None:
    row = decode(fixture_chunk(GAD7)).rows[0]

    assert kind_columns(row)["details"] == {
        "score": 7,
        "risk": "mild",
        "answers": [1, 1, 2, 0, 1, 1, 1],
    }


def test_medication_doses_keep_status_quantities_and_schedule() -> None:
    document = fixture_chunk(MEDICATION)
    concept = document["samples"][0]["medication_concept"]

    decoded = decode(document)

    assert [kind_columns(row)["details"] for row in decoded.rows] == [
        {
            "medication_concept": concept,
            "log_status": "taken",
            "dose_quantity": 1.0,
            "scheduled_dose_quantity": 1.0,
            "unit": "count",
            "scheduled_date": "2024-12-02T08:00:00+01:00",
        },
        {
            "medication_concept": concept,
            "log_status": "skipped",
            "dose_quantity": None,
            "scheduled_dose_quantity": 1.0,
            "unit": "count",
            "scheduled_date": "2024-12-02T20:00:00+01:00",
        },
        {
            "medication_concept": document["samples"][2]["medication_concept"],
            "log_status": "taken",
            "dose_quantity": 2.0,
            "scheduled_dose_quantity": None,
            "unit": "count",
            "scheduled_date": None,
        },
    ]
    assert {row.kind for row in decoded.rows} == {"medication_dose"}


def test_a_type_the_server_does_not_know_is_stored_as_sent_not_normalised() -> None:
    document = fixture_chunk(FUTURE_TYPE)

    decoded = decode(document)

    assert decoded.rejected == []
    for row, sample in zip(decoded.rows, document["samples"], strict=True):
        # Its value is not read as a quantity: the server does not know the type's unit.
        assert kind_columns(row) == expected_columns("unknown", normalised=False, details=sample)
        assert (row.uuid, row.sample_type) == (UUID(sample["uuid"]), FUTURE_TYPE)
        assert (row.time_zone, row.zone_source) == ("Europe/Berlin", "metadata")
        assert row.start_at == datetime.fromisoformat(sample["start_date"])


@pytest.mark.parametrize("kind", ["quantity", "unknown", "somethingNew"])
def test_a_type_the_server_does_not_know_is_stored_whatever_kind_the_client_names(
    kind: str,
) -> None:
    # The client's SDK knows the type's kind; this server has nothing to check it against.
    row = only_row(single_sample_chunk(FUTURE_TYPE, {"kind": kind}))

    assert (row.kind, row.normalised) == ("unknown", False)


def test_a_type_the_server_does_not_know_still_has_its_common_fields_checked() -> None:
    document = chunk_of(FUTURE_TYPE)
    apply(document["samples"][1], {"source": DROP})
    apply(document["samples"][2], {"end_date": "2024-12-20T06:29:59+01:00"})

    decoded = decode(document)

    assert decoded.rejected == [
        Rejection(
            1,
            UUID(document["samples"][1]["uuid"]),
            "source",
            "object missing required field `source`",
        ),
        Rejection(2, UUID(document["samples"][2]["uuid"]), "end_date", "is before start_date"),
    ]
    assert sample_uuids(decoded) == [UUID(document["samples"][0]["uuid"])]


# --- Time: offsets, zones, local dates --------------------------------------------------------


def test_offsets_are_kept_per_date_across_a_dst_change() -> None:
    # A night's sleep over the spring change in Berlin: it starts at +01:00 and ends at +02:00.
    row = only_row(
        single_sample_chunk(
            SLEEP,
            {
                "start_date": "2024-03-30T23:10:00+01:00",
                "end_date": "2024-03-31T07:05:00+02:00",
                "metadata": {"HKTimeZone": "Europe/Berlin"},
            },
        )
    )

    assert (row.start_offset_s, row.end_offset_s) == (3600, 7200)
    assert row.start_at == datetime(2024, 3, 30, 22, 10, tzinfo=UTC)
    assert row.end_at == datetime(2024, 3, 31, 5, 5, tzinfo=UTC)
    assert row.local_date == date(2024, 3, 30)


@pytest.mark.parametrize(
    ("start", "changes", "zone", "source", "local_date"),
    [
        # Berlin: CET (+01:00) until 2024-03-31 02:00, CEST (+02:00) until 2024-10-27 03:00.
        pytest.param(
            "2024-03-30T23:30:00Z",
            {"time_zone": "Europe/Berlin"},
            "Europe/Berlin",
            "metadata",
            date(2024, 3, 31),
            id="half-past-midnight-in-winter-time",
        ),
        pytest.param(
            "2024-03-31T22:30:00Z",
            {"time_zone": "Europe/Berlin"},
            "Europe/Berlin",
            "metadata",
            date(2024, 4, 1),
            id="half-past-midnight-after-the-spring-change",
        ),
        pytest.param(
            "2024-10-26T22:30:00Z",
            {"time_zone": "Europe/Berlin"},
            "Europe/Berlin",
            "metadata",
            date(2024, 10, 27),
            id="half-past-midnight-before-the-autumn-change",
        ),
        pytest.param(
            "2024-10-27T22:30:00Z",
            {"time_zone": "Europe/Berlin"},
            "Europe/Berlin",
            "metadata",
            date(2024, 10, 27),
            id="half-past-eleven-after-the-autumn-change",
        ),
        pytest.param(
            "2024-03-31T22:30:00Z",
            {"metadata": {"HKTimeZone": "Europe/Berlin"}},
            "Europe/Berlin",
            "metadata",
            date(2024, 4, 1),
            id="zone-from-metadata",
        ),
        pytest.param(
            "2024-03-31T23:30:00+01:00",
            {"metadata": {"HKTimeZone": "Europe/Berlin"}},
            "Europe/Berlin",
            "metadata",
            date(2024, 4, 1),
            id="the-zone-wins-over-a-stale-offset",
        ),
        pytest.param(
            "2024-03-31T23:30:00+01:00",
            {"metadata": {}},
            None,
            "offset",
            date(2024, 3, 31),
            id="only-the-offset",
        ),
        pytest.param(
            "2024-03-31T21:30:00-05:00",
            {},
            None,
            "offset",
            date(2024, 3, 31),
            id="west-of-utc-a-day-behind-utc",
        ),
        pytest.param(
            "2024-03-31T23:30:00Z",
            {"metadata": {"HKTimeZone": "Asia/Kolkata"}},
            "Asia/Kolkata",
            "metadata",
            date(2024, 4, 1),
            id="half-hour-zone",
        ),
        pytest.param(
            "2024-03-31T23:30:00Z",
            {"time_zone": "America/Argentina/Buenos_Aires"},
            "America/Argentina/Buenos_Aires",
            "metadata",
            date(2024, 3, 31),
            id="deep-iana-zone",
        ),
        pytest.param(
            "2024-03-31T23:30:00Z", {"time_zone": "UTC"}, "UTC", "metadata", date(2024, 3, 31)
        ),
    ],
)
def test_zone_and_local_date(
    start: str, changes: dict[str, Any], zone: str | None, source: str, local_date: date
) -> None:
    document = single_sample_chunk(
        STEP_COUNT, {"start_date": start, "end_date": start, "time_zone": DROP, **changes}
    )
    assert "metadata" not in fixture_chunk(STEP_COUNT)["samples"][0]

    row = only_row(document)

    assert (row.time_zone, row.zone_source, row.local_date) == (zone, source, local_date)
    offset = datetime.fromisoformat(start).utcoffset()
    assert offset is not None
    assert row.start_offset_s == offset.total_seconds()


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param({}, "Europe/Berlin", id="from-metadata-when-absent"),
        pytest.param(
            {"metadata": {"HKTimeZone": "Asia/Kolkata"}, "time_zone": None},
            "Asia/Kolkata",
            id="from-metadata-when-null",
        ),
        pytest.param(
            {"time_zone": "Europe/Lisbon"}, "Europe/Lisbon", id="explicit-wins-over-metadata"
        ),
        pytest.param({"metadata": {}}, None, id="none-without-metadata"),
        pytest.param(
            {"metadata": {"HKMetadataKeyHeartRateMotionContext": 1}},
            None,
            id="none-when-metadata-lacks-it",
        ),
        pytest.param({"metadata": {"HKTimeZone": 1}}, None, id="none-when-not-text"),
    ],
)
def test_time_zone_source(changes: dict[str, Any], expected: str | None) -> None:
    assert "time_zone" not in fixture_chunk(HEART_RATE)["samples"][0]

    row = only_row(single_sample_chunk(HEART_RATE, changes))

    assert row.time_zone == expected
    assert row.zone_source == ("offset" if expected is None else "metadata")


# --- One bad sample, rejected alone ----------------------------------------------------------


@dataclass(frozen=True)
class Bad:
    id: str
    sample_type: str
    field: str
    reason: str
    #: Changes to the bad sample (DROP removes a key).
    changes: dict[str, Any] = dataclasses.field(default_factory=dict)
    #: Or an edit of it, for changes computed from the sample itself.
    edit: Callable[[dict[str, Any]], None] | None = None
    #: Which sample of the chunk is bad.
    index: int = 1
    #: False when the bad sample's UUID itself cannot be read.
    uuid_readable: bool = True


def _in_source(**fields: Any) -> Callable[[dict[str, Any]], None]:
    return lambda sample: sample["source"].update(fields)


def _in_device(**fields: Any) -> Callable[[dict[str, Any]], None]:
    return lambda sample: sample["device"].update(fields)


def _in_member(position: int, **changes: Any) -> Callable[[dict[str, Any]], None]:
    return lambda sample: apply(sample["objects"][position], changes)


def _replace(sample: dict[str, Any], other: dict[str, Any]) -> None:
    sample.clear()
    sample.update(other)


def _beat_after_the_end(sample: dict[str, Any]) -> None:
    span = datetime.fromisoformat(sample["end_date"]) - datetime.fromisoformat(sample["start_date"])
    sample["beats"][-1]["time_since_start_s"] = span.total_seconds() + 2


def _outside(identifier: str) -> str:
    """The reason a value outside its type's bounds gets."""
    spec = SAMPLE_TYPES[identifier]
    assert spec.bounds is not None
    bounds = spec.bounds
    return (
        f"is outside {bounds.low:g} to {bounds.high:g} {spec.canonical_unit}, the plausible "
        f"range of {identifier} ({bounds.reason})"
    )


_FUTURE = NOW + MAX_CLOCK_SKEW + timedelta(microseconds=1)
_SLEEP_VALUES = "expected one of [0, 1, 2, 3, 4, 5]"

BAD_SAMPLES = [
    # Time.
    Bad(
        "end-before-start",
        HEART_RATE,
        "end_date",
        "is before start_date",
        {"start_date": "2024-11-24T08:00:00+01:00", "end_date": "2024-11-24T07:59:59+01:00"},
    ),
    Bad(
        "end-before-start-as-instants-though-later-on-the-wall-clock",
        SLEEP,
        "end_date",
        "is before start_date",
        {"start_date": "2024-11-24T08:00:00+00:00", "end_date": "2024-11-24T08:30:00+01:00"},
    ),
    Bad(
        "naive-start",
        HEART_RATE,
        "start_date",
        "expected `datetime` with a timezone component",
        {"start_date": "2024-11-24T07:42:13"},
    ),
    Bad(
        "naive-end",
        SLEEP,
        "end_date",
        "expected `datetime` with a timezone component",
        {"end_date": "2024-11-24T00:02:00"},
    ),
    Bad(
        "date-without-time",
        WORKOUT_TYPE,
        "start_date",
        "invalid RFC3339 encoded datetime",
        {"start_date": "2024-11-22"},
    ),
    Bad(
        "not-a-date",
        HEART_RATE,
        "end_date",
        "invalid RFC3339 encoded datetime",
        {"end_date": "yesterday"},
    ),
    Bad(
        "number-for-start-date",
        HEART_RATE,
        "start_date",
        "expected `datetime`, got `int`",
        {"start_date": 1795500000},
    ),
    Bad(
        "number-for-end-date",
        WORKOUT_TYPE,
        "end_date",
        "expected `datetime`, got `float`",
        {"end_date": 1795500000.5},
    ),
    Bad(
        "before-healthkit-epoch",
        HEART_RATE,
        "start_date",
        "is before HealthKit existed (2014-09-17)",
        {"start_date": "2014-09-16T23:59:59+00:00"},
    ),
    Bad(
        "before-healthkit-epoch-once-the-offset-is-applied",
        SLEEP,
        "start_date",
        "is before HealthKit existed (2014-09-17)",
        {"start_date": "2014-09-17T01:00:00+02:00"},
    ),
    Bad(
        "end-more-than-a-day-ahead",
        HEART_RATE,
        "end_date",
        "is more than a day in the future",
        {"end_date": _FUTURE.isoformat()},
    ),
    Bad(
        "start-more-than-a-day-ahead",
        WORKOUT_TYPE,
        "start_date",
        "is more than a day in the future",
        {
            "start_date": (NOW + timedelta(days=30)).isoformat(),
            "end_date": (NOW + timedelta(days=30, hours=1)).isoformat(),
        },
    ),
    Bad(
        "future-member-of-a-correlation",
        BLOOD_PRESSURE,
        "objects[1].end_date",
        "is more than a day in the future",
        edit=_in_member(1, end_date=_FUTURE.isoformat()),
    ),
    # Numbers JSON can carry but a double cannot (JSON has no NaN or Infinity literal).
    Bad(
        "value-beyond-a-double",
        HEART_RATE,
        "value",
        "number out of range",
        {"value": JsonText("1e309")},
    ),
    Bad(
        "negative-value-beyond-a-double",
        STEP_COUNT,
        "value",
        "number out of range",
        {"value": JsonText("-1e309")},
    ),
    Bad(
        "integer-beyond-a-double",
        STEP_COUNT,
        "value",
        "number out of range",
        {"value": JsonText("1" + "0" * 400)},
    ),
    Bad(
        "workout-duration-beyond-a-double",
        WORKOUT_TYPE,
        "duration_s",
        "number out of range",
        {"duration_s": JsonText("1e309")},
    ),
    Bad(
        "workout-energy-beyond-a-double",
        WORKOUT_TYPE,
        "total_energy_kcal",
        "number out of range",
        {"total_energy_kcal": JsonText("1e999")},
    ),
    Bad(
        "voltage-beyond-a-double",
        ECG,
        "voltages_uv[3]",
        "number out of range",
        edit=lambda sample: sample["voltages_uv"].__setitem__(3, JsonText("-1e309")),
        index=2,  # a copy of the first recording: the second has no voltages
    ),
    Bad(
        "metadata-number-beyond-a-double",
        HEART_RATE,
        "metadata",
        "number out of range",
        {"metadata": {"HKMetadataKeyHeartRateMotionContext": JsonText("1e309")}},
    ),
    Bad(
        "value-finite-as-sent-but-not-in-the-canonical-unit",
        "HKQuantityTypeIdentifierDistanceWalkingRunning",
        "value",
        "is not finite in m",
        {"unit": "km", "value": 1e307},
    ),
    Bad(
        "workout-statistic-finite-as-sent-but-not-in-the-canonical-unit",
        WORKOUT_TYPE,
        "statistics[2].sum",
        "is not finite",
        edit=lambda sample: sample["statistics"][2].update(sum=1e307),
        index=4,
    ),
    # Shapes of numbers.
    Bad(
        "negative-workout-distance",
        WORKOUT_TYPE,
        "total_distance_m",
        "expected `float` >= 0.0",
        {"total_distance_m": -5.0},
    ),
    Bad(
        "negative-workout-duration",
        WORKOUT_TYPE,
        "duration_s",
        "expected `float` >= 0.0",
        {"duration_s": -0.5},
    ),
    Bad("string-for-value", HEART_RATE, "value", "expected `float`, got `str`", {"value": "72"}),
    Bad("boolean-for-value", STEP_COUNT, "value", "expected `float`, got `bool`", {"value": True}),
    Bad(
        "string-for-category-value",
        SLEEP,
        "value",
        "expected `int`, got `str`",
        {"value": "3"},
    ),
    Bad(
        "name-for-category-value",
        SLEEP,
        "value",
        "expected `int`, got `str`",
        {"value": "asleepCore"},
    ),
    Bad(
        "fraction-for-category-value",
        SLEEP,
        "value",
        "expected `int`, got `float`",
        {"value": 3.5},
    ),
    Bad(
        "string-for-workout-duration",
        WORKOUT_TYPE,
        "duration_s",
        "expected `float`, got `str`",
        {"duration_s": "2675"},
    ),
    Bad("count-of-zero", HEART_RATE, "count", "expected `int` >= 1", {"count": 0}),
    Bad("count-too-large", HEART_RATE, "count", "expected `int` <= 1000000", {"count": 1_000_001}),
    Bad(
        "valence-beyond-one",
        STATE_OF_MIND,
        "valence",
        "expected `float` <= 1.0",
        {"valence": 1.5},
    ),
    Bad(
        "latitude-beyond-the-pole",
        ROUTE,
        "locations[0].latitude",
        "expected `float` <= 90.0",
        edit=lambda sample: sample["locations"][0].update(latitude=90.5),
    ),
    Bad(
        "audiogram-without-points",
        AUDIOGRAM,
        "sensitivity_points",
        "expected `array` of length >= 1",
        {"sensitivity_points": []},
    ),
    Bad(
        "assessment-answer-out-of-range",
        GAD7,
        "answers[2]",
        "expected `int` <= 100",
        edit=lambda sample: sample["answers"].__setitem__(2, 101),
    ),
    # Units and plausible values.
    Bad(
        "kg-for-heart-rate",
        HEART_RATE,
        "unit",
        "unit 'kg' is mass, but 'count/min' is frequency (type HKQuantityTypeIdentifierHeartRate)",
        {"unit": "kg"},
    ),
    Bad(
        "bpm-is-not-a-healthkit-unit",
        RESTING_HEART_RATE,
        "unit",
        "unit 'bpm': unknown unit 'bpm' (type HKQuantityTypeIdentifierRestingHeartRate)",
        {"unit": "bpm"},
    ),
    Bad(
        "energy-for-step-count",
        STEP_COUNT,
        "unit",
        "unit 'kcal' is energy, but 'count' is dimensionless (type "
        "HKQuantityTypeIdentifierStepCount)",
        {"unit": "kcal"},
    ),
    Bad(
        "mass-for-a-food-member's-energy",
        FOOD,
        "objects[0].unit",
        "unit 'g' is mass, but 'kcal' is energy (type "
        "HKQuantityTypeIdentifierDietaryEnergyConsumed)",
        edit=_in_member(0, unit="g"),
    ),
    Bad(
        "workout-statistic-of-the-wrong-dimension",
        WORKOUT_TYPE,
        "statistics[0].unit",
        "unit 'kcal' is energy, but 'count/min' is frequency",
        edit=lambda sample: sample["statistics"][0].update(unit="kcal"),
        index=4,
    ),
    Bad(
        "heart-rate-of-ten-thousand",
        HEART_RATE,
        "value",
        "is outside 20 to 300 count/min, the plausible range of "
        "HKQuantityTypeIdentifierHeartRate (heart rate: 20-300 count/min, beyond any recorded "
        "human rate)",
        {"value": 10_000},
    ),
    Bad(
        "heart-rate-out-of-bounds-once-converted",
        HEART_RATE,
        "value",
        _outside(HEART_RATE),
        {"unit": "count/s", "value": 6},  # 360 a minute
    ),
    Bad("negative-heart-rate", HEART_RATE, "value", _outside(HEART_RATE), {"value": -1}),
    Bad("negative-step-count", STEP_COUNT, "value", _outside(STEP_COUNT), {"value": -3}),
    Bad("oxygen-saturation-above-one", OXYGEN, "value", _outside(OXYGEN), {"value": 1.02}),
    Bad(
        "oxygen-saturation-as-whole-percent",
        OXYGEN,
        "value",
        _outside(OXYGEN),
        {"value": 97},
    ),
    Bad(
        "systolic-member-out-of-bounds",
        BLOOD_PRESSURE,
        "objects[0].value",
        _outside(SYSTOLIC),
        edit=_in_member(0, value=520),
    ),
    # Categories, workouts and the other kinds' own rules.
    Bad(
        "unknown-sleep-value",
        SLEEP,
        "value",
        f"is not a category value of {SLEEP}; {_SLEEP_VALUES}",
        {"value": 9},
    ),
    Bad(
        "negative-sleep-value",
        SLEEP,
        "value",
        f"is not a category value of {SLEEP}; {_SLEEP_VALUES}",
        {"value": -1},
    ),
    Bad(
        "sleep-value-beyond-any-integer-column",
        SLEEP,
        "value",
        f"is not a category value of {SLEEP}; {_SLEEP_VALUES}",
        {"value": 2**70},
    ),
    Bad(
        "unknown-stand-hour-value",
        STAND_HOUR,
        "value",
        f"is not a category value of {STAND_HOUR}; expected one of [0, 1]",
        {"value": 2},
    ),
    Bad(
        "unknown-workout-activity",
        WORKOUT_TYPE,
        "activity_type",
        "'parkour' is not an HKWorkoutActivityType",
        {"activity_type": "parkour"},
    ),
    Bad(
        "objc-constant-instead-of-activity-case-name",
        WORKOUT_TYPE,
        "activity_type",
        "'HKWorkoutActivityTypeRunning' is not an HKWorkoutActivityType",
        {"activity_type": "HKWorkoutActivityTypeRunning"},
    ),
    Bad(
        "workout-active-longer-than-its-span",
        WORKOUT_TYPE,
        "duration_s",
        "is longer than the workout's span",
        {"duration_s": 2851.5},  # the span is 2850 s; one second of rounding is allowed
    ),
    Bad(
        "unknown-workout-event",
        WORKOUT_TYPE,
        "events[3].type",
        "'stop' is not an HKWorkoutEventType",
        edit=lambda sample: sample["events"][3].update(type="stop"),
        index=4,
    ),
    Bad(
        "workout-statistic-of-a-category-type",
        WORKOUT_TYPE,
        "statistics[1].sample_type",
        "is not a quantity type",
        edit=lambda sample: sample["statistics"][1].update(sample_type=SLEEP),
        index=4,
    ),
    Bad(
        "beat-after-the-series-end",
        HEARTBEATS,
        "beats[61].time_since_start_s",
        "is after the series' end",
        edit=_beat_after_the_end,
    ),
    # Correlations: one broken member rejects its correlation, members and all.
    Bad(
        "member-without-unit",
        BLOOD_PRESSURE,
        "objects[1].unit",
        "object missing required field `unit`",
        edit=_in_member(1, unit=DROP),
    ),
    Bad(
        "member-without-sample-type",
        BLOOD_PRESSURE,
        "objects[0].sample_type",
        "object missing required field `sample_type`",
        edit=_in_member(0, sample_type=DROP),
    ),
    Bad(
        "member-of-a-type-not-in-the-correlation",
        BLOOD_PRESSURE,
        "objects[0].sample_type",
        f"{HEART_RATE} is not a member type of {BLOOD_PRESSURE}",
        edit=_in_member(0, sample_type=HEART_RATE),
    ),
    Bad(
        "member-of-a-category-type",
        FOOD,
        "objects[2].sample_type",
        f"{SLEEP} is not a member type of {FOOD}",
        edit=_in_member(2, sample_type=SLEEP, unit=DROP, value=1),
    ),
    Bad(
        "member-of-a-type-the-server-does-not-know",
        FOOD,
        "objects[1].sample_type",
        f"{FUTURE_TYPE} is not a member type of {FOOD}",
        edit=_in_member(1, sample_type=FUTURE_TYPE),
    ),
    Bad(
        "member-ending-before-it-starts",
        BLOOD_PRESSURE,
        "objects[0].end_date",
        "is before start_date",
        edit=_in_member(0, end_date="2024-03-12T21:15:39+01:00"),
    ),
    Bad(
        "member-value-beyond-a-double",
        BLOOD_PRESSURE,
        "objects[1].value",
        "number out of range",
        edit=_in_member(1, value=JsonText("1e309")),
    ),
    Bad(
        "member-with-an-unknown-field",
        BLOOD_PRESSURE,
        "objects[0].cuff_size",
        "object contains unknown field `cuff_size`",
        edit=_in_member(0, cuff_size="M"),
    ),
    Bad(
        "member-not-an-object",
        BLOOD_PRESSURE,
        "objects[1]",
        "expected `object`, got `int`",
        edit=lambda sample: sample["objects"].__setitem__(1, 128),
    ),
    Bad(
        "member-with-the-correlations-uuid",
        BLOOD_PRESSURE,
        "objects[0].uuid",
        "is used twice in this correlation",
        edit=lambda sample: sample["objects"][0].update(uuid=sample["uuid"]),
    ),
    Bad(
        "two-members-with-one-uuid",
        FOOD,
        "objects[3].uuid",
        "is used twice in this correlation",
        edit=lambda sample: sample["objects"][3].update(uuid=sample["objects"][1]["uuid"]),
    ),
    Bad(
        "correlation-without-members",
        BLOOD_PRESSURE,
        "objects",
        "expected `array` of length >= 1",
        {"objects": []},
    ),
    # The sample's type and kind.
    Bad(
        "sample-of-another-type-than-its-chunk",
        HEART_RATE,
        "sample_type",
        f"is {RESTING_HEART_RATE}, but the chunk is {HEART_RATE}",
        {"sample_type": RESTING_HEART_RATE},
    ),
    Bad(
        "sample-of-an-unknown-type-in-a-known-chunk",
        HEART_RATE,
        "sample_type",
        f"is {FUTURE_TYPE}, but the chunk is {HEART_RATE}",
        {"sample_type": FUTURE_TYPE},
    ),
    Bad(
        "sample-of-a-known-type-in-an-unknown-chunk",
        FUTURE_TYPE,
        "sample_type",
        f"is {HEART_RATE}, but the chunk is {FUTURE_TYPE}",
        {"sample_type": HEART_RATE},
    ),
    Bad(
        "sample-of-another-kind-than-its-chunk",
        HEART_RATE,
        "unit",
        "object missing required field `unit`",
        edit=lambda sample: _replace(sample, fixture_chunk(SLEEP)["samples"][1]),
    ),
    Bad(
        "sample-without-sample-type",
        HEART_RATE,
        "sample_type",
        "object missing required field `sample_type`",
        {"sample_type": DROP},
    ),
    Bad(
        "sample-type-not-from-healthkit",
        HEART_RATE,
        "sample_type",
        "expected `str` matching regex '^HK[A-Za-z0-9]{1,126}$'",
        {"sample_type": "StepCount"},
    ),
    Bad(
        "kind-contradicting-sample-type",
        HEART_RATE,
        "kind",
        "is category, but the type's kind is quantity",
        {"kind": "category"},
    ),
    # Shape.
    Bad(
        "unknown-field-in-sample",
        HEART_RATE,
        "beats_per_minute",
        "object contains unknown field `beats_per_minute`",
        {"beats_per_minute": 72},
    ),
    Bad(
        "unknown-field-in-source",
        STEP_COUNT,
        "source.colour",
        "object contains unknown field `colour`",
        edit=_in_source(colour="red"),
    ),
    Bad(
        "unknown-field-in-device",
        HEART_RATE,
        "device.serial_number",
        "object contains unknown field `serial_number`",
        edit=_in_device(serial_number="FHLXJ0FZHJK1"),
    ),
    Bad(
        "missing-end-date",
        HEART_RATE,
        "end_date",
        "object missing required field `end_date`",
        {"end_date": DROP},
    ),
    Bad(
        "missing-unit",
        STEP_COUNT,
        "unit",
        "object missing required field `unit`",
        {"unit": DROP},
    ),
    Bad(
        "missing-source-bundle-id",
        HEART_RATE,
        "source.bundle_id",
        "object missing required field `bundle_id`",
        edit=lambda sample: sample["source"].pop("bundle_id"),
    ),
    Bad(
        "empty-source-name",
        HEART_RATE,
        "source.name",
        "expected `str` of length >= 1",
        edit=_in_source(name=""),
    ),
    Bad(
        "metadata-value-null",
        HEART_RATE,
        "metadata",
        "expected `bool | int | float | str`, got `null`",
        {"metadata": {"HKTimeZone": "Europe/Berlin", "HKExternalUUID": None}},
    ),
    Bad(
        "metadata-value-a-list",
        HEART_RATE,
        "metadata",
        "expected `bool | int | float | str`, got `array`",
        {"metadata": {"HKExternalUUID": ["a"]}},
    ),
    Bad(
        "metadata-key-empty",
        HEART_RATE,
        "metadata",
        "key: expected `str` of length >= 1",
        {"metadata": {"": 1}},
    ),
    Bad(
        "metadata-with-too-many-keys",
        HEART_RATE,
        "metadata",
        f"expected `object` of length <= {MAX_METADATA_KEYS}",
        {"metadata": {f"HKCustom{n}": n for n in range(MAX_METADATA_KEYS + 1)}},
    ),
    Bad(
        "sample-uuid-not-a-uuid",
        HEART_RATE,
        "uuid",
        "invalid UUID",
        {"uuid": "6948B9F7-18A6-4A55-9795"},
        uuid_readable=False,
    ),
    Bad(
        "number-for-sample-uuid",
        HEART_RATE,
        "uuid",
        "expected `uuid`, got `int`",
        {"uuid": 42},
        uuid_readable=False,
    ),
    Bad(
        "sample-without-uuid",
        SLEEP,
        "uuid",
        "object missing required field `uuid`",
        {"uuid": DROP},
        uuid_readable=False,
    ),
    # Time zones.
    Bad(
        "time-zone-not-iana",
        STEP_COUNT,
        "time_zone",
        "is not an IANA time zone",
        {"time_zone": "Europe/Atlantis"},
    ),
    Bad(
        "time-zone-as-offset",
        STEP_COUNT,
        "time_zone",
        "is not an IANA time zone",
        {"time_zone": "+01:00"},
    ),
    Bad(
        "metadata-time-zone-not-iana",
        HEART_RATE,
        "metadata.HKTimeZone",
        "is not an IANA time zone",
        {"metadata": {"HKMetadataKeyHeartRateMotionContext": 1, "HKTimeZone": "Berlin"}},
    ),
    Bad(
        "member-time-zone-not-iana",
        BLOOD_PRESSURE,
        "objects[0].metadata.HKTimeZone",
        "is not an IANA time zone",
        edit=_in_member(0, metadata={"HKTimeZone": "CEST"}),
    ),
    # Text PostgreSQL cannot store: such a sample used to fail its chunk on every retry.
    Bad("nul-in-source-name", HEART_RATE, "source.name", NUL_REASON, edit=_in_source(name="W\0")),
    Bad("nul-in-device-name", HEART_RATE, "device.name", NUL_REASON, edit=_in_device(name="\0")),
    Bad(
        "nul-in-metadata-value",
        HEART_RATE,
        "metadata.HKExternalUUID",
        NUL_REASON,
        {"metadata": {"HKExternalUUID": "x\0"}},
    ),
    Bad(
        "nul-in-metadata-key",
        HEART_RATE,
        "metadata.key\0",
        NUL_REASON,
        {"metadata": {"key\0": "x"}},
    ),
    Bad(
        "nul-in-a-state-of-mind-label",
        STATE_OF_MIND,
        "labels[1]",
        NUL_REASON,
        edit=lambda sample: sample["labels"].__setitem__(1, "grateful\0"),
    ),
    Bad(
        "nul-in-a-member",
        FOOD,
        "objects[0].metadata.HKFoodType",
        NUL_REASON,
        edit=_in_member(0, metadata={"HKFoodType": "Soup\0"}),
    ),
    Bad(
        "nul-in-a-field-of-a-type-the-server-does-not-know",
        FUTURE_TYPE,
        "readings[0].note",
        NUL_REASON,
        edit=lambda sample: sample.update(readings=[{"note": "\0"}]),
    ),
]


@pytest.mark.parametrize("case", BAD_SAMPLES, ids=lambda case: case.id)
def test_a_bad_sample_is_rejected_alone_naming_its_field(case: Bad) -> None:
    document = chunk_of(case.sample_type, at_least=max(3, case.index + 2))
    samples = document["samples"]
    bad = samples[case.index]
    apply(bad, case.changes)
    if case.edit is not None:
        case.edit(bad)

    decoded = decode(document)

    readable = UUID(samples[case.index]["uuid"]) if case.uuid_readable else None
    assert decoded.rejected == [Rejection(case.index, readable, case.field, case.reason)]
    assert decoded.received == len(samples)
    others = [UUID(sample["uuid"]) for n, sample in enumerate(samples) if n != case.index]
    assert sample_uuids(decoded) == others
    if readable is not None:
        stored = {row.uuid for row in decoded.rows} | {row.correlation_uuid for row in decoded.rows}
        assert readable not in stored


def test_a_sample_that_is_not_an_object_is_rejected_alone() -> None:
    document = chunk_of(HEART_RATE)
    good = [UUID(sample["uuid"]) for sample in document["samples"]]
    document["samples"][1:1] = [72, "72", None, []]

    decoded = decode(document)

    assert decoded.rejected == [
        Rejection(1, None, "sample", "expected `object`, got `int`"),
        Rejection(2, None, "sample", "expected `object`, got `str`"),
        Rejection(3, None, "sample", "expected `object`, got `null`"),
        Rejection(4, None, "sample", "expected `object`, got `array`"),
    ]
    assert sample_uuids(decoded) == good


@pytest.mark.parametrize(
    ("sample_type", "changes"),
    [
        pytest.param(
            HEART_RATE,
            {"start_date": HEALTHKIT_EPOCH.isoformat(), "end_date": HEALTHKIT_EPOCH.isoformat()},
            id="exactly-the-healthkit-epoch",
        ),
        pytest.param(
            HEART_RATE,
            {"end_date": (NOW + MAX_CLOCK_SKEW).isoformat()},
            id="exactly-a-day-ahead",
        ),
        pytest.param(
            SLEEP,
            {"start_date": "2024-11-24T01:00:00+01:00", "end_date": "2024-11-24T01:00:00+01:00"},
            id="end-equals-start",
        ),
        pytest.param(
            SLEEP,
            {"start_date": "2024-11-24T08:00:00+01:00", "end_date": "2024-11-24T07:30:00+00:00"},
            id="end-later-as-an-instant-though-earlier-on-the-wall-clock",
        ),
        pytest.param(
            HEART_RATE,
            {"start_date": "2024-11-24T06:42:13Z", "end_date": "2024-11-24T06:42:13Z"},
            id="utc-designator",
        ),
        pytest.param(STEP_COUNT, {"value": 0}, id="zero-value"),
        pytest.param(HEART_RATE, {"value": 72}, id="integer-value"),
        pytest.param(HEART_RATE, {"value": 300}, id="highest-plausible-heart-rate"),
        pytest.param(OXYGEN, {"value": 1.0}, id="oxygen-saturation-of-one"),
        pytest.param(HEART_RATE, {"value": JsonText("7.2e1")}, id="exponent-notation"),
        pytest.param(HEART_RATE, {"count": 1_000_000}, id="largest-count"),
        pytest.param(WORKOUT_TYPE, {"duration_s": 0}, id="zero-duration-workout"),
        pytest.param(WORKOUT_TYPE, {"duration_s": 2675.9}, id="duration-a-rounding-over-span"),
        pytest.param(WORKOUT_TYPE, {"total_energy_kcal": None}, id="workout-without-totals"),
        pytest.param(SLEEP, {"value": 5}, id="largest-sleep-value"),
        pytest.param(HEART_RATE, {"uuid": "6948b9f7-18a6-4a55-9795-807940c2ca21"}, id="lowercase"),
        pytest.param(HEART_RATE, {"device": None}, id="null-device"),
        pytest.param(HEART_RATE, {"kind": "quantity"}, id="kind-matching-the-type"),
        pytest.param(
            HEART_RATE,
            {"metadata": {"HKMetadataKeyHeartRateMotionContext": 1.5, "HKWasUserEntered": True}},
            id="metadata-number-and-boolean",
        ),
        pytest.param(
            HEART_RATE,
            {"metadata": {f"HKCustom{n}": n for n in range(MAX_METADATA_KEYS)}},
            id="most-metadata-keys",
        ),
        pytest.param(
            STEP_COUNT,
            {"metadata": {"HKExternalUUID": "x\\u0000"}},
            id="a-backslash-and-u0000-are-not-a-nul",
        ),
    ],
)
def test_a_value_at_the_edge_of_a_rule_is_stored(sample_type: str, changes: dict[str, Any]) -> None:
    row = only_row(single_sample_chunk(sample_type, changes))

    assert row.sample_type == sample_type


@pytest.mark.parametrize(
    ("field_name", "value"),
    [
        pytest.param("start_date", NOW + MAX_CLOCK_SKEW, id="start"),
        pytest.param("end_date", NOW + MAX_CLOCK_SKEW, id="end"),
    ],
)
def test_the_future_is_judged_by_the_server_clock_given(field_name: str, value: datetime) -> None:
    later = value + timedelta(microseconds=1)
    document = single_sample_chunk(
        HEART_RATE, {"start_date": value.isoformat(), "end_date": later.isoformat()}
    )

    assert decode(document, now=NOW + timedelta(seconds=1)).rejected == []
    assert decode(document, now=NOW).rejected[0].reason == "is more than a day in the future"


def test_several_bad_samples_are_each_rejected_and_the_rest_kept() -> None:
    document = chunk_of(HEART_RATE)
    samples = document["samples"]
    apply(samples[0], {"value": 10_000})
    apply(samples[2], {"unit": "kg"})
    apply(samples[4], {"end_date": DROP})

    decoded = decode(document)

    assert [(r.sample_index, r.field) for r in decoded.rejected] == [
        (0, "value"),
        (2, "unit"),
        (4, "end_date"),
    ]
    assert sample_uuids(decoded) == [UUID(samples[1]["uuid"]), UUID(samples[3]["uuid"])]


def test_a_chunk_of_only_bad_samples_decodes_to_rejections() -> None:
    document = fixture_chunk(SLEEP)
    for sample in document["samples"]:
        sample["value"] = 42

    decoded = decode(document)

    assert decoded.rows == []
    assert decoded.sources == []
    assert [r.sample_index for r in decoded.rejected] == list(range(len(document["samples"])))
    assert len(decoded.deleted) == 2  # the deletions still count


# --- Repeats ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sample_type", "changes"),
    [
        pytest.param(HEART_RATE, {"value": 63}, id="other-value"),
        pytest.param(HEART_RATE, {"unit": "count/s", "value": 62 / 60}, id="other-unit"),
        pytest.param(HEART_RATE, {"end_date": "2026-11-24T07:42:14+01:00"}, id="other-end"),
        pytest.param(HEART_RATE, {"metadata": {}}, id="other-metadata"),
        pytest.param(HEART_RATE, {"device": DROP}, id="no-device"),
        pytest.param(SLEEP, {"value": 4}, id="other-sleep-stage"),
        pytest.param(WORKOUT_TYPE, {"activity_type": "walking"}, id="other-activity"),
        pytest.param(
            HEART_RATE,
            {"uuid": "6948b9f7-18a6-4a55-9795-807940c2ca21", "value": 63},
            id="same-uuid-in-lowercase",
        ),
    ],
)
def test_a_uuid_repeated_with_different_content_rejects_the_repeat(
    sample_type: str, changes: dict[str, Any]
) -> None:
    document = fixture_chunk(sample_type)
    samples = document["samples"]
    count = len(samples)
    repeat = copy.deepcopy(samples[0])
    apply(repeat, changes)
    samples.append(repeat)

    decoded = decode(document)

    assert decoded.rejected == [
        Rejection(
            count, UUID(samples[0]["uuid"]), "uuid", "repeats samples[0] with different content"
        )
    ]
    assert sample_uuids(decoded) == [UUID(sample["uuid"]) for sample in samples[:count]]
    assert decoded.rows[0] == decode(fixture_chunk(sample_type)).rows[0]  # the first one stays


def test_a_member_repeating_another_correlations_member_with_other_content_is_rejected() -> None:
    document = fixture_chunk(BLOOD_PRESSURE)
    first, second = document["samples"][:2]
    second["objects"][1]["uuid"] = first["objects"][1]["uuid"]

    decoded = decode(document)

    assert decoded.rejected == [
        Rejection(
            1,
            UUID(second["uuid"]),
            "objects[1].uuid",
            "repeats samples[0] with different content",
        )
    ]
    assert sample_uuids(decoded) == [
        UUID(s["uuid"]) for n, s in enumerate(document["samples"]) if n != 1
    ]


@pytest.mark.parametrize("sample_type", [HEART_RATE, SLEEP, WORKOUT_TYPE, BLOOD_PRESSURE, ECG])
def test_identical_repeats_are_stored_once(sample_type: str) -> None:
    document = chunk_of(sample_type)
    originals = list(document["samples"])
    once = decode(document)
    document["samples"] = [*originals, originals[0], originals[2], originals[0]]

    decoded = decode(document)

    assert decoded.rejected == []
    assert decoded.received == len(originals) + 3
    assert decoded.rows == once.rows


def test_deleted_uuids_are_deduplicated_and_sorted() -> None:
    document = fixture_chunk(SLEEP)
    first, second = document["deleted"]
    document["deleted"] = [second, first, {"uuid": second["uuid"].lower()}, second]

    decoded = decode(document)

    assert decoded.deleted == sorted({UUID(first["uuid"]), UUID(second["uuid"])})


def test_a_reconcile_window_is_read_with_its_uuids_deduplicated_and_sorted() -> None:
    document = fixture_chunk(HEART_RATE)
    uuids = [sample["uuid"] for sample in document["samples"]]
    document["reconcile"] = {
        "start": "2026-11-24T00:00:00+01:00",
        "end": "2026-11-25T00:00:00+01:00",
        "uuids": [uuids[3], uuids[0], uuids[3].lower(), uuids[1]],
    }

    window = decode(document).reconcile

    assert window is not None
    assert window.start == datetime(2026, 11, 23, 23, tzinfo=UTC)
    assert window.end == datetime(2026, 11, 24, 23, tzinfo=UTC)
    assert window.uuids == sorted({UUID(uuids[0]), UUID(uuids[1]), UUID(uuids[3])})


# --- The envelope: a broken one refuses the whole chunk ---------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"{", id="truncated"),
        pytest.param(b"sync_id=1", id="not-json"),
        pytest.param(fixture_bytes(HEART_RATE) + b" x", id="trailing-text"),
        pytest.param(
            encode(single_sample_chunk(HEART_RATE, {"value": JsonText("NaN")})), id="nan-literal"
        ),
        pytest.param(
            encode(single_sample_chunk(HEART_RATE, {"value": JsonText("Infinity")})),
            id="infinity-literal",
        ),
        pytest.param(
            encode(single_sample_chunk(HEART_RATE, {"value": JsonText("-Infinity")})),
            id="negative-infinity-literal",
        ),
        pytest.param(
            encode(single_sample_chunk(HEART_RATE, {"metadata": {"k": JsonText('"\\ud800"')}})),
            id="lone-surrogate",
        ),
    ],
)
def test_bytes_that_are_not_json_are_a_malformed_body(body: bytes) -> None:
    for read in (read_envelope, decode_chunk):
        with pytest.raises(MalformedBody) as caught:
            read(body)

        assert caught.value.status == 400
        assert caught.value.message.startswith("body is not valid JSON: ")
        assert [detail.field for detail in caught.value.details] == ["body"]


_GONE = "1F6E5451-9E30-4904-982E-907AAB58B202"
_WINDOW = {"start": "2026-11-24T00:00:00+01:00", "end": "2026-11-25T00:00:00+01:00", "uuids": []}


@pytest.mark.parametrize(
    ("changes", "field_name", "reason"),
    [
        pytest.param(
            {"device_id": "00008030-001A2D8C3E90802E"},
            "device_id",
            "object contains unknown field `device_id`",
            id="unknown-field",
        ),
        pytest.param(
            {"sync_id": DROP}, "sync_id", "object missing required field `sync_id`", id="no-sync"
        ),
        pytest.param({"sync_id": "sync-1"}, "sync_id", "invalid UUID", id="sync-id-not-a-uuid"),
        pytest.param({"seq": "0"}, "seq", "expected `int`, got `str`", id="string-for-seq"),
        pytest.param({"seq": -1}, "seq", "expected `int` >= 0", id="negative-seq"),
        pytest.param(
            {"seq": MAX_CHUNKS_PER_SYNC},
            "seq",
            f"expected `int` <= {MAX_CHUNKS_PER_SYNC - 1}",
            id="seq-beyond-the-largest-sync",
        ),
        pytest.param(
            {"sample_type": "HeartRate"},
            "sample_type",
            "expected `str` matching regex '^HK[A-Za-z0-9]{1,126}$'",
            id="sample-type-not-from-healthkit",
        ),
        pytest.param(
            {"sample_type": DROP},
            "sample_type",
            "object missing required field `sample_type`",
            id="no-sample-type",
        ),
        pytest.param({"anchor": ""}, "anchor", "expected `str` of length >= 1", id="empty-anchor"),
        pytest.param(
            {"anchor": "x" * 4097}, "anchor", "expected `str` of length <= 4096", id="long-anchor"
        ),
        pytest.param({"anchor": "anchor\0"}, "anchor", NUL_REASON, id="nul-in-anchor"),
        pytest.param(
            {"samples": {"0": {}}}, "samples", "expected `array`, got `object`", id="samples-object"
        ),
        pytest.param(
            {"deleted": [{"uuid": "gone"}]}, "deleted[0].uuid", "invalid UUID", id="deleted-uuid"
        ),
        pytest.param(
            {"deleted": [{"uuid": _GONE}, {}]},
            "deleted[1].uuid",
            "object missing required field `uuid`",
            id="deletion-without-uuid",
        ),
        pytest.param(
            {"deleted": [{"uuid": _GONE, "reason": "user"}]},
            "deleted[0].reason",
            "object contains unknown field `reason`",
            id="deletion-with-unknown-field",
        ),
        pytest.param(
            {"reconcile": {**_WINDOW, "end": _WINDOW["start"]}},
            "reconcile.end",
            "is not after start",
            id="reconcile-end-equals-start",
        ),
        pytest.param(
            {"reconcile": {**_WINDOW, "end": "2026-11-23T23:59:59+01:00"}},
            "reconcile.end",
            "is not after start",
            id="reconcile-end-before-start",
        ),
        pytest.param(
            {"reconcile": {"start": _WINDOW["start"], "uuids": []}},
            "reconcile.end",
            "object missing required field `end`",
            id="reconcile-without-end",
        ),
        pytest.param(
            {"reconcile": {**_WINDOW, "start": "2026-11-24T00:00:00"}},
            "reconcile.start",
            "expected `datetime` with a timezone component",
            id="reconcile-naive-start",
        ),
        pytest.param(
            {"reconcile": {**_WINDOW, "uuids": ["x"]}},
            "reconcile.uuids[0]",
            "invalid UUID",
            id="reconcile-uuid",
        ),
    ],
)
def test_a_broken_envelope_is_a_contract_violation_naming_the_field(
    changes: dict[str, Any], field_name: str, reason: str
) -> None:
    document = fixture_chunk(HEART_RATE)
    apply(document, changes)

    for read in (read_envelope, decode_chunk):
        with pytest.raises(ContractViolation) as caught:
            read(encode(document))

        assert caught.value.status == 422
        assert caught.value.details == [FieldError(field=field_name, reason=reason)]


@pytest.mark.parametrize(
    "body", [b"[]", b"null", b"42", b'"chunk"'], ids=["array", "null", "number", "string"]
)
def test_a_body_that_is_not_an_object_is_a_contract_violation_of_the_body(body: bytes) -> None:
    with pytest.raises(ContractViolation) as caught:
        read_envelope(body)

    assert [detail.field for detail in caught.value.details] == ["body"]
    assert caught.value.details[0].reason.startswith("expected `object`, got ")


@pytest.mark.parametrize(
    ("samples", "deleted"),
    [
        pytest.param(MAX_CHUNK_ITEMS + 1, 0, id="samples-only"),
        pytest.param(0, MAX_CHUNK_ITEMS + 1, id="deletions-only"),
        pytest.param(MAX_CHUNK_ITEMS // 2, MAX_CHUNK_ITEMS // 2 + 1, id="together"),
    ],
)
def test_too_many_items_refuse_the_chunk_before_its_samples_are_read(
    samples: int, deleted: int
) -> None:
    # Empty objects: if the samples were decoded, each would be missing every field.
    document = fixture_chunk(HEART_RATE)
    document["samples"] = [{}] * samples
    document["deleted"] = [{"uuid": _GONE}] * deleted

    with pytest.raises(ContractViolation) as caught:
        read_envelope(encode(document))

    assert caught.value.details == [
        FieldError(
            field="samples",
            reason=f"chunk holds {MAX_CHUNK_ITEMS + 1} samples and deletions; "
            f"at most {MAX_CHUNK_ITEMS}",
        )
    ]


def test_a_chunk_of_exactly_the_largest_size_is_read() -> None:
    document = fixture_chunk(HEART_RATE)
    gone = document["deleted"][0]
    document["deleted"] = [gone] * (MAX_CHUNK_ITEMS - len(document["samples"]))

    decoded = decode(document)

    assert len(document["samples"]) + len(document["deleted"]) == MAX_CHUNK_ITEMS
    assert decoded.received == len(document["samples"])
    assert decoded.rejected == []
    assert decoded.deleted == [UUID(gone["uuid"])]


def test_the_envelope_leaves_samples_unread() -> None:
    document = fixture_chunk(HEART_RATE)
    document["samples"] = [{"value": "not a sample"}, 1, None]

    envelope = read_envelope(encode(document))

    assert (envelope.sample_type, envelope.seq, len(envelope.samples)) == (HEART_RATE, 0, 3)
    assert [bytes(raw) for raw in envelope.samples] == [b'{"value": "not a sample"}', b"1", b"null"]


# --- Properties --------------------------------------------------------------------------------

_QUANTITY_TYPES = sorted(t for t, spec in SAMPLE_TYPES.items() if spec.kind is SampleKind.QUANTITY)

#: For each canonical unit, another unit of its dimension and how a value in it becomes one in
#: the canonical unit, from the units' definitions (not from hksync.contract.units). Units
#: without one: count and % (both dimensionless, nothing to convert), the logarithmic dBASPL,
#: and the axes only their own unit measures (IU, appleEffortScore).
_OTHER_UNIT: dict[str, tuple[str, Callable[[float], float]]] = {
    "g": ("oz", lambda v: v * 28.349523125),
    "m": ("mi", lambda v: v * 1609.344),
    "cm": ("in", lambda v: v * 2.54),
    "m/s": ("km/hr", lambda v: v / 3.6),
    "count/min": ("count/s", lambda v: v * 60),
    "min": ("hr", lambda v: v * 60),
    "ms": ("s", lambda v: v * 1000),
    "degC": ("degF", lambda v: (v - 32) * 5 / 9),
    "kcal": ("kJ", lambda v: v / 4.184),
    "W": ("kW", lambda v: v * 1000),
    "mmHg": ("kPa", lambda v: v * (1000 / 133.322387415)),
    "kg": ("lb", lambda v: v * 0.45359237),
    "L": ("fl_oz_us", lambda v: v * 0.0295735295625),
    "mL": ("L", lambda v: v * 1000),
    "mg/dL": ("mmol<180.15588000005408>/L", lambda v: v * 18.015588000005408),
    "S": ("mcS", lambda v: v * 1e-6),
    "L/min": ("L/s", lambda v: v * 60),
    "kcal/kg*hr": ("kJ/kg*hr", lambda v: v / 4.184),
    "mL/kg*min": ("L/kg*min", lambda v: v * 1000),
}
_NO_OTHER_UNIT = {"count", "%", "dBASPL", "IU", "appleEffortScore"}


def test_every_canonical_unit_has_another_unit_to_test_or_a_reason_not_to() -> None:
    canonical = {SAMPLE_TYPES[t].canonical_unit for t in _QUANTITY_TYPES}
    assert canonical == set(_OTHER_UNIT) | _NO_OTHER_UNIT


def _json_number(value: float) -> JsonText:
    """A float as JSON text; infinity as a literal beyond the double range, as JSON has none."""
    if math.isinf(value):
        return JsonText("1e309" if value > 0 else "-1e309")
    return JsonText(repr(value))


def _values_around(spec: SampleTypeSpec) -> st.SearchStrategy[float]:
    """Any float, with the bounds and their neighbours drawn often."""
    assert spec.bounds is not None
    low, high = spec.bounds.low, spec.bounds.high
    edges = [low, high, math.nextafter(low, -math.inf), math.nextafter(high, math.inf)]
    return st.one_of(st.floats(allow_nan=False), st.sampled_from(edges))


def _quantity_chunk(sample_type: str, unit: str, value: float) -> dict[str, Any]:
    document = single_sample_chunk(HEART_RATE, {"unit": unit, "value": _json_number(value)})
    document["sample_type"] = document["samples"][0]["sample_type"] = sample_type
    return document


def _near(value: float, edge: float) -> bool:
    return math.isclose(value, edge, rel_tol=1e-9, abs_tol=1e-300)


@pytest.mark.parametrize("sample_type", _QUANTITY_TYPES)
@settings(deadline=None, max_examples=60)
@given(data=st.data())
def test_a_quantity_is_stored_only_when_finite_and_within_its_types_bounds(
    sample_type: str, data: st.DataObject
) -> None:
    spec = SAMPLE_TYPES[sample_type]
    assert spec.canonical_unit is not None
    assert spec.bounds is not None
    value = data.draw(_values_around(spec), label="value")
    units: list[tuple[str, Callable[[float], float]]] = [(spec.canonical_unit, lambda v: v)]
    if spec.canonical_unit in _OTHER_UNIT:
        units.append(_OTHER_UNIT[spec.canonical_unit])
    unit, to_canonical = data.draw(st.sampled_from(units), label="unit")
    in_canonical_unit = unit == spec.canonical_unit
    canonical = to_canonical(value) if math.isfinite(value) else value
    if not in_canonical_unit:
        # Two ways of multiplying may round a value at a bound differently.
        assume(not _near(canonical, spec.bounds.low) and not _near(canonical, spec.bounds.high))

    decoded = decode(_quantity_chunk(sample_type, unit, value))

    plausible = math.isfinite(canonical) and spec.bounds.low <= canonical <= spec.bounds.high
    if plausible:
        assert decoded.rejected == []
        (row,) = decoded.rows
        assert (row.original_value, row.original_unit) == (value, unit)
        assert row.unit == spec.canonical_unit
        assert row.value is not None
        assert row.value == (value if in_canonical_unit else pytest.approx(canonical))
        assert spec.bounds.low <= row.value <= spec.bounds.high
        return
    assert decoded.rows == []
    (rejection,) = decoded.rejected
    assert rejection.field == "value"
    if math.isinf(value):
        assert rejection.reason == "number out of range"  # no double holds it: not even read
    elif in_canonical_unit:
        assert rejection.reason == _outside(sample_type)
    else:
        assert rejection.reason in {
            _outside(sample_type),
            f"is not finite in {spec.canonical_unit}",
        }


_CATEGORY_TYPES = sorted(t for t, spec in SAMPLE_TYPES.items() if spec.kind is SampleKind.CATEGORY)


@settings(deadline=None, max_examples=300)
@given(
    sample_type=st.sampled_from(_CATEGORY_TYPES),
    value=st.one_of(
        st.integers(min_value=-(2**63), max_value=2**63), st.integers(min_value=-2, max_value=20)
    ),
)
def test_a_category_sample_is_stored_only_with_a_value_of_its_type(
    sample_type: str, value: int
) -> None:
    document = single_sample_chunk(SLEEP, {"value": value})
    document["sample_type"] = document["samples"][0]["sample_type"] = sample_type
    values = SAMPLE_TYPES[sample_type].category_values

    decoded = decode(document)

    if value in values:
        assert [row.category_value for row in decoded.rows] == [value]
    else:
        assert decoded.rows == []
        assert decoded.rejected[0].field == "value"
        assert decoded.rejected[0].reason == (
            f"is not a category value of {sample_type}; expected one of {sorted(values)}"
        )


_OFFSETS = st.sampled_from(
    [UTC, CET, timezone(timedelta(hours=-7)), timezone(timedelta(hours=5, minutes=30))]
)
_HEALTHKIT_ERA = st.datetimes(
    min_value=datetime(2014, 9, 18), max_value=datetime(2026, 11, 1), timezones=_OFFSETS
)


@settings(deadline=None, max_examples=150)
@given(first=_HEALTHKIT_ERA, second=_HEALTHKIT_ERA)
def test_any_end_before_start_is_rejected_naming_end_date(
    first: datetime, second: datetime
) -> None:
    start, end = max(first, second), min(first, second)
    changes = {"start_date": start.isoformat(), "end_date": end.isoformat()}

    decoded = decode(single_sample_chunk(SLEEP, changes))

    if end == start:
        assert [row.end_at for row in decoded.rows] == [start]
    else:
        assert [(r.field, r.reason) for r in decoded.rejected] == [
            ("end_date", "is before start_date")
        ]


@settings(deadline=None, max_examples=100)
@given(bad=st.sets(st.integers(min_value=0, max_value=4)))
def test_whichever_samples_are_bad_exactly_those_are_rejected(bad: set[int]) -> None:
    document = fixture_chunk(HEART_RATE)
    samples = document["samples"]
    for index in bad:
        samples[index]["value"] = 10_000

    decoded = decode(document)

    assert [rejection.sample_index for rejection in decoded.rejected] == sorted(bad)
    assert sample_uuids(decoded) == [
        UUID(sample["uuid"]) for index, sample in enumerate(samples) if index not in bad
    ]


# --- Bytes the server stores as they came -----------------------------------------------------


@pytest.mark.parametrize(
    ("sample_type", "edit"),
    [
        pytest.param(HEART_RATE, _in_source(name="@@not-utf-8@@"), id="in-a-known-type"),
        pytest.param(
            FUTURE_TYPE,
            lambda sample: sample.update(confidence="@@not-utf-8@@"),
            id="in-a-field-the-server-does-not-know",
        ),
    ],
)
def test_a_sample_that_is_not_utf_8_is_rejected_alone(
    sample_type: str, edit: Callable[[dict[str, Any]], None]
) -> None:
    # The envelope leaves samples unread, so their text is only checked sample by sample; a
    # type the server does not know is stored as its bytes, which must still be text.
    document = chunk_of(sample_type)
    edit(document["samples"][1])
    body = encode(document).replace(b"@@not-utf-8@@", b"\xffnna")

    decoded = decode_chunk(body, now=NOW)

    bad = UUID(document["samples"][1]["uuid"])
    assert decoded.rejected == [Rejection(1, bad, "sample", "invalid UTF-8 encoded string")]
    samples = document["samples"]
    assert sample_uuids(decoded) == [UUID(s["uuid"]) for n, s in enumerate(samples) if n != 1]


def test_a_number_beyond_a_double_in_a_field_the_server_does_not_know_is_rejected() -> None:
    document = chunk_of(FUTURE_TYPE)
    document["samples"][1]["confidence"] = JsonText("1e200000")

    decoded = decode(document)

    assert decoded.rejected == [
        Rejection(1, UUID(document["samples"][1]["uuid"]), "sample", "number out of range")
    ]
    assert len(decoded.rows) == 2


def test_only_the_sources_of_stored_samples_are_kept() -> None:
    document = fixture_chunk(SLEEP)
    watch = document["samples"][1]["source"]
    for sample in document["samples"]:
        if sample["source"] != watch:
            sample["value"] = 42

    decoded = decode(document)

    assert decoded.rows
    assert [source.bundle_id for source in decoded.sources] == [watch["bundle_id"]]
