"""Blood pressure: a cuff reading some mornings, as a correlation of systolic and diastolic."""

from __future__ import annotations

from hksync_tools.simulator.factory import SampleFactory
from hksync_tools.simulator.healthkit import BLOOD_PRESSURE, DIASTOLIC, SYSTOLIC
from hksync_tools.simulator.planner import MINUTE, DayPlan
from hksync_tools.simulator.random_streams import clamp


def morning_reading(factory: SampleFactory, day: DayPlan) -> None:
    """A few mornings a week, soon after getting up: the cuff's app writes the correlation
    when the reading ends (home monitoring guidance: mornings, at rest, same time)."""
    rng = factory.rng
    p = factory.profile
    if rng.random() >= p.blood_pressure_odds:
        return
    t = day.start + rng.randint(5, 30) * MINUTE
    systolic = float(round(clamp(p.systolic_mmhg + rng.gauss(0, 6), 85, 190)))
    diastolic = float(round(clamp(p.diastolic_mmhg + rng.gauss(0, 4), 50, systolic - 20)))
    members = [(SYSTOLIC, systolic), (DIASTOLIC, diastolic)]
    factory.correlation(BLOOD_PRESSURE, t, members, factory.writers.blood_pressure_app, t + 45)
