"""Plausibility bounds of every HealthKit quantity type, in the type's canonical unit.

Hand-kept beside the generated type table (hksync.contract.healthkit_types): HealthKit itself
accepts any finite double, so these limits come from physiology or the range of the devices
that write the type, and each says why. Limits are inclusive. They are deliberately wide: their
job is to keep absurd values (1e308 steps, a heart rate of 10,000) out of the database, not to
judge a reading; a value outside them rejects that one sample, never the request.

Cumulative types are bounded per sample. A sample may span several days (an app writing one
total for a trip), so their limit is a week at the highest rate a person reaches in a day.
HealthKit's "%" is a fraction: 0.97 means 97 %.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final


@dataclass(frozen=True, slots=True)
class Bounds:
    """Inclusive plausible range of a quantity type, in its canonical unit."""

    low: float
    high: float
    reason: str


#: How many days one sample of a cumulative type may span, for its per-sample limit.
CUMULATIVE_SAMPLE_DAYS: Final = 7


def _range(low: float, high: float, reason: str) -> Bounds:
    return Bounds(float(low), float(high), reason)


def _per_day(daily_high: float, reason: str) -> Bounds:
    """A cumulative type: zero to a week at ``daily_high`` (see the module docstring)."""
    return Bounds(
        0.0,
        float(CUMULATIVE_SAMPLE_DAYS * daily_high),
        f"{reason}; per sample, up to {CUMULATIVE_SAMPLE_DAYS} days at that rate",
    )


def _minutes_per_day(what: str) -> Bounds:
    return _per_day(24 * 60, f"{what}: at most the 1,440 minutes of a day")


def _nutrient(daily_high_g: float, reason: str) -> Bounds:
    return _per_day(daily_high_g, f"{reason} (g)")


_Q = "HKQuantityTypeIdentifier"

_QUANTITY_BOUNDS: Final = {
    # Activity and energy (cumulative).
    "ActiveEnergyBurned": _per_day(
        20_000, "active energy: 20,000 kcal a day, above ultra-endurance days"
    ),
    "BasalEnergyBurned": _per_day(
        6_000, "basal energy: 6,000 kcal a day, the basal rate of a 600 kg body"
    ),
    "AppleExerciseTime": _minutes_per_day("exercise time"),
    "AppleMoveTime": _minutes_per_day("move time"),
    "AppleStandTime": _minutes_per_day("stand time"),
    "TimeInDaylight": _minutes_per_day("time in daylight"),
    "StepCount": _per_day(300_000, "steps: 300,000 a day, above a 24-hour ultramarathon"),
    "PushCount": _per_day(
        100_000, "wheelchair pushes: 100,000 a day, above a 24-hour wheelchair ultra"
    ),
    "FlightsClimbed": _per_day(
        10_000, "flights (about 3 m each): 10,000 a day, above 24-hour stair-climbing records"
    ),
    "SwimmingStrokeCount": _per_day(
        200_000, "swimming strokes: 200,000 a day, above the longest non-stop swims"
    ),
    "NikeFuel": _per_day(50_000, "NikeFuel points: 50,000 a day, ten times a very active day"),
    "DistanceWalkingRunning": _per_day(
        350_000,
        "walking and running: 350 km a day, above the 24-hour running record (about 320 km)",
    ),
    "DistanceCycling": _per_day(
        1_200_000, "cycling: 1,200 km a day, above the 24-hour road record (about 1,000 km)"
    ),
    "DistanceSwimming": _per_day(
        150_000, "swimming: 150 km a day, above the longest non-stop swims"
    ),
    "DistanceWheelchair": _per_day(
        400_000, "wheelchair: 400 km a day, above 24-hour wheelchair records"
    ),
    "DistanceDownhillSnowSports": _per_day(
        1_500_000,
        "downhill snow sports: 1,500 km a day, above 24-hour skiing records (lifts included)",
    ),
    "DistancePaddleSports": _per_day(
        400_000, "paddling: 400 km a day, above 24-hour canoe and kayak records"
    ),
    "DistanceRowing": _per_day(400_000, "rowing: 400 km a day, above 24-hour rowing records"),
    "DistanceSkatingSports": _per_day(
        600_000, "skating: 600 km a day, above the 24-hour inline skating record"
    ),
    "DistanceCrossCountrySkiing": _per_day(
        400_000, "cross-country skiing: 400 km a day, above the 24-hour record"
    ),
    # Workout metrics (discrete).
    "EstimatedWorkoutEffortScore": _range(0, 10, "Apple's effort score is a 1-10 scale (0: none)"),
    "WorkoutEffortScore": _range(0, 10, "Apple's effort score is a 1-10 scale (0: none)"),
    "PhysicalEffort": _range(
        0, 30, "physical effort in kcal/(kg*hr), i.e. METs: the fittest athletes peak near 25"
    ),
    "CyclingCadence": _range(0, 300, "cadence: sprinters peak near 250 rpm"),
    "CyclingFunctionalThresholdPower": _range(
        0, 800, "threshold power: world-class riders hold about 500 W"
    ),
    "CyclingPower": _range(0, 3_000, "cycling power: track sprinters peak near 2,500 W"),
    "CyclingSpeed": _range(
        0, 90, "cycling speed: the motor-paced record is about 82 m/s (296 km/h)"
    ),
    "RunningPower": _range(0, 3_000, "running power: sprint peaks stay below 3,000 W"),
    "RunningSpeed": _range(0, 15, "running speed: the fastest sprint is about 12.4 m/s"),
    "RunningStrideLength": _range(0, 4, "stride length: elite sprinters reach about 2.8 m"),
    "RunningVerticalOscillation": _range(0, 50, "vertical oscillation: runners move 5-15 cm"),
    "RunningGroundContactTime": _range(
        0, 2_000, "ground contact: 80-400 ms while running; 2 s bounds a stumble"
    ),
    "CrossCountrySkiingSpeed": _range(0, 30, "cross-country skiing: descents stay below 30 m/s"),
    "PaddleSportsSpeed": _range(
        0, 15, "paddling: sprint kayaks reach about 6 m/s; 15 m/s covers downriver"
    ),
    "RowingSpeed": _range(
        0, 15, "rowing: the fastest eights reach about 6.5 m/s; 15 m/s covers current"
    ),
    "UnderwaterDepth": _range(0, 400, "depth: below the deepest scuba dives (about 330 m)"),
    "WaterTemperature": _range(
        -5,
        60,
        "water temperature: sea water freezes near -2 degC; hot springs and tubs stay below 60",
    ),
    # Mobility.
    "WalkingSpeed": _range(0, 5, "walking speed: race walkers reach about 4.5 m/s"),
    "WalkingStepLength": _range(0, 2.5, "step length: long strides stay below 2.5 m"),
    "WalkingAsymmetryPercentage": _range(0, 1, "a share of steps: a fraction 0-1"),
    "WalkingDoubleSupportPercentage": _range(0, 1, "a share of the gait cycle: a fraction 0-1"),
    "AppleWalkingSteadiness": _range(0, 1, "Apple's steadiness score: a fraction 0-1"),
    "StairAscentSpeed": _range(0, 5, "stair ascent: fast climbers reach about 1.5 m/s"),
    "StairDescentSpeed": _range(0, 5, "stair descent: stays below 5 m/s"),
    "SixMinuteWalkTestDistance": _range(
        0, 1_500, "six-minute walk: healthy adults reach 400-800 m; 1,500 m is a run"
    ),
    # Body measurements.
    "BodyMass": _range(
        0.2,
        700,
        "body mass: from premature newborns (0.25 kg) to the heaviest recorded (about 635 kg)",
    ),
    "LeanBodyMass": _range(
        0.2, 400, "lean body mass: below the heaviest bodybuilders' and the heaviest people's"
    ),
    "BodyMassIndex": _range(
        5, 250, "BMI: recorded extremes are about 7 and 200 kg/m^2 (HealthKit's unit is count)"
    ),
    "BodyFatPercentage": _range(
        0, 0.9, "body fat: a fraction; people range from about 0.02 to 0.7"
    ),
    "Height": _range(0.2, 3, "height: from premature newborns to the tallest recorded (2.72 m)"),
    "WaistCircumference": _range(0.2, 3.5, "waist: from infants to the largest recorded"),
    "ElectrodermalActivity": _range(
        0, 0.001, "skin conductance: 0.01-100 microsiemens; 1,000 is beyond any sensor"
    ),
    "AppleSleepingWristTemperature": _range(
        -10,
        45,
        "wrist skin temperature during sleep: Apple Watch records the absolute value (about "
        "30-38 degC); negative values admit apps that write a deviation from baseline",
    ),
    # Heart.
    "HeartRate": _range(20, 300, "heart rate: 20-300 count/min, beyond any recorded human rate"),
    "RestingHeartRate": _range(
        20, 250, "resting heart rate: athletes go below 30 count/min; 250 is extreme tachycardia"
    ),
    "WalkingHeartRateAverage": _range(
        20, 250, "walking heart rate: within the range of any heart rate at rest or walking"
    ),
    "HeartRateRecoveryOneMinute": _range(
        -50,
        200,
        "the drop in heart rate one minute after exercise: usually 10-60 count/min; negative "
        "when the rate still rose",
    ),
    "HeartRateVariabilitySDNN": _range(
        0, 1_000, "HRV (SDNN): people range from a few ms to about 300 ms"
    ),
    "HeartRateVariabilityRMSSD": _range(
        0, 1_000, "HRV (RMSSD): people range from a few ms to about 300 ms"
    ),
    "AtrialFibrillationBurden": _range(
        0, 1, "a share of time in atrial fibrillation: a fraction 0-1"
    ),
    "PeripheralPerfusionIndex": _range(
        0, 0.3, "perfusion index: a fraction; pulse oximeters read 0.0002-0.2"
    ),
    "VO2Max": _range(
        5, 100, "VO2 max: heart failure patients near 10, the fittest athletes near 97 mL/(kg*min)"
    ),
    # Vital signs and lab values.
    "OxygenSaturation": _range(
        0.3, 1, "SpO2: a fraction; below 0.3 is not compatible with life, oximeters read 0.7-1"
    ),
    "RespiratoryRate": _range(2, 150, "respiratory rate: 2-150 breaths/min (newborns reach 60-80)"),
    "BodyTemperature": _range(13, 47, "core temperature: survived extremes are 13.7 and 46.5 degC"),
    "BasalBodyTemperature": _range(
        30, 45, "basal temperature at rest: 35-38 degC in health, within survived extremes"
    ),
    "BloodGlucose": _range(
        1, 3_000, "blood glucose: meters read 10-600 mg/dL; the highest recorded is about 2,650"
    ),
    "BloodPressureSystolic": _range(
        20, 400, "systolic pressure: the highest recorded is about 370 mmHg"
    ),
    "BloodPressureDiastolic": _range(
        10, 360, "diastolic pressure: the highest recorded is about 360 mmHg"
    ),
    "BloodAlcoholContent": _range(
        0, 0.02, "blood alcohol: a fraction; survived extremes are about 0.015 (1.5 %)"
    ),
    "InsulinDelivery": _per_day(
        5_000, "insulin: 5,000 IU a day, above the most insulin-resistant patients' doses"
    ),
    "InhalerUsage": _per_day(200, "inhaler puffs: 200 a day, far above rescue use"),
    "NumberOfAlcoholicBeverages": _per_day(100, "drinks: 100 a day, beyond a lethal intake"),
    "NumberOfTimesFallen": _per_day(100, "falls: 100 a day"),
    # Respiratory.
    "ForcedExpiratoryVolume1": _range(
        0, 10, "FEV1: the largest lungs exhale about 7 L in a second"
    ),
    "ForcedVitalCapacity": _range(0, 15, "vital capacity: the largest recorded are about 10-11 L"),
    "PeakExpiratoryFlowRate": _range(
        0, 1_200, "peak flow: the strongest adults reach about 900 L/min"
    ),
    "AppleSleepingBreathingDisturbances": _range(
        0, 200, "breathing disturbances per hour of sleep: severe apnea is above 30"
    ),
    # Hearing and environment.
    "EnvironmentalAudioExposure": _range(
        0, 194, "sound level: 194 dBASPL is the loudest undistorted sound in air"
    ),
    "HeadphoneAudioExposure": _range(
        0, 194, "sound level: 194 dBASPL is the loudest undistorted sound in air"
    ),
    "EnvironmentalSoundReduction": _range(
        0, 194, "a reduction in sound level cannot exceed the loudest sound in air"
    ),
    "UVExposure": _range(0, 50, "UV index: the highest ever measured is about 43 (Andes, 2003)"),
    # Nutrition (cumulative, grams unless named).
    "DietaryEnergyConsumed": _per_day(
        25_000, "energy eaten: 25,000 kcal a day, above eating-contest intakes"
    ),
    "DietaryWater": _per_day(
        20_000, "water drunk: 20 L a day, beyond the intake that causes fatal hyponatraemia"
    ),
    "DietaryCarbohydrates": _nutrient(3_000, "carbohydrates: 3 kg a day, above extreme eating"),
    "DietarySugar": _nutrient(2_000, "sugar: 2 kg a day, above extreme eating"),
    "DietaryFiber": _nutrient(300, "fibre: 300 g a day, several times the highest diets"),
    "DietaryProtein": _nutrient(1_000, "protein: 1 kg a day, above extreme eating"),
    "DietaryFatTotal": _nutrient(1_000, "fat: 1 kg a day, above extreme eating"),
    "DietaryFatSaturated": _nutrient(1_000, "saturated fat: at most all of the fat bound"),
    "DietaryFatMonounsaturated": _nutrient(
        1_000, "monounsaturated fat: at most all of the fat bound"
    ),
    "DietaryFatPolyunsaturated": _nutrient(
        1_000, "polyunsaturated fat: at most all of the fat bound"
    ),
    "DietaryCholesterol": _nutrient(10, "cholesterol: 10 g a day, the yolks of 50 eggs"),
    "DietaryCaffeine": _nutrient(10, "caffeine: 10 g a day, about a lethal dose"),
    "DietarySodium": _nutrient(50, "sodium: 50 g a day, above a lethal salt intake"),
    "DietaryPotassium": _nutrient(50, "potassium: 50 g a day, above a lethal intake"),
    "DietaryChloride": _nutrient(80, "chloride: 80 g a day, above a lethal salt intake"),
    "DietaryCalcium": _nutrient(
        10, "calcium: 10 g a day, several times the tolerable upper intake"
    ),
    "DietaryPhosphorus": _nutrient(
        10, "phosphorus: 10 g a day, several times the tolerable upper intake"
    ),
    "DietaryMagnesium": _nutrient(10, "magnesium: 10 g a day, laxative doses included"),
    "DietaryIron": _nutrient(2, "iron: 2 g a day, an overdose"),
    "DietaryZinc": _nutrient(1, "zinc: 1 g a day, an overdose"),
    "DietaryCopper": _nutrient(0.1, "copper: 100 mg a day, an overdose"),
    "DietaryManganese": _nutrient(0.1, "manganese: 100 mg a day, an overdose"),
    "DietaryIodine": _nutrient(2, "iodine: 2 g a day, above saturated potassium iodide therapy"),
    "DietarySelenium": _nutrient(0.05, "selenium: 50 mg a day, an overdose"),
    "DietaryChromium": _nutrient(0.01, "chromium: 10 mg a day, far above supplements"),
    "DietaryMolybdenum": _nutrient(0.01, "molybdenum: 10 mg a day, far above supplements"),
    "DietaryBiotin": _nutrient(0.5, "biotin: 500 mg a day, above therapeutic megadoses (300 mg)"),
    "DietaryFolate": _nutrient(0.1, "folate: 100 mg a day, above therapeutic doses"),
    "DietaryNiacin": _nutrient(10, "niacin: 10 g a day, above therapeutic doses (3 g)"),
    "DietaryPantothenicAcid": _nutrient(20, "pantothenic acid: 20 g a day, above megadoses"),
    "DietaryRiboflavin": _nutrient(1, "riboflavin: 1 g a day, above therapeutic doses (400 mg)"),
    "DietaryThiamin": _nutrient(5, "thiamin: 5 g a day, above therapeutic doses"),
    "DietaryVitaminA": _nutrient(0.5, "vitamin A: 500 mg a day, above megadoses (60 mg)"),
    "DietaryVitaminB6": _nutrient(1, "vitamin B6: 1 g a day, above therapeutic doses"),
    "DietaryVitaminB12": _nutrient(0.05, "vitamin B12: 50 mg a day, above injected doses"),
    "DietaryVitaminC": _nutrient(100, "vitamin C: 100 g a day, above intravenous megadoses"),
    "DietaryVitaminD": _nutrient(
        0.05, "vitamin D: 50 mg (2 million IU) a day, above single stoss doses"
    ),
    "DietaryVitaminE": _nutrient(5, "vitamin E: 5 g a day, above megadoses"),
    "DietaryVitaminK": _nutrient(0.1, "vitamin K: 100 mg a day, above therapeutic doses"),
}

#: Quantity type identifier -> its bounds in the canonical unit.
BOUNDS: Final[Mapping[str, Bounds]] = MappingProxyType(
    {_Q + name: bounds for name, bounds in _QUANTITY_BOUNDS.items()}
)
