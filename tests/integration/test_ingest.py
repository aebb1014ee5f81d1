"""The upload API: what the app sees when it sends chunks and commits."""

from __future__ import annotations

import gzip
import json
import uuid

import boto3
import pytest

from tests.conftest import TEST_BUCKET
from tests.support.builders import chunk, commit, heart_rate, heart_rates
from tests.support.pipeline import Pipeline


def _stored_keys() -> list[str]:
    listing = boto3.client("s3").list_objects_v2(Bucket=TEST_BUCKET)
    return [item["Key"] for item in listing.get("Contents", [])]


def test_a_chunk_is_stored_in_s3_and_answered_with_202(pipeline: Pipeline) -> None:
    sync_id = uuid.uuid4()
    result = pipeline.put_chunk(
        "alice", chunk(sync_id, 0, heart_rates(3), deleted=[str(uuid.uuid4())])
    )

    assert result.status == 202
    assert result.body == {
        "sync_id": str(sync_id),
        "seq": 0,
        "created": True,
        "samples": 3,
        "deleted": 1,
    }
    assert _stored_keys() == [f"raw/alice/{sync_id}/chunks/000000.json"]


def test_a_client_retry_is_202_and_a_different_body_is_409(pipeline: Pipeline) -> None:
    sync_id = uuid.uuid4()
    original = chunk(sync_id, 0, heart_rates(2))
    changed = chunk(sync_id, 0, [*original["samples"][:1], heart_rate(bpm=99)])

    first = pipeline.put_chunk("alice", original)
    retry = pipeline.put_chunk("alice", original)
    retry_gzipped = pipeline.put_chunk("alice", original, gzipped=True)
    conflict = pipeline.put_chunk("alice", changed)

    assert (first.status, first.body["created"]) == (202, True)
    assert (retry.status, retry.body["created"]) == (202, False)
    assert (retry_gzipped.status, retry_gzipped.body["created"]) == (202, False)
    assert conflict.status == 409
    assert conflict.body["error"] == "conflict"
    stored = boto3.client("s3").get_object(
        Bucket=TEST_BUCKET, Key=f"raw/alice/{sync_id}/chunks/000000.json"
    )
    assert json.loads(stored["Body"].read()) == original


def test_gzip_bodies_are_accepted(pipeline: Pipeline) -> None:
    sync_id = uuid.uuid4()
    result = pipeline.put_chunk("alice", chunk(sync_id, 0, heart_rates(50)), gzipped=True)

    assert result.status == 202
    assert result.body["samples"] == 50


@pytest.mark.parametrize(
    ("headers", "body", "status", "error"),
    [
        pytest.param(
            {"content-type": "text/plain"},
            b"{}",
            415,
            "unsupported_media_type",
            id="wrong-content-type",
        ),
        pytest.param({}, b"{not json", 400, "malformed_body", id="bad-json"),
        pytest.param(
            {"content-encoding": "gzip"},
            b"\x1f\x8b\x08\x00broken",
            400,
            "malformed_body",
            id="bad-gzip",
        ),
        pytest.param({}, b"\xff\xfe\x00binary", 400, "malformed_body", id="not-utf8"),
        pytest.param({}, b" " * (5 * 1024 * 1024), 413, "payload_too_large", id="oversized-body"),
        pytest.param(
            {"content-encoding": "gzip"},
            gzip.compress(b" " * (40 * 1024 * 1024)),
            413,
            "payload_too_large",
            id="gzip-bomb",
        ),
    ],
)
def test_bad_bodies_are_4xx_and_store_nothing(
    pipeline: Pipeline, headers: dict[str, str], body: bytes, status: int, error: str
) -> None:
    result = pipeline.call(
        pipeline.ingest,
        "PUT",
        "/v1/syncs/{sync_id}/chunks/{seq}",
        {"sync_id": str(uuid.uuid4()), "seq": "0"},
        user="alice",
        body=body,
        headers=headers,
    )

    assert result.status == status, result.body
    assert result.body["error"] == error
    assert result.body["message"]
    assert _stored_keys() == []


def test_an_envelope_error_is_422_naming_the_field(pipeline: Pipeline) -> None:
    body = chunk(uuid.uuid4(), 0, [heart_rate()])
    body["deletions"] = []  # misspelt: deleted

    result = pipeline.put_chunk("alice", body)

    assert result.status == 422
    assert result.body["error"] == "validation_failed"
    assert [detail["field"] for detail in result.body["details"]] == ["deletions"]
    assert _stored_keys() == []


def test_a_bad_sample_in_a_good_envelope_is_accepted_for_the_processor_to_set_aside(
    pipeline: Pipeline,
) -> None:
    """Ingest checks the envelope only (ADR 0004): a sample's own problems reject that sample
    alone, in the processor, so the upload is acknowledged and stored whole."""
    sync_id = uuid.uuid4()
    sample = heart_rate()
    sample["end_date"] = "2026-11-20T07:00:00+00:00"  # before its start
    sample["unit"] = "kg"

    result = pipeline.put_chunk("alice", chunk(sync_id, 0, [heart_rate(), sample]))

    assert result.status == 202, result.body
    assert result.body["samples"] == 2
    assert len(_stored_keys()) == 1


def test_body_and_path_must_name_the_same_chunk(pipeline: Pipeline) -> None:
    body = chunk(uuid.uuid4(), 3, heart_rates(1))
    result = pipeline.call(
        pipeline.ingest,
        "PUT",
        "/v1/syncs/{sync_id}/chunks/{seq}",
        {"sync_id": str(uuid.uuid4()), "seq": "0"},
        user="alice",
        body=json.dumps(body).encode(),
    )

    assert result.status == 422
    assert {detail["field"] for detail in result.body["details"]} == {"sync_id", "seq"}


@pytest.mark.parametrize(
    ("sync_id", "seq", "field"),
    [
        pytest.param("not-a-uuid", "0", "path.sync_id", id="non-uuid-sync"),
        pytest.param(str(uuid.uuid4()), "-1", "path.seq", id="negative-seq"),
        pytest.param(str(uuid.uuid4()), "abc", "path.seq", id="non-numeric-seq"),
        pytest.param("..%2F..%2Fetc", "0", "path.sync_id", id="traversal"),
    ],
)
def test_bad_path_parameters_are_422(
    pipeline: Pipeline, sync_id: str, seq: str, field: str
) -> None:
    result = pipeline.call(
        pipeline.ingest,
        "PUT",
        "/v1/syncs/{sync_id}/chunks/{seq}",
        {"sync_id": sync_id, "seq": seq},
        user="alice",
        body=b"{}",
    )

    assert result.status == 422
    assert [detail["field"] for detail in result.body["details"]] == [field]


def test_a_request_without_a_verified_user_is_401(pipeline: Pipeline) -> None:
    result = pipeline.put_chunk(None, chunk(uuid.uuid4(), 0, heart_rates(1)))  # type: ignore[arg-type]

    assert result.status == 401
    assert _stored_keys() == []


def test_commit_is_idempotent_and_conflicts_on_change(pipeline: Pipeline) -> None:
    sync_id = uuid.uuid4()

    first = pipeline.commit("alice", sync_id, commit(2))
    retry = pipeline.commit("alice", sync_id, commit(2))
    changed = pipeline.commit("alice", sync_id, commit(3))

    assert (first.status, first.body["created"]) == (202, True)
    assert (retry.status, retry.body["created"]) == (202, False)
    assert retry.body["committed_at"] == first.body["committed_at"]
    assert changed.status == 409


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param(
            {"chunk_count": -1, "anchors": {"HKQuantityTypeIdentifierHeartRate": "a"}},
            "chunk_count",
            id="negative",
        ),
        pytest.param({"chunk_count": 1, "anchors": {}}, "anchors", id="no-anchors"),
        pytest.param(
            {"chunk_count": 1, "anchors": {"NotAType": "a"}},
            "anchors.NotAType",
            id="not-a-healthkit-identifier",
        ),
    ],
)
def test_a_bad_commit_is_422(pipeline: Pipeline, body: dict[str, object], field: str) -> None:
    result = pipeline.commit("alice", uuid.uuid4(), body)

    assert result.status == 422
    assert [detail["field"] for detail in result.body["details"]] == [field]


def test_upload_url_is_signed_for_the_callers_own_chunk_key(pipeline: Pipeline) -> None:
    sync_id = uuid.uuid4()
    result = pipeline.upload_url("alice", sync_id, 7)

    assert result.status == 200
    assert f"/raw/alice/{sync_id}/chunks/000007.json?" in result.body["url"]
    assert "if-none-match" in result.body["url"].lower()
    assert result.body["headers"] == {"Content-Type": "application/json", "If-None-Match": "*"}


def test_a_sync_is_its_chunks_below_chunk_count_and_nothing_else(pipeline: Pipeline) -> None:
    """One rule for chunk_count (issue 16): once the commit is stored, a chunk (or upload URL)
    at or beyond its chunk_count is refused; a commit is refused while such a chunk is stored.
    Chunks below it, and retries, are taken as ever. Every refusal names the field."""
    committed, early = uuid.uuid4(), uuid.uuid4()
    first = chunk(committed, 0, heart_rates(2))
    assert pipeline.put_chunk("alice", first).status == 202
    assert pipeline.commit("alice", committed, commit(2)).status == 202
    beyond = pipeline.put_chunk("alice", chunk(committed, 2, heart_rates(2)))
    beyond_url = pipeline.upload_url("alice", committed, 5)
    below = pipeline.put_chunk("alice", chunk(committed, 1, heart_rates(2)))
    retry = pipeline.put_chunk("alice", first)
    for seq in (0, 1):
        assert pipeline.put_chunk("alice", chunk(early, seq, heart_rates(2))).status == 202
    too_few = pipeline.commit("alice", early, commit(1))

    assert (beyond.status, beyond_url.status, below.status) == (409, 409, 202)
    assert (retry.status, retry.body["created"]) == (202, False)
    assert [detail["field"] for detail in beyond.body["details"]] == ["seq"]
    assert [detail["field"] for detail in beyond_url.body["details"]] == ["seq"]
    assert too_few.status == 409
    assert [detail["field"] for detail in too_few.body["details"]] == ["chunk_count"]
    assert "chunk(s) 1" in too_few.body["message"]
    assert f"raw/alice/{committed}/chunks/000002.json" not in _stored_keys()
    assert f"raw/alice/{early}/commit.json" not in _stored_keys()


@pytest.mark.parametrize("seq", ["1_0", "+1", "01", "1.0", "-0", " 1", "1e1", "٣"])
def test_a_seq_that_is_not_a_canonical_decimal_is_422_naming_it(
    pipeline: Pipeline, seq: str
) -> None:
    """Issue 16: seq 1_0 was read as 10, and +1, 01, 1.0 as 1 (pydantic's lax int)."""
    sync_id = uuid.uuid4()
    params = {"sync_id": str(sync_id), "seq": seq}
    body = json.dumps(chunk(sync_id, 1, heart_rates(1))).encode()
    answers = [
        pipeline.call(
            pipeline.ingest, "PUT", "/v1/syncs/{sync_id}/chunks/{seq}", params, user="a", body=body
        ),
        pipeline.call(
            pipeline.ingest, "POST", "/v1/syncs/{sync_id}/chunks/{seq}/upload-url", params, user="a"
        ),
    ]

    for answer in answers:
        assert answer.status == 422, answer.body
        assert [detail["field"] for detail in answer.body["details"]] == ["path.seq"]
        assert "decimal" in answer.body["details"][0]["reason"]
    assert _stored_keys() == []


@pytest.mark.parametrize(
    "sync_id",
    [
        "6f3a241731754cab9b5f000000000009",
        "{6f3a2417-3175-4cab-9b5f-000000000009}",
        "urn:uuid:6f3a2417-3175-4cab-9b5f-000000000009",
    ],
)
def test_a_sync_id_in_another_form_than_the_hyphenated_one_is_422(
    pipeline: Pipeline, sync_id: str
) -> None:
    canonical = uuid.UUID(sync_id)
    body = json.dumps(chunk(canonical, 0, heart_rates(1))).encode()

    answer = pipeline.call(
        pipeline.ingest,
        "PUT",
        "/v1/syncs/{sync_id}/chunks/{seq}",
        {"sync_id": sync_id, "seq": "0"},
        user="a",
        body=body,
    )

    assert answer.status == 422, answer.body
    assert [detail["field"] for detail in answer.body["details"]] == ["path.sync_id"]


def test_an_unknown_content_encoding_is_415_naming_the_header(pipeline: Pipeline) -> None:
    """Issue 16: Content-Encoding: AAA was accepted with 202."""
    sync_id = uuid.uuid4()

    answer = pipeline.put_chunk("a", chunk(sync_id, 0, heart_rates(1)))
    odd = pipeline.call(
        pipeline.ingest,
        "PUT",
        "/v1/syncs/{sync_id}/chunks/{seq}",
        {"sync_id": str(sync_id), "seq": "1"},
        user="a",
        body=json.dumps(chunk(sync_id, 1, heart_rates(1))).encode(),
        headers={"content-encoding": "AAA"},
    )

    assert answer.status == 202
    assert (odd.status, odd.body["error"]) == (415, "unsupported_media_type")
    assert [detail["field"] for detail in odd.body["details"]] == ["Content-Encoding"]
    assert f"raw/a/{sync_id}/chunks/000001.json" not in _stored_keys()


def test_every_error_names_a_field_400_409_and_415_too(pipeline: Pipeline) -> None:
    """Issue 16: 400, 409 and 415 answers carried no details."""
    sync_id = uuid.uuid4()
    first = chunk(sync_id, 0, heart_rates(1))
    assert pipeline.put_chunk("a", first).status == 202
    answers = {
        "not json": pipeline.put_chunk("a", first, body=b"{not json"),
        "bad gzip": pipeline.put_chunk("a", first, body=gzip.compress(b"{}")[:-4] + b"xx"),
        "conflict": pipeline.put_chunk("a", chunk(sync_id, 0, heart_rates(1))),
        "csv": pipeline.call(
            pipeline.ingest,
            "PUT",
            "/v1/syncs/{sync_id}/commit",
            {"sync_id": str(sync_id)},
            user="a",
            body=b"{}",
            headers={"content-type": "text/csv"},
        ),
        "unknown sync": pipeline.status("a", uuid.uuid4()),
        "no user": pipeline.put_chunk(None, first),  # type: ignore[arg-type]
    }

    statuses = {name: answer.status for name, answer in answers.items()}
    assert statuses == {
        "not json": 400,
        "bad gzip": 400,
        "conflict": 409,
        "csv": 415,
        "unknown sync": 404,
        "no user": 401,
    }
    for name, answer in answers.items():
        assert answer.body["details"], name
        assert all(detail["field"] and detail["reason"] for detail in answer.body["details"])
