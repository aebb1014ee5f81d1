"""Respiratory: blood oxygen and breathing rate, measured while asleep."""

from __future__ import annotations

from hksync_tools.simulator.factory import SampleFactory
from hksync_tools.simulator.healthkit import OXYGEN_SATURATION, RESPIRATORY_RATE
from hksync_tools.simulator.planner import MINUTE
from hksync_tools.simulator.random_streams import clamp
from hksync_tools.simulator.signals.sleep import Sleep


def oxygen_saturation(factory: SampleFactory, sleep: Sleep) -> None:
    """2-5 background SpO2 readings a night (a fraction, as HealthKit's % is)."""
    rng = factory.rng
    night = sleep.night
    for _ in range(rng.randint(2, 5)):
        t = rng.uniform(night.asleep_from, night.asleep_to)
        value = round(clamp(rng.gauss(0.955, 0.015), 0.92, 1.0), 2)
        factory.quantity(OXYGEN_SATURATION, t, t, value, factory.writers.watch)


def respiratory_rate(factory: SampleFactory, sleep: Sleep) -> None:
    """Breathing rate asleep: a 1-5 min reading every 15-45 min, in steps of 0.5."""
    rng = factory.rng
    night = sleep.night
    t = night.onset + rng.uniform(10, 30) * MINUTE
    while t < night.final_wake:
        stop = min(t + rng.uniform(60, 300), night.final_wake)
        value = round(rng.gauss(factory.profile.respiratory_rate, 0.8) * 2) / 2
        factory.quantity(RESPIRATORY_RATE, t, stop, value, factory.writers.watch)
        t = stop + rng.uniform(15, 45) * MINUTE
