"""The HealthKit chunk contract: what is accepted, what is refused, and how a refusal is named.

Every rule is checked through ``field_errors``, the shape clients receive: the exact field path
(``samples[0].end_date``) and a reason. Bad documents are built from the realistic fixtures in
tests/fixtures/healthkit by changing one thing, and sent as JSON text, as a phone sends them.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from hksync.contract.field_errors import FieldError, field_errors, field_path
from hksync.contract.models import (
    HEALTHKIT_EPOCH,
    MAX_CHUNK_ITEMS,
    MAX_CHUNKS_PER_SYNC,
    CategorySample,
    Chunk,
    QuantitySample,
    SyncCommit,
    Workout,
)
from hksync.contract.types import SAMPLE_TYPES, WORKOUT_TYPE, SampleKind

FIXTURES = Path(__file__).parent.parent / "fixtures" / "healthkit"
FIXTURE_FILES = sorted(FIXTURES.glob("*.json"))
#: The fixtures were "recorded" before this instant.
RECORDED_BEFORE = datetime(2026, 11, 26, tzinfo=UTC)

HEART_RATE = "HKQuantityTypeIdentifierHeartRate"
RESTING_HEART_RATE = "HKQuantityTypeIdentifierRestingHeartRate"
STEP_COUNT = "HKQuantityTypeIdentifierStepCount"
OXYGEN = "HKQuantityTypeIdentifierOxygenSaturation"
SLEEP = "HKCategoryTypeIdentifierSleepAnalysis"
STAND_HOUR = "HKCategoryTypeIdentifierAppleStandHour"
UNSUPPORTED_TYPE = "HKQuantityTypeIdentifierBloodGlucose"

MODEL_OF_KIND: dict[SampleKind, type[BaseModel]] = {
    SampleKind.QUANTITY: QuantitySample,
    SampleKind.CATEGORY: CategorySample,
    SampleKind.WORKOUT: Workout,
}

_RAW_FIXTURES: dict[str, dict[str, Any]] = {
    path.stem: json.loads(path.read_text(encoding="utf-8")) for path in FIXTURE_FILES
}
#: Marks a key to remove from a sample.
DROP = object()


def fixture_chunk(sample_type: str) -> dict[str, Any]:
    """A fresh copy of the fixture chunk for ``sample_type``, as parsed JSON."""
    return copy.deepcopy(_RAW_FIXTURES[sample_type])


def single_sample_chunk(sample_type: str, changes: dict[str, Any] | None = None) -> dict[str, Any]:
    """The fixture chunk cut down to its first sample, with ``changes`` applied to that sample."""
    document = fixture_chunk(sample_type)
    sample = document["samples"][0]
    for key, value in (changes or {}).items():
        if value is DROP:
            del sample[key]
        else:
            sample[key] = value
    document["samples"] = [sample]
    document.pop("deleted", None)
    return document


def validate(document: dict[str, Any]) -> Chunk:
    return Chunk.model_validate_json(json.dumps(document))


def rejection(text: str, model: type[BaseModel] = Chunk) -> list[FieldError]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate_json(text)
    return field_errors(caught.value)


def only_error(text: str, model: type[BaseModel] = Chunk) -> FieldError:
    errors = rejection(text, model)
    assert len(errors) == 1, errors
    return errors[0]


def iso(moment: datetime) -> str:
    return moment.isoformat()


# --- The fixtures -----------------------------------------------------------------------------


def test_there_is_one_fixture_per_supported_sample_type() -> None:
    assert {path.stem for path in FIXTURE_FILES} == set(SAMPLE_TYPES)


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda path: path.stem)
def test_fixture_validates_and_round_trips(path: Path) -> None:
    chunk = Chunk.model_validate_json(path.read_bytes())

    spec = SAMPLE_TYPES[path.stem]
    assert chunk.sample_type == spec.identifier
    assert 3 <= len(chunk.samples) <= 5
    for sample in chunk.samples:
        assert sample.sample_type == spec.identifier
        assert isinstance(sample, MODEL_OF_KIND[spec.kind])
        assert sample.start_date <= sample.end_date <= RECORDED_BEFORE
    assert len(chunk.unique_samples()) == len(chunk.samples)

    again = Chunk.model_validate_json(chunk.model_dump_json())
    assert again == chunk
    assert again.model_dump(mode="json") == chunk.model_dump(mode="json")


@pytest.mark.parametrize(
    "path",
    [path for path in FIXTURE_FILES if _RAW_FIXTURES[path.stem].get("deleted")],
    ids=lambda path: path.stem,
)
def test_fixture_deletions_are_read(path: Path) -> None:
    chunk = Chunk.model_validate_json(path.read_bytes())
    expected = sorted({UUID(item["uuid"]) for item in _RAW_FIXTURES[path.stem]["deleted"]})
    assert chunk.deleted_uuids() == expected
    assert not {sample.uuid for sample in chunk.samples} & set(expected)


# --- One rule, one refusal, one named field -----------------------------------------------------

_NOW = datetime.now(UTC)
_BERLIN = timezone(timedelta(hours=1))
_SLEEP_SAMPLE = _RAW_FIXTURES[SLEEP]["samples"][1]
_STEP_SOURCE = _RAW_FIXTURES[STEP_COUNT]["samples"][0]["source"]
_WATCH_SOURCE = _RAW_FIXTURES[HEART_RATE]["samples"][0]["source"]


@dataclass(frozen=True)
class Rejected:
    id: str
    sample_type: str
    field: str
    reason: str
    #: Changes to the first sample (DROP removes a key).
    sample: dict[str, Any] = dataclasses.field(default_factory=dict)
    #: Changes to the chunk, applied after the sample's.
    chunk: dict[str, Any] = dataclasses.field(default_factory=dict)
    #: Text that must appear in the JSON sent (proves e.g. a NaN literal is really sent).
    literal: str | None = None

    def text(self) -> str:
        document = single_sample_chunk(self.sample_type, self.sample)
        document.update(self.chunk)
        return json.dumps(document)


REJECTED = [
    # Time.
    Rejected(
        "end-before-start",
        HEART_RATE,
        "samples[0].end_date",
        "end_date is before start_date",
        sample={"start_date": "2026-11-24T08:00:00+01:00", "end_date": "2026-11-24T07:59:59+01:00"},
    ),
    Rejected(
        "end-before-start-as-instants-though-later-on-the-wall-clock",
        SLEEP,
        "samples[0].end_date",
        "end_date is before start_date",
        sample={"start_date": "2026-11-24T08:00:00+00:00", "end_date": "2026-11-24T08:30:00+01:00"},
    ),
    Rejected(
        "naive-start",
        HEART_RATE,
        "samples[0].start_date",
        "timezone",
        sample={"start_date": "2026-11-24T07:42:13"},
    ),
    Rejected(
        "naive-end",
        SLEEP,
        "samples[0].end_date",
        "timezone",
        sample={"end_date": "2026-11-24T00:02:00"},
    ),
    Rejected(
        "date-without-time",
        WORKOUT_TYPE,
        "samples[0].start_date",
        "timezone",
        sample={"start_date": "2026-11-22"},
    ),
    Rejected(
        "not-a-date",
        HEART_RATE,
        "samples[0].end_date",
        "ISO 8601",
        sample={"end_date": "yesterday"},
    ),
    Rejected(
        "number-for-start-date",
        HEART_RATE,
        "samples[0].start_date",
        "valid datetime",
        sample={"start_date": 1795500000},
    ),
    Rejected(
        "number-for-end-date",
        WORKOUT_TYPE,
        "samples[0].end_date",
        "valid datetime",
        sample={"end_date": 1795500000.5},
    ),
    Rejected(
        "before-healthkit-epoch",
        HEART_RATE,
        "samples[0].start_date",
        "before HealthKit existed (2014-09-17)",
        sample={"start_date": "2014-09-16T23:59:59+00:00"},
    ),
    Rejected(
        "before-healthkit-epoch-once-the-offset-is-applied",
        SLEEP,
        "samples[0].start_date",
        "before HealthKit existed",
        sample={"start_date": "2014-09-17T01:00:00+02:00"},
    ),
    Rejected(
        "end-more-than-a-day-ahead",
        HEART_RATE,
        "samples[0].end_date",
        "more than a day in the future",
        sample={"end_date": iso(_NOW + timedelta(days=2))},
    ),
    Rejected(
        "start-more-than-a-day-ahead",
        WORKOUT_TYPE,
        "samples[0].start_date",
        "more than a day in the future",
        sample={"start_date": iso(_NOW + timedelta(days=30))},
    ),
    # Numbers.
    Rejected(
        "nan-value",
        HEART_RATE,
        "samples[0].value",
        "finite number",
        sample={"value": float("nan")},
        literal='"value": NaN',
    ),
    Rejected(
        "infinite-value",
        STEP_COUNT,
        "samples[0].value",
        "finite number",
        sample={"value": float("inf")},
        literal='"value": Infinity',
    ),
    Rejected(
        "negative-infinite-value",
        HEART_RATE,
        "samples[0].value",
        "finite number",
        sample={"value": float("-inf")},
        literal='"value": -Infinity',
    ),
    Rejected(
        "nan-workout-duration",
        WORKOUT_TYPE,
        "samples[0].duration_s",
        "finite number",
        sample={"duration_s": float("nan")},
        literal='"duration_s": NaN',
    ),
    Rejected(
        "infinite-workout-energy",
        WORKOUT_TYPE,
        "samples[0].total_energy_kcal",
        "finite number",
        sample={"total_energy_kcal": float("inf")},
        literal='"total_energy_kcal": Infinity',
    ),
    Rejected(
        "negative-value",
        HEART_RATE,
        "samples[0].value",
        "greater than or equal to 0",
        sample={"value": -1},
    ),
    Rejected(
        "negative-workout-distance",
        WORKOUT_TYPE,
        "samples[0].total_distance_m",
        "greater than or equal to 0",
        sample={"total_distance_m": -5.0},
    ),
    Rejected(
        "negative-workout-duration",
        WORKOUT_TYPE,
        "samples[0].duration_s",
        "greater than or equal to 0",
        sample={"duration_s": -0.5},
    ),
    Rejected(
        "string-for-value",
        HEART_RATE,
        "samples[0].value",
        "valid number",
        sample={"value": "72"},
    ),
    Rejected(
        "boolean-for-value",
        STEP_COUNT,
        "samples[0].value",
        "valid number",
        sample={"value": True},
    ),
    Rejected(
        "string-for-category-value",
        SLEEP,
        "samples[0].value",
        "valid integer",
        sample={"value": "3"},
    ),
    Rejected(
        "name-for-category-value",
        SLEEP,
        "samples[0].value",
        "valid integer",
        sample={"value": "asleepCore"},
    ),
    Rejected(
        "string-for-workout-duration",
        WORKOUT_TYPE,
        "samples[0].duration_s",
        "valid number",
        sample={"duration_s": "2675"},
    ),
    Rejected(
        "string-for-seq",
        HEART_RATE,
        "seq",
        "valid integer",
        chunk={"seq": "0"},
    ),
    # Units and plausible values.
    Rejected(
        "kg-for-heart-rate",
        HEART_RATE,
        "samples[0].unit",
        "unit 'kg' does not fit HKQuantityTypeIdentifierHeartRate",
        sample={"unit": "kg"},
    ),
    Rejected(
        "bpm-is-not-a-healthkit-unit",
        RESTING_HEART_RATE,
        "samples[0].unit",
        "expected one of ['count/min', 'count/s']",
        sample={"unit": "bpm"},
    ),
    Rejected(
        "percent-for-step-count",
        STEP_COUNT,
        "samples[0].unit",
        "does not fit HKQuantityTypeIdentifierStepCount",
        sample={"unit": "%"},
    ),
    Rejected(
        "oxygen-saturation-above-one",
        OXYGEN,
        "samples[0].value",
        "above 1.0 %",
        sample={"value": 1.02},
    ),
    Rejected(
        "oxygen-saturation-as-whole-percent",
        OXYGEN,
        "samples[0].value",
        "is above 1.0 %",
        sample={"value": 97},
    ),
    # Categories and workouts.
    Rejected(
        "unknown-sleep-value",
        SLEEP,
        "samples[0].value",
        "category value 9 is not defined for HKCategoryTypeIdentifierSleepAnalysis",
        sample={"value": 9},
    ),
    Rejected(
        "negative-sleep-value",
        SLEEP,
        "samples[0].value",
        "category value -1 is not defined",
        sample={"value": -1},
    ),
    Rejected(
        "unknown-stand-hour-value",
        STAND_HOUR,
        "samples[0].value",
        "expected one of [0, 1]",
        sample={"value": 2},
    ),
    Rejected(
        "unknown-workout-activity",
        WORKOUT_TYPE,
        "samples[0].activity_type",
        "'parkour' is not an HKWorkoutActivityType",
        sample={"activity_type": "parkour"},
    ),
    Rejected(
        "objc-constant-instead-of-activity-case-name",
        WORKOUT_TYPE,
        "samples[0].activity_type",
        "is not an HKWorkoutActivityType",
        sample={"activity_type": "HKWorkoutActivityTypeRunning"},
    ),
    # Sample types.
    Rejected(
        "unknown-chunk-sample-type",
        HEART_RATE,
        "sample_type",
        f"'{UNSUPPORTED_TYPE}' is not a HealthKit type this service supports",
        chunk={"sample_type": UNSUPPORTED_TYPE},
    ),
    Rejected(
        "unknown-sample-type-in-a-sample",
        HEART_RATE,
        "samples[0]",
        "sample_type is not a HealthKit type this service supports",
        sample={"sample_type": UNSUPPORTED_TYPE},
    ),
    Rejected(
        "sample-without-sample-type",
        HEART_RATE,
        "samples[0]",
        "sample_type is not a HealthKit type this service supports",
        sample={"sample_type": DROP},
    ),
    Rejected(
        "sample-of-another-type-than-its-chunk",
        HEART_RATE,
        "samples",
        f"samples[0].sample_type is {RESTING_HEART_RATE}, but the chunk is {HEART_RATE}",
        sample={"sample_type": RESTING_HEART_RATE},
    ),
    Rejected(
        "sample-of-another-kind-than-its-chunk",
        HEART_RATE,
        "samples",
        f"samples[0].sample_type is {SLEEP}, but the chunk is {HEART_RATE}",
        chunk={"samples": [_SLEEP_SAMPLE]},
    ),
    Rejected(
        "kind-contradicting-sample-type",
        HEART_RATE,
        "samples[0].kind",
        "'quantity'",
        sample={"kind": "category"},
    ),
    # Shape.
    Rejected(
        "unknown-field-in-sample",
        HEART_RATE,
        "samples[0].beats_per_minute",
        "Extra inputs are not permitted",
        sample={"beats_per_minute": 72},
    ),
    Rejected(
        "unknown-field-in-chunk",
        HEART_RATE,
        "device_id",
        "Extra inputs are not permitted",
        chunk={"device_id": "00008030-001A2D8C3E90802E"},
    ),
    Rejected(
        "unknown-field-in-source",
        STEP_COUNT,
        "samples[0].source.product_type",
        "Extra inputs are not permitted",
        sample={"source": {**_STEP_SOURCE, "product_type": "iPhone15,2"}},
    ),
    Rejected(
        "unknown-field-in-device",
        HEART_RATE,
        "samples[0].device.udi_device_identifier",
        "Extra inputs are not permitted",
        sample={"device": {"name": "Apple Watch", "udi_device_identifier": "00190199000000"}},
    ),
    Rejected(
        "missing-end-date",
        HEART_RATE,
        "samples[0].end_date",
        "Field required",
        sample={"end_date": DROP},
    ),
    Rejected(
        "missing-unit",
        STEP_COUNT,
        "samples[0].unit",
        "Field required",
        sample={"unit": DROP},
    ),
    Rejected(
        "empty-source-name",
        HEART_RATE,
        "samples[0].source.name",
        "at least 1 character",
        sample={"source": {**_WATCH_SOURCE, "name": ""}},
    ),
    Rejected(
        "sample-uuid-not-a-uuid",
        HEART_RATE,
        "samples[0].uuid",
        "must be a UUID",
        sample={"uuid": "6948B9F7-18A6-4A55-9795"},
    ),
    Rejected(
        "number-for-sample-uuid",
        HEART_RATE,
        "samples[0].uuid",
        "UUID input should be a string",
        sample={"uuid": 42},
    ),
    Rejected(
        "sync-id-not-a-uuid",
        HEART_RATE,
        "sync_id",
        "must be a UUID",
        chunk={"sync_id": "sync-1"},
    ),
    Rejected(
        "deleted-uuid-not-a-uuid",
        HEART_RATE,
        "deleted[0].uuid",
        "must be a UUID",
        chunk={"deleted": [{"uuid": "gone"}]},
    ),
    Rejected(
        "negative-seq",
        HEART_RATE,
        "seq",
        "greater than or equal to 0",
        chunk={"seq": -1},
    ),
    Rejected(
        "seq-beyond-the-largest-sync",
        HEART_RATE,
        "seq",
        f"less than {MAX_CHUNKS_PER_SYNC}",
        chunk={"seq": MAX_CHUNKS_PER_SYNC},
    ),
    Rejected(
        "empty-anchor",
        HEART_RATE,
        "anchor",
        "at least 1 character",
        chunk={"anchor": ""},
    ),
    # Time zones.
    Rejected(
        "time-zone-not-iana",
        STEP_COUNT,
        "samples[0].time_zone",
        "'Europe/Atlantis' is not an IANA time zone",
        sample={"time_zone": "Europe/Atlantis"},
    ),
    Rejected(
        "time-zone-as-offset",
        STEP_COUNT,
        "samples[0].time_zone",
        "'+01:00' is not an IANA time zone",
        sample={"time_zone": "+01:00"},
    ),
    Rejected(
        "metadata-time-zone-not-iana",
        HEART_RATE,
        "samples[0].time_zone",
        "metadata.HKTimeZone 'Berlin' is not an IANA time zone",
        sample={"metadata": {"HKMetadataKeyHeartRateMotionContext": 1, "HKTimeZone": "Berlin"}},
    ),
]


@pytest.mark.parametrize("case", REJECTED, ids=lambda case: case.id)
def test_rule_rejects_its_bad_input_and_names_the_field(case: Rejected) -> None:
    text = case.text()
    if case.literal is not None:
        assert case.literal in text

    error = only_error(text)

    assert error.field == case.field
    assert case.reason in error.reason
    assert not error.reason.startswith("Value error")


@dataclass(frozen=True)
class Accepted:
    id: str
    sample_type: str
    sample: dict[str, Any]


ACCEPTED = [
    Accepted(
        "end-equals-start",
        SLEEP,
        {"start_date": "2026-11-24T01:00:00+01:00", "end_date": "2026-11-24T01:00:00+01:00"},
    ),
    Accepted(
        "end-later-as-an-instant-though-earlier-on-the-wall-clock",
        SLEEP,
        {"start_date": "2026-11-24T08:00:00+01:00", "end_date": "2026-11-24T07:30:00+00:00"},
    ),
    Accepted("utc-designator", HEART_RATE, {"start_date": "2026-11-24T06:42:13Z"}),
    Accepted(
        "exactly-the-healthkit-epoch",
        HEART_RATE,
        {"start_date": iso(HEALTHKIT_EPOCH), "end_date": iso(HEALTHKIT_EPOCH)},
    ),
    Accepted(
        "less-than-a-day-ahead",
        HEART_RATE,
        {
            "start_date": iso(_NOW + timedelta(hours=23)),
            "end_date": iso(_NOW + timedelta(hours=23)),
        },
    ),
    Accepted("zero-value", STEP_COUNT, {"value": 0}),
    Accepted("integer-value", HEART_RATE, {"value": 72}),
    Accepted("oxygen-saturation-of-one", OXYGEN, {"value": 1.0}),
    Accepted("zero-duration-workout", WORKOUT_TYPE, {"duration_s": 0}),
    Accepted("workout-without-totals", WORKOUT_TYPE, {"total_energy_kcal": None}),
    Accepted("largest-sleep-value", SLEEP, {"value": 5}),
    Accepted("lowercase-uuid", HEART_RATE, {"uuid": "6948b9f7-18a6-4a55-9795-807940c2ca21"}),
    Accepted("no-device", HEART_RATE, {"device": None}),
    Accepted("no-metadata", HEART_RATE, {"metadata": DROP}),
    Accepted("deep-iana-zone", STEP_COUNT, {"time_zone": "America/Argentina/Buenos_Aires"}),
    Accepted("utc-zone", STEP_COUNT, {"time_zone": "UTC"}),
]


@pytest.mark.parametrize("case", ACCEPTED, ids=lambda case: case.id)
def test_value_at_the_edge_of_a_rule_is_accepted(case: Accepted) -> None:
    chunk = validate(single_sample_chunk(case.sample_type, case.sample))
    assert len(chunk.samples) == 1
    assert chunk.samples[0].sample_type == case.sample_type


# --- Duplicates ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sample_type", "changes"),
    [
        pytest.param(HEART_RATE, {"value": 63}, id="other-value"),
        pytest.param(HEART_RATE, {"end_date": "2026-11-24T07:42:14+01:00"}, id="other-end"),
        pytest.param(HEART_RATE, {"metadata": {}}, id="other-metadata"),
        pytest.param(SLEEP, {"value": 4}, id="other-sleep-stage"),
        pytest.param(WORKOUT_TYPE, {"activity_type": "walking"}, id="other-activity"),
        pytest.param(
            HEART_RATE,
            {"uuid": "6948b9f7-18a6-4a55-9795-807940c2ca21", "value": 63},
            id="same-uuid-in-lowercase",
        ),
    ],
)
def test_a_uuid_repeated_with_different_content_is_rejected(
    sample_type: str, changes: dict[str, Any]
) -> None:
    document = fixture_chunk(sample_type)
    count = len(document["samples"])
    document["samples"].append({**document["samples"][0], **changes})

    error = only_error(json.dumps(document))

    assert error.field == "samples"
    assert error.reason.startswith(f"samples[{count}].uuid ")
    assert "repeats samples[0] with different content" in error.reason


@pytest.mark.parametrize("sample_type", [HEART_RATE, SLEEP, WORKOUT_TYPE])
def test_identical_repeats_are_accepted_and_deduplicated(sample_type: str) -> None:
    document = fixture_chunk(sample_type)
    originals = list(document["samples"])
    document["samples"] = [*originals, originals[0], originals[2], originals[0]]

    chunk = validate(document)

    assert len(chunk.samples) == len(originals) + 3
    unique = chunk.unique_samples()
    assert unique == chunk.samples[: len(originals)]
    assert [sample.uuid for sample in unique] == [UUID(sample["uuid"]) for sample in originals]


def test_deleted_uuids_are_deduplicated_and_sorted() -> None:
    document = fixture_chunk(SLEEP)
    first, second = document["deleted"]
    document["deleted"] = [second, first, {"uuid": second["uuid"].lower()}, second]

    chunk = validate(document)

    assert chunk.deleted_uuids() == sorted({UUID(first["uuid"]), UUID(second["uuid"])})


# --- Chunk size ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("samples", "deleted"),
    [
        pytest.param(MAX_CHUNK_ITEMS + 1, 0, id="samples-only"),
        pytest.param(0, MAX_CHUNK_ITEMS + 1, id="deletions-only"),
        pytest.param(MAX_CHUNK_ITEMS // 2, MAX_CHUNK_ITEMS // 2 + 1, id="together"),
    ],
)
def test_an_oversized_chunk_is_refused_before_its_items_are_read(
    samples: int, deleted: int
) -> None:
    # Empty objects: if the items were validated, each would be reported as missing fields.
    document = fixture_chunk(HEART_RATE)
    document["samples"] = [{}] * samples
    document["deleted"] = [{}] * deleted

    error = only_error(json.dumps(document))

    assert error.field == "body"
    assert error.reason == (
        f"chunk holds {MAX_CHUNK_ITEMS + 1} samples and deletions; at most {MAX_CHUNK_ITEMS}"
    )


def test_a_chunk_of_exactly_the_largest_size_is_accepted() -> None:
    document = fixture_chunk(HEART_RATE)
    gone = document["deleted"][0]
    document["deleted"] = [gone] * (MAX_CHUNK_ITEMS - len(document["samples"]))

    chunk = validate(document)

    assert len(chunk.samples) + len(chunk.deleted) == MAX_CHUNK_ITEMS
    assert chunk.deleted_uuids() == [UUID(gone["uuid"])]


# --- Time zones ------------------------------------------------------------------------------


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
    ],
)
def test_time_zone(changes: dict[str, Any], expected: str | None) -> None:
    assert "time_zone" not in _RAW_FIXTURES[HEART_RATE]["samples"][0]

    chunk = validate(single_sample_chunk(HEART_RATE, changes))

    assert chunk.samples[0].time_zone == expected
    assert json.loads(chunk.model_dump_json())["samples"][0]["time_zone"] == expected


# --- Units -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sample_type", "unit", "value", "canonical"),
    [
        pytest.param(HEART_RATE, "count/s", 1.2, 72.0, id="heart-rate-per-second"),
        pytest.param(HEART_RATE, "count/min", 72, 72.0, id="heart-rate-per-minute"),
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
        pytest.param(OXYGEN, "%", 0.97, 0.97, id="oxygen-fraction"),
    ],
)
def test_canonical_value_is_in_the_canonical_unit(
    sample_type: str, unit: str, value: float, canonical: float
) -> None:
    sample = validate(single_sample_chunk(sample_type, {"unit": unit, "value": value})).samples[0]

    assert isinstance(sample, QuantitySample)
    assert (sample.unit, sample.value) == (unit, value)
    assert sample.canonical_value == pytest.approx(canonical)


# --- Properties ------------------------------------------------------------------------------

_PROPERTY_SETTINGS = hypothesis_settings(deadline=None, max_examples=150)
_OFFSETS = st.sampled_from(
    [UTC, _BERLIN, timezone(timedelta(hours=-7)), timezone(timedelta(hours=5, minutes=30))]
)
_HEALTHKIT_ERA = st.datetimes(
    min_value=datetime(2014, 9, 18), max_value=datetime(2026, 11, 1), timezones=_OFFSETS
)


@_PROPERTY_SETTINGS
@given(value=st.floats(min_value=0, allow_nan=False, allow_infinity=False))
def test_any_finite_non_negative_heart_rate_is_accepted_as_is(value: float) -> None:
    chunk = validate(single_sample_chunk(HEART_RATE, {"unit": "count/min", "value": value}))

    sample = chunk.samples[0]
    assert isinstance(sample, QuantitySample)
    assert sample.value == value
    assert sample.canonical_value == value


@_PROPERTY_SETTINGS
@given(
    pair=st.sampled_from(
        [
            (spec.identifier, unit, factor)
            for spec in SAMPLE_TYPES.values()
            if spec.kind is SampleKind.QUANTITY and spec.max_value is None
            for unit, factor in spec.units.items()
        ]
    ),
    value=st.floats(min_value=0, max_value=1e9, allow_nan=False),
)
def test_canonical_value_is_the_value_times_its_unit_factor(
    pair: tuple[str, str, float], value: float
) -> None:
    sample_type, unit, factor = pair
    sample = validate(single_sample_chunk(sample_type, {"unit": unit, "value": value})).samples[0]

    assert isinstance(sample, QuantitySample)
    assert sample.canonical_value == pytest.approx(value * factor)


@_PROPERTY_SETTINGS
@given(first=_HEALTHKIT_ERA, second=_HEALTHKIT_ERA)
def test_any_end_before_start_is_rejected_naming_end_date(
    first: datetime, second: datetime
) -> None:
    start, end = max(first, second), min(first, second)
    changes = {"start_date": iso(start), "end_date": iso(end)}
    text = json.dumps(single_sample_chunk(SLEEP, changes))

    if end == start:
        assert validate(json.loads(text)).samples[0].end_date == start
    else:
        error = only_error(text)
        assert (error.field, error.reason) == (
            "samples[0].end_date",
            "end_date is before start_date",
        )


@_PROPERTY_SETTINGS
@given(value=st.integers(min_value=-(2**31), max_value=2**31))
def test_only_defined_sleep_values_are_accepted(value: int) -> None:
    text = json.dumps(single_sample_chunk(SLEEP, {"value": value}))

    if value in SAMPLE_TYPES[SLEEP].category_values:
        sample = validate(json.loads(text)).samples[0]
        assert isinstance(sample, CategorySample)
        assert sample.value == value
    else:
        error = only_error(text)
        assert error.field == "samples[0].value"
        assert f"category value {value} is not defined" in error.reason


# --- SyncCommit ------------------------------------------------------------------------------

_ANCHOR = _RAW_FIXTURES[HEART_RATE]["anchor"]


@pytest.mark.parametrize(
    ("chunk_count", "anchors"),
    [
        pytest.param(0, {HEART_RATE: _ANCHOR}, id="no-chunks"),
        pytest.param(1, {HEART_RATE: _ANCHOR}, id="one-chunk"),
        pytest.param(
            MAX_CHUNKS_PER_SYNC,
            dict.fromkeys(SAMPLE_TYPES, _ANCHOR),
            id="largest-sync-every-type",
        ),
        pytest.param(3, {SLEEP: "x" * 4096}, id="longest-anchor"),
    ],
)
def test_sync_commit_is_accepted(chunk_count: int, anchors: dict[str, str]) -> None:
    commit = SyncCommit.model_validate_json(
        json.dumps({"chunk_count": chunk_count, "anchors": anchors})
    )
    assert commit.chunk_count == chunk_count
    assert commit.anchors == anchors


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        pytest.param(
            {"chunk_count": -1, "anchors": {HEART_RATE: _ANCHOR}},
            "chunk_count",
            "greater than or equal to 0",
            id="negative-chunk-count",
        ),
        pytest.param(
            {"chunk_count": MAX_CHUNKS_PER_SYNC + 1, "anchors": {HEART_RATE: _ANCHOR}},
            "chunk_count",
            f"less than or equal to {MAX_CHUNKS_PER_SYNC}",
            id="too-many-chunks",
        ),
        pytest.param(
            {"chunk_count": "3", "anchors": {HEART_RATE: _ANCHOR}},
            "chunk_count",
            "valid integer",
            id="string-chunk-count",
        ),
        pytest.param(
            {"chunk_count": 2.5, "anchors": {HEART_RATE: _ANCHOR}},
            "chunk_count",
            "valid integer",
            id="fractional-chunk-count",
        ),
        pytest.param(
            {"anchors": {HEART_RATE: _ANCHOR}},
            "chunk_count",
            "Field required",
            id="missing-chunk-count",
        ),
        pytest.param(
            {"chunk_count": 1, "anchors": {}},
            "anchors",
            "at least 1 item",
            id="empty-anchors",
        ),
        pytest.param({"chunk_count": 1}, "anchors", "Field required", id="missing-anchors"),
        pytest.param(
            {"chunk_count": 1, "anchors": {UNSUPPORTED_TYPE: _ANCHOR}},
            f"anchors.{UNSUPPORTED_TYPE}",
            f"'{UNSUPPORTED_TYPE}' is not a HealthKit type this service supports",
            id="anchor-for-an-unsupported-type",
        ),
        pytest.param(
            {"chunk_count": 1, "anchors": {HEART_RATE: ""}},
            f"anchors.{HEART_RATE}",
            "at least 1 character",
            id="empty-anchor-token",
        ),
        pytest.param(
            {"chunk_count": 1, "anchors": {HEART_RATE: "x" * 4097}},
            f"anchors.{HEART_RATE}",
            "at most 4096 characters",
            id="oversized-anchor-token",
        ),
        pytest.param(
            {"chunk_count": 1, "anchors": {HEART_RATE: None}},
            f"anchors.{HEART_RATE}",
            "valid string",
            id="null-anchor-token",
        ),
        pytest.param(
            {"chunk_count": 1, "anchors": {HEART_RATE: _ANCHOR}, "sync_id": "x"},
            "sync_id",
            "Extra inputs are not permitted",
            id="unknown-field",
        ),
    ],
)
def test_sync_commit_rule_rejects_and_names_the_field(
    body: dict[str, Any], field: str, reason: str
) -> None:
    error = only_error(json.dumps(body), SyncCommit)

    assert error.field == field
    assert reason in error.reason


# --- Field paths -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("loc", "expected"),
    [
        pytest.param(("samples", 3, "quantity", "end_date"), "samples[3].end_date", id="quantity"),
        pytest.param(("samples", 0, "category", "value"), "samples[0].value", id="category"),
        pytest.param(
            ("samples", 12, "workout", "activity_type"), "samples[12].activity_type", id="workout"
        ),
        pytest.param(
            ("samples", 1, "quantity", "source", "name"), "samples[1].source.name", id="nested"
        ),
        pytest.param(("samples", 0), "samples[0]", id="item"),
        pytest.param(("deleted", 2, "uuid"), "deleted[2].uuid", id="list-without-union"),
        pytest.param(("sample_type",), "sample_type", id="top-level"),
        pytest.param((), "body", id="whole-body"),
        pytest.param(
            ("samples", 0, "quantity", "metadata", "quantity"),
            "samples[0].metadata.quantity",
            id="tag-name-not-after-an-index-is-kept",
        ),
        pytest.param(("metadata", "workout"), "metadata.workout", id="tag-name-at-top-is-kept"),
        pytest.param(("grid", 0, 1, "x"), "grid[0][1].x", id="nested-lists"),
        pytest.param(
            ("anchors", UNSUPPORTED_TYPE, "[key]"),
            f"anchors.{UNSUPPORTED_TYPE}",
            id="refused-dict-key",
        ),
    ],
)
def test_field_path(loc: tuple[int | str, ...], expected: str) -> None:
    assert field_path(loc) == expected


# --- Text PostgreSQL cannot store ---------------------------------------------------------------


NUL_REASON = "must not contain the NUL character (U+0000), which cannot be stored"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"source": {"name": "Watch\u0000", "bundle_id": "com.apple.health"}}, "source.name"),
        ({"metadata": {"HKExternalUUID": "x\u0000"}}, "metadata.HKExternalUUID"),
        ({"metadata": {"key\u0000": "x"}}, "metadata.key\u0000"),
        ({"device": {"name": "\u0000"}}, "device.name"),
    ],
)
def test_a_nul_character_in_any_text_is_refused_naming_the_field(
    changes: dict[str, Any], field: str
) -> None:
    # PostgreSQL text and jsonb cannot hold U+0000: such a chunk used to pass the API and then
    # fail in the processor on every retry, a poison chunk (issue 9's fault suite found it).
    errors = rejection(json.dumps(single_sample_chunk(HEART_RATE, changes)))

    # (A metadata value is one of four types: the union reports each; the text one says why.)
    assert FieldError(field=f"samples[0].{field}", reason=NUL_REASON) in [
        FieldError(field=error.field.removesuffix(".constrained-str"), reason=error.reason)
        for error in errors
    ]


def test_a_nul_character_in_an_anchor_is_refused() -> None:
    document = {"chunk_count": 1, "anchors": {HEART_RATE: "anchor\u0000"}}

    error = only_error(json.dumps(document), SyncCommit)

    assert error == FieldError(field=f"anchors.{HEART_RATE}", reason=NUL_REASON)
