"""30 days of a simulated user who wears an Apple Watch and carries an iPhone, uploaded through
the real handlers, read back as daily summaries and checked against an independent merge.

The independent merge is a per-second grid, unlike the server's interval sweep: sources are
taken in priority order, each second goes to the highest-priority source covering it, and a
sample counts value / duration for each of its seconds that no higher-priority source took
(samples of one source do not hide each other). Simulated samples start and end on whole
seconds, so the grid is exact. Every day is cut at midnight of the sample's own zone (its
HKTimeZone, else the UTC offset it was sent with), every night at 18:00 the day before.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from hksync_tools.simulator.healthkit import (
    ACTIVE_ENERGY,
    AWAKE,
    CORE,
    DEEP,
    DISTANCE_WALKING,
    IN_BED,
    REM,
    SLEEP_ANALYSIS,
    STEP_COUNT,
)
from hksync_tools.simulator.user import AppleWatchUser
from tests.support.builders import chunk
from tests.support.pipeline import Pipeline

USER = "watch-and-phone-1"
STRANGER = "someone-else"
ASLEEP_UNSPECIFIED = 1
CUMULATIVE_TYPES = (STEP_COUNT, DISTANCE_WALKING, ACTIVE_ENERGY)
#: A third-party sleep tracker on the iPhone: its "asleep" overlaps the watch's stages.
SLEEP_APP = {
    "name": "AutoSleep",
    "bundle_id": "com.tantsissa.AutoSleep",
    "version": "7.4",
}
#: Stages and awake share one layer; within one source the more specific sample wins.
STAGE_PRECEDENCE = {AWAKE: 0, REM: 1, DEEP: 2, CORE: 3, ASLEEP_UNSPECIFIED: 4}
STAGE_NAMES = {CORE: "core", DEEP: "deep", REM: "rem", ASLEEP_UNSPECIFIED: "unspecified"}
NIGHT_STARTS = time(18)


@dataclass(frozen=True)
class Span:
    """One uploaded sample as the independent merge reads it."""

    start: int
    end: int
    value: float
    source: str
    rank: int
    zone: tzinfo


def _epoch(text: str) -> int:
    moment = datetime.fromisoformat(text)
    assert moment.microsecond == 0, "the per-second grid needs whole seconds"
    return int(moment.timestamp())


def _zone(sample: dict[str, Any]) -> tzinfo:
    """Where the sample was recorded: its zone if it names one, else the offset of its start."""
    name = sample.get("time_zone") or (sample.get("metadata") or {}).get("HKTimeZone")
    if name:
        return ZoneInfo(name)
    offset = datetime.fromisoformat(sample["start_date"]).tzinfo
    assert offset is not None
    return offset


def _default_rank(source: dict[str, Any]) -> int:
    """The documented default: typed in by hand, then the Watch, then the iPhone, then the rest."""
    product = source.get("product_type") or ""
    if source["bundle_id"] == "com.apple.Health" and not product.startswith("Watch"):
        return 0
    if product.startswith("Watch"):
        return 1
    if product.startswith("iPhone") and source["bundle_id"].startswith("com.apple.health."):
        return 2
    return 3


def _spans(samples: Iterable[dict[str, Any]]) -> list[Span]:
    spans = [
        Span(
            start=_epoch(sample["start_date"]),
            end=_epoch(sample["end_date"]),
            value=float(sample["value"]),
            source=sample["source"]["bundle_id"],
            rank=_default_rank(sample["source"]),
            zone=_zone(sample),
        )
        for sample in samples
    ]
    ranks: dict[int, set[str]] = defaultdict(set)
    for span in spans:
        ranks[span.rank].add(span.source)
    assert all(len(sources) == 1 for sources in ranks.values()), "each rank is one source here"
    return spans


def _day_of(local: datetime) -> tuple[date, datetime]:
    """A local day: its date, and its end (the next midnight)."""
    label = local.date()
    return label, datetime.combine(label + timedelta(days=1), time(0), local.tzinfo)


def _night_of(local: datetime) -> tuple[date, datetime]:
    """A night: its wake-up date, and its end (18:00 on that date)."""
    label = local.date() + timedelta(days=1 if local.time() >= NIGHT_STARTS else 0)
    return label, datetime.combine(label, NIGHT_STARTS, local.tzinfo)


def _pieces(
    start: int, end: int, zone: tzinfo, period_of: Callable[[datetime], tuple[date, datetime]]
) -> list[tuple[date, int, int]]:
    """[start, end) cut into local periods of ``zone``: (period, piece start, piece end)."""
    pieces = []
    moment = start
    while moment < end:
        label, period_end = period_of(datetime.fromtimestamp(moment, zone))
        stop = min(end, int(period_end.timestamp()))
        pieces.append((label, moment, stop))
        moment = stop
    return pieces


def independent_daily(spans: list[Span]) -> tuple[dict[date, float], dict[date, float]]:
    """(merged, naive) totals per local day."""
    assert all(span.end > span.start for span in spans), "no instants in these types"
    origin = min(span.start for span in spans)
    taken = bytearray(max(span.end for span in spans) - origin)
    merged: dict[date, float] = defaultdict(float)
    naive: dict[date, float] = defaultdict(float)
    for rank in sorted({span.rank for span in spans}):
        of_rank = [span for span in spans if span.rank == rank]
        for span in of_rank:
            per_second = span.value / (span.end - span.start)
            for day, low, high in _pieces(span.start, span.end, span.zone, _day_of):
                naive[day] += per_second * (high - low)
                merged[day] += per_second * taken[low - origin : high - origin].count(0)
        for span in of_rank:  # only now: a source's own samples do not hide each other
            taken[span.start - origin : span.end - origin] = b"\x01" * (span.end - span.start)
    return dict(merged), dict(naive)


def independent_nights(samples: list[dict[str, Any]]) -> dict[date, dict[str, float]]:
    """Minutes per night by stage, awake and in bed: in bed is one layer, stages and awake
    another; each second of a layer counts once, for the highest-priority source covering it
    and, within that source, its most specific sample."""
    claims = [
        (
            _epoch(sample["start_date"]),
            _epoch(sample["end_date"]),
            _default_rank(sample["source"]),
            int(sample["value"]),
            _zone(sample),
        )
        for sample in samples
    ]
    origin = min(claim[0] for claim in claims)
    size = max(claim[1] for claim in claims) - origin
    layers = {"in_bed": bytearray(size), "stages": bytearray(size)}
    seconds: dict[date, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for start, end, _, category, zone in sorted(
        claims, key=lambda claim: (claim[2], STAGE_PRECEDENCE.get(claim[3], -1))
    ):
        taken = layers["in_bed" if category == IN_BED else "stages"]
        for night, low, high in _pieces(start, end, zone, _night_of):
            seconds[night][category] += taken[low - origin : high - origin].count(0)
        taken[start - origin : end - origin] = b"\x01" * (end - start)
    nights = {}
    for night, by_category in seconds.items():
        asleep = {name: by_category[value] / 60 for value, name in STAGE_NAMES.items()}
        nights[night] = {
            "asleep_total_min": sum(asleep.values()),
            "awake_min": by_category[AWAKE] / 60,
            "in_bed_min": by_category[IN_BED] / 60,
            **{f"asleep_min.{name}": minutes for name, minutes in asleep.items()},
        }
    return nights


def _sleep_app_night(in_bed: dict[str, Any]) -> dict[str, Any]:
    """The app's "asleep" for a night: from 10 minutes after going to bed to 5 before getting
    up, over the watch's stages and the gaps between them."""
    start = datetime.fromisoformat(in_bed["start_date"]) + timedelta(minutes=10)
    end = datetime.fromisoformat(in_bed["end_date"]) - timedelta(minutes=5)
    return {
        "uuid": str(uuid.uuid4()),
        "sample_type": SLEEP_ANALYSIS,
        "start_date": start.isoformat(),
        "end_date": end.isoformat(),
        "source": {**SLEEP_APP, "product_type": in_bed["source"]["product_type"]},
        "value": ASLEEP_UNSPECIFIED,
        "metadata": dict(in_bed["metadata"]),
    }


def _summaries(pipeline: Pipeline, user: str, types: Iterable[str], first: date, last: date) -> Any:
    result = pipeline.call(
        pipeline.query,
        "GET",
        "/v1/summaries/daily",
        {},
        user=user,
        query={"types": ",".join(types), "start": first.isoformat(), "end": last.isoformat()},
    )
    assert result.status == 200, result.body
    return {item["sample_type"]: item["days"] for item in result.body["summaries"]}


@pytest.mark.slow
def test_thirty_days_of_watch_and_phone_merge_like_an_independent_per_second_grid(
    pipeline: Pipeline,
) -> None:
    # The thirty days ending on 2026-11-01 hold the end of summer time in Berlin (2026-10-25,
    # a 25-hour day and night).
    user = AppleWatchUser(23, now=datetime(2026, 11, 1, 21, 30, tzinfo=UTC))
    syncs = [user.backfill(30), user.incremental(12, delete_fraction=0.02)]
    for sync in syncs:
        pipeline.upload(USER, sync)
        pipeline.drain()
    live = list(user.live_samples().values())
    in_beds = [s for s in live if s["sample_type"] == SLEEP_ANALYSIS and s["value"] == IN_BED]
    app_nights = [_sleep_app_night(in_bed) for in_bed in in_beds]
    app_sync = uuid.uuid4()
    assert (
        pipeline.put_chunk(USER, chunk(app_sync, 0, app_nights, sample_type=SLEEP_ANALYSIS)).status
        == 202
    )
    assert (
        pipeline.commit(USER, app_sync, {"chunk_count": 1, "anchors": {SLEEP_ANALYSIS: "app"}})
    ).status == 202
    pipeline.drain()
    for sync_id in [*(sync.sync_id for sync in syncs), app_sync]:
        assert pipeline.status(USER, sync_id).body["state"] == "complete"
    deleted = user.deleted_uuids()
    assert deleted, "the later sync deletes some samples"

    by_type: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for sample in [*live, *app_nights]:
        by_type[sample["sample_type"]].append(sample)
    first = min(datetime.fromisoformat(s["start_date"]).date() for s in live)
    last = max(datetime.fromisoformat(s["end_date"]).date() for s in live) + timedelta(days=1)
    assert first <= date(2026, 10, 25) <= last
    answered = _summaries(pipeline, USER, [*CUMULATIVE_TYPES, SLEEP_ANALYSIS], first, last)

    for sample_type in CUMULATIVE_TYPES:
        merged, naive = independent_daily(_spans(by_type[sample_type]))
        days = {day["date"]: day["summary"] for day in answered[sample_type]}
        assert days.keys() == {day.isoformat() for day in merged}, sample_type
        for day, total in merged.items():
            summary = days[day.isoformat()]
            assert summary["total"] == pytest.approx(total, rel=1e-9, abs=1e-6), (sample_type, day)
            assert summary["naive_total"] == pytest.approx(naive[day], rel=1e-9, abs=1e-6)
            assert summary["naive_total"] == pytest.approx(
                sum(source["total"] for source in summary["by_source"])
            )
            if naive[day] > total + 1e-6:  # the phone counted seconds the watch also counted
                assert summary["naive_total"] > summary["total"]
        overlapping = [day for day in merged if naive[day] > merged[day] + 1e-6]
        if sample_type != ACTIVE_ENERGY:  # only the watch writes active energy
            assert len(overlapping) >= len(merged) // 2, (sample_type, len(overlapping))

    nights = independent_nights(by_type[SLEEP_ANALYSIS])
    answered_nights = {night["date"]: night["summary"] for night in answered[SLEEP_ANALYSIS]}
    assert answered_nights.keys() == {night.isoformat() for night in nights}
    assert "2026-10-25" in answered_nights
    for night, expected in nights.items():
        summary = answered_nights[night.isoformat()]
        stored = {
            "asleep_total_min": summary["asleep_total_min"],
            "awake_min": summary["awake_min"],
            "in_bed_min": summary["in_bed_min"],
            **{f"asleep_min.{name}": minutes for name, minutes in summary["asleep_min"].items()},
        }
        assert stored == pytest.approx(expected, rel=1e-9, abs=1e-6), night
    # The app's "asleep" fills the gaps the watch leaves, never a minute the watch counted:
    # summed naively, the two would count most of each night twice.
    naive_asleep: dict[date, float] = defaultdict(float)
    for sample in by_type[SLEEP_ANALYSIS]:
        if sample["value"] in STAGE_NAMES:
            start, end = _epoch(sample["start_date"]), _epoch(sample["end_date"])
            for night, low, high in _pieces(start, end, _zone(sample), _night_of):
                naive_asleep[night] += (high - low) / 60
    assert all(nights[night]["asleep_total_min"] < naive_asleep[night] for night in nights)

    strangers = _summaries(pipeline, STRANGER, [*CUMULATIVE_TYPES, SLEEP_ANALYSIS], first, last)
    assert all(days == [] for days in strangers.values())
