"""Isolation by identity: a user is the verified token's subject, and nothing else.

Subjects that look like paths ("../alice", "alice/x", "%2e%2e") must stay inside their own
raw prefix and rows, whatever they contain; the basic two-user case is in test_processor.py,
and every route with another user's ids, over HTTP, in tests/e2e/test_data_protection.py.
"""

from __future__ import annotations

import uuid

import boto3
import psycopg
import pytest

from hksync.keys import MAX_USER_ID_BYTES, ChunkKey, parse_key, user_prefix
from tests.conftest import TEST_BUCKET
from tests.support.builders import chunk, commit, heart_rates
from tests.support.pipeline import Pipeline

ALICE = "alice"
TRICKY_SUBJECTS = [
    "../alice",
    "alice/..",
    "alice/../bob",
    "..",
    ".",
    "%2e%2e%2falice",
    "alice%2F",
    "alice ",
    "ALICE",
    "ünïcødé-用户",
    "a" * MAX_USER_ID_BYTES,  # the longest a subject may be (longer is a 401)
]


@pytest.mark.parametrize("subject", TRICKY_SUBJECTS)
def test_a_subject_that_looks_like_a_path_stays_in_its_own_space(
    subject: str, pipeline: Pipeline, db: psycopg.Connection
) -> None:
    sync_id = uuid.uuid4()
    alice_samples = heart_rates(3)
    assert pipeline.put_chunk(ALICE, chunk(sync_id, 0, alice_samples)).status == 202
    assert pipeline.commit(ALICE, sync_id, commit(1, "alice")).status == 202
    pipeline.drain()
    alice_rows = db.execute(
        "SELECT uuid, value FROM health_samples WHERE user_id = %s ORDER BY uuid", (ALICE,)
    ).fetchall()

    # The same sync id, seq and sample UUIDs as Alice's, with other values.
    theirs = [{**sample, "value": 150.0} for sample in alice_samples]
    upload = pipeline.put_chunk(subject, chunk(sync_id, 0, theirs))
    committed = pipeline.commit(subject, sync_id, commit(1, "theirs"))
    pipeline.drain()

    assert (upload.status, upload.body["created"]) == (202, True)
    assert (committed.status, committed.body["created"]) == (202, True)
    keys = [
        item["Key"]
        for item in boto3.client("s3").list_objects_v2(Bucket=TEST_BUCKET)["Contents"]
        if not item["Key"].startswith(user_prefix(ALICE))
    ]
    assert sorted(keys) == sorted(
        [str(ChunkKey(subject, sync_id, 0)), f"{user_prefix(subject)}{sync_id}/commit.json"]
    )
    for key in keys:
        assert key.count("/") == 4 or key.endswith("commit.json")
        assert key.split("/")[1] != ALICE
        assert parse_key(key) is not None
        assert parse_key(key).user_id == subject  # type: ignore[union-attr]
    assert (
        db.execute(
            "SELECT uuid, value FROM health_samples WHERE user_id = %s ORDER BY uuid", (ALICE,)
        ).fetchall()
        == alice_rows
    )
    assert db.execute(
        "SELECT count(*), min(value) FROM health_samples WHERE user_id = %s", (subject,)
    ).fetchone() == (3, 150.0)
    assert [a["anchor"] for a in pipeline.anchors(ALICE).body["anchors"]] == ["alice"]
    assert [a["anchor"] for a in pipeline.anchors(subject).body["anchors"]] == ["theirs"]
    assert pipeline.status(subject, sync_id).body["samples"]["inserted"] == 3
