"""Who the simulated user is: their body and habits, and the devices that write their samples."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

from hksync_tools.simulator.activities import WORKOUT_KINDS
from hksync_tools.simulator.random_streams import clamp, random_uuid

_FIRST_NAMES: Final = (
    "Anna", "Daan", "Emma", "Finn", "Jan", "Julia", "Lena", "Lotte",
    "Lukas", "Max", "Mila", "Noah", "Pieter", "Sanne", "Sophie", "Tim",
)  # fmt: skip
#: (hardware model identifier, watchOS) of recent Apple Watches; (model, iOS) of iPhones.
_WATCHES: Final = (("Watch6,15", "10.4"), ("Watch7,2", "10.5"), ("Watch7,4", "10.5.1"))
_IPHONES: Final = (("iPhone14,5", "17.4.1"), ("iPhone15,3", "17.5"), ("iPhone16,1", "17.5.1"))


@dataclass(frozen=True, slots=True)
class Profile:
    """The person, drawn once from the seed."""

    first_name: str
    age: int
    female: bool
    height_cm: float
    weight_kg: float
    resting_hr: float
    max_hr: float
    hrv_ms: float
    respiratory_rate: float
    bmr_kcal_per_day: float
    walk_stride_m: float
    run_stride_m: float
    bedtime_h: float
    get_up_h: float
    morning_workouts: float
    workout_weights: tuple[float, ...]
    carries_phone: float
    #: Usual blood pressure at rest, mmHg.
    systolic_mmhg: float
    diastolic_mmhg: float
    #: Chance of a blood-pressure reading on a given morning (a few times a week).
    blood_pressure_odds: float
    #: Chance that a meal gets logged in the nutrition app.
    logs_meals: float
    #: Energy eaten on an average day, kcal.
    intake_kcal: float


@dataclass(frozen=True, slots=True)
class Writer:
    """A HealthKit source revision with its device."""

    source: dict[str, Any]
    device: dict[str, Any] | None


class Writers(NamedTuple):
    """The sources of the user's samples."""

    watch: Writer
    iphone: Writer
    #: Manual entries in the Health app: no device.
    health_app: Writer
    #: A blood-pressure cuff's app on the iPhone, with the cuff as its device.
    blood_pressure_app: Writer
    #: A nutrition-logging app on the iPhone: meals and water, no device.
    nutrition_app: Writer


def make_profile(rng: random.Random) -> Profile:
    """Draws the person: sex, age, body, resting physiology, sleep schedule, preferences."""
    female = rng.random() < 0.5
    age = rng.randint(24, 58)
    height = rng.gauss(167.0 if female else 180.0, 6.0)
    weight = rng.gauss(23.5, 2.5) * (height / 100) ** 2
    # Mifflin-St Jeor resting metabolic rate.
    bmr = 10 * weight + 6.25 * height - 5 * age + (-161 if female else 5)
    return Profile(
        first_name=rng.choice(_FIRST_NAMES),
        age=age,
        female=female,
        height_cm=height,
        weight_kg=weight,
        resting_hr=clamp(rng.gauss(60.0, 5.0), 48.0, 72.0),
        max_hr=208 - 0.7 * age,
        hrv_ms=clamp(rng.gauss(45.0, 10.0), 25.0, 80.0),
        respiratory_rate=clamp(rng.gauss(14.5, 1.2), 11.0, 18.0),
        bmr_kcal_per_day=bmr,
        walk_stride_m=0.415 * height / 100,
        run_stride_m=0.65 * height / 100,
        bedtime_h=clamp(rng.gauss(23.1, 0.4), 22.0, 24.3),
        get_up_h=clamp(rng.gauss(6.75, 0.35), 6.0, 7.8),
        morning_workouts=rng.random(),
        workout_weights=tuple(rng.uniform(0.5, 3.0) for _ in WORKOUT_KINDS),
        carries_phone=rng.uniform(0.6, 0.9),
        # Assumed: about 112/72 mmHg at 24, rising with age as in population surveys.
        systolic_mmhg=clamp(rng.gauss(112 + 0.45 * (age - 24), 8.0), 95.0, 150.0),
        diastolic_mmhg=clamp(rng.gauss(72 + 0.15 * (age - 24), 6.0), 60.0, 95.0),
        blood_pressure_odds=rng.uniform(2, 4) / 7,
        logs_meals=rng.uniform(0.6, 0.95),
        # A physical activity level of about 1.5 (sedentary job, some exercise), WHO/FAO 2004.
        intake_kcal=bmr * rng.uniform(1.4, 1.7),
    )


def make_writers(rng: random.Random, profile: Profile) -> Writers:
    """Draws the watch and iPhone models; the watch is named after its wearer.

    ``product_type`` is HKSourceRevision.productType: the hardware the writing app ran on, so
    the Health app and the third-party apps carry the iPhone's.
    """
    watch_model, watch_os = rng.choice(_WATCHES)
    phone_model, ios = rng.choice(_IPHONES)
    watch = Writer(
        source={
            "name": f"Apple Watch van {profile.first_name}",
            "bundle_id": f"com.apple.health.{random_uuid(rng)}",
            "version": watch_os,
            "product_type": watch_model,
            "operating_system_version": watch_os,
        },
        device={
            "name": "Apple Watch",
            "manufacturer": "Apple Inc.",
            "model": "Watch",
            "hardware_version": watch_model,
            "software_version": watch_os,
        },
    )
    iphone = Writer(
        source={
            "name": "iPhone",
            "bundle_id": f"com.apple.health.{random_uuid(rng)}",
            "version": ios,
            "product_type": phone_model,
            "operating_system_version": ios,
        },
        device={
            "name": "iPhone",
            "manufacturer": "Apple Inc.",
            "model": "iPhone",
            "hardware_version": phone_model,
            "software_version": ios,
        },
    )
    on_the_phone = {"product_type": phone_model, "operating_system_version": ios}
    health_app = Writer(
        source={"name": "Health", "bundle_id": "com.apple.Health", "version": ios, **on_the_phone},
        device=None,
    )
    blood_pressure_app = Writer(
        source={
            "name": "OMRON connect",
            "bundle_id": "jp.co.omron.healthcare.omronconnect",
            "version": "7.15.0",
            **on_the_phone,
        },
        device={
            "name": "BLEsmart_0000021F",
            "manufacturer": "OMRON HEALTHCARE Co., Ltd.",
            "model": "BP7450",
            "firmware_version": "1.0.2",
        },
    )
    nutrition_app = Writer(
        source={
            "name": "MyFitnessPal",
            "bundle_id": "com.myfitnesspal.mfp",
            "version": "24.12.0",
            **on_the_phone,
        },
        device=None,
    )
    return Writers(watch, iphone, health_app, blood_pressure_app, nutrition_app)
