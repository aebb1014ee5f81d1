"""Body: manual weigh-ins in the Health app."""

from __future__ import annotations

from datetime import date, timedelta

from hksync_tools.simulator.factory import SampleFactory
from hksync_tools.simulator.healthkit import BODY_MASS
from hksync_tools.simulator.planner import MINUTE, DayPlan


class WeighIns:
    """A manual body-mass entry every 2-5 days, just after getting up; the weight drifts."""

    def __init__(self, factory: SampleFactory) -> None:
        self._weight = factory.profile.weight_kg
        self._next: date | None = None

    def start(self, factory: SampleFactory, first_day: date) -> None:
        """Schedules the first weigh-in 0-3 days after the timeline's first day."""
        self._next = first_day + timedelta(days=factory.rng.randint(0, 3))

    def record(self, factory: SampleFactory, day: DayPlan) -> None:
        """The day signal: a weigh-in if one is due."""
        if self._next is None or day.day < self._next:
            return
        rng = factory.rng
        self._weight += rng.gauss(0, 0.15)
        t = day.start + rng.randint(5, 40) * MINUTE
        value = round(self._weight + rng.gauss(0, 0.3), 1)
        factory.quantity(
            BODY_MASS,
            t,
            t,
            value,
            factory.writers.health_app,
            metadata={"HKWasUserEntered": True},
        )
        self._next = day.day + timedelta(days=rng.randint(2, 5))
