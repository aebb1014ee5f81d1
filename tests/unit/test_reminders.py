"""The reminders contract and the checks against the clock, with a fixed "now": refusals name
the field (422), one-time reminders resolve to the right UTC instant, schedule names are
deterministic and within Scheduler's limits, and the dispatcher's input is what we promise."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import jsonschema
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from hksync.aws.scheduler import (
    ATTEMPT_NUMBER,
    EXECUTION_ID,
    SCHEDULED_TIME,
    schedule_expression,
    schedule_name,
    target_input,
)
from hksync.contract.parse import parse_json
from hksync.contract.reminders import (
    MIN_RECURRING_INTERVAL,
    CreateReminder,
    ReminderOccurrence,
    RescheduleReminder,
)
from hksync.db.reminders import Reminder
from hksync.dispatch import delivery_id
from hksync.errors import ContractViolation
from hksync.reminders import MAX_LEAD_TIME, resolve_schedule

#: Thursday 26 November 2026, 10:00 in Berlin (CET, UTC+1).
NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
REMINDER_ID = "5d6f2a3e-8b1c-4e7a-9f20-3c4b5a6d7e81"


def create(**fields: Any) -> dict[str, Any]:
    return {
        "reminder_id": REMINDER_ID,
        "kind": "medication",
        "title": "Levothyroxine 50 µg",
        "time_zone": "Europe/Berlin",
        **fields,
    }


def refusal(model: type[Any], body: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ContractViolation) as refused:
        parse_json(model, json.dumps(body).encode())
    return {detail.field: detail.reason for detail in refused.value.details}


def resolved(body: dict[str, Any], now: datetime = NOW) -> Any:
    return resolve_schedule(parse_json(CreateReminder, json.dumps(body).encode()).root, now)


def clock_refusal(body: dict[str, Any], now: datetime = NOW) -> dict[str, str]:
    with pytest.raises(ContractViolation) as refused:
        resolved(body, now)
    return {detail.field: detail.reason for detail in refused.value.details}


# ------------------------------------------------------------------------------------------
# The contract: form of each field
# ------------------------------------------------------------------------------------------
def test_a_one_time_and_a_recurring_reminder_parse() -> None:
    once = parse_json(CreateReminder, json.dumps(create(at="2026-11-26T13:00")).encode()).root
    daily = parse_json(CreateReminder, json.dumps(create(cron=" 0  8 * * ? * ")).encode()).root

    assert once.at == datetime(2026, 11, 26, 13, 0)
    assert (once.cron, daily.at) == (None, None)
    assert daily.cron == "0 8 * * ? *"  # normalised: what is stored and compared
    assert once.reminder_id == UUID(REMINDER_ID)


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        (create(at="2026-11-26T13:00", time_zone="Mars/Olympus"), "time_zone", "not an IANA"),
        (create(at="2026-11-26T13:00", time_zone="+01:00"), "time_zone", "not an IANA"),
        (create(at="2026-11-26T13:00Z"), "at", "without a UTC offset"),
        (create(at="2026-11-26T13:00:00.5"), "at", "to the second"),
        (create(at="tomorrow at 8"), "at", "YYYY-MM-DDTHH:MM"),
        (create(at=1764162000), "at", "datetime"),
        (create(cron="0 8 * * ?"), "cron", "has 5 field(s)"),
        (create(cron="cron(0 8 * * ? *)"), "cron", "without cron( )"),
        (create(cron="0 8 ? * MON/2 *"), "cron", "'/' is not allowed"),
        # One-time or recurring (oneOf in the document): both, or neither, is one refusal.
        (create(at="2026-11-26T13:00", cron="0 8 * * ? *"), "body", "not both"),
        (create(at=None, cron="0 8 * * ? *"), "body", "not both"),
        (create(), "body", "either at (a one-time local date-time) or cron"),
        (create(at="2026-11-26T13:00", kind="alarm"), "kind", "Input should be"),
        (create(at="2026-11-26T13:00", title="   "), "title", "at least 1 character"),
        (create(at="2026-11-26T13:00", title="x" * 101), "title", "at most 100 characters"),
        (create(at="2026-11-26T13:00", title="Take\u0007it"), "title", "pattern"),
        (create(at="2026-11-26T13:00", reminder_id="not-a-uuid"), "reminder_id", "UUID"),
        (create(at="2026-11-26T13:00", user_id="mallory"), "user_id", "Extra inputs"),
    ],
)
def test_refusals_name_the_field(body: dict[str, Any], field: str, reason: str) -> None:
    problems = refusal(CreateReminder, body)
    assert list(problems) == [field]
    assert reason in problems[field]


def test_a_reschedule_carries_only_the_schedule() -> None:
    body = {"time_zone": "Asia/Tokyo", "cron": "0 21 ? * SUN *"}
    parsed = parse_json(RescheduleReminder, json.dumps(body).encode()).root
    assert (parsed.time_zone, parsed.cron) == ("Asia/Tokyo", "0 21 ? * SUN *")
    assert list(refusal(RescheduleReminder, {**body, "title": "x"})) == ["title"]


# ------------------------------------------------------------------------------------------
# The clock: past, too soon, too far, skipped local times, the UTC instant
# ------------------------------------------------------------------------------------------
def test_a_one_time_reminder_three_hours_ahead_resolves_to_its_utc_instant() -> None:
    schedule = resolved(create(at="2026-11-26T13:00"))  # 13:00 CET is 12:00 UTC
    assert schedule.fire_at == schedule.next_fire_at == datetime(2026, 11, 26, 12, tzinfo=UTC)
    assert schedule.local_at == datetime(2026, 11, 26, 13, 0)
    kolkata = resolved(create(at="2026-11-26T17:30", time_zone="Asia/Kolkata"))
    assert kolkata.fire_at == datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def test_a_recurring_reminder_first_fires_at_its_next_occurrence() -> None:
    schedule = resolved(create(cron="0 8 * * ? *"))
    # 08:00 in Berlin has passed today (it is 10:00): tomorrow, 07:00 UTC.
    assert schedule.next_fire_at == datetime(2026, 11, 27, 7, tzinfo=UTC)
    assert (schedule.fire_at, schedule.cron) == (None, "0 8 * * ? *")


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        (create(at="2026-11-26T09:59"), "at", "is in the past"),
        (create(at="2026-11-26T10:00"), "at", "is in the past"),
        (create(at="2026-11-26T10:00:30"), "at", "less than a minute ahead"),
        (create(at="2027-02-25T10:00"), "at", "more than 90 days ahead"),
        (create(cron="0 8 30 FEB ? *"), "cron", "never fires"),
        (create(cron="0 8 * * ? 2025"), "cron", "never fires"),
        (create(cron="0 8 1 JAN ? 2030"), "cron", "more than 90 days ahead"),
    ],
)
def test_times_the_clock_refuses(body: dict[str, Any], field: str, reason: str) -> None:
    problems = clock_refusal(body)
    assert list(problems) == [field]
    assert reason in problems[field]


def test_the_horizon_is_inclusive() -> None:
    edge = (NOW + MAX_LEAD_TIME).astimezone(UTC).replace(tzinfo=None)
    assert resolved(create(at=edge.isoformat(), time_zone="UTC")).fire_at == NOW + MAX_LEAD_TIME


def test_a_local_time_the_clocks_skip_is_refused() -> None:
    now = datetime(2027, 3, 1, tzinfo=UTC)
    problems = clock_refusal(create(at="2027-03-28T02:30"), now)
    assert problems == {
        "at": "2027-03-28T02:30:00 does not exist in Europe/Berlin: the clocks skip it "
        "(daylight saving time)"
    }
    # A repeated local time is its first instance (CEST).
    repeated = resolved(create(at="2026-10-25T02:30"), datetime(2026, 10, 1, tzinfo=UTC))
    assert repeated.fire_at == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


#: Zones at the ends of the offset range (UTC+14, UTC-12) and ones with daylight saving time.
EXTREME_ZONES = ("Pacific/Kiritimati", "Etc/GMT+12", "Europe/Berlin", "America/St_Johns", "UTC")
#: Every local date-time the contract accepts: four-digit years, to the second.
ANY_LOCAL_TIME = st.datetimes(
    min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)
)


#: ... and, as often, one about the window (NOW to NOW + 90 days), where both answers occur.
NEAR_THE_WINDOW = st.datetimes(min_value=datetime(2026, 11, 24), max_value=datetime(2027, 3, 1))


@given(at=st.one_of(ANY_LOCAL_TIME, NEAR_THE_WINDOW), zone=st.sampled_from(EXTREME_ZONES))
@example(at=datetime(1, 1, 1), zone="Pacific/Kiritimati")  # issue 16: OverflowError, a 500
@example(at=datetime(9999, 12, 31, 23, 59, 59), zone="Etc/GMT+12")
def test_every_local_time_the_contract_accepts_is_scheduled_or_refused_naming_at(
    at: datetime, zone: str
) -> None:
    body = create(at=at.isoformat(timespec="seconds"), time_zone=zone)
    outcome: Any
    try:
        outcome = resolved(body)
    except ContractViolation as refused:
        outcome = refused
    if isinstance(outcome, ContractViolation):
        assert [detail.field for detail in outcome.details] == ["at"]
    else:
        assert NOW + timedelta(minutes=1) <= outcome.fire_at <= NOW + MAX_LEAD_TIME


# ------------------------------------------------------------------------------------------
# Schedules: names, expressions, the dispatcher's input
# ------------------------------------------------------------------------------------------
@given(st.text(min_size=1, max_size=300), st.uuids())
def test_schedule_names_are_deterministic_and_valid(user_id: str, reminder_id: UUID) -> None:
    name = schedule_name(user_id, reminder_id)
    assert name == schedule_name(user_id, reminder_id)
    assert len(name) <= 64
    assert re.fullmatch(r"[0-9a-zA-Z_.-]+", name)
    assert reminder_id.hex in name


def test_schedule_names_differ_per_user_and_per_reminder() -> None:
    first, second = UUID(REMINDER_ID), UUID(int=UUID(REMINDER_ID).int + 1)
    names = {schedule_name(user, rid) for user in ("alice", "bob") for rid in (first, second)}
    assert len(names) == 4


def _reminder(**fields: Any) -> Reminder:
    base: dict[str, Any] = {
        "user_id": "alice",
        "reminder_id": UUID(REMINDER_ID),
        "kind": "medication",
        "title": "Levothyroxine 50 µg",
        "time_zone": "Europe/Berlin",
        "local_at": None,
        "fire_at": None,
        "cron": None,
        "schedule_name": schedule_name("alice", UUID(REMINDER_ID)),
        "state": "scheduled",
        "revision": 3,
        "next_fire_at": None,
        "created_at": NOW,
        "updated_at": NOW,
    }
    return Reminder(**{**base, **fields})


def test_schedule_expressions() -> None:
    # As the driver may return it: in the session's time zone, not UTC.
    once = _reminder(
        local_at=datetime(2026, 11, 26, 13, 0),
        fire_at=datetime(2026, 11, 26, 13, tzinfo=ZoneInfo("Europe/Berlin")),
    )
    daily = _reminder(cron="0 8 * * ? *")
    assert schedule_expression(once) == ("at(2026-11-26T12:00:00)", "UTC")
    assert schedule_expression(daily) == ("cron(0 8 * * ? *)", "Europe/Berlin")


def test_the_target_input_becomes_the_dispatchers_event() -> None:
    text = target_input(_reminder(cron="0 8 * * ? *"))
    assert "Levothyroxine" not in text  # no health data in the schedule
    filled = (
        text.replace(SCHEDULED_TIME, "2026-11-27T07:00:00Z")
        .replace(EXECUTION_ID, "d32c5kddcf5bb8c3")
        .replace(ATTEMPT_NUMBER, "2")
    )
    occurrence = ReminderOccurrence.model_validate_json(filled)
    assert occurrence == ReminderOccurrence(
        user_id="alice",
        reminder_id=UUID(REMINDER_ID),
        revision=3,
        scheduled_time=datetime(2026, 11, 27, 7, tzinfo=UTC),
        execution_id="d32c5kddcf5bb8c3",
        attempt=2,
    )


def test_delivery_ids_are_the_same_for_every_invocation_of_an_occurrence() -> None:
    at = datetime(2026, 11, 27, 7, tzinfo=UTC)
    same = delivery_id("alice", UUID(REMINDER_ID), at.astimezone(ZoneInfo("Europe/Berlin")))
    assert delivery_id("alice", UUID(REMINDER_ID), at) == same
    assert delivery_id("alice", UUID(REMINDER_ID), at + timedelta(days=1)) != same
    assert delivery_id("bob", UUID(REMINDER_ID), at) != same


@pytest.mark.parametrize(
    "schedule",
    [
        {"at": "2026-11-26T13:00"},
        {"cron": "0 8 * * ? *"},
        {"at": "2026-11-26T13:00", "cron": "0 8 * * ? *"},
        {"at": None, "cron": "0 8 * * ? *"},
        {"at": "2026-11-26T13:00", "cron": None},
        {},
    ],
    ids=["at", "cron", "both", "null-at", "null-cron", "neither"],
)
@pytest.mark.parametrize("model", [CreateReminder, RescheduleReminder])
def test_the_schema_accepts_exactly_the_schedules_the_code_accepts(
    model: type[Any], schedule: dict[str, Any]
) -> None:
    """Issue 16: the document allowed a reminder with both at and cron. One-time and recurring
    are now a oneOf of two closed objects: the JSON Schema and the code agree on every body."""
    body = {**(create() if model is CreateReminder else {"time_zone": "Europe/Berlin"}), **schedule}
    schema = model.model_json_schema()
    by_schema = jsonschema.Draft202012Validator(schema).is_valid(body)
    try:
        parse_json(model, json.dumps(body).encode())
        by_code = True
    except ContractViolation:
        by_code = False

    assert (
        by_schema == by_code == (schedule in ({"at": "2026-11-26T13:00"}, {"cron": "0 8 * * ? *"}))
    )


# ------------------------------------------------------------------------------------------
# Recurring reminders: the minimum interval, and an occurrence too close to make
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cron", ["* * * * ? *", "0/2 * * * ? *", "0,10 8 * * ? *"])
def test_a_cron_firing_more_often_than_the_minimum_is_refused_the_same_way_every_second(
    cron: str,
) -> None:
    """Issue 16: an every-minute cron was always refused ("less than a minute ahead"), and
    0/2 refused or accepted by the second of the request. Now both are judged on the
    expression: the same refusal, naming the interval, at every second of the minute."""
    answers = {
        json.dumps(clock_refusal(create(cron=cron), NOW + timedelta(seconds=second)))
        for second in range(0, 120, 7)
    }

    assert len(answers) == 1
    (problems,) = [json.loads(answer) for answer in answers]
    assert list(problems) == ["cron"]
    assert f"at most every {MIN_RECURRING_INTERVAL.seconds // 60} minutes" in problems["cron"]


def test_a_cron_at_the_minimum_interval_is_accepted_at_every_second() -> None:
    for second in range(0, 120, 7):
        now = NOW + timedelta(seconds=second)
        schedule = resolved(create(cron="0/15 * * * ? *"), now)
        assert now + timedelta(minutes=1) <= schedule.next_fire_at <= now + timedelta(minutes=16)


@pytest.mark.parametrize("seconds_before", [1, 5, 30, 59])
def test_a_daily_cron_created_seconds_before_its_time_starts_at_the_next_occurrence(
    seconds_before: int,
) -> None:
    """Issue 16: a daily cron created less than a minute before its time was refused."""
    eight_berlin = datetime(2026, 11, 27, 7, 0, tzinfo=UTC)  # 08:00 CET

    schedule = resolved(
        create(cron="0 8 * * ? *"), eight_berlin - timedelta(seconds=seconds_before)
    )

    assert schedule.next_fire_at == eight_berlin + timedelta(days=1)
