"""Nutrition: meals logged in a nutrition app as food correlations, and glasses of water."""

from __future__ import annotations

from typing import Final

from hksync_tools.simulator.factory import SampleFactory
from hksync_tools.simulator.healthkit import (
    CARBOHYDRATES,
    DIETARY_ENERGY,
    DIETARY_WATER,
    FAT,
    FOOD,
    PROTEIN,
)
from hksync_tools.simulator.planner import MINUTE, DayPlan, local_instant
from hksync_tools.simulator.random_streams import clamp

#: (name, share of the day's energy, earliest and latest local hour; None: after getting up).
_MEALS: Final = (
    ("Breakfast", 0.25, None),
    ("Lunch", 0.35, (12.0, 13.5)),
    ("Snack", 0.08, (15.0, 16.5)),
    ("Dinner", 0.32, (18.0, 20.0)),
)
#: Atwater factors, kcal per gram.
_KCAL_PER_G: Final = {CARBOHYDRATES: 4.0, PROTEIN: 4.0, FAT: 9.0}


def meals(factory: SampleFactory, day: DayPlan) -> None:
    """The meals the user logs (most, not all): a food correlation each, with its energy,
    carbohydrates, protein and fat as members, logged a few minutes after eating."""
    rng = factory.rng
    for name, share, hours in _MEALS:
        if name == "Snack" and rng.random() < 0.6:
            continue
        if rng.random() >= factory.profile.logs_meals:
            continue
        if hours is None:
            t = day.start + rng.randint(15, 50) * MINUTE
        else:
            t = local_instant(factory.zone, day.day, rng.uniform(*hours))
        if not day.start <= t < day.end:
            continue
        kcal = round(factory.profile.intake_kcal * share * rng.lognormvariate(0, 0.2))
        carbs = clamp(rng.gauss(0.48, 0.06), 0.3, 0.65)
        protein = clamp(rng.gauss(0.18, 0.03), 0.1, 0.3)
        shares = {CARBOHYDRATES: carbs, PROTEIN: protein, FAT: 1.0 - carbs - protein}
        members = [(DIETARY_ENERGY, float(kcal))] + [
            (nutrient, round(kcal * part / _KCAL_PER_G[nutrient], 1))
            for nutrient, part in shares.items()
        ]
        logged = t + rng.randint(2, 30) * MINUTE
        writer = factory.writers.nutrition_app
        factory.correlation(FOOD, t, members, writer, logged, {"HKFoodType": name})


def water(factory: SampleFactory, day: DayPlan) -> None:
    """3-8 glasses or bottles of water a day, logged as drunk (assumed)."""
    rng = factory.rng
    for _ in range(rng.randint(3, 8)):
        t = rng.randint(day.start, day.end - 1)
        millilitres = float(rng.choice((200, 250, 300, 330, 500)))
        factory.quantity(DIETARY_WATER, t, t, millilitres, factory.writers.nutrition_app)
