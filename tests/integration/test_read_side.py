"""The read side through the query handler: daily summaries merged by source priority,
samples paged back, the app's source priority, window reconciliation (issue 15).

Every expected figure is worked out by hand in the test from the samples it uploads.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from tests.support.builders import SLEEP, WATCH, chunk
from tests.support.pipeline import HttpResult, Pipeline

STEPS = "HKQuantityTypeIdentifierStepCount"
DISTANCE = "HKQuantityTypeIdentifierDistanceWalkingRunning"
PHONE = {
    "name": "Anna's iPhone",
    "bundle_id": "com.apple.health.81A7",
    "product_type": "iPhone16,1",
}
WATCH_SOURCE = {**WATCH, "product_type": "Watch7,2"}
#: An app that writes one step total for a whole trip.
TRIP_APP = {"name": "Trip Steps", "bundle_id": "com.example.tripsteps", "version": "2.1"}
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
ASLEEP_CORE = 3


def _sample(
    source: dict[str, Any],
    start: datetime,
    end: datetime,
    value: float,
    *,
    sample_type: str = STEPS,
    unit: str = "count",
    zone: str | None = None,
) -> dict[str, Any]:
    """A quantity sample; its dates carry the offsets ``start`` and ``end`` have, its zone (if
    any) travels as HealthKit's HKTimeZone metadata."""
    return {
        "uuid": str(uuid.uuid4()),
        "sample_type": sample_type,
        "start_date": start.isoformat(),
        "end_date": end.isoformat(),
        "source": source,
        "unit": unit,
        "value": value,
        **({"metadata": {"HKTimeZone": zone}} if zone else {}),
    }


def _steps(source: dict[str, Any], start: datetime, minutes: int, count: float) -> dict[str, Any]:
    return _sample(source, start, start + timedelta(minutes=minutes), count)


def _sync(
    pipeline: Pipeline,
    user: str,
    samples: list[dict[str, Any]],
    *,
    sample_type: str = STEPS,
    deleted: list[str] | None = None,
    reconcile: dict[str, Any] | None = None,
    deliver: bool = True,
) -> uuid.UUID:
    """Uploads one sync of one chunk and its commit; processes it unless told not to."""
    sync_id = uuid.uuid4()
    body = chunk(sync_id, 0, samples, sample_type=sample_type, deleted=deleted)
    if reconcile is not None:
        body["reconcile"] = reconcile
    assert pipeline.put_chunk(user, body).status == 202
    commit = {"chunk_count": 1, "anchors": {sample_type: str(sync_id)}}
    assert pipeline.commit(user, sync_id, commit).status == 202
    if deliver:
        pipeline.drain()
        assert pipeline.status(user, sync_id).body["state"] == "complete"
    return sync_id


def _get(pipeline: Pipeline, user: str, route: str, **query: str) -> HttpResult:
    return pipeline.call(pipeline.query, "GET", route, {}, user=user, query=query)


def _summaries(pipeline: Pipeline, user: str, **query: str) -> Any:
    result = _get(pipeline, user, "/v1/summaries/daily", **query)
    assert result.status == 200, result.body
    return result.body


def _days(
    pipeline: Pipeline, user: str, first: date, last: date, sample_type: str = STEPS
) -> dict[str, dict[str, Any]]:
    """The type's summaries of [first, last], by ISO date."""
    body = _summaries(
        pipeline, user, types=sample_type, start=first.isoformat(), end=last.isoformat()
    )
    (summaries,) = body["summaries"]
    assert summaries["sample_type"] == sample_type
    return {day["date"]: day["summary"] for day in summaries["days"]}


def _totals(
    pipeline: Pipeline, user: str, first: date, last: date, sample_type: str = STEPS
) -> dict[str, float]:
    return {
        day: summary["total"]
        for day, summary in _days(pipeline, user, first, last, sample_type).items()
    }


def _naive(pipeline: Pipeline, user: str, first: date, last: date) -> dict[str, float]:
    return {
        day: summary["naive_total"] for day, summary in _days(pipeline, user, first, last).items()
    }


def _put_priority(pipeline: Pipeline, user: str, sample_type: str, bundle_ids: list[str]) -> None:
    body = {"sample_type": sample_type, "bundle_ids": bundle_ids}
    result = pipeline.call(
        pipeline.query,
        "PUT",
        "/v1/me/source-priority",
        {},
        user=user,
        body=json.dumps(body).encode(),
    )
    assert result.status == 200, result.body
    assert result.body == body


def _wait_for_the_next_second() -> None:
    """S3 tells an object's upload time to the second: an upload after this call is seen as
    later than every upload before it."""
    time.sleep(1.01 - time.time() % 1)


def _hourly(zone: ZoneInfo, day: date) -> list[tuple[datetime, datetime]]:
    """The local day's clock hours as instants in the zone: 23, 24 or 25 of them."""
    start = datetime.combine(day, datetime.min.time(), zone).astimezone(UTC)
    stop = datetime.combine(day + timedelta(days=1), datetime.min.time(), zone).astimezone(UTC)
    hours = []
    while start < stop:
        hours.append((start.astimezone(zone), (start + timedelta(hours=1)).astimezone(zone)))
        start += timedelta(hours=1)
    return hours


def test_a_walk_counted_by_watch_and_phone_counts_once(pipeline: Pipeline) -> None:
    walk = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    samples = [
        _steps(WATCH_SOURCE, walk, 10, 1000),
        _steps(PHONE, walk, 10, 900),  # the same walk, from the phone in the pocket
        _steps(PHONE, walk + timedelta(hours=2), 10, 500),  # the watch was off: counts
    ]
    _sync(pipeline, "anna", samples)

    body = _summaries(pipeline, "anna", types=STEPS, start="2026-11-20", end="2026-11-20")
    (day,) = body["summaries"][0]["days"]
    assert day["date"] == "2026-11-20"
    assert day["summary"]["total"] == 1500
    assert day["summary"]["naive_total"] == 2400
    assert {source["bundle_id"]: source["total"] for source in day["summary"]["by_source"]} == {
        WATCH["bundle_id"]: 1000,
        PHONE["bundle_id"]: 1400,
    }
    assert (
        _summaries(pipeline, "bob", types=STEPS, start="2026-11-20", end="2026-11-20")["summaries"][
            0
        ]["days"]
        == []
    )


# --- local days ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "hours", "with_zone"),
    [
        (date(2026, 3, 29), 23, False),  # summer time starts: offsets only, +01:00 then +02:00
        (date(2026, 10, 25), 25, True),  # summer time ends: 02:00-03:00 twice, HKTimeZone set
    ],
)
def test_a_day_across_a_dst_change_has_its_own_length(
    pipeline: Pipeline, day: date, hours: int, with_zone: bool
) -> None:
    clock_hours = _hourly(BERLIN, day)
    assert len(clock_hours) == hours
    samples = [
        _sample(WATCH_SOURCE, start, end, 100, zone="Europe/Berlin" if with_zone else None)
        for start, end in clock_hours
    ]
    # And one walk across the DST day's last midnight: half of it is the next day's.
    midnight = datetime.combine(day + timedelta(days=1), datetime.min.time(), BERLIN)
    samples.append(
        _sample(PHONE, midnight - timedelta(minutes=15), midnight + timedelta(minutes=15), 60)
    )
    _sync(pipeline, "anna", samples)

    totals = _totals(pipeline, "anna", day - timedelta(days=1), day + timedelta(days=1))
    # The walk's first half is hidden by the watch's last hour.
    assert totals == {day.isoformat(): 100 * hours, (day + timedelta(days=1)).isoformat(): 30}


def test_a_night_across_the_end_of_summer_time_counts_its_extra_hour(pipeline: Pipeline) -> None:
    # 23:00 to 07:00 on the clock is nine hours that night.
    asleep = {
        "uuid": str(uuid.uuid4()),
        "sample_type": SLEEP,
        "start_date": "2026-10-24T23:00:00+02:00",
        "end_date": "2026-10-25T07:00:00+01:00",
        "source": WATCH_SOURCE,
        "value": ASLEEP_CORE,
        "metadata": {"HKTimeZone": "Europe/Berlin"},
    }
    _sync(pipeline, "anna", [asleep], sample_type=SLEEP)

    nights = _days(pipeline, "anna", date(2026, 10, 24), date(2026, 10, 26), SLEEP)
    assert list(nights) == ["2026-10-25"]
    assert nights["2026-10-25"]["asleep_total_min"] == 540
    assert nights["2026-10-25"]["asleep_min"]["core"] == 540


def test_a_traveller_from_berlin_to_new_york_has_each_day_in_its_own_zone(
    pipeline: Pipeline,
) -> None:
    """Monday to Wednesday morning in Berlin, then a flight; Wednesday evening on in New York.
    Each sample's day is the local date where it was recorded: UTC days would put Wednesday's
    evening walk on Thursday."""
    samples = [
        _steps(WATCH_SOURCE, datetime(2026, 11, 16, 12, 0, tzinfo=BERLIN), 10, 1000),
        # Late Tuesday night in Berlin: already Tuesday 22:30 UTC, still Tuesday.
        _steps(WATCH_SOURCE, datetime(2026, 11, 17, 23, 30, tzinfo=BERLIN), 10, 200),
        _steps(WATCH_SOURCE, datetime(2026, 11, 18, 8, 0, tzinfo=BERLIN), 10, 300),
        # Wednesday evening in New York, Thursday 02:30 UTC: with the zone, then offsets only.
        _sample(
            WATCH_SOURCE,
            datetime(2026, 11, 18, 21, 30, tzinfo=NEW_YORK),
            datetime(2026, 11, 18, 21, 40, tzinfo=NEW_YORK),
            800,
            zone="America/New_York",
        ),
        _steps(WATCH_SOURCE, datetime(2026, 11, 18, 23, 50, tzinfo=NEW_YORK), 20, 400),
        _steps(WATCH_SOURCE, datetime(2026, 11, 19, 7, 0, tzinfo=NEW_YORK), 10, 500),
    ]
    _sync(pipeline, "anna", samples)

    assert _totals(pipeline, "anna", date(2026, 11, 15), date(2026, 11, 20)) == {
        "2026-11-16": 1000,
        "2026-11-17": 200,
        "2026-11-18": 300 + 800 + 200,  # the walk across New York's midnight, pro rata
        "2026-11-19": 200 + 500,
    }


def test_overlaps_are_merged_on_absolute_time_whatever_the_samples_local_dates(
    pipeline: Pipeline,
) -> None:
    """Just after landing the watch still writes Berlin time (Thursday) while the phone has
    switched to New York (Wednesday): the same minutes, so the phone's do not count, even
    when a later sync changes only the days before."""
    watch = _sample(
        WATCH_SOURCE,
        datetime(2026, 11, 19, 0, 30, tzinfo=BERLIN),
        datetime(2026, 11, 19, 0, 40, tzinfo=BERLIN),
        1000,
    )
    phone = _sample(
        PHONE,
        datetime(2026, 11, 18, 18, 30, tzinfo=NEW_YORK),
        datetime(2026, 11, 18, 18, 40, tzinfo=NEW_YORK),
        900,
    )
    _sync(pipeline, "anna", [watch, phone])
    assert _totals(pipeline, "anna", date(2026, 11, 17), date(2026, 11, 20)) == {
        "2026-11-18": 0,
        "2026-11-19": 1000,
    }

    # A late sample of Tuesday: Tuesday and Wednesday are computed again.
    _sync(
        pipeline,
        "anna",
        [_steps(WATCH_SOURCE, datetime(2026, 11, 17, 20, 0, tzinfo=BERLIN), 10, 50)],
    )

    assert _totals(pipeline, "anna", date(2026, 11, 17), date(2026, 11, 20)) == {
        "2026-11-17": 50,
        "2026-11-18": 0,
        "2026-11-19": 1000,
    }
    assert _naive(pipeline, "anna", date(2026, 11, 18), date(2026, 11, 18)) == {"2026-11-18": 900}


# --- pro rata ------------------------------------------------------------------------------


def test_a_sample_spanning_midnight_counts_pro_rata_on_both_days(pipeline: Pipeline) -> None:
    midnight = datetime(2026, 11, 11, 0, 0, tzinfo=BERLIN)
    samples = [
        _sample(
            WATCH_SOURCE, midnight - timedelta(minutes=30), midnight + timedelta(minutes=30), 600
        ),
        # Inside the watch's walk: hidden on both days.
        _sample(PHONE, midnight - timedelta(minutes=10), midnight + timedelta(minutes=10), 120),
        # Half of it after the watch's walk ended: that half counts.
        _sample(PHONE, midnight + timedelta(minutes=20), midnight + timedelta(minutes=40), 200),
    ]
    _sync(pipeline, "anna", samples)

    days = _days(pipeline, "anna", date(2026, 11, 10), date(2026, 11, 11))
    assert {day: summary["total"] for day, summary in days.items()} == {
        "2026-11-10": 300,
        "2026-11-11": 300 + 100,
    }
    assert {day: summary["naive_total"] for day, summary in days.items()} == {
        "2026-11-10": 300 + 60,
        "2026-11-11": 300 + 60 + 200,
    }


def test_a_sample_over_several_days_counts_on_each_of_them(pipeline: Pipeline) -> None:
    """A trip's total written as one sample: 100 steps an hour over three days, less the hour
    the watch counted itself; deleting it later changes all four days."""
    trip = _sample(
        TRIP_APP,
        datetime(2026, 11, 9, 12, 0, tzinfo=BERLIN),
        datetime(2026, 11, 12, 12, 0, tzinfo=BERLIN),
        7200,
    )
    walk = _sample(
        WATCH_SOURCE,
        datetime(2026, 11, 11, 10, 0, tzinfo=BERLIN),
        datetime(2026, 11, 11, 11, 0, tzinfo=BERLIN),
        500,
    )
    _sync(pipeline, "anna", [trip])
    assert _totals(pipeline, "anna", date(2026, 11, 8), date(2026, 11, 13)) == {
        "2026-11-09": 1200,
        "2026-11-10": 2400,
        "2026-11-11": 2400,
        "2026-11-12": 1200,
    }

    _sync(pipeline, "anna", [walk])
    assert _totals(pipeline, "anna", date(2026, 11, 8), date(2026, 11, 13)) == {
        "2026-11-09": 1200,
        "2026-11-10": 2400,
        "2026-11-11": 2300 + 500,
        "2026-11-12": 1200,
    }

    _sync(pipeline, "anna", [], deleted=[trip["uuid"]])

    assert _totals(pipeline, "anna", date(2026, 11, 8), date(2026, 11, 13)) == {"2026-11-11": 500}


# --- later syncs ---------------------------------------------------------------------------


def test_a_deletion_in_a_later_sync_changes_a_past_days_total(pipeline: Pipeline) -> None:
    walk = datetime(2026, 11, 5, 17, 0, tzinfo=BERLIN)
    watch = _steps(WATCH_SOURCE, walk, 30, 3000)
    phone = _steps(PHONE, walk + timedelta(minutes=15), 30, 2400)
    _sync(pipeline, "anna", [watch, phone])
    day = date(2026, 11, 5)
    assert _totals(pipeline, "anna", day, day) == {"2026-11-05": 3000 + 1200}

    # A week later the person deletes the watch's walk in the Health app.
    _sync(pipeline, "anna", [_steps(WATCH_SOURCE, walk + timedelta(days=7), 10, 10)])
    _sync(pipeline, "anna", [], deleted=[watch["uuid"]])

    days = _days(pipeline, "anna", day, day)
    assert days["2026-11-05"]["total"] == 2400
    assert days["2026-11-05"]["naive_total"] == 2400
    assert [source["bundle_id"] for source in days["2026-11-05"]["by_source"]] == [
        PHONE["bundle_id"]
    ]


def test_putting_the_phone_first_changes_the_merged_total(pipeline: Pipeline) -> None:
    walk = datetime(2026, 11, 20, 9, 0, tzinfo=BERLIN)
    distance = [
        _sample(
            WATCH_SOURCE, walk, walk + timedelta(minutes=10), 1.0, sample_type=DISTANCE, unit="km"
        ),
        _sample(PHONE, walk, walk + timedelta(minutes=20), 1500.0, sample_type=DISTANCE, unit="m"),
    ]
    steps = [_steps(WATCH_SOURCE, walk, 10, 1000), _steps(PHONE, walk, 20, 1800)]
    _sync(pipeline, "anna", distance, sample_type=DISTANCE)
    _sync(pipeline, "anna", steps)
    day = walk.date()
    assert _totals(pipeline, "anna", day, day) == {"2026-11-20": 1000 + 900}
    assert _totals(pipeline, "anna", day, day, DISTANCE) == {"2026-11-20": 1000 + 750}

    _put_priority(pipeline, "anna", STEPS, [PHONE["bundle_id"]])

    assert _totals(pipeline, "anna", day, day) == {"2026-11-20": 1800}
    assert _totals(pipeline, "anna", day, day, DISTANCE) == {"2026-11-20": 1750}  # not its type

    # An order for every type, and the type's own order above it.
    _put_priority(pipeline, "anna", "*", [PHONE["bundle_id"]])
    _put_priority(pipeline, "anna", STEPS, [WATCH_SOURCE["bundle_id"]])

    assert _totals(pipeline, "anna", day, day) == {"2026-11-20": 1000 + 900}
    assert _totals(pipeline, "anna", day, day, DISTANCE) == {"2026-11-20": 1500}
    # Bob's order is his own.
    _put_priority(pipeline, "bob", DISTANCE, [WATCH_SOURCE["bundle_id"]])
    assert _totals(pipeline, "anna", day, day, DISTANCE) == {"2026-11-20": 1500}


def test_a_bundle_id_that_is_not_one_is_refused_with_its_field(pipeline: Pipeline) -> None:
    # A NUL cannot be stored in PostgreSQL text: it must be refused, never reach the database.
    for bundle_id in ("com.example\x00app", "com.example app", ""):
        body = {"sample_type": "*", "bundle_ids": [PHONE["bundle_id"], bundle_id]}
        result = pipeline.call(
            pipeline.query,
            "PUT",
            "/v1/me/source-priority",
            {},
            user="anna",
            body=json.dumps(body).encode(),
        )
        assert result.status == 422, result.body
        assert [detail["field"] for detail in result.body["details"]] == ["bundle_ids[1]"]


# --- window reconciliation -----------------------------------------------------------------


def test_a_reconcile_window_tombstones_exactly_the_stored_samples_missing_from_it(
    pipeline: Pipeline, db: psycopg.Connection
) -> None:
    start = datetime(2026, 11, 10, 0, 0, tzinfo=BERLIN)
    end = start + timedelta(days=1)
    at_start, b, c, d = (
        _steps(WATCH_SOURCE, start + timedelta(hours=hour), 10, 100) for hour in (0, 6, 12, 18)
    )
    at_end = _steps(WATCH_SOURCE, end, 10, 100)  # starts as the window ends: outside it
    before = _steps(WATCH_SOURCE, start - timedelta(minutes=1), 10, 100)  # runs into it
    other_type = _sample(
        WATCH_SOURCE, start, start + timedelta(minutes=10), 80, sample_type=DISTANCE, unit="m"
    )
    _sync(pipeline, "anna", [at_start, b, c, d, at_end, before])
    _sync(pipeline, "anna", [other_type], sample_type=DISTANCE)
    _sync(pipeline, "bob", [_steps(WATCH_SOURCE, start + timedelta(hours=6), 10, 100)])
    _wait_for_the_next_second()

    # HealthKit holds only two of the window's samples now: the deletions of the other two
    # were purged before this phone asked for them.
    window = {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "uuids": [at_start["uuid"], c["uuid"]],
    }
    reconcile = _sync(pipeline, "anna", [], reconcile=window, deliver=False)
    held = pipeline.pending()
    # A later sync brings a sample recorded after the phone listed the window; its events
    # arrive before the reconcile's.
    later = _steps(PHONE, start + timedelta(hours=3), 10, 70)
    _sync(pipeline, "anna", [later])
    pipeline.deliver(held)
    pipeline.deliver(held)  # and again: nothing more happens

    status = pipeline.status("anna", reconcile).body
    assert status["state"] == "complete"
    assert status["samples"]["reconciled"] == 2
    assert status["samples"]["deleted"] == 0
    tombstones = db.execute(
        "SELECT user_id, uuid FROM health_samples WHERE deleted_at IS NOT NULL"
    ).fetchall()
    assert {(user, str(sample)) for user, sample in tombstones} == {
        ("anna", b["uuid"]),
        ("anna", d["uuid"]),
    }
    live = db.execute(
        "SELECT uuid FROM health_samples WHERE user_id = 'anna' AND deleted_at IS NULL"
    ).fetchall()
    assert {str(sample) for (sample,) in live} == {
        sample["uuid"] for sample in (at_start, c, at_end, before, other_type, later)
    }
    # The window's day is computed again without them.
    assert _totals(pipeline, "anna", date(2026, 11, 9), date(2026, 11, 11)) == {
        "2026-11-09": 10,
        "2026-11-10": 100 + 100 + 70 + 90,
        "2026-11-11": 100,
    }
    assert _totals(pipeline, "bob", date(2026, 11, 10), date(2026, 11, 10)) == {"2026-11-10": 100}


# --- samples -------------------------------------------------------------------------------


def _pages(
    pipeline: Pipeline, user: str, after: str | None = None, **query: str
) -> list[list[dict[str, Any]]]:
    """Every page of GET /v1/samples (from the cursor ``after``), following next_after."""
    pages = []
    while True:
        cursor = {} if after is None else {"after": after}
        result = _get(pipeline, user, "/v1/samples", **query, **cursor)
        assert result.status == 200, result.body
        pages.append(result.body["samples"])
        after = result.body["next_after"]
        if after is None:
            return pages


def test_samples_come_back_page_by_page_each_once_as_sent_and_canonical(
    pipeline: Pipeline,
) -> None:
    walk = datetime(2026, 11, 20, 9, 0, tzinfo=BERLIN)
    sent = [
        _sample(
            WATCH_SOURCE,
            walk,
            walk + timedelta(minutes=10),
            1.2,
            sample_type=DISTANCE,
            unit="km",
            zone="Europe/Berlin",
        ),
        # Two samples starting at the same instant: the page order breaks the tie by uuid.
        _sample(PHONE, walk, walk + timedelta(minutes=12), 1300, sample_type=DISTANCE, unit="m"),
        _sample(
            WATCH_SOURCE,
            walk + timedelta(hours=1),
            walk + timedelta(hours=1, minutes=5),
            0.5,
            sample_type=DISTANCE,
            unit="mi",
        ),
        _sample(
            WATCH_SOURCE,
            datetime(2026, 11, 21, 18, 0, tzinfo=NEW_YORK),
            datetime(2026, 11, 21, 18, 30, tzinfo=NEW_YORK),
            3.0,
            sample_type=DISTANCE,
            unit="km",
            zone="America/New_York",
        ),
        _sample(
            WATCH_SOURCE,
            walk + timedelta(days=2),
            walk + timedelta(days=2, minutes=3),
            250,
            sample_type=DISTANCE,
            unit="m",
        ),
    ]
    gone = _sample(
        WATCH_SOURCE,
        walk + timedelta(days=1),
        walk + timedelta(days=1, minutes=3),
        90,
        sample_type=DISTANCE,
        unit="m",
    )
    _sync(pipeline, "anna", [*sent, gone], sample_type=DISTANCE)
    _sync(pipeline, "anna", [], sample_type=DISTANCE, deleted=[gone["uuid"]])
    window = {
        "sample_type": DISTANCE,
        "start": (walk - timedelta(hours=1)).isoformat(),
        "end": (walk + timedelta(days=3)).isoformat(),
        "limit": "2",
    }

    pages = _pages(pipeline, "anna", **window)

    assert [len(page) for page in pages] == [2, 2, 1]
    returned = [sample for page in pages for sample in page]
    assert [sample["uuid"] for sample in returned] == [
        sample["uuid"]
        for sample in sorted(
            sent, key=lambda s: (datetime.fromisoformat(s["start_date"]), uuid.UUID(s["uuid"]))
        )
    ]
    by_uuid = {sample["uuid"]: sample for sample in returned}
    berlin_km = by_uuid[sent[0]["uuid"]]
    assert (berlin_km["value"], berlin_km["unit"]) == (1200, "m")
    assert (berlin_km["original_value"], berlin_km["original_unit"]) == (1.2, "km")
    assert (berlin_km["start_offset_s"], berlin_km["end_offset_s"]) == (3600, 3600)
    assert (berlin_km["time_zone"], berlin_km["zone_source"]) == ("Europe/Berlin", "metadata")
    assert berlin_km["local_date"] == "2026-11-20"
    assert datetime.fromisoformat(berlin_km["start_date"]) == walk
    assert berlin_km["source"]["bundle_id"] == WATCH["bundle_id"]
    assert berlin_km["source"]["device_kind"] == "watch"
    assert berlin_km["deleted_at"] is None
    miles = by_uuid[sent[2]["uuid"]]
    assert miles["value"] == pytest.approx(804.672)
    assert (miles["original_value"], miles["original_unit"]) == (0.5, "mi")
    phone = by_uuid[sent[1]["uuid"]]
    assert (phone["time_zone"], phone["zone_source"]) == (None, "offset")
    assert phone["source"] == {
        "bundle_id": PHONE["bundle_id"],
        "name": PHONE["name"],
        "version": None,
        "product_type": PHONE["product_type"],
        "device_kind": "phone",
    }
    new_york = by_uuid[sent[3]["uuid"]]
    assert (new_york["start_offset_s"], new_york["local_date"]) == (-5 * 3600, "2026-11-21")

    # Tombstones, on request: found by when they were deleted (they keep no times).
    with_deleted = dict(window, end=(datetime.now(UTC) + timedelta(days=1)).isoformat())
    with_deleted["include_deleted"] = "true"
    everything = [sample for page in _pages(pipeline, "anna", **with_deleted) for sample in page]
    assert sorted(sample["uuid"] for sample in everything) == sorted(
        sample["uuid"] for sample in [*sent, gone]
    )
    (tombstone,) = [sample for sample in everything if sample["deleted_at"] is not None]
    assert tombstone["uuid"] == gone["uuid"]
    assert (tombstone["sample_type"], tombstone["value"], tombstone["source"]) == (
        DISTANCE,
        None,
        None,
    )
    del with_deleted["include_deleted"]
    assert gone["uuid"] not in {
        sample["uuid"] for page in _pages(pipeline, "anna", **with_deleted) for sample in page
    }


def test_paging_stays_stable_while_samples_arrive(pipeline: Pipeline) -> None:
    walk = datetime(2026, 11, 20, 9, 0, tzinfo=BERLIN)
    first = [_steps(WATCH_SOURCE, walk + timedelta(hours=hour), 10, 100) for hour in range(4)]
    _sync(pipeline, "anna", first)
    query = {
        "sample_type": STEPS,
        "start": walk.isoformat(),
        "end": (walk + timedelta(days=1)).isoformat(),
        "limit": "2",
    }
    page = _get(pipeline, "anna", "/v1/samples", **query).body

    # Meanwhile a sync brings one sample before the cursor and one after it.
    earlier = _steps(PHONE, walk + timedelta(minutes=1), 5, 10)
    later = _steps(PHONE, walk + timedelta(hours=5), 5, 10)
    _sync(pipeline, "anna", [earlier, later])
    rest = _pages(pipeline, "anna", **query, after=page["next_after"])

    seen = [sample["uuid"] for sample in page["samples"]] + [
        sample["uuid"] for chunk_ in rest for sample in chunk_
    ]
    assert seen == [sample["uuid"] for sample in [*first, later]]


# --- isolation -----------------------------------------------------------------------------


def test_a_second_user_sees_none_of_it_on_any_read_route(pipeline: Pipeline) -> None:
    walk = datetime(2026, 11, 20, 9, 0, tzinfo=BERLIN)
    watch = _steps(WATCH_SOURCE, walk, 10, 1000)
    phone = _steps(PHONE, walk, 10, 900)
    anna = _sync(pipeline, "anna", [watch, phone])
    night = {
        "uuid": str(uuid.uuid4()),
        "sample_type": SLEEP,
        "start_date": "2026-11-19T23:00:00+01:00",
        "end_date": "2026-11-20T07:00:00+01:00",
        "source": WATCH_SOURCE,
        "value": ASLEEP_CORE,
    }
    _sync(pipeline, "anna", [night], sample_type=SLEEP)
    _sync(pipeline, "anna", [], deleted=[phone["uuid"]])
    # Bob's own data: the same UUID, a deletion and an empty reconcile of Anna's walk.
    _sync(pipeline, "bob", [dict(watch, value=5)])
    _wait_for_the_next_second()
    _sync(
        pipeline,
        "bob",
        [],
        deleted=[phone["uuid"]],
        reconcile={
            "start": (walk - timedelta(hours=1)).isoformat(),
            "end": (walk + timedelta(hours=1)).isoformat(),
            "uuids": [],
        },
    )
    _put_priority(pipeline, "bob", "*", [PHONE["bundle_id"]])

    types = ",".join([STEPS, SLEEP, DISTANCE])
    # Carol has nothing; Bob has only the tombstones of his own deletion and reconcile.
    for user, own_tombstones in (("carol", set()), ("bob", {watch["uuid"], phone["uuid"]})):
        body = _summaries(pipeline, user, types=types, start="2026-11-19", end="2026-11-21")
        assert {item["sample_type"]: item["days"] for item in body["summaries"]} == {
            STEPS: [],
            SLEEP: [],
            DISTANCE: [],
        }
        for sample_type in (STEPS, SLEEP):
            returned = [
                sample
                for page in _pages(
                    pipeline,
                    user,
                    sample_type=sample_type,
                    start="2026-11-19T00:00:00+00:00",
                    end=(datetime.now(UTC) + timedelta(days=1)).isoformat(),
                    include_deleted="true",
                )
                for sample in page
            ]
            assert {sample["uuid"] for sample in returned} == (
                own_tombstones if sample_type == STEPS else set()
            )
            assert all(sample["deleted_at"] is not None for sample in returned)
        assert pipeline.status(user, anna).status == 404
        assert pipeline.rejected(user, anna).status == 404
        assert str(anna) not in {
            anchor["sync_id"] for anchor in pipeline.anchors(user).body["anchors"]
        }
    # Anna's figures are her own.
    days = _days(pipeline, "anna", walk.date(), walk.date())
    assert (days["2026-11-20"]["total"], days["2026-11-20"]["naive_total"]) == (1000, 1000)
    nights = _days(pipeline, "anna", walk.date(), walk.date(), SLEEP)
    assert nights["2026-11-20"]["asleep_total_min"] == 480
