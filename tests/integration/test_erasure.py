"""Erasing a user (DELETE /v1/me) through the account function: every row, raw object version
and reminder schedule of the user goes, nobody else's, and nothing erased can come back.

The functions run in process over moto (a versioned bucket, as deployed) and the test
database; the erasure queue is drained by the same poller the local stack uses.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import psycopg
import pytest

from hksync.aws.s3 import RawStore
from hksync.db.erasure import ErasureRepository
from hksync.db.syncs import SyncRepository
from hksync.keys import user_prefix
from hksync.ports import StoredObject
from hksync.processing import ChunkProcessor
from hksync_tools.local.functions import FakeLambdaContext, load_handler
from hksync_tools.local.queues import QueueEventSource, QueuePoller
from hksync_tools.local.workers import Invocation
from tests.conftest import TEST_BUCKET
from tests.support.builders import chunk, commit, heart_rates
from tests.support.pipeline import FUNCTIONS, HttpResult, Pipeline
from tests.support.reference import REFERENCE, read_state

ALICE = REFERENCE.user
BOB = "bob"
GROUP = "hksync-reminders-test"
QUEUE = "hksync-erasure-test"
USER_TABLES = (
    "health_samples",
    "sync_chunks",
    "sync_sessions",
    "sync_anchors",
    "reminders",
    "reminder_deliveries",
)


@dataclass
class Account:
    pipeline: Pipeline
    account: Any
    reminders: Any
    poller: QueuePoller

    def erase(self, user: str) -> HttpResult:
        return self.pipeline.call(self.account, "DELETE", "/v1/me", {}, user=user)

    def erasure(self, user: str) -> HttpResult:
        return self.pipeline.call(self.account, "GET", "/v1/me/erasure", {}, user=user)

    def run_worker(self) -> int:
        """Delivers every queued erasure message to the worker; how many there were."""
        delivered = 0
        while batch := self.poller.poll_once():
            delivered += batch
        return delivered

    def remind(self, user: str, title: str) -> HttpResult:
        at = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
        body = {
            "reminder_id": str(uuid.uuid4()),
            "kind": "medication",
            "title": title,
            "time_zone": "Europe/Berlin",
            "at": at,
        }
        return self.pipeline.call(
            self.reminders, "POST", "/v1/reminders", {}, user=user, body=json.dumps(body).encode()
        )


@pytest.fixture
def accounts(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> Account:
    from hksync.settings import settings_for

    boto3.client("s3").put_bucket_versioning(
        Bucket=TEST_BUCKET, VersioningConfiguration={"Status": "Enabled"}
    )
    sqs = boto3.client("sqs")
    queue_url = sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    boto3.client("scheduler").create_schedule_group(Name=GROUP)
    for name, value in {
        "ERASURE_QUEUE_URL": queue_url,
        "REMINDER_SCHEDULE_GROUP": GROUP,
        "DISPATCHER_FUNCTION_ARN": "arn:aws:lambda:us-east-1:123456789012:function:dispatcher",
        "SCHEDULER_ROLE_ARN": "arn:aws:iam::123456789012:role/reminder-scheduler",
        "REMINDER_DLQ_ARN": "arn:aws:sqs:us-east-1:123456789012:reminder-dlq",
    }.items():
        monkeypatch.setenv(name, value)
    settings_for.cache_clear()
    account = load_handler(FUNCTIONS / "account", "app.handler")
    source = QueueEventSource("AccountFunction", "ErasureQueue", 1, None, 0)
    references = {
        "ErasureQueue": queue_url,
        "ErasureQueue.Arn": queue_arn,
        "AWS::Region": "us-east-1",
    }
    poller = QueuePoller(
        sqs,
        source,
        references,
        lambda event: Invocation(result=account(event, FakeLambdaContext("account"))),
    )
    return Account(pipeline, account, load_handler(FUNCTIONS / "reminders", "app.handler"), poller)


def _versions(user: str) -> int:
    listed = boto3.client("s3").list_object_versions(Bucket=TEST_BUCKET, Prefix=user_prefix(user))
    return len(listed.get("Versions", [])) + len(listed.get("DeleteMarkers", []))


def _rows_of(db: psycopg.Connection, user: str) -> dict[str, int]:
    return {
        table: db.execute(
            f"SELECT count(*) FROM {table} WHERE user_id = %s",  # noqa: S608 - constant names
            (user,),
        ).fetchone()[0]  # type: ignore[index]
        for table in USER_TABLES
    }


def _schedules() -> list[str]:
    listed = boto3.client("scheduler").list_schedules(GroupName=GROUP)["Schedules"]
    return sorted(schedule["Name"] for schedule in listed)


def _bob_syncs(pipeline: Pipeline) -> None:
    sync_id = uuid.uuid4()
    assert pipeline.put_chunk(BOB, chunk(sync_id, 0, heart_rates(5))).status == 202
    assert pipeline.commit(BOB, sync_id, commit(1, "bob-anchor")).status == 202


def test_erasing_a_user_deletes_everything_of_theirs_and_nothing_else(
    accounts: Account, db: psycopg.Connection
) -> None:
    pipeline = accounts.pipeline
    REFERENCE.upload(pipeline)
    _bob_syncs(pipeline)
    pipeline.drain()
    # A versioned bucket keeps what was overwritten or deleted: an object of Alice's that was
    # deleted leaves a noncurrent version and a delete marker, and both must go too.
    s3 = boto3.client("s3")
    stray = f"{user_prefix(ALICE)}{uuid.uuid4()}/chunks/000009.json"
    s3.put_object(Bucket=TEST_BUCKET, Key=stray, Body=b"{}")
    s3.delete_object(Bucket=TEST_BUCKET, Key=stray)
    for title in ("Metformin 500 mg", "Evening check-in"):
        assert accounts.remind(ALICE, title).status == 201
    assert accounts.remind(BOB, "Bob's pill").status == 201
    bob_before, bob_schedules = read_state(db, BOB), _schedules()[:]
    alice_versions = _versions(ALICE)
    assert alice_versions == 10 + 2  # 7 chunks, 3 commits, the stray's version and marker

    requested = accounts.erase(ALICE)
    again = accounts.erase(ALICE)
    pending = accounts.erasure(ALICE)
    handled = accounts.run_worker()
    done = accounts.erasure(ALICE)

    assert requested.status == again.status == 202
    assert requested.body["state"] == "pending"
    assert again.body["erasure_id"] == requested.body["erasure_id"]  # one erasure, asked twice
    assert (pending.status, pending.body["state"]) == (200, "pending")
    assert handled == 2  # both requests queued it; the second run finds it complete
    assert done.status == 200
    assert done.body["erasure_id"] == requested.body["erasure_id"]
    assert done.body["state"] == "complete"
    assert done.body["completed_at"] is not None
    assert done.body["erased"] == {
        "objects": alice_versions,
        "samples": 46,
        "syncs": 3,
        "anchors": 2,
        "reminders": 2,
    }
    assert _rows_of(db, ALICE) == dict.fromkeys(USER_TABLES, 0)
    assert _versions(ALICE) == 0
    assert len(_schedules()) == 1
    # Bob: untouched.
    assert read_state(db, BOB) == bob_before
    assert _schedules() == [name for name in bob_schedules if name in _schedules()]
    assert _rows_of(db, BOB)["reminders"] == 1
    assert _versions(BOB) == 2
    assert accounts.erasure(BOB).status == 404


def test_nothing_erased_comes_back_and_a_returning_user_starts_afresh(
    accounts: Account, db: psycopg.Connection
) -> None:
    pipeline = accounts.pipeline
    REFERENCE.upload(pipeline)
    objects = pipeline.pending()
    pipeline.deliver(objects)
    first_chunk = REFERENCE.sync("A").chunks[0]
    body = json.dumps(first_chunk).encode()
    uploaded_before = datetime.now(UTC) - timedelta(minutes=1)
    erased = accounts.erase(ALICE).body
    accounts.run_worker()

    # Late S3 events for erased objects: the objects are gone, nothing is stored.
    late = pipeline.deliver(objects)
    # A processor that read its object before the erasure and writes after it: refused.
    processor = ChunkProcessor(_StoreOf(body, uploaded_before), SyncRepository(db), max_bytes=10**6)
    with pytest.raises(psycopg.errors.RaiseException, match="erasure was requested"):
        processor.process(f"{user_prefix(ALICE)}{REFERENCE.sync('A').sync_id}/chunks/000000.json")
    rows_after_late_writes = _rows_of(db, ALICE)
    # Alice comes back and syncs again: new uploads are hers to keep.
    again = accounts.erase(ALICE)
    accounts.run_worker()
    REFERENCE.upload(pipeline, "A")
    # S3's events for the new objects (the same keys and bytes as before the erasure).
    pipeline.deliver(obj for obj in objects if REFERENCE.name_of(obj.key).startswith("A"))

    assert {result["outcome"] for result in late} == {"missing"}
    assert rows_after_late_writes == dict.fromkeys(USER_TABLES, 0)
    assert again.body["erasure_id"] != erased["erasure_id"]  # the first one was complete
    assert _rows_of(db, ALICE)["health_samples"] == 32
    assert _rows_of(db, ALICE)["sync_sessions"] == 1


class _StoreOf(RawStore):
    """A raw store that still returns an object the erasure has deleted since."""

    def __init__(self, body: bytes, last_modified: datetime) -> None:
        self._object = StoredObject(body, last_modified)

    def get(self, key: str) -> StoredObject | None:
        return self._object


def test_the_erasure_waits_for_a_processor_writing_for_the_user_then_deletes_its_rows(
    accounts: Account, database_url: str, db: psycopg.Connection
) -> None:
    sync_id = uuid.uuid4()
    plan = chunk(sync_id, 0, heart_rates(3))
    from hksync.contract.models import Chunk

    samples = Chunk.model_validate_json(json.dumps(plan)).unique_samples()
    with (
        psycopg.connect(database_url, autocommit=True) as writer,
        psycopg.connect(database_url, autocommit=True) as eraser,
    ):
        repository = SyncRepository(writer)
        with repository.transaction():
            repository.lock_sync(ALICE, sync_id)  # takes the user's lock until commit
            repository.upsert_samples(ALICE, sync_id, samples)
            erasure, _ = ErasureRepository(db).request(ALICE)
            deleting = threading.Thread(
                target=ErasureRepository(eraser).delete_rows_and_complete, args=(erasure,)
            )
            deleting.start()
            deleting.join(timeout=1.0)
            waited = deleting.is_alive()
        # The writer committed: the erasure goes on, and deletes what it wrote.
        deleting.join(timeout=10)

    assert waited
    assert not deleting.is_alive()
    assert _rows_of(db, ALICE) == dict.fromkeys(USER_TABLES, 0)
    assert ErasureRepository(db).latest(ALICE).state == "complete"  # type: ignore[union-attr]
