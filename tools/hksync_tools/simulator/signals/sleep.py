"""Sleep: the night's in-bed span (iPhone) and sleep stages (watch), written at get-up."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import NamedTuple

from hksync.contract.models import METADATA_TIME_ZONE_KEY
from hksync_tools.simulator.factory import SampleFactory
from hksync_tools.simulator.healthkit import AWAKE, CORE, DEEP, IN_BED, REM, SLEEP_ANALYSIS
from hksync_tools.simulator.planner import MINUTE, NightPlan
from hksync_tools.simulator.random_streams import clamp


class SleepStage(NamedTuple):
    """One stage, in epoch seconds, with its HKCategoryValueSleepAnalysis raw value."""

    start: int
    end: int
    stage: int


@dataclass(frozen=True, slots=True)
class Sleep:
    """A night as slept: the plan and its stages in order (what the night signals read)."""

    night: NightPlan
    stages: list[SleepStage]


def sleep_analysis(factory: SampleFactory, night: NightPlan) -> Sleep:
    """Draws the night's stages and writes them, with the in-bed span, added at get-up."""
    stages = _stages(factory.rng, night)
    metadata = {METADATA_TIME_ZONE_KEY: factory.time_zone}  # HealthKit sets it on sleep
    writers = factory.writers
    factory.category(
        SLEEP_ANALYSIS, night.bed, night.up, IN_BED, writers.iphone, night.up, metadata
    )
    for start, end, stage in stages:
        factory.category(SLEEP_ANALYSIS, start, end, stage, writers.watch, night.up, metadata)
    return Sleep(night, stages)


def _stages(rng: random.Random, night: NightPlan) -> list[SleepStage]:
    """~90 min cycles of core -> deep -> core -> REM -> (awake), deep early and REM late."""
    stages: list[SleepStage] = []
    span = night.final_wake - night.onset
    long_wake_at = rng.uniform(0.3, 0.8) if rng.random() < 0.2 else 2.0
    t = float(night.onset)
    while t < night.final_wake:
        position = (t - night.onset) / span
        length = clamp(rng.gauss(90.0, 8.0), 70.0, 110.0) * MINUTE
        deep = max(0.0, 0.26 - 0.32 * position) + rng.uniform(0.0, 0.03)
        rem = 0.15 + 0.26 * position + rng.uniform(-0.03, 0.03)
        awake = rng.uniform(2, 12) * MINUTE if rng.random() < 0.7 else 0.0
        if position >= long_wake_at:
            awake += rng.uniform(10, 25) * MINUTE
            long_wake_at = 2.0
        core = max(0.0, length * (1.0 - deep - rem))
        first_core = core * rng.uniform(0.35, 0.6)
        for stage, duration in (
            (CORE, first_core),
            (DEEP, length * deep),
            (CORE, core - first_core),
            (REM, length * rem),
            (AWAKE, awake),
        ):
            if duration <= 0 or t >= night.final_wake:
                continue
            start = int(t)
            t = min(t + duration, float(night.final_wake))
            end = int(t)
            if end <= start:
                continue
            if stages and stages[-1].stage == stage and stages[-1].end == start:
                stages[-1] = SleepStage(stages[-1].start, end, stage)
            else:
                stages.append(SleepStage(start, end, stage))
    return stages
