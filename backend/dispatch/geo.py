"""Distances on the WGS-84 ellipsoid and a bounding-box nearest-neighbour search over indexed lat/lon columns.

The box is only a prefilter that lets an ordinary B-tree index do the narrowing; every decision uses the exact
geodesic distance (geopy), never the box and never a spherical approximation.
"""

from __future__ import annotations

import math
from bisect import insort
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from geopy.distance import geodesic
from sqlalchemy import ColumnElement, and_, or_, true

T = TypeVar("T")
Point = tuple[float, float]

# Distances are kept and compared at 1 m: geodesic() of a point placed exactly 100 km away comes back as
# 99.99999999999928 or 100.00000000000166 depending on the bearing, and a GPS fix is no better than metres anyway.
DISTANCE_DECIMALS = 3
# A degree of latitude is at least 110.574 km (at the equator); a degree of longitude at most 111.320 km times
# cos(latitude). Shrinking both by 1 % makes the box a little too big, never too small: it only prefilters.
_KM_PER_DEGREE_LATITUDE = 110.574 * 0.99
_KM_PER_DEGREE_LONGITUDE_AT_EQUATOR = 111.320 * 0.99
_WIDEN_FACTOR = 2
_HALF_EARTH_KM = 20_004.0
_MEAN_EARTH_RADIUS_KM = 6371.0088
# The sphere is off the WGS-84 geodesic by at most about 0.56 %; 1 % keeps the pruning bound safe.
_SPHERE_ERROR = 0.01


# geopy sets its ellipsoid up afresh for every geodesic(a, b), which costs as much as the measurement; one instance
# measures every pair with the same arithmetic.
_WGS84 = geodesic()


def distance_km(a: Point, b: Point) -> float:
    """Geodesic distance on WGS-84, rounded to the metre."""
    return round(_WGS84.measure(a, b), DISTANCE_DECIMALS)


@dataclass(frozen=True)
class BoundingBox:
    """Every point within `radius_km` of the centre lies inside; longitude may wrap at the antimeridian."""

    radius_km: float
    min_lat: float = -90.0
    max_lat: float = 90.0
    lon_ranges: tuple[tuple[float, float], ...] = ((-180.0, 180.0),)

    @property
    def covers_world(self) -> bool:
        return self.min_lat <= -90 and self.max_lat >= 90 and self.lon_ranges == ((-180.0, 180.0),)

    def contains(self, point: Point) -> bool:
        lat, lon = point
        return self.min_lat <= lat <= self.max_lat and any(lo <= lon <= hi for lo, hi in self.lon_ranges)

    def where(self, lat_column: Any, lon_column: Any) -> ColumnElement[bool]:
        """The box as a SQL condition a (lat, lon) index can serve."""
        if self.covers_world:
            return true()
        return and_(lat_column.between(self.min_lat, self.max_lat),
                    or_(*(lon_column.between(lo, hi) for lo, hi in self.lon_ranges)))


def bounding_box(centre: Point, radius_km: float) -> BoundingBox:
    lat, lon = centre
    if radius_km >= _HALF_EARTH_KM:
        return BoundingBox(radius_km)
    dlat = radius_km / _KM_PER_DEGREE_LATITUDE
    min_lat, max_lat = lat - dlat, lat + dlat
    if min_lat <= -90 or max_lat >= 90:
        # A pole is within reach: every meridian passes through it, so the box spans all longitudes.
        return BoundingBox(radius_km, max(min_lat, -90.0), min(max_lat, 90.0))
    # Meridians converge towards the poles; the widest longitude span is needed at the parallel nearest to one.
    widest_parallel = max(abs(min_lat), abs(max_lat))
    dlon = radius_km / (_KM_PER_DEGREE_LONGITUDE_AT_EQUATOR * math.cos(math.radians(widest_parallel)))
    if dlon >= 180:
        return BoundingBox(radius_km, min_lat, max_lat)
    west, east = lon - dlon, lon + dlon
    if west < -180:  # wraps westwards over the antimeridian
        ranges = ((west + 360, 180.0), (-180.0, east))
    elif east > 180:  # wraps eastwards
        ranges = ((west, 180.0), (-180.0, east - 360))
    else:
        ranges = ((west, east),)
    return BoundingBox(radius_km, min_lat, max_lat, ranges)


@dataclass(frozen=True)
class Found(Generic[T]):
    item: T
    distance_km: float


def nearest(centre: Point, fetch: Callable[[BoundingBox], Iterable[T]], position: Callable[[T], Point],
            key: Callable[[T], Hashable], *, at_least: int, start_km: float) -> list[Found[T]]:
    """At least the `at_least` nearest items `fetch` knows of (all of them, when there are fewer), with any tied
    with the last of those, nearest first, each with its exact geodesic distance.

    `fetch(box)` returns the items inside the box (an indexed query). An item farther than the box's inscribed
    radius may be beaten by one just outside the box, so the box grows until `at_least` items lie within that
    radius; a box covering the world is a full scan, which also answers the rare search where nothing is near.
    Inside a box, items are taken in order of their cheap spherical distance, and the exact geodesic, the costly
    part, is computed only until no further item can come closer than the ones already measured.
    """
    radius = start_km
    exact: dict[Hashable, float] = {}
    while True:
        box = bounding_box(centre, radius)
        reach = math.inf if box.covers_world else radius
        by_estimate = sorted(((_sphere_km(centre, position(item)), item) for item in fetch(box)),
                             key=lambda pair: pair[0])
        found: list[Found[T]] = []
        for estimate, item in by_estimate:
            lower_bound = estimate * (1 - _SPHERE_ERROR) - 10 ** -DISTANCE_DECIMALS
            if lower_bound > reach or len(found) >= at_least and lower_bound > found[at_least - 1].distance_km:
                break  # this one and all after it are farther than what is already found
            k = key(item)
            if k not in exact:
                exact[k] = distance_km(centre, position(item))
            if exact[k] <= reach:
                insort(found, Found(item, exact[k]), key=lambda f: f.distance_km)
        if len(found) >= at_least or box.covers_world:
            return found
        radius *= _WIDEN_FACTOR


def _sphere_km(a: Point, b: Point) -> float:
    """Great-circle distance on the mean sphere: within _SPHERE_ERROR of the geodesic, a hundred times cheaper."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * _MEAN_EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))
