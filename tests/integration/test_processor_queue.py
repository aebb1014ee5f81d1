"""Queue mode (ProcessingMode=queue): the processor gets SQS batches whose message bodies are
the raw bucket's S3 notifications, and reports back only the messages that failed.

The handler is the deployed one, loaded from functions/processor; S3 is moto and the database
the real test PostgreSQL. The SQS event source itself is AWS's: these tests hand the handler
the batches it would deliver, and check what SQS would do with the answer (delete the
messages not reported as failed, redeliver the others).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

import boto3
import psycopg
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from hksync_tools.local.functions import FakeLambdaContext
from tests.conftest import TEST_BUCKET
from tests.support.builders import chunk, commit, heart_rates
from tests.support.pipeline import Pipeline

QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:hksync-test-RawObjectsQueue"
S3_TEST_EVENT = {
    "Service": "Amazon S3",
    "Event": "s3:TestEvent",
    "Time": "2025-01-14T07:00:00.000Z",
    "Bucket": TEST_BUCKET,
    "RequestId": "5582815E1AEA5ADF",
    "HostId": "8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wr",
}


def sqs_batch(bodies: list[str]) -> dict[str, Any]:
    """An SQS event source batch, one message per body (as Lambda delivers it)."""
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": f"receipt-{index}",
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1736838602498",
                    "SenderId": "AIDAJHIPRHEMV73VRJEBU",
                    "ApproximateFirstReceiveTimestamp": "1736838602748",
                },
                "messageAttributes": {},
                "md5OfBody": hashlib.md5(body.encode()).hexdigest(),  # noqa: S324 - as SQS does
                "eventSource": "aws:sqs",
                "eventSourceARN": QUEUE_ARN,
                "awsRegion": "us-east-1",
            }
            for index, body in enumerate(bodies)
        ]
    }


def notification_bodies(pipeline: Pipeline) -> list[str]:
    """What S3 writes to the queue for each new object: its notification, as JSON."""
    return [json.dumps(obj.event(pipeline.bucket)) for obj in pipeline.pending()]


def process(pipeline: Pipeline, batch: dict[str, Any]) -> dict[str, Any]:
    response: dict[str, Any] = pipeline.processor(batch, FakeLambdaContext("processor"))
    return response


def failed_ids(response: dict[str, Any]) -> list[str]:
    return [item["itemIdentifier"] for item in response["batchItemFailures"]]


def upload_sync(pipeline: Pipeline, user: str, chunks: int = 3) -> uuid.UUID:
    sync_id = uuid.uuid4()
    samples = heart_rates(10 * chunks)
    for seq in range(chunks):
        body = chunk(sync_id, seq, samples[seq * 10 : (seq + 1) * 10])
        assert pipeline.put_chunk(user, body).status == 202
    assert pipeline.commit(user, sync_id, commit(chunks, f"anchor-{sync_id}")).status == 202
    return sync_id


def sync_state(db: psycopg.Connection, user: str, sync_id: uuid.UUID) -> tuple[Any, ...]:
    row = db.execute(
        """SELECT state, chunks_processed, samples_inserted FROM sync_sessions
           WHERE user_id = %s AND sync_id = %s""",
        (user, sync_id),
    ).fetchone()
    assert row is not None
    return tuple(row)


def test_a_sync_delivered_through_the_queue_is_stored_and_completed(
    pipeline: Pipeline, db: psycopg.Connection
) -> None:
    sync_id = upload_sync(pipeline, "queue-user")

    response = process(pipeline, sqs_batch(notification_bodies(pipeline)))

    assert response == {"batchItemFailures": []}  # SQS deletes every message
    assert sync_state(db, "queue-user", sync_id) == ("complete", 3, 30)
    anchor = db.execute(
        "SELECT anchor FROM sync_anchors WHERE user_id = %s", ("queue-user",)
    ).fetchone()
    assert anchor == (f"anchor-{sync_id}",)


def test_only_the_message_whose_processing_raised_is_reported_failed(
    pipeline: Pipeline, db: psycopg.Connection
) -> None:
    sync_id = upload_sync(pipeline, "queue-user")
    good = notification_bodies(pipeline)
    # A commit the ingest function could never have written: the processor raises on it
    # (a bug or tampering), so it must be retried and dead-lettered, not dropped.
    broken_key = f"raw/queue-user/{uuid.uuid4()}/commit.json"
    boto3.client("s3").put_object(Bucket=TEST_BUCKET, Key=broken_key, Body=b"{not json")
    (broken,) = notification_bodies(pipeline)
    batch = sqs_batch([*good[:2], broken, *good[2:]])
    broken_id = batch["Records"][2]["messageId"]

    response = process(pipeline, batch)

    assert failed_ids(response) == [broken_id]
    assert sync_state(db, "queue-user", sync_id) == ("complete", 3, 30)

    # SQS redelivers only the failed message (here: the whole batch again, which is also
    # safe): the stored objects are duplicates, the broken one fails again, alone.
    again = process(pipeline, batch)
    assert failed_ids(again) == [broken_id]
    assert sync_state(db, "queue-user", sync_id) == ("complete", 3, 30)


def test_a_message_that_is_not_an_s3_notification_fails_alone(pipeline: Pipeline) -> None:
    upload_sync(pipeline, "queue-user", chunks=1)
    batch = sqs_batch(["this is not JSON", *notification_bodies(pipeline)])

    response = process(pipeline, batch)

    assert failed_ids(response) == [batch["Records"][0]["messageId"]]


def test_a_batch_that_fails_entirely_is_returned_whole(pipeline: Pipeline) -> None:
    # Powertools raises when every record failed: Lambda reports an error and SQS makes the
    # whole batch visible again, the same outcome as reporting each message.
    with pytest.raises(BatchProcessingError):
        process(pipeline, sqs_batch(["{}{", "[1, 2"]))


def test_the_s3_test_event_is_consumed(pipeline: Pipeline) -> None:
    # S3 sends it to the queue when the notification is configured; it names no object.
    assert process(pipeline, sqs_batch([json.dumps(S3_TEST_EVENT)])) == {"batchItemFailures": []}


def test_direct_mode_events_still_work_beside_queue_mode(
    pipeline: Pipeline, db: psycopg.Connection
) -> None:
    # The same deployed handler serves both modes: a template switch, not a code change.
    sync_id = upload_sync(pipeline, "direct-user", chunks=1)
    results = pipeline.drain()
    assert {result["outcome"] for result in results} == {"stored", "committed"}
    assert sync_state(db, "direct-user", sync_id)[0] == "complete"
