"""The timeline: the user's life generated lazily, one local day at a time.

Days alternate with nights: awake from get-up to bedtime, then the night to the next get-up.
Each segment's signals are written in a fixed order, because every value and UUID comes from
the one life stream: the lists below are that order.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Final

from hksync_tools.simulator.factory import SampleFactory
from hksync_tools.simulator.planner import MINUTE, DayPlan, DayPlanner, NightPlan
from hksync_tools.simulator.signals import (
    activity,
    blood_pressure,
    energy,
    heart,
    nutrition,
    respiratory,
    workouts,
)
from hksync_tools.simulator.signals.body import WeighIns
from hksync_tools.simulator.signals.sleep import Sleep, sleep_analysis

DaySignal = Callable[[SampleFactory, DayPlan], None]
NightSignal = Callable[[SampleFactory, Sleep], None]

#: What the watch records through the night, after the sleep stages.
NIGHT_SIGNALS: Final[tuple[NightSignal, ...]] = (
    heart.night_heart_rate,
    heart.night_variability,
    respiratory.oxygen_saturation,
    respiratory.respiratory_rate,
)

#: A waking day shorter than this gets only its basal energy (the planner needs room for
#: charging and walks); the calibrated sleep schedule never makes one.
_SHORTEST_PLANNED_DAY_MINUTES: Final = 120


class Timeline:
    """Generates the life up to a given instant, writing samples through the factory."""

    def __init__(self, factory: SampleFactory, planner: DayPlanner) -> None:
        self._factory = factory
        self._planner = planner
        self._weigh_ins = WeighIns(factory)
        #: What the user does by day, after the day's basal energy; the workout comes after
        #: the samples recorded during it, whose totals it carries.
        self._day_signals: tuple[DaySignal, ...] = (
            energy.active_energy,
            activity.watch_steps,
            activity.phone_steps,
            activity.flights_climbed,
            activity.exercise_minutes,
            heart.day_heart_rate,
            heart.day_variability,
            activity.stand_hours,
            workouts.workout,
            heart.daily_heart_rates,
            self._weigh_ins.record,
            blood_pressure.morning_reading,
            nutrition.meals,
            nutrition.water,
        )
        self.started = False
        self._get_up = 0
        self._next_evening = date.min

    def start(self, horizon: float) -> None:
        """Starts the timeline the morning before the horizon; earlier samples are dropped."""
        self.started = True
        self._factory.horizon = horizon
        first = datetime.fromtimestamp(horizon, self._factory.zone).date() - timedelta(days=1)
        self._get_up = self._planner.get_up(first)
        self._next_evening = first
        self._weigh_ins.start(self._factory, first)

    def generate_until(self, until: float) -> None:
        """Generates every day and night that begins before ``until``."""
        while self._get_up < until:
            evening = self._next_evening
            night = self._planner.night(evening)
            self._awake(evening, self._get_up, night.bed)
            self._night(night)
            self._get_up = night.up
            self._next_evening = evening + timedelta(days=1)

    def _awake(self, day: date, start: int, end: int) -> None:
        energy.basal_energy(self._factory, start, end, 1.0)
        if (end - start) // MINUTE < _SHORTEST_PLANNED_DAY_MINUTES:
            return
        plan = self._planner.day(day, start, end)
        for signal in self._day_signals:
            signal(self._factory, plan)

    def _night(self, night: NightPlan) -> None:
        energy.basal_energy(self._factory, night.bed, night.up, 0.95)
        sleep = sleep_analysis(self._factory, night)
        for signal in NIGHT_SIGNALS:
            signal(self._factory, sleep)
