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
from hksync.contract.decoding import decode_chunk
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
    erased = accounts.erase(ALICE).body
    accounts.run_worker()

    # Late S3 events for erased objects: the objects are gone, nothing is stored.
    late = pipeline.deliver(objects)
    rows_after_late_events = _rows_of(db, ALICE)
    # Alice comes back and syncs again: new uploads are hers to keep.
    again = accounts.erase(ALICE)
    accounts.run_worker()
    REFERENCE.upload(pipeline, "A")
    # S3's events for the new objects (the same keys and bytes as before the erasure).
    pipeline.deliver(obj for obj in objects if REFERENCE.name_of(obj.key).startswith("A"))

    assert {result["outcome"] for result in late} == {"missing"}
    assert rows_after_late_events == dict.fromkeys(USER_TABLES, 0)
    assert again.body["erasure_id"] != erased["erasure_id"]  # the first one was complete
    assert _rows_of(db, ALICE)["health_samples"] == 32
    assert _rows_of(db, ALICE)["sync_sessions"] == 1


class _StoreThatPausesAfterReading(RawStore):
    """The real raw store (moto S3) that, the first time it has read an object, stops there
    until the test lets it go on: a processor holding the object, not yet writing."""

    def __init__(self, store: RawStore) -> None:
        super().__init__(boto3.client("s3"), store.bucket)
        self.has_read = threading.Event()
        self.go_on = threading.Event()

    def get(self, key: str) -> StoredObject | None:
        found = super().get(key)
        if not self.has_read.is_set():
            self.has_read.set()
            assert self.go_on.wait(timeout=30), "the test never let the processor go on"
        return found


#: Where the erasure is when the paused processor, holding its object, goes on to write.
ERASURE_STAGES = ("asked_before_the_read", "pending", "complete")


@pytest.mark.parametrize("kind", ["chunk", "commit"])
@pytest.mark.parametrize("stage", ERASURE_STAGES)
def test_an_object_read_before_or_during_the_erasure_is_never_stored_after_it(
    accounts: Account, database_url: str, db: psycopg.Connection, stage: str, kind: str
) -> None:
    """The race of issue 16, driven step by step: a processor on a connection of its own
    reads the user's object (uploaded in the same second as the erasure request), stops, the
    erasure gets as far as ``stage``, then the processor goes on. Whatever the stage, nothing
    of the user is in the database once the erasure is complete. Five trials per stage and
    kind: the interleaving is fixed, the clock's second boundaries are not."""
    pipeline = accounts.pipeline
    for _trial in range(5):
        sync_id = uuid.uuid4()
        assert pipeline.put_chunk(ALICE, chunk(sync_id, 0, heart_rates(20))).status == 202
        assert pipeline.commit(ALICE, sync_id, commit(1)).status == 202
        key = next(
            obj.key
            for obj in pipeline.pending()
            if obj.key.endswith("commit.json") == (kind == "commit")
        )
        store = _StoreThatPausesAfterReading(RawStore(boto3.client("s3"), TEST_BUCKET))
        results: list[str] = []
        with psycopg.connect(database_url, autocommit=True) as conn:
            processor = ChunkProcessor(store, SyncRepository(conn), max_bytes=10**6)
            if stage == "asked_before_the_read":
                accounts.erase(ALICE)
            worker = threading.Thread(target=_process_into, args=(processor, key, results))
            worker.start()
            if stage != "asked_before_the_read":
                assert store.has_read.wait(timeout=30)
                accounts.erase(ALICE)
                if stage == "complete":
                    accounts.run_worker()
            store.go_on.set()
            worker.join(timeout=30)
            assert not worker.is_alive()
        accounts.run_worker()

        assert accounts.erasure(ALICE).body["state"] == "complete"
        assert _rows_of(db, ALICE) == dict.fromkeys(USER_TABLES, 0), (stage, kind, results)
        assert _versions(ALICE) == 0
        # Not an error either (which Lambda would retry): a decision, taken at once.
        assert results in (["erased"], ["missing"]), (stage, kind, results)


def _process_into(processor: ChunkProcessor, key: str, results: list[str]) -> None:
    try:
        results.append(processor.process(key).outcome)
    except psycopg.Error as error:
        results.append(type(error).__name__)


def test_the_erasure_waits_for_a_processor_writing_for_the_user_then_deletes_its_rows(
    accounts: Account, database_url: str, db: psycopg.Connection
) -> None:
    sync_id = uuid.uuid4()
    plan = chunk(sync_id, 0, heart_rates(3))
    decoded = decode_chunk(json.dumps(plan).encode())
    with (
        psycopg.connect(database_url, autocommit=True) as writer,
        psycopg.connect(database_url, autocommit=True) as eraser,
    ):
        repository = SyncRepository(writer)
        with repository.transaction():
            repository.lock_sync(ALICE, sync_id)  # takes the user's lock until commit
            repository.samples.upsert_samples(ALICE, sync_id, decoded.rows, decoded.sources)
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
