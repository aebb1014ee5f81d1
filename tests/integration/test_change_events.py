"""Change events (issue 15, docs/change-events.md): exactly one SyncCompleted event per
completed sync, read where a consumer reads it (an EventBridge rule on moto's bus, targeting an
SQS queue), however often and in whatever order the S3 events come; a publish that failed is
published by the hourly upkeep, once; each event names only its own user.
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import boto3
import jsonschema
import psycopg
import pytest

from hksync.aws.eventbridge import ChangeEventPublisher
from hksync.change_events import SWEEP_BATCH, publish_sync_event
from hksync.contract.change_events import SYNC_COMPLETED_VERSION, SyncCompleted
from hksync.db.change_events import ChangeEventRepository
from hksync.db.erasure import ErasureRepository
from hksync.db.syncs import SyncRepository
from hksync.settings import settings_for
from hksync_tools.cli import main
from hksync_tools.local.queues import drain_queue
from tests.conftest import TEST_BUCKET, TEST_EVENT_BUS
from tests.support.builders import HEART_RATE, SLEEP, STEPS, WATCH, chunk, commit, heart_rate
from tests.support.pipeline import Pipeline
from tests.support.reminders import ReminderDriver

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
#: Values no field of an event may ever contain.
BPM, STEP_TOTAL = 61.25, 4321.0


@dataclass(frozen=True)
class Consumer:
    """A backend's subscription: a rule on the bus, matching every change event, into a queue."""

    queue_url: str

    def received(self) -> list[dict[str, Any]]:
        """Every event delivered since the last call (EventBridge's envelopes), consumed."""
        return drain_queue(self.queue_url, "us-east-1")


@pytest.fixture
def consumer(pipeline: Pipeline) -> Consumer:
    sqs, events = boto3.client("sqs"), boto3.client("events")
    queue_url = sqs.create_queue(QueueName="change-event-consumer")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    events.put_rule(
        Name="every-sync-completed",
        EventBusName=TEST_EVENT_BUS,
        EventPattern=json.dumps({"source": ["hksync"], "detail-type": ["SyncCompleted"]}),
    )
    events.put_targets(
        Rule="every-sync-completed",
        EventBusName=TEST_EVENT_BUS,
        Targets=[{"Id": "consumer", "Arn": queue_arn}],
    )
    return Consumer(queue_url)


@pytest.fixture
def unpublishing(pipeline: Pipeline) -> Pipeline:
    """The functions with a processor whose every publish fails (its bus does not exist, as if
    EventBridge refused it). Functions loaded before or after it keep the real bus."""
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv("EVENT_BUS_NAME", "hksync-changes-gone")
        settings_for.cache_clear()
        broken = Pipeline(TEST_BUCKET)
    settings_for.cache_clear()
    return broken


def step_count(start: datetime, steps: float) -> dict[str, Any]:
    return {
        "uuid": str(uuid.uuid4()).upper(),
        "sample_type": STEPS,
        "start_date": start.isoformat(),
        "end_date": (start + timedelta(minutes=10)).isoformat(),
        "source": WATCH,
        "value": steps,
        "unit": "count",
        "metadata": {"HKTimeZone": "America/New_York"},
    }


def upload_sync(pipeline: Pipeline, user: str, sync_id: uuid.UUID | None = None) -> uuid.UUID:
    """One heart rate on each side of a Berlin midnight, a New York evening's steps (the next UTC
    day), and a deleted sleep sample: three chunks and the commit, uploaded, not processed."""
    sync_id = sync_id or uuid.uuid4()
    hearts = [
        heart_rate(bpm=BPM, at=datetime(2026, 11, 20, 8, 0, tzinfo=BERLIN)),
        # 23:30 UTC on the 20th: the 21st in Berlin.
        heart_rate(bpm=BPM, at=datetime(2026, 11, 21, 0, 30, tzinfo=BERLIN)),
    ]
    # 02:00 UTC on the 23rd: the evening of the 22nd in New York.
    steps = [step_count(datetime(2026, 11, 22, 21, 0, tzinfo=NEW_YORK), STEP_TOTAL)]
    bodies = [
        chunk(sync_id, 0, hearts),
        chunk(sync_id, 1, steps, sample_type=STEPS),
        chunk(sync_id, 2, deleted=[str(uuid.uuid4()).upper()], sample_type=SLEEP),
    ]
    for body in bodies:
        assert pipeline.put_chunk(user, body).status == 202
    assert pipeline.commit(user, sync_id, commit(3)).status == 202
    return sync_id


def rows(db: psycopg.Connection, user: str | None = None) -> list[tuple[Any, ...]]:
    return db.execute(
        """SELECT event_id, user_id, sync_id, detail, published_at FROM change_events
           WHERE %(user)s::text IS NULL OR user_id = %(user)s ORDER BY created_at""",
        {"user": user},
    ).fetchall()


def test_a_completed_sync_publishes_one_event_saying_what_changed_and_when(
    pipeline: Pipeline, consumer: Consumer, db: psycopg.Connection
) -> None:
    sync_id = upload_sync(pipeline, "alice")

    pipeline.drain()

    (envelope,) = consumer.received()
    assert (envelope["source"], envelope["detail-type"]) == ("hksync", "SyncCompleted")
    # Valid against the JSON Schema docs/change-events.md publishes, as a consumer checks it.
    jsonschema.Draft202012Validator(SyncCompleted.model_json_schema()).validate(envelope["detail"])
    detail = SyncCompleted.model_validate(envelope["detail"])
    status = pipeline.status("alice", sync_id).body
    assert status["state"] == "complete"
    assert detail.schema_version == SYNC_COMPLETED_VERSION
    assert (detail.user_id, detail.sync_id) == ("alice", sync_id)
    assert detail.completed_at == datetime.fromisoformat(status["completed_at"])
    assert detail.committed_at == datetime.fromisoformat(status["committed_at"])
    assert detail.sample_types == sorted([HEART_RATE, STEPS, SLEEP])  # the deletion's type too
    assert detail.counts.model_dump() == {"chunks": 3, "reconciled": 0, **status["samples"]}
    assert (detail.counts.inserted, detail.counts.deleted) == (3, 1)
    assert detail.time_range is not None
    assert detail.time_range.start == datetime(2026, 11, 20, 7, 0, tzinfo=UTC)
    assert detail.time_range.end == datetime(2026, 11, 23, 2, 10, tzinfo=UTC)
    # Local days, not UTC days (those would be the 20th twice and the 23rd).
    assert detail.local_dates == [date(2026, 11, 20), date(2026, 11, 21), date(2026, 11, 22)]
    # The envelope's time is the completion, to the second (EventBridge's resolution).
    assert envelope["time"][:19] == detail.completed_at.astimezone(UTC).isoformat()[:19]
    # The outbox row is the event, marked published.
    ((event_id, user_id, row_sync, stored, published_at),) = rows(db)
    assert (event_id, user_id, row_sync) == (detail.event_id, "alice", sync_id)
    assert SyncCompleted.model_validate(stored) == detail
    assert published_at is not None


def test_an_event_holds_no_sample_content(
    pipeline: Pipeline, consumer: Consumer, db: psycopg.Connection
) -> None:
    upload_sync(pipeline, "alice")
    pipeline.drain()

    (envelope,) = consumer.received()
    text = json.dumps(envelope)
    sample_uuids = [str(uuid).lower() for (uuid,) in db.execute("SELECT uuid FROM health_samples")]
    for content in (str(BPM), str(int(STEP_TOTAL)), *sample_uuids, WATCH["bundle_id"]):
        assert content not in text.lower(), content
    assert set(envelope["detail"]) == set(SyncCompleted.model_fields)


def test_replays_duplicates_and_disorder_publish_nothing_new(
    pipeline: Pipeline, consumer: Consumer, db: psycopg.Connection
) -> None:
    sync_id = upload_sync(pipeline, "alice")
    objects = pipeline.pending()
    rng = random.Random(15)

    # Every S3 event twice or three times, shuffled (chunks after the commit, and so on).
    deliveries = objects * 2 + [obj for obj in objects if rng.random() < 0.5]
    rng.shuffle(deliveries)
    pipeline.deliver(deliveries)
    first = consumer.received()
    # Replayed again later (an operator's `hksync ops reprocess`, an old DLQ message).
    pipeline.deliver(objects)
    # Settling the complete sync again, as a concurrent delivery would.
    repository = SyncRepository(db)
    with repository.transaction():
        assert repository.settle("alice", sync_id) == "complete"

    assert len(first) == 1
    assert consumer.received() == []
    assert len(rows(db)) == 1


def test_a_publish_that_failed_is_left_for_the_upkeep_which_publishes_it_once(
    unpublishing: Pipeline,
    reminders: ReminderDriver,
    consumer: Consumer,
    db: psycopg.Connection,
    caplog: pytest.LogCaptureFixture,
) -> None:
    syncs = [upload_sync(unpublishing, f"user-{index}") for index in range(SWEEP_BATCH + 2)]

    unpublishing.drain()  # every object is stored; every publish fails, and raises nothing

    for index, sync_id in enumerate(syncs):
        assert unpublishing.status(f"user-{index}", sync_id).body["state"] == "complete"
    assert consumer.received() == []
    left = rows(db)
    assert len(left) == len(syncs)
    assert all(published_at is None for *_, published_at in left)
    warnings = [r for r in caplog.records if "change events not published" in r.getMessage()]
    assert len(warnings) == len(syncs)
    assert all("user-" not in str(vars(r)) for r in warnings)  # ids of events, not of users

    swept = reminders.upkeep()["change_events"]
    again = reminders.upkeep()["change_events"]

    assert swept == {"published": len(syncs), "failed": 0}  # in batches of SWEEP_BATCH
    assert again == {"published": 0, "failed": 0}
    delivered = consumer.received()
    assert sorted(e["detail"]["event_id"] for e in delivered) == sorted(
        str(event_id) for event_id, *_ in left
    )
    assert {(e["detail"]["user_id"], e["detail"]["sync_id"]) for e in delivered} == {
        (f"user-{index}", str(sync_id)) for index, sync_id in enumerate(syncs)
    }
    assert all(published_at is not None for *_, published_at in rows(db))


def test_a_replayed_event_of_the_sync_publishes_what_failed_before(
    unpublishing: Pipeline, pipeline: Pipeline, consumer: Consumer, db: psycopg.Connection
) -> None:
    upload_sync(unpublishing, "alice")
    objects = unpublishing.pending()
    unpublishing.deliver(objects)
    assert consumer.received() == []

    pipeline.deliver(objects)  # the same S3 events again, to a processor that can publish
    pipeline.deliver(objects)

    (event,) = consumer.received()
    ((event_id, *_, published_at),) = rows(db)
    assert event["detail"]["event_id"] == str(event_id)
    assert published_at is not None


def test_a_publisher_never_publishes_an_event_another_is_publishing(
    unpublishing: Pipeline, consumer: Consumer, database_url: str, db: psycopg.Connection
) -> None:
    sync_id = upload_sync(unpublishing, "alice")
    unpublishing.drain()
    bus = ChangeEventPublisher(boto3.client("events"), TEST_EVENT_BUS)

    with (
        psycopg.connect(database_url, autocommit=True) as first,
        psycopg.connect(database_url, autocommit=True) as second,
        ChangeEventRepository(first).claim_unpublished_of_everyone(limit=10) as claim,
    ):
        # While the first holds the event (mid-publish), the second finds nothing to publish.
        assert (
            publish_sync_event(ChangeEventRepository(second), bus, "alice", sync_id).published == 0
        )
        outcome = bus.publish([event.detail for event in claim.events])
        claim.mark_published(outcome.accepted)

    assert len(consumer.received()) == 1
    assert publish_sync_event(ChangeEventRepository(db), bus, "alice", sync_id).published == 0
    assert consumer.received() == []


def test_each_event_names_only_its_own_user(
    pipeline: Pipeline, consumer: Consumer, db: psycopg.Connection
) -> None:
    """Sync ids are the apps' choice: Bob's sync under Alice's sync id (and her sample UUIDs)
    gets its own event, and neither event mentions the other user or their days."""
    sync_id = upload_sync(pipeline, "alice")
    pipeline.drain()
    alice_samples = db.execute(
        "SELECT uuid FROM health_samples WHERE user_id = 'alice' AND sample_type = %s",
        (HEART_RATE,),
    ).fetchall()
    bob_heart = [
        heart_rate(uuid, bpm=BPM, at=datetime(2026, 12, 1, 12, 0, tzinfo=BERLIN))
        for (uuid,) in alice_samples
    ]
    assert pipeline.put_chunk("bob", chunk(sync_id, 0, bob_heart)).status == 202
    assert pipeline.commit("bob", sync_id, commit(1)).status == 202
    pipeline.drain()

    events = {e["detail"]["user_id"]: e for e in consumer.received()}

    assert set(events) == {"alice", "bob"}
    bob = SyncCompleted.model_validate(events["bob"]["detail"])
    assert (bob.sync_id, bob.sample_types, bob.local_dates) == (
        sync_id,
        [HEART_RATE],
        [date(2026, 12, 1)],
    )
    assert bob.counts.inserted == len(alice_samples)
    assert "alice" not in json.dumps(events["bob"])
    assert "bob" not in json.dumps(events["alice"])
    for user in ("alice", "bob"):
        assert [row[1] for row in rows(db, user)] == [user]
    assert {
        e.user_id for e in ChangeEventRepository(db).recent(user_id="bob", since=None, limit=10)
    } == {"bob"}


def test_erasing_a_user_deletes_their_events_and_only_theirs(
    pipeline: Pipeline, consumer: Consumer, db: psycopg.Connection
) -> None:
    upload_sync(pipeline, "alice")
    upload_sync(pipeline, "bob")
    pipeline.drain()
    erasures = ErasureRepository(db)
    erasure, _ = erasures.request("alice")

    erasures.delete_rows_and_complete(erasure)

    assert rows(db, "alice") == []
    assert len(rows(db, "bob")) == 1


def test_ops_events_lists_the_events_published_or_waiting(
    unpublishing: Pipeline,
    pipeline: Pipeline,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    published = upload_sync(pipeline, "bob")
    pipeline.drain()
    waiting = upload_sync(unpublishing, "alice")
    unpublishing.drain()  # Bob's objects again too: his event went out before, nothing new
    target = ["--database-url", database_url]

    assert main(["ops", "events", *target]) == 0
    table = capsys.readouterr().out
    assert main(["ops", "events", "--json", *target]) == 0
    everyone = json.loads(capsys.readouterr().out)["events"]
    assert main(["ops", "events", "--user", "bob", "--since", "1h", "--json", *target]) == 0
    bobs = json.loads(capsys.readouterr().out)["events"]

    assert "Newest change events" in table
    assert "waiting" in table
    assert "1 not published yet" in table
    assert "SleepAnalysis, HeartRate, StepCount" in table  # by identifier: HKCategory... first
    assert "2026-11-20 .. 2026-11-22 (3)" in table
    by_user = {event["user_id"]: event for event in everyone}
    assert by_user["alice"]["sync_id"] == str(waiting)
    assert by_user["alice"]["published_at"] is None
    assert by_user["bob"]["published_at"] is not None
    assert [(event["user_id"], event["sync_id"]) for event in bobs] == [("bob", str(published))]
    assert bobs[0]["detail"]["local_dates"] == ["2026-11-20", "2026-11-21", "2026-11-22"]
