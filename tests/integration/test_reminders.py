"""Reminders end to end through the handlers: the API writes rows and schedules (moto's
Scheduler), the local scheduler fires them by a clock the test moves, the dispatcher delivers
to SNS (fanned out to an SQS queue the test reads), and PostgreSQL holds the ledger.

Every "Done when" of issue 5 is a test here: created twice -> one schedule, one delivery; a
daily 08:00 Europe/Berlin check-in at 08:00 local on both sides of a daylight-saving change;
a one-time reminder three hours ahead at the right UTC instant; a duplicate dispatcher
invocation delivers once; a cancelled reminder never delivers; users cannot see or touch each
other's reminders.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import boto3
import psycopg
import pytest
from botocore.exceptions import ReadTimeoutError
from hypothesis import example, given, settings
from hypothesis import strategies as st

from hksync.aws.scheduler import schedule_name
from hksync.aws.sns import ReminderTopic
from hksync.contract.reminders import ReminderOccurrence
from hksync.db.reminders import ReminderRepository
from hksync.dispatch import ReminderDispatcher
from tests.integration.conftest import DISPATCHER_ARN, SCHEDULER_ROLE_ARN
from tests.support.reminders import REGION, ReminderDriver

BERLIN = ZoneInfo("Europe/Berlin")
KOLKATA = ZoneInfo("Asia/Kolkata")  # +05:30, no daylight saving: a conversion that shows


def local_ahead(zone: ZoneInfo, by: timedelta) -> datetime:
    """The wall-clock time in ``zone`` ``by`` from now, to the minute (what a user picks)."""
    return (datetime.now(zone) + by).replace(second=0, microsecond=0, tzinfo=None)


def one_time(at: datetime, zone: ZoneInfo = KOLKATA, **fields: Any) -> dict[str, Any]:
    return {
        "reminder_id": str(uuid4()),
        "kind": "medication",
        "title": "Levothyroxine 50 µg",
        "time_zone": zone.key,
        "at": at.isoformat(timespec="seconds"),
        **fields,
    }


def recurring(cron: str, zone: ZoneInfo = BERLIN, **fields: Any) -> dict[str, Any]:
    return {
        "reminder_id": str(uuid4()),
        "kind": "check_in",
        "title": "How did you sleep?",
        "time_zone": zone.key,
        "cron": cron,
        **fields,
    }


def deliveries(db: psycopg.Connection, reminder_id: str) -> list[tuple[Any, ...]]:
    return db.execute(
        """SELECT user_id, scheduled_for, revision, state, duplicate_invocations
           FROM reminder_deliveries WHERE reminder_id = %s ORDER BY scheduled_for""",
        (reminder_id,),
    ).fetchall()


def occurrence_event(schedule: dict[str, Any], scheduled_time: datetime) -> dict[str, Any]:
    """The dispatcher's event for one occurrence, as Scheduler builds it from the input."""
    text = schedule["Target"]["Input"].replace(
        "<aws.scheduler.scheduled-time>", scheduled_time.strftime("%Y-%m-%dT%H:%M:%SZ")
    )
    text = text.replace("<aws.scheduler.execution-id>", uuid4().hex[:16])
    event: dict[str, Any] = json.loads(text.replace("<aws.scheduler.attempt-number>", "1"))
    return event


# ------------------------------------------------------------------------------------------
# Done when
# ------------------------------------------------------------------------------------------
def test_a_reminder_created_twice_has_one_schedule_and_one_delivery(
    reminders: ReminderDriver, db: psycopg.Connection
) -> None:
    # Scheduler is at-least-once: this scheduler invokes every occurrence twice.
    reminders.scheduler._duplicate_rate = 1.0
    body = one_time(local_ahead(KOLKATA, timedelta(hours=2)))

    first = reminders.create("alice", body)
    retry = reminders.create("alice", body)

    assert (first.status, retry.status) == (201, 200)
    assert retry.body == first.body
    (schedule,) = reminders.schedules()
    assert schedule["Name"] == schedule_name("alice", UUID(body["reminder_id"]))
    firings = reminders.advance(timedelta(hours=2, minutes=1))
    assert len(firings) == 2
    assert [firing.invocation.result["outcome"] for firing in firings] == [
        "delivered",
        "duplicate",
    ]
    assert [
        (user, state, dupes) for user, _, _, state, dupes in deliveries(db, body["reminder_id"])
    ] == [("alice", "published", 1)]
    (notification,) = reminders.notifications()
    assert notification["reminder_id"] == body["reminder_id"]
    assert notification["title"] == "Levothyroxine 50 µg"
    # One-time schedules delete themselves after they fire (ActionAfterCompletion DELETE).
    assert reminders.schedules() == []
    (listed,) = reminders.list("alice").body["reminders"]
    assert (listed["state"], listed["next_fire_at"]) == ("delivered", None)
    # A late retry of the create changes nothing and schedules nothing again.
    late = reminders.create("alice", body)
    assert (late.status, late.body["state"]) == (200, "delivered")
    assert reminders.schedules() == []
    assert reminders.advance(timedelta(days=1)) == []


def _next_transition(zone: ZoneInfo, after: datetime) -> datetime:
    """The first local day (at midnight, UTC) whose UTC offset differs from the day before."""
    day = after.astimezone(zone).replace(hour=12, minute=0, second=0, microsecond=0)
    while True:
        following = (day + timedelta(days=1)).astimezone(zone)
        if following.utcoffset() != day.utcoffset():
            return following.replace(hour=0)
        day = following


def test_a_daily_0800_berlin_check_in_fires_at_0800_local_across_a_dst_change(
    reminders: ReminderDriver, db: psycopg.Connection
) -> None:
    body = recurring("0 8 * * ? *")
    created = reminders.create("alice", body)
    assert created.status == 201
    (schedule,) = reminders.schedules()
    assert schedule["ScheduleExpression"] == "cron(0 8 * * ? *)"
    assert schedule["ScheduleExpressionTimezone"] == "Europe/Berlin"
    assert schedule["ActionAfterCompletion"] == "NONE"
    change = _next_transition(BERLIN, datetime.now(UTC))

    firings = reminders.advance_to(change + timedelta(days=2, hours=12))

    delivered = [row[1] for row in deliveries(db, body["reminder_id"])]
    assert len(firings) == len(delivered) > 2
    assert all(f.invocation.result["outcome"] == "delivered" for f in firings)
    # Every occurrence at 08:00 on the wall clock in Berlin, one per day, none missed...
    local = [instant.astimezone(BERLIN) for instant in delivered]
    assert {(when.hour, when.minute) for when in local} == {(8, 0)}
    days = [when.date() for when in local]
    assert days == [days[0] + timedelta(days=n) for n in range(len(days))]
    # ...which is a different UTC hour on either side of the change.
    before = next(
        i for i in delivered if i.astimezone(BERLIN).date() == change.date() - timedelta(days=1)
    )
    after = next(i for i in delivered if i.astimezone(BERLIN).date() == change.date())
    assert before.astimezone(UTC).hour != after.astimezone(UTC).hour
    assert abs((after - before) - timedelta(days=1)) == timedelta(hours=1)
    assert len(reminders.notifications()) == len(delivered)
    # The reminder moved on to its next occurrence, still 08:00 in Berlin.
    (listed,) = reminders.list("alice").body["reminders"]
    next_fire = datetime.fromisoformat(listed["next_fire_at"])
    assert next_fire > delivered[-1]
    assert next_fire.astimezone(BERLIN).time().isoformat() == "08:00:00"


def test_a_one_time_reminder_three_hours_ahead_is_scheduled_at_its_utc_instant(
    reminders: ReminderDriver, db: psycopg.Connection
) -> None:
    at = local_ahead(KOLKATA, timedelta(hours=3))
    expected = (at - timedelta(hours=5, minutes=30)).replace(tzinfo=UTC)
    body = one_time(at)

    created = reminders.create("alice", body)

    assert created.status == 201
    assert created.body["at"] == at.isoformat()
    assert created.body["time_zone"] == "Asia/Kolkata"
    assert datetime.fromisoformat(created.body["next_fire_at"]) == expected
    (schedule,) = reminders.schedules()
    assert schedule["ScheduleExpression"] == f"at({expected:%Y-%m-%dT%H:%M:%S})"
    assert schedule["ScheduleExpressionTimezone"] == "UTC"
    assert schedule["ActionAfterCompletion"] == "DELETE"
    assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
    target = schedule["Target"]
    assert target["Arn"] == DISPATCHER_ARN
    assert target["RoleArn"] == SCHEDULER_ROLE_ARN
    assert target["DeadLetterConfig"]["Arn"].endswith(":hksync-reminders-dlq-local")
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 10}
    assert json.loads(target["Input"]) == {
        "user_id": "alice",
        "reminder_id": body["reminder_id"],
        "revision": 1,
        "scheduled_time": "<aws.scheduler.scheduled-time>",
        "execution_id": "<aws.scheduler.execution-id>",
        "attempt": "<aws.scheduler.attempt-number>",
    }
    assert db.execute(
        "SELECT fire_at, local_at FROM reminders WHERE reminder_id = %s", (body["reminder_id"],)
    ).fetchone() == (expected, at)
    # Not a minute early...
    assert reminders.advance_to(expected - timedelta(minutes=1)) == []
    # ...and delivered for exactly that instant.
    (firing,) = reminders.advance_to(expected)
    assert firing.scheduled_time == expected
    assert [row[1] for row in deliveries(db, body["reminder_id"])] == [expected]
    (notification,) = reminders.notifications()
    assert notification["scheduled_for"] == expected.isoformat()
    assert notification["local_time"] == at.isoformat()


def test_a_duplicate_invocation_of_the_dispatcher_delivers_once(
    reminders: ReminderDriver, db: psycopg.Connection
) -> None:
    body = one_time(local_ahead(KOLKATA, timedelta(hours=1)))
    reminders.create("alice", body)
    (schedule,) = reminders.schedules()
    fire_at = datetime.fromisoformat(reminders.list("alice").body["reminders"][0]["next_fire_at"])
    event = occurrence_event(schedule, fire_at)

    results = [reminders.invoke_dispatcher(event) for _ in range(3)]

    assert [result["outcome"] for result in results] == ["delivered", "duplicate", "duplicate"]
    assert results[0]["message_id"]
    assert [row[3:] for row in deliveries(db, body["reminder_id"])] == [("published", 2)]
    assert len(reminders.notifications()) == 1


def test_concurrent_duplicates_deliver_once(
    reminders: ReminderDriver, db: psycopg.Connection, database_url: str
) -> None:
    # Two dispatchers on two connections, racing on the same occurrence (Lambda runs
    # duplicates in separate environments): the ledger's key lets exactly one through.
    body = one_time(local_ahead(KOLKATA, timedelta(hours=1)))
    reminders.create("alice", body)
    (schedule,) = reminders.schedules()
    fire_at = datetime.fromisoformat(reminders.list("alice").body["reminders"][0]["next_fire_at"])
    occurrence = ReminderOccurrence.model_validate(occurrence_event(schedule, fire_at))
    topic = ReminderTopic(boto3.client("sns", region_name=REGION), reminders.resources.topic_arn)
    start = threading.Barrier(8)
    outcomes: list[str] = []

    def dispatch() -> None:
        with psycopg.connect(database_url, autocommit=True) as conn:
            dispatcher = ReminderDispatcher(ReminderRepository(conn), topic)
            start.wait()
            outcomes.append(dispatcher.dispatch(occurrence).outcome)

    threads = [threading.Thread(target=dispatch) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["delivered"] + ["duplicate"] * 7
    assert [row[3:] for row in deliveries(db, body["reminder_id"])] == [("published", 7)]
    assert len(reminders.notifications()) == 1


def test_a_cancelled_reminder_never_delivers(
    reminders: ReminderDriver, db: psycopg.Connection
) -> None:
    daily = recurring("0 8 * * ? *")
    once = one_time(local_ahead(KOLKATA, timedelta(hours=5)))
    reminders.create("alice", daily)
    reminders.create("alice", once)
    in_flight = [occurrence_event(s, datetime.now(UTC)) for s in reminders.schedules()]

    cancelled = [reminders.cancel("alice", body["reminder_id"]) for body in (daily, once)]

    assert [(r.status, r.body["state"], r.body["next_fire_at"]) for r in cancelled] == [
        (200, "cancelled", None),
        (200, "cancelled", None),
    ]
    assert reminders.schedules() == []
    # An occurrence already on its way when the cancel landed is refused by the dispatcher.
    assert sorted(reminders.invoke_dispatcher(e)["outcome"] for e in in_flight) == [
        "cancelled",
        "cancelled",
    ]
    assert reminders.advance(timedelta(days=3)) == []
    assert deliveries(db, daily["reminder_id"]) == deliveries(db, once["reminder_id"]) == []
    assert reminders.notifications() == []
    # Cancelling again is a no-op; a cancelled reminder cannot be brought back.
    again = reminders.cancel("alice", daily["reminder_id"])
    assert (again.status, again.body) == (200, cancelled[0].body)
    revived = reminders.reschedule(
        "alice", daily["reminder_id"], {"time_zone": "UTC", "cron": "0 9 * * ? *"}
    )
    assert (revived.status, revived.body["error"]) == (409, "conflict")
    assert reminders.create("alice", daily).body["state"] == "cancelled"
    assert reminders.schedules() == []


def test_a_user_cannot_list_change_or_cancel_another_users_reminders(
    reminders: ReminderDriver, db: psycopg.Connection
) -> None:
    body = recurring("30 7 ? * MON-FRI *")
    created = reminders.create("alice", body)
    reminder_id = body["reminder_id"]

    listed = reminders.list("mallory")
    changed = reminders.reschedule(
        "mallory", reminder_id, {"time_zone": "UTC", "cron": "0 3 * * ? *"}
    )
    cancelled = reminders.cancel("mallory", reminder_id)

    assert (listed.status, listed.body) == (200, {"reminders": []})
    assert (changed.status, changed.body["error"]) == (404, "not_found")
    assert (cancelled.status, cancelled.body["error"]) == (404, "not_found")
    assert reminders.list("alice").body == {"reminders": [created.body]}
    (schedule,) = reminders.schedules()
    assert schedule["ScheduleExpression"] == "cron(30 7 ? * MON-FRI *)"
    # The same reminder id from another user is that user's own reminder, with its own schedule.
    theirs = reminders.create("mallory", {**body, "title": "Mallory's own"})
    assert theirs.status == 201
    assert {s["Name"] for s in reminders.schedules()} == {
        schedule_name("alice", UUID(reminder_id)),
        schedule_name("mallory", UUID(reminder_id)),
    }
    assert [r["title"] for r in reminders.list("alice").body["reminders"]] == ["How did you sleep?"]


# ------------------------------------------------------------------------------------------
# Validation: 422 naming the field, nothing stored, nothing scheduled
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        pytest.param({"at": "2020-01-01T08:00:00"}, "at", "is in the past", id="past"),
        pytest.param(
            {"at": local_ahead(KOLKATA, timedelta(0)).isoformat()},
            "at",
            "is in the past",
            id="this-minute",
        ),
        pytest.param(
            {"at": local_ahead(KOLKATA, timedelta(days=120)).isoformat()},
            "at",
            "more than 90 days ahead",
            id="too-far-ahead",
        ),
        pytest.param(
            {"time_zone": "Europe/Atlantis"}, "time_zone", "not an IANA time zone", id="zone"
        ),
        pytest.param(
            {"time_zone": "CEST"}, "time_zone", "not an IANA time zone", id="abbreviation"
        ),
        pytest.param(
            {"at": "2026-12-01T08:00:00+01:00"}, "at", "without a UTC offset", id="offset"
        ),
        pytest.param({"at": None, "cron": "0 8 * * *"}, "cron", "six", id="five-field-cron"),
        pytest.param({"at": None, "cron": "0 8 * * * *"}, "cron", "exactly one of", id="no-?"),
        pytest.param({"at": None, "cron": "0 25 * * ? *"}, "cron", "outside 0-23", id="hour-25"),
        pytest.param(
            {"at": None, "cron": "cron(0 8 * * ? *)"}, "cron", "without cron( )", id="wrapped"
        ),
        pytest.param({"at": None, "cron": "0 8 30 FEB ? *"}, "cron", "never fires", id="never"),
        pytest.param(
            {"at": None, "cron": "0 8 1 1 ? 2099"}, "cron", "more than 90 days", id="far-cron"
        ),
        pytest.param({"cron": "0 8 * * ? *"}, "body", "not both", id="both"),
        pytest.param({"at": None}, "body", "either at", id="neither"),
        pytest.param({"title": ""}, "title", "at least 1 character", id="empty-title"),
        pytest.param({"kind": "alarm"}, "kind", "medication", id="kind"),
        pytest.param({"reminder_id": "r-1"}, "reminder_id", "must be a UUID", id="reminder-id"),
    ],
)
def test_invalid_reminders_are_422_naming_the_field(
    reminders: ReminderDriver,
    db: psycopg.Connection,
    change: dict[str, Any],
    field: str,
    reason: str,
) -> None:
    body = {
        k: v
        for k, v in {**one_time(local_ahead(KOLKATA, timedelta(hours=3))), **change}.items()
        if v is not None
    }

    result = reminders.create("alice", body)

    assert result.status == 422, result.body
    assert result.body["error"] == "validation_failed"
    assert [detail["field"] for detail in result.body["details"]] == [field]
    assert reason in result.body["details"][0]["reason"]
    assert db.execute("SELECT count(*) FROM reminders").fetchone() == (0,)
    assert reminders.schedules() == []


#: Zones at both ends of the offset range (UTC+14, UTC-12).
FAR_EAST, FAR_WEST = ZoneInfo("Pacific/Kiritimati"), ZoneInfo("Etc/GMT+12")


def test_any_local_time_is_a_4xx_or_a_schedule_on_create_and_reschedule(
    reminders: ReminderDriver,
) -> None:
    """Issue 16: an ``at`` near year 1 or 9999 answered 500 (an OverflowError resolving it),
    on POST and PUT. Every local date-time the contract accepts, in the zones furthest from
    UTC: 201/200 or 422 naming ``at``, never a 5xx."""
    existing = recurring("0 8 * * ? *")
    assert reminders.create("alice", existing).status == 201

    @settings(max_examples=40, deadline=None, derandomize=True)
    @given(
        at=st.one_of(
            st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59)),
            st.datetimes(
                min_value=datetime.now() - timedelta(days=2),
                max_value=datetime.now() + timedelta(days=95),
            ),
        ),
        zone=st.sampled_from([FAR_EAST, FAR_WEST]),
    )
    @example(at=datetime(1, 1, 1), zone=FAR_EAST)
    @example(at=datetime(9999, 12, 31, 23, 59), zone=FAR_WEST)
    def answers_4xx_or_schedules(at: datetime, zone: ZoneInfo) -> None:
        schedule = {"time_zone": zone.key, "at": at.replace(microsecond=0).isoformat()}
        created = reminders.create("alice", {**one_time(at, zone), **schedule})
        moved = reminders.reschedule("alice", existing["reminder_id"], schedule)
        for answer, accepted in ((created, 201), (moved, 200)):
            assert answer.status in (accepted, 422), answer.body
            if answer.status == 422:
                assert [detail["field"] for detail in answer.body["details"]] == ["at"]
        assert (created.status == 201) == (moved.status == 200)

    answers_4xx_or_schedules()


def test_same_id_different_content_is_409(reminders: ReminderDriver) -> None:
    body = recurring("0 8 * * ? *")
    reminders.create("alice", body)

    clash = reminders.create("alice", {**body, "cron": "0 9 * * ? *"})

    assert (clash.status, clash.body["error"]) == (409, "conflict")
    (schedule,) = reminders.schedules()
    assert schedule["ScheduleExpression"] == "cron(0 8 * * ? *)"


# ------------------------------------------------------------------------------------------
# Reschedule, and the failure paths of delivery
# ------------------------------------------------------------------------------------------
def test_rescheduling_moves_the_one_schedule_and_drops_the_old_occurrence(
    reminders: ReminderDriver, db: psycopg.Connection
) -> None:
    body = one_time(local_ahead(KOLKATA, timedelta(hours=1)))
    reminders.create("alice", body)
    (old,) = reminders.schedules()
    old_time = datetime.fromisoformat(reminders.list("alice").body["reminders"][0]["next_fire_at"])
    later = local_ahead(KOLKATA, timedelta(hours=4))

    moved = reminders.reschedule(
        "alice", body["reminder_id"], {"time_zone": "Asia/Kolkata", "at": later.isoformat()}
    )
    repeated = reminders.reschedule(
        "alice", body["reminder_id"], {"time_zone": "Asia/Kolkata", "at": later.isoformat()}
    )

    assert moved.status == repeated.status == 200
    assert moved.body["at"] == later.isoformat()
    assert repeated.body == moved.body  # the same schedule again: no new revision
    (new,) = reminders.schedules()
    assert new["Name"] == old["Name"]
    assert json.loads(new["Target"]["Input"])["revision"] == 2
    # The old schedule's occurrence, still in flight, is stale: not delivered.
    stale = reminders.invoke_dispatcher(occurrence_event(old, old_time))
    assert stale["outcome"] == "stale"
    assert reminders.advance(timedelta(hours=2)) == []
    (firing,) = reminders.advance(timedelta(hours=2, minutes=1))
    assert firing.invocation.result["outcome"] == "delivered"
    assert [row[2:4] for row in deliveries(db, body["reminder_id"])] == [(2, "published")]
    # A delivered one-time reminder can be given a new time: it fires again.
    again = reminders.reschedule(
        "alice", body["reminder_id"], {"time_zone": "UTC", "cron": "15 6 * * ? *"}
    )
    assert (again.body["state"], again.body["cron"], again.body["at"]) == (
        "scheduled",
        "15 6 * * ? *",
        None,
    )


def test_a_publish_sns_refused_is_retried_and_dead_lettered_not_lost_in_the_ledger(
    reminders: ReminderDriver, db: psycopg.Connection
) -> None:
    body = one_time(local_ahead(KOLKATA, timedelta(hours=1)))
    reminders.create("alice", body)
    sns = boto3.client("sns", region_name=REGION)
    sns.delete_topic(TopicArn=reminders.resources.topic_arn)  # SNS now answers NotFound

    (firing,) = reminders.advance(timedelta(hours=1, minutes=1))

    assert firing.invocation.error_type == "PublishRefused"
    (dead,) = reminders.dead_letters()
    assert dead["requestPayload"]["reminder_id"] == body["reminder_id"]
    assert dead["requestContext"]["approximateInvokeCount"] == 3
    # The claim was released: nothing says "sent", and a replay of the event delivers it.
    assert deliveries(db, body["reminder_id"]) == []
    topic_arn = sns.create_topic(Name=reminders.resources.topic_arn.rsplit(":", 1)[-1])["TopicArn"]
    assert topic_arn == reminders.resources.topic_arn
    replayed = reminders.invoke_dispatcher(dead["requestPayload"])
    assert replayed["outcome"] == "delivered"
    assert [row[3] for row in deliveries(db, body["reminder_id"])] == ["published"]


class _SilentTopic(ReminderTopic):
    """SNS that never answers: the publish may or may not have gone out."""

    def __init__(self) -> None:
        self.calls = 0

    def publish(self, message: dict[str, str], *, kind: str) -> str:
        self.calls += 1
        raise ReadTimeoutError(endpoint_url="https://sns.eu-central-1.amazonaws.com/")


def test_a_publish_without_answer_is_recorded_unconfirmed_and_never_resent(
    reminders: ReminderDriver, db: psycopg.Connection, database_url: str
) -> None:
    body = one_time(local_ahead(KOLKATA, timedelta(hours=1)))
    reminders.create("alice", body)
    (schedule,) = reminders.schedules()
    fire_at = datetime.fromisoformat(reminders.list("alice").body["reminders"][0]["next_fire_at"])
    occurrence = ReminderOccurrence.model_validate(occurrence_event(schedule, fire_at))
    topic = _SilentTopic()

    with psycopg.connect(database_url, autocommit=True) as conn:
        dispatcher = ReminderDispatcher(ReminderRepository(conn), topic)
        outcomes = [dispatcher.dispatch(occurrence).outcome for _ in range(2)]

    assert outcomes == ["unconfirmed", "duplicate"]
    assert topic.calls == 1
    (row,) = db.execute(
        "SELECT state, failure_reason FROM reminder_deliveries WHERE reminder_id = %s",
        (body["reminder_id"],),
    ).fetchall()
    assert row[0] == "unconfirmed"
    assert row[1].startswith("ReadTimeoutError")


def test_every_answer_of_the_reminders_api_matches_the_document(
    reminders: ReminderDriver,
) -> None:
    from tests.integration.test_openapi_conformance import _check

    route = "/v1/reminders/{reminder_id}"
    body = recurring("0 8 * * ? *")
    rid = body["reminder_id"]
    move = {"time_zone": "Asia/Tokyo", "cron": "0 21 ? * SUN *"}
    statuses = [
        _check(reminders.create("u", body), "POST", "/v1/reminders"),
        _check(reminders.create("u", body), "POST", "/v1/reminders"),
        _check(reminders.create("u", {**body, "title": "Other"}), "POST", "/v1/reminders"),
        _check(reminders.create("u", {**body, "cron": "0 8 * *"}), "POST", "/v1/reminders"),
        _check(
            reminders.create("u", one_time(local_ahead(KOLKATA, timedelta(hours=2)))),
            "POST",
            "/v1/reminders",
        ),
        _check(reminders.list("u"), "GET", "/v1/reminders"),
        _check(reminders.reschedule("u", rid, move), "PUT", route),
        _check(reminders.reschedule("u", uuid4(), move), "PUT", route),
        _check(reminders.cancel("u", rid), "DELETE", route),
        _check(reminders.reschedule("u", rid, move), "PUT", route),
        _check(reminders.cancel("u", uuid4()), "DELETE", route),
    ]

    assert statuses == [201, 200, 409, 422, 201, 200, 200, 404, 200, 409, 404]


# ------------------------------------------------------------------------------------------
# Upkeep (the hourly job): missing schedules put back, the ledger's retention
# ------------------------------------------------------------------------------------------
def test_the_upkeep_puts_back_the_missing_schedule_of_every_live_reminder(
    reminders: ReminderDriver,
) -> None:
    daily = recurring("0 8 * * ? *")
    once = one_time(local_ahead(KOLKATA, timedelta(hours=3)))
    cancelled = recurring("30 7 ? * MON-FRI *")
    for body in (daily, once, cancelled):
        assert reminders.create("alice", body).status == 201
    assert reminders.cancel("alice", cancelled["reminder_id"]).status == 200
    before = reminders.schedules()
    # Lost: deleted behind the API's back (by hand, with the group, a crash before the put).
    for schedule in before:
        reminders.scheduler_client.delete_schedule(
            Name=schedule["Name"], GroupName=reminders.resources.group
        )

    first = reminders.upkeep()
    again = reminders.upkeep()

    assert first == {
        "live": 2,
        "recreated": 2,
        "too_close": 0,
        "deliveries_purged": 0,
        # The same run's change-event sweep: nothing was left unpublished.
        "change_events": {"published": 0, "failed": 0},
    }
    assert again["recreated"] == 0
    after = reminders.schedules()
    kept = ("Name", "ScheduleExpression", "ScheduleExpressionTimezone", "Target", "State")
    assert [{key: s[key] for key in kept} for s in after] == [
        {key: s[key] for key in kept} for s in before
    ]
    # They fire again, each at its time (the daily one at its next 08:00 in Berlin).
    latest = max(datetime.fromisoformat(r["next_fire_at"]) for r in scheduled_reminders(reminders))
    fired = reminders.advance_to(latest)
    outcomes = {f.invocation.result["reminder_id"]: f.invocation.result["outcome"] for f in fired}
    assert outcomes == {daily["reminder_id"]: "delivered", once["reminder_id"]: "delivered"}


def scheduled_reminders(reminders: ReminderDriver) -> list[dict[str, Any]]:
    """The caller's scheduled reminders, as the API lists them."""
    listed: list[dict[str, Any]] = reminders.list("alice").body["reminders"]
    return [reminder for reminder in listed if reminder["state"] == "scheduled"]


def test_the_upkeep_purges_ledger_rows_published_longer_ago_than_the_retention(
    reminders: ReminderDriver, db: psycopg.Connection
) -> None:
    body = recurring("0 8 * * ? *")
    reminders.create("alice", body)
    (schedule,) = reminders.schedules()
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    for days_ago in (200, 100, 1):
        reminders.invoke_dispatcher(occurrence_event(schedule, now - timedelta(days=days_ago)))
    db.execute(  # as if published then: the ledger's own time
        "UPDATE reminder_deliveries SET published_at = scheduled_for WHERE reminder_id = %s",
        (body["reminder_id"],),
    )
    db.execute(  # one never confirmed published, as old: kept for operators
        "UPDATE reminder_deliveries SET state = 'unconfirmed', message_id = NULL, "
        "published_at = NULL, failure_reason = 'ReadTimeoutError' "
        "WHERE reminder_id = %s AND scheduled_for = %s",
        (body["reminder_id"], now - timedelta(days=200)),
    )

    report = reminders.upkeep()

    assert report["deliveries_purged"] == 1  # the one published 100 days ago (retention 90)
    assert [(row[1], row[3]) for row in deliveries(db, body["reminder_id"])] == [
        (now - timedelta(days=200), "unconfirmed"),
        (now - timedelta(days=1), "published"),
    ]


def test_a_daily_reminder_created_seconds_before_its_time_starts_at_the_next_occurrence(
    reminders: ReminderDriver,
) -> None:
    """Issue 16: refused ("less than a minute ahead"); now it is scheduled, and starts at its
    next occurrence, tomorrow, in the database and in Scheduler alike."""
    now = datetime.now(UTC)
    coming = now.replace(second=0, microsecond=0) + timedelta(minutes=1)  # within 60 s
    body = recurring(f"{coming.minute} {coming.hour} * * ? *", ZoneInfo("UTC"))

    created = reminders.create("alice", body)

    assert created.status == 201, created.body
    tomorrow = coming + timedelta(days=1)
    assert datetime.fromisoformat(created.body["next_fire_at"]) == tomorrow
    (schedule,) = reminders.schedules()
    assert schedule["StartDate"] == tomorrow
