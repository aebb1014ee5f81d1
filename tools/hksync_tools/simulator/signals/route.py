"""Workout routes: the GPS track of an outdoor workout, as an HKWorkoutRoute's locations."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Final

from hksync_tools.simulator.factory import SampleFactory
from hksync_tools.simulator.healthkit import WORKOUT_ROUTE, Sample

#: Latitude, longitude and altitude (m) of the centre of the city a zone is named after.
_CITY_CENTRES: Final = {
    "Europe/Berlin": (52.5200, 13.4050, 34.0),
    "America/New_York": (40.7128, -74.0060, 10.0),
    "Asia/Kolkata": (22.5726, 88.3639, 9.0),
}
_METRES_PER_DEGREE: Final = 111_320.0
#: The watch records about one location a second; the simulator keeps one every 4-6 s, the
#: spacing of its workout heart rate, so a route stays a few hundred locations.
_SPACING_S: Final = (4.0, 6.0)


def workout_route(
    factory: SampleFactory,
    workout: Sample,
    start: int,
    end: int,
    pauses: list[tuple[int, int]],
    metres: float,
) -> Sample:
    """The route of ``workout`` (not yet added): a meandering track from near the user's city
    centre covering ``metres`` over the active time, no locations while paused."""
    rng = factory.rng
    latitude, longitude, altitude = _home(factory, start)
    latitude += rng.uniform(-0.015, 0.015)
    longitude += rng.uniform(-0.02, 0.02)
    paused_s = sum(resumed - paused for paused, resumed in pauses)
    speed = metres / max(1, end - start - paused_s)
    course = rng.uniform(0.0, 360.0)
    locations = []
    t = float(start)
    while t <= end:
        step_s = rng.uniform(*_SPACING_S)
        if any(paused <= t < resumed for paused, resumed in pauses):
            t += step_s
            continue
        moved = speed * step_s * rng.uniform(0.9, 1.1)
        locations.append(
            {
                "timestamp": factory.iso(int(t)),
                "latitude": round(latitude, 6),
                "longitude": round(longitude, 6),
                "altitude_m": round(altitude, 1),
                "horizontal_accuracy_m": round(rng.uniform(2.5, 8.0), 1),
                "vertical_accuracy_m": round(rng.uniform(1.5, 5.0), 1),
                "speed_m_s": round(moved / step_s, 2),
                "course_deg": round(course, 1),
            }
        )
        latitude += moved * math.cos(math.radians(course)) / _METRES_PER_DEGREE
        longitude += (
            moved
            * math.sin(math.radians(course))
            / (_METRES_PER_DEGREE * math.cos(math.radians(latitude)))
        )
        altitude += rng.gauss(0.0, 0.4)
        course = (course + rng.gauss(0.0, 12.0)) % 360.0
        t += step_s
    route = factory.sample(WORKOUT_ROUTE, start, end, factory.writers.watch, None)
    route["locations"] = locations
    route["workout_uuid"] = workout["uuid"]
    return route


def _home(factory: SampleFactory, at: int) -> tuple[float, float, float]:
    """The user's city centre; for a zone not in the table, a point at 45 degrees north on the
    meridian of the zone's UTC offset (plausible enough for a track)."""
    centre = _CITY_CENTRES.get(factory.time_zone)
    if centre is not None:
        return centre
    offset = datetime.fromtimestamp(at, factory.zone).utcoffset() or timedelta()
    return 45.0, max(-180.0, min(180.0, offset.total_seconds() / 240.0)), 100.0
