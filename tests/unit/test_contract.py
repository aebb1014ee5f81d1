"""The commit side of the sync contract: SyncCommit, and how a refusal is named.

Every rule is checked through ``field_errors``, the shape clients receive: the exact field path
(``anchors.HKQuantityTypeIdentifierHeartRate``) and a reason. Bodies are sent as JSON text, as
a phone sends them. The chunk side (decode_chunk, one sample at a time) is tested in
test_chunk_contract.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from hksync.contract.field_errors import FieldError, field_errors, field_path
from hksync.contract.models import MAX_CHUNKS_PER_SYNC, SyncCommit
from hksync.contract.types import SAMPLE_TYPES
from tests.support.healthkit_fixtures import FUTURE_TYPE, fixture_chunk

HEART_RATE = "HKQuantityTypeIdentifierHeartRate"
SLEEP = "HKCategoryTypeIdentifierSleepAnalysis"
#: Not a HealthKit type identifier: the HK prefix is missing.
NOT_A_TYPE_IDENTIFIER = "StepCount"


def rejection(text: str, model: type[BaseModel] = SyncCommit) -> list[FieldError]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate_json(text)
    return field_errors(caught.value)


def only_error(text: str, model: type[BaseModel] = SyncCommit) -> FieldError:
    errors = rejection(text, model)
    assert len(errors) == 1, errors
    return errors[0]


# --- SyncCommit ------------------------------------------------------------------------------

_ANCHOR = fixture_chunk(HEART_RATE)["anchor"]


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
        # Types the server does not know yet are stored as sent, and their anchors kept.
        pytest.param(1, {FUTURE_TYPE: _ANCHOR}, id="anchor-for-a-type-the-server-does-not-know"),
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
            {"chunk_count": 1, "anchors": {NOT_A_TYPE_IDENTIFIER: _ANCHOR}},
            f"anchors.{NOT_A_TYPE_IDENTIFIER}",
            "String should match pattern '^HK[A-Za-z0-9]{1,126}$'",
            id="anchor-for-a-key-that-is-not-a-type-identifier",
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
            ("anchors", NOT_A_TYPE_IDENTIFIER, "[key]"),
            f"anchors.{NOT_A_TYPE_IDENTIFIER}",
            id="refused-dict-key",
        ),
    ],
)
def test_field_path(loc: tuple[int | str, ...], expected: str) -> None:
    assert field_path(loc) == expected


# --- Text PostgreSQL cannot store ---------------------------------------------------------------


NUL_REASON = "must not contain the NUL character (U+0000), which cannot be stored"


def test_a_nul_character_in_an_anchor_is_refused() -> None:
    document = {"chunk_count": 1, "anchors": {HEART_RATE: "anchor\u0000"}}

    error = only_error(json.dumps(document), SyncCommit)

    assert error == FieldError(field=f"anchors.{HEART_RATE}", reason=NUL_REASON)
