"""A poison chunk on the local stack: an object the processor cannot read, however often it
tries. Lambda's asynchronous retries (two) fail too, the event lands in the processor's
dead-letter queue, the rest of the sync is stored, and the sync waits (committed, no anchor).
Once the cause is fixed, `hksync ops replay` completes it.

A contract-invalid chunk is the opposite case, checked alongside: not poison, because its
failure is permanent and known. It is recorded as failed with its reason, at the first
attempt, and never retried or dead-lettered.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import boto3
import httpx

from hksync.keys import ChunkKey
from hksync_tools.local.auth import issue_token
from hksync_tools.local.stack import LOCAL_REGION, LocalStack
from hksync_tools.ops.replay import replay_dead_letters
from hksync_tools.ops.resources import OpsResources
from hksync_tools.ops.target import OpsTarget
from tests.support.builders import chunk, commit, heart_rate, heart_rates

USER = "poison-user"


def _dead_letters(queue_url: str) -> list[dict[str, Any]]:
    """Every message in the queue, returned to it (visible again) at once."""
    sqs = boto3.client("sqs", region_name=LOCAL_REGION)
    received = sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0
    ).get("Messages", [])
    return [json.loads(message["Body"]) for message in received]


def test_a_poison_chunk_is_dead_lettered_the_rest_stored_and_a_replay_completes_the_sync(
    local_stack: LocalStack,
) -> None:
    info = local_stack.info
    assert info is not None
    s3 = boto3.client("s3", region_name=LOCAL_REGION)
    waiting, refused = uuid.uuid4(), uuid.uuid4()
    poison = str(ChunkKey(USER, waiting, 1))
    token = issue_token(USER, local_stack.signing_secret)
    with httpx.Client(
        base_url=info.api_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as client:
        # The waiting sync: chunks 0 and 2 are fine; chunk 1 is an object GetObject refuses
        # on every attempt (archived to Glacier, as a lifecycle rule would).
        for seq in (0, 2):
            body = chunk(waiting, seq, heart_rates(4, start=None))
            assert client.put(f"/v1/syncs/{waiting}/chunks/{seq}", json=body).status_code == 202
        poison_body = json.dumps(chunk(waiting, 1, heart_rates(3))).encode()
        s3.put_object(Bucket=info.raw_bucket, Key=poison, Body=poison_body, StorageClass="GLACIER")
        assert client.put(f"/v1/syncs/{waiting}/commit", json=commit(3, "w")).status_code == 202
        # The refused sync: chunk 0 breaks the contract (a presigned upload skips the API's
        # validation; the processor validates again).
        # (A bad sample alone would only be set aside: the envelope itself is broken here.)
        bad = {**chunk(refused, 0, [heart_rate()]), "deletions": []}
        target = client.post(f"/v1/syncs/{refused}/chunks/0/upload-url").json()
        uploaded = httpx.put(target["url"], content=json.dumps(bad), headers=target["headers"])
        assert uploaded.status_code == 200
        assert client.put(f"/v1/syncs/{refused}/commit", json=commit(1, "r")).status_code == 202
        local_stack.wait_until_idle()
        waiting_status = client.get(f"/v1/syncs/{waiting}").json()
        refused_status = client.get(f"/v1/syncs/{refused}").json()
        anchors_before = client.get("/v1/anchors").json()["anchors"]

        letters = _dead_letters(info.dead_letter_queue_url)
        # The fix: restore the archived object (in production: a Glacier restore request).
        s3.restore_object(Bucket=info.raw_bucket, Key=poison, RestoreRequest={"Days": 1})
        with OpsResources(
            OpsTarget(
                info.database_url,
                info.raw_bucket,
                info.dead_letter_queue_url,
                info.aws_endpoint_url,
            )
        ) as resources:
            report = replay_dead_letters(resources)
        deadline = time.monotonic() + 30
        while (final := client.get(f"/v1/syncs/{waiting}").json())["state"] != "complete":
            assert time.monotonic() < deadline, final
            time.sleep(0.2)
        anchors_after = client.get("/v1/anchors").json()["anchors"]

    # Dead-lettered after Lambda's three attempts: the poison chunk's events only (S3 may
    # have delivered it twice), never the contract-invalid one.
    assert letters
    assert {
        key["s3"]["object"]["key"]
        for letter in letters
        for key in letter["requestPayload"]["Records"]
    } == {poison}
    assert {letter["requestContext"]["approximateInvokeCount"] for letter in letters} == {3}
    # The rest is stored; the sync waits for its missing chunk and moves no anchor.
    assert waiting_status["state"] == "committed"
    assert (waiting_status["chunks_uploaded"], waiting_status["chunks_processed"]) == (3, 2)
    assert waiting_status["samples"]["received"] == 8
    assert waiting_status["failed_chunks"] == []
    # Contract-invalid: failed with its reason, at once.
    assert refused_status["state"] == "failed"
    assert refused_status["failed_chunks"][0]["seq"] == 0
    assert "deletions" in refused_status["failed_chunks"][0]["reason"]
    assert anchors_before == []
    # The replay, once the object can be read: every dead letter processed and deleted.
    assert all(message.deleted for message in report.messages)
    assert final["chunks_processed"] == 3
    assert final["samples"]["received"] == 11
    assert [anchor["anchor"] for anchor in anchors_after] == ["w"]
    assert _dead_letters(info.dead_letter_queue_url) == []
