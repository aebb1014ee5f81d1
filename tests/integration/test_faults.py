"""The fault suite: the reference sync (tests/support/reference.py) under every fault the
pipeline must survive, each scenario ending in exactly the reference's final state.

Real PostgreSQL, and moto as a server on loopback, so that processor *processes* share the
bucket: several at once on the same user, one killed with SIGKILL inside a chunk's
transaction. The PostgreSQL restart runs on a server of its own. Basic duplicate, reordering
and failure cases are in test_processor.py; these build on them with the whole reference.
docs/reliability.md lists the scenarios and what each proves.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import psycopg
import pytest

from hksync_tools.local.functions import load_handler
from hksync_tools.local.notifier import CreatedObject
from tests.support.builders import HEART_RATE, STEPS
from tests.support.faults import (
    ProcessorProcess,
    RestartablePostgres,
    moto_server,
    wait_for,
    worker_backends,
)
from tests.support.pipeline import FUNCTIONS, Pipeline
from tests.support.reference import REFERENCE, counter_problems, read_state

#: Processor processes working on the same user at once.
CONCURRENT_PROCESSES = 4


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    with moto_server() as endpoint:
        yield endpoint


def _serve(monkeypatch: pytest.MonkeyPatch, endpoint: str, database_url: str) -> Iterator[Pipeline]:
    """The functions' environment, pointed at the moto server and ``database_url``; a fresh
    bucket per test. Worker processes inherit it."""
    from hksync.aws import clients as aws_clients
    from hksync.db import connection
    from hksync.settings import settings_for

    bucket = f"hksync-faults-{uuid.uuid4().hex[:12]}"
    for name, value in {
        "AWS_ENDPOINT_URL": endpoint,
        "STAGE": "local",
        "RAW_BUCKET": bucket,
        "EVENT_BUS_NAME": bucket,
        "DATABASE_URL": database_url,
        "POWERTOOLS_SERVICE_NAME": "hksync",
    }.items():
        monkeypatch.setenv(name, value)
    boto3.client("s3").create_bucket(Bucket=bucket)
    boto3.client("events").create_event_bus(Name=bucket)
    settings_for.cache_clear()
    aws_clients.reset_clients()
    connection.close()
    yield Pipeline(bucket)
    connection.close()
    settings_for.cache_clear()
    aws_clients.reset_clients()


@pytest.fixture
def served(
    moto_endpoint: str,
    database_url: str,
    aws_credentials: None,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Pipeline]:
    yield from _serve(monkeypatch, moto_endpoint, database_url)


def _assert_reference_state(db: psycopg.Connection) -> None:
    state = read_state(db)
    assert state == REFERENCE.expected, "\n".join(REFERENCE.expected.differences(state))
    assert counter_problems(db) == []


def _by_name(objects: list[CreatedObject]) -> dict[str, CreatedObject]:
    return {REFERENCE.name_of(obj.key): obj for obj in objects}


def _commits_first(objects: list[CreatedObject]) -> list[CreatedObject]:
    return sorted(objects, key=lambda obj: not obj.key.endswith("commit.json"))


# --- delivery faults, in process --------------------------------------------------------------


def test_every_event_delivered_two_or_three_times_interleaved(
    served: Pipeline, db: psycopg.Connection
) -> None:
    REFERENCE.upload(served)
    objects = served.pending()
    rng = random.Random(9)
    deliveries = [obj for obj in objects for _ in range(rng.choice((2, 3)))]
    rng.shuffle(deliveries)

    outcomes = [result["outcome"] for result in served.deliver(deliveries)]

    assert outcomes.count("stored") == 7  # each chunk stored exactly once
    assert outcomes.count("duplicate") == len(deliveries) - 7 - outcomes.count("committed")
    _assert_reference_state(db)


def test_chunks_in_random_order_with_every_commit_first(
    served: Pipeline, db: psycopg.Connection
) -> None:
    REFERENCE.upload(served)
    objects = _commits_first(served.pending())
    commits, chunks = objects[:3], objects[3:]
    random.Random(4).shuffle(chunks)

    served.deliver(commits)
    states = db.execute("SELECT DISTINCT state FROM sync_sessions").fetchall()
    served.deliver(chunks)

    assert states == [("committed",)]  # committed, waiting for chunks: no anchor yet
    _assert_reference_state(db)


def test_every_deletion_arrives_before_its_insert(served: Pipeline, db: psycopg.Connection) -> None:
    REFERENCE.upload(served)
    named = _by_name(served.pending())
    # C0 deletes hr25 before B0 inserts it; B0..B2 delete A's samples before A arrives, and
    # B1 deletes "ghost", which is never inserted at all.
    order = ["C0", "B1", "B2", "B0", "A0", "A1", "A2", "Ccommit", "Bcommit", "Acommit"]

    served.deliver(named[name] for name in order)

    _assert_reference_state(db)


def test_an_older_sync_finishing_after_a_newer_one_leaves_the_anchors_at_the_newer(
    served: Pipeline, db: psycopg.Connection
) -> None:
    REFERENCE.upload(served)
    named = _by_name(served.pending())
    anchors_after = []

    for sync in "CBA":
        served.deliver(obj for name, obj in named.items() if name.startswith(sync))
        anchors_after.append(
            dict(db.execute("SELECT sample_type, anchor FROM sync_anchors").fetchall())
        )

    assert anchors_after == [
        {HEART_RATE: "hr-C"},
        {HEART_RATE: "hr-C", STEPS: "steps-B"},  # B is older than C: only its steps anchor
        {HEART_RATE: "hr-C", STEPS: "steps-B"},  # A is older than both: nothing moves
    ]
    _assert_reference_state(db)


def test_a_missing_chunk_object_holds_its_sync_until_the_chunk_is_uploaded_again(
    served: Pipeline, db: psycopg.Connection
) -> None:
    REFERENCE.upload(served)
    named = _by_name(served.pending())
    gone = named["B2"]
    body = boto3.client("s3").get_object(Bucket=served.bucket, Key=gone.key)["Body"].read()
    boto3.client("s3").delete_object(Bucket=served.bucket, Key=gone.key)

    results = served.deliver(named.values())

    assert {r["outcome"] for r in results if r["key"] == gone.key} == {"missing"}
    b = REFERENCE.sync("B").sync_id
    assert db.execute("SELECT state FROM sync_sessions WHERE sync_id = %s", (b,)).fetchone() == (
        "committed",
    )
    # Only complete syncs move anchors: C's heart rate, and A's steps (B is not complete).
    assert dict(db.execute("SELECT sample_type, anchor FROM sync_anchors").fetchall()) == {
        HEART_RATE: "hr-C",
        STEPS: "steps-A",
    }

    # The app sees the sync stuck on status and uploads the chunk again: the same bytes.
    again = served.put_chunk(REFERENCE.user, REFERENCE.sync("B").chunks[2], body=body)
    assert (again.status, again.body["created"]) == (202, True)
    served.deliver([gone])  # S3's event for the new object (same key and ETag as before)

    _assert_reference_state(db)


# --- processes: concurrency and SIGKILL -------------------------------------------------------


@pytest.mark.slow
def test_several_processor_processes_on_the_same_user_at_once(
    served: Pipeline, db: psycopg.Connection
) -> None:
    REFERENCE.upload(served)
    keys = [obj.key for obj in served.pending()]
    workers = []
    for index in range(CONCURRENT_PROCESSES):
        mine = keys * 2  # every process delivers every event twice, in its own order
        random.Random(index).shuffle(mine)
        workers.append(ProcessorProcess(served.bucket, mine))
    try:
        for worker in workers:
            worker.expect("ready")
        for worker in workers:  # as close to the same instant as processes get
            worker.go()
        outcomes = [outcome for worker in workers for outcome in worker.outcomes(len(keys) * 2)]
    finally:
        for worker in workers:
            worker.close()

    errors = [outcome for outcome in outcomes if "error" in outcome]
    assert errors == []  # no deadlock, no serialization failure, nothing to retry
    stored = [
        result
        for outcome in outcomes
        for result in outcome["result"]["results"]
        if result["outcome"] == "stored"
    ]
    assert len(stored) == 7  # each chunk stored by exactly one process
    _assert_reference_state(db)


@pytest.mark.slow
def test_a_processor_killed_inside_a_chunk_transaction_leaves_nothing_and_the_retry_completes(
    served: Pipeline, db: psycopg.Connection
) -> None:
    REFERENCE.upload(served)
    named = _by_name(served.pending())
    victim = named["B0"]  # inserts, resends and deletions in one transaction
    served.deliver(obj for name, obj in named.items() if name != "B0")
    before = read_state(db)

    worker = ProcessorProcess(served.bucket, [victim.key], pause_in_transaction=True)
    try:
        worker.expect("ready")
        worker.go()
        worker.expect("paused")
        # Samples, tombstones, the ledger row and the counters are written, not committed.
        assert [state for _, state in worker_backends(db)] == ["idle in transaction"]
        assert read_state(db) == before
        worker.kill()
    finally:
        worker.close()

    wait_for(lambda: worker_backends(db) == [], what="the killed worker's session to end")
    assert read_state(db) == before  # rolled back: nothing of B0, and B is still waiting
    b = REFERENCE.sync("B").sync_id
    # Its locks went with it: the sync is free for the retry.
    db.execute("SELECT 1 FROM sync_sessions WHERE sync_id = %s FOR UPDATE NOWAIT", (b,))

    retried = served.deliver([victim])  # Lambda's retry of the same event

    assert [result["outcome"] for result in retried] == ["stored"]
    _assert_reference_state(db)


# --- PostgreSQL restarted during a run ---------------------------------------------------------


@pytest.fixture(scope="module")
def restartable_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RestartablePostgres]:
    server = RestartablePostgres(Path(tmp_path_factory.mktemp("pg-restart")))
    yield server
    server.close()


@pytest.fixture
def served_on_restartable(
    restartable_postgres: RestartablePostgres,
    moto_endpoint: str,
    aws_credentials: None,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Pipeline]:
    yield from _serve(monkeypatch, moto_endpoint, restartable_postgres.url)


@pytest.mark.slow
def test_postgres_crashing_during_a_run_fails_loudly_and_the_retries_complete(
    restartable_postgres: RestartablePostgres, served_on_restartable: Pipeline
) -> None:
    pipeline = served_on_restartable
    REFERENCE.upload(pipeline)
    objects = pipeline.pending()
    random.Random(3).shuffle(objects)
    first, rest = objects[:5], objects[5:]
    pipeline.deliver(first)

    restartable_postgres.crash()
    failures = []
    for attempt in range(2):  # Lambda's first attempt and a retry, both during the outage
        with pytest.raises(psycopg.OperationalError) as failure:
            pipeline.deliver(rest[:1])
        failures.append((attempt, type(failure.value).__name__))
    restartable_postgres.start()
    pipeline.deliver(rest)  # the next retry: the processor reconnects by itself

    assert failures == [(0, "OperationalError"), (1, "OperationalError")]
    with psycopg.connect(restartable_postgres.url, autocommit=True) as conn:
        _assert_reference_state(conn)
        conn.execute("TRUNCATE health_samples, sync_chunks, sync_anchors, sync_sessions CASCADE")


@pytest.mark.slow
def test_warm_functions_answer_after_a_database_restart_without_a_5xx(
    restartable_postgres: RestartablePostgres,
    served_on_restartable: Pipeline,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every function that reaches the database, warm (its connection open), then the server
    restarted under it: the next call answers as if nothing happened. Issue 16: before, each
    warm function answered one 500, its connection replaced only after it failed."""
    from hksync.settings import settings_for

    pipeline = served_on_restartable
    for name, value in {
        "ERASURE_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/erasure",
        "REMINDER_SCHEDULE_GROUP": "hksync-reminders-test",
        "DISPATCHER_FUNCTION_ARN": "arn:aws:lambda:us-east-1:123456789012:function:dispatcher",
        "SCHEDULER_ROLE_ARN": "arn:aws:iam::123456789012:role/reminder-scheduler",
        "REMINDER_DLQ_ARN": "arn:aws:sqs:us-east-1:123456789012:reminder-dlq",
    }.items():
        monkeypatch.setenv(name, value)
    settings_for.cache_clear()
    account = load_handler(FUNCTIONS / "account", "app.handler")
    reminders = load_handler(FUNCTIONS / "reminders", "app.handler")
    REFERENCE.upload(pipeline)
    objects = pipeline.pending()
    user, sync_id = REFERENCE.user, REFERENCE.sync("A").sync_id
    calls: dict[str, Callable[[], int]] = {
        "GET /v1/syncs/{sync_id}": lambda: pipeline.status(user, sync_id).status,
        "GET /v1/anchors": lambda: pipeline.anchors(user).status,
        "GET /v1/me/erasure": lambda: (
            pipeline.call(account, "GET", "/v1/me/erasure", {}, user=user).status
        ),
        "GET /v1/reminders": lambda: (
            pipeline.call(reminders, "GET", "/v1/reminders", {}, user=user).status
        ),
        "processor": lambda: len(pipeline.deliver(objects[:1])),
    }
    warm = {name: call() for name, call in calls.items()}

    after_restart = {}
    for name, call in calls.items():
        restartable_postgres.crash()
        restartable_postgres.start()
        after_restart[name] = call()  # raises (a 500 from Lambda) if the stale one is used
    pipeline.deliver(objects)

    assert after_restart == warm
    assert warm == {
        "GET /v1/syncs/{sync_id}": 200,
        "GET /v1/anchors": 200,
        "GET /v1/me/erasure": 404,
        "GET /v1/reminders": 200,
        "processor": 1,
    }
    with psycopg.connect(restartable_postgres.url, autocommit=True) as conn:
        _assert_reference_state(conn)
        conn.execute("TRUNCATE health_samples, sync_chunks, sync_anchors, sync_sessions CASCADE")


# --- one connection, many objects (hksync ops replays a whole dead-letter queue on one) ------


def test_a_chunk_whose_transaction_failed_does_not_break_the_next_on_the_same_connection(
    served: Pipeline, db: psycopg.Connection, database_url: str
) -> None:
    from hksync.aws.clients import s3_client
    from hksync.aws.s3 import RawStore
    from hksync.db.syncs import SyncRepository
    from hksync.processing import ChunkProcessor

    REFERENCE.upload(served)
    named = _by_name(served.pending())
    other = served.put_chunk("another-user", REFERENCE.sync("A").chunks[0])
    assert other.status == 202
    with psycopg.connect(database_url, autocommit=True) as conn:
        processor = ChunkProcessor(
            RawStore(s3_client(), served.bucket), SyncRepository(conn), max_bytes=10**7
        )
        # The first object the connection processes fails inside its transaction, after its
        # samples went to the staging table: the chunk ledger is locked by another session,
        # and the processor's connection gives up waiting for it.
        conn.execute("SET lock_timeout = '200ms'")
        with db.transaction():
            db.execute("LOCK TABLE sync_chunks IN EXCLUSIVE MODE")
            with pytest.raises(psycopg.errors.LockNotAvailable):
                processor.process(named["A0"].key)
        result = processor.process(named["A0"].key.replace(REFERENCE.user, "another-user"))

    assert result.outcome == "stored"
    assert result.counts.inserted == 12
