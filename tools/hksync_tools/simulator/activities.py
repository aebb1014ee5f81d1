"""What the user does: the workout kinds and the activity level of each awake minute."""

from __future__ import annotations

from typing import Final

RUNNING: Final = "running"
WALKING: Final = "walking"
CYCLING: Final = "cycling"
STRENGTH: Final = "traditionalStrengthTraining"
YOGA: Final = "yoga"
WORKOUT_KINDS: Final = (RUNNING, WALKING, CYCLING, STRENGTH, YOGA)
WORKOUT_MINUTES: Final = {
    RUNNING: (25, 60),
    WALKING: (30, 75),
    CYCLING: (35, 100),
    STRENGTH: (35, 70),
    YOGA: (30, 60),
}
#: Compendium of Physical Activities (2011) METs.
WORKOUT_METS: Final = {RUNNING: 9.8, WALKING: 4.3, CYCLING: 7.5, STRENGTH: 5.0, YOGA: 2.5}
#: Fraction of the heart-rate reserve (Karvonen) each workout is done at.
WORKOUT_HRR: Final = {RUNNING: 0.75, WALKING: 0.45, CYCLING: 0.68, STRENGTH: 0.5, YOGA: 0.3}
INDOOR: Final = frozenset({STRENGTH, YOGA})

# Activity level of one awake minute.
SEDENTARY: Final = 0
WALK: Final = 1
BRISK: Final = 2
WORKOUT_MINUTE: Final = 3
OFF_WRIST: Final = -1

SITTING_MET: Final = 1.05
POTTERING_MET: Final = 1.5
WALK_MET: Final = 2.8
BRISK_MET: Final = 4.3
