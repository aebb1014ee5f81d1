"""Samples planted in every backfill: one of a type from a future SDK, and a few bad ones.

The server must store the future type as sent and reject each bad sample alone, naming the
field below, while the rest of its chunk is stored. Every bad sample is bad whatever the
server's clock says: the one dated in the future is dated in 2100, and the others break a rule
that does not depend on the date, so a test may process a past-dated user at the real time.
They come from their own random stream and are dated within the backfill's window (except the one
from 2100), so planting them changes no other sample.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Final

from hksync.contract.chunk_wire import METADATA_TIME_ZONE_KEY
from hksync_tools.simulator.expectation import Expectation
from hksync_tools.simulator.factory import SampleFactory
from hksync_tools.simulator.healthkit import (
    BLOOD_PRESSURE,
    BODY_MASS,
    DIASTOLIC,
    FUTURE_SLEEP_SCORE,
    HEART_RATE,
    OXYGEN_SATURATION,
    SLEEP_ANALYSIS,
    STEP_COUNT,
    SYSTOLIC,
    Sample,
)
from hksync_tools.simulator.planner import HOUR, MINUTE

#: A night's sleep score spans the night before it is written.
_SLEEP_SCORE_SPAN: Final = 7 * HOUR + 30 * MINUTE
#: No HKCategoryValueSleepAnalysis has this raw value (a stage of a newer watchOS, say).
UNKNOWN_SLEEP_STAGE: Final = 7


class Planter:
    """Adds the planted samples to the store and tells the expectation which to reject."""

    def __init__(self, factory: SampleFactory, expectation: Expectation) -> None:
        self._factory = factory
        self._expectation = expectation

    def plant(self, start: int, end: int) -> None:
        """The planted samples of a backfill whose window is [start, end] (at least a day)."""
        rng = self._factory.rng
        self._future_sleep_score(rng.randint(start, end - _SLEEP_SCORE_SPAN))
        bad: tuple[tuple[Callable[[int], tuple[Sample, int]], str], ...] = (
            (self._heart_rate_in_a_unit_of_another_dimension, "unit"),
            (self._oxygen_saturation_as_a_percentage, "value"),
            (self._sleep_stage_healthkit_does_not_define, "value"),
            (self._steps_ending_before_they_start, "end_date"),
            (self._blood_pressure_with_a_diastolic_value_as_text, "objects[1].value"),
            (self._weigh_in_from_a_clock_set_to_2100, "start_date"),
        )
        for make, field in bad:
            sample, added_at = make(rng.randint(start, end - 10 * MINUTE))
            self._expectation.plant(sample["uuid"], field)
            self._factory.add(sample, added_at)

    def _future_sleep_score(self, t: int) -> None:
        """A sleep score as a future SDK might send it: a quantity with fields of its own."""
        f = self._factory
        stop = t + _SLEEP_SCORE_SPAN
        metadata = {METADATA_TIME_ZONE_KEY: f.time_zone}
        sample = f.sample(FUTURE_SLEEP_SCORE, t, stop, f.writers.watch, metadata)
        duration, bedtime, interruptions = f.rng.randint(30, 50), f.rng.randint(15, 30), 20
        sample["unit"] = "count"
        sample["value"] = float(duration + bedtime + interruptions)
        sample["duration_score"] = duration
        sample["bedtime_score"] = bedtime
        sample["interruptions_score"] = interruptions
        f.add(sample, stop)

    def _heart_rate_in_a_unit_of_another_dimension(self, t: int) -> tuple[Sample, int]:
        """``count`` where heart rate needs a frequency (``count/min``)."""
        f = self._factory
        sample = f.sample(HEART_RATE, t, t, f.writers.watch, None)
        sample["unit"] = "count"
        sample["value"] = 72.0
        return sample, t

    def _oxygen_saturation_as_a_percentage(self, t: int) -> tuple[Sample, int]:
        """96 where HealthKit's ``%`` is the fraction 0.96: outside the type's bounds."""
        f = self._factory
        sample = f.sample(OXYGEN_SATURATION, t, t, f.writers.watch, None)
        sample["unit"] = "%"
        sample["value"] = 96.0
        return sample, t

    def _sleep_stage_healthkit_does_not_define(self, t: int) -> tuple[Sample, int]:
        f = self._factory
        metadata = {METADATA_TIME_ZONE_KEY: f.time_zone}
        sample = f.sample(SLEEP_ANALYSIS, t, t + 10 * MINUTE, f.writers.watch, metadata)
        sample["value"] = UNKNOWN_SLEEP_STAGE
        return sample, t + 10 * MINUTE

    def _steps_ending_before_they_start(self, t: int) -> tuple[Sample, int]:
        f = self._factory
        sample = f.sample(STEP_COUNT, t, t - MINUTE, f.writers.iphone, None)
        sample["unit"] = "count"
        sample["value"] = 84.0
        return sample, t

    def _blood_pressure_with_a_diastolic_value_as_text(self, t: int) -> tuple[Sample, int]:
        """A correlation whose second member's value is the string "80": the correlation is
        rejected whole, and its members are never uploaded on their own."""
        f = self._factory
        writer = f.writers.blood_pressure_app
        sample = f.sample(BLOOD_PRESSURE, t, t, writer, None)
        diastolic = f.member(DIASTOLIC, t, 80.0, writer)
        diastolic["value"] = "80"
        sample["objects"] = [f.member(SYSTOLIC, t, 121.0, writer), diastolic]
        return sample, t + 45

    def _weigh_in_from_a_clock_set_to_2100(self, t: int) -> tuple[Sample, int]:
        """A manual entry on a phone whose clock was set to 2100: in the future for any server
        clock this code will meet."""
        f = self._factory
        at = int(datetime(2100, 1, 1, 7, 30, tzinfo=f.zone).timestamp())
        metadata = {"HKWasUserEntered": True}
        sample = f.sample(BODY_MASS, at, at, f.writers.health_app, metadata)
        sample["unit"] = "kg"
        sample["value"] = round(f.profile.weight_kg, 1)
        return sample, t
