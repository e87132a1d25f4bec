"""The geodesic distance and the bounding-box prefilter behind every nearest search (DSP-1, DSP-6)."""

from __future__ import annotations

import random

import pytest
from geopy.distance import geodesic, great_circle

from backend.dispatch import geo
from backend.dispatch.geo import bounding_box, distance_km, nearest

BEARINGS = range(0, 360, 15)


def _destination(origin: tuple[float, float], km: float, bearing: float) -> tuple[float, float]:
    point = geodesic(kilometers=km).destination(origin, bearing)
    return point.latitude, point.longitude


@pytest.mark.parametrize("origin", [
    (34.7466, 113.6254),  # Zhengzhou
    (0.0, 0.0),
    (64.18, -51.72),  # Nuuk
    (-54.8, -68.3),  # Ushuaia
    (78.22, 15.65),  # Longyearbyen: meridians converge fast
    (89.95, 10.0),  # next to the North Pole: the box spans every longitude
    (-89.95, 0.0),
    (65.0, 179.9),  # antimeridian, east side
    (-16.5, -179.95),  # antimeridian, west side (Fiji)
])
@pytest.mark.parametrize("km", [1, 25, 100, 400, 1600])
def test_dsp6_every_point_within_the_radius_lies_inside_the_box(origin: tuple[float, float], km: float) -> None:
    box = bounding_box(origin, km)
    for bearing in BEARINGS:
        for fraction in (0.5, 1.0):
            point = _destination(origin, km * fraction, bearing)
            assert box.contains(point), (origin, km, bearing, point, box)


def test_dsp6_the_box_wraps_at_the_antimeridian() -> None:
    box = bounding_box((-16.5, 179.8), 100)
    assert len(box.lon_ranges) == 2
    assert box.contains((-16.5, -179.5)) and box.contains((-16.5, 179.5))
    assert not box.contains((-16.5, 0.0))


def test_dsp6_near_a_pole_the_box_covers_all_longitudes() -> None:
    box = bounding_box((89.5, 0.0), 100)
    assert box.lon_ranges == ((-180.0, 180.0),) and box.max_lat == 90.0
    assert box.contains((89.5, 180.0))


def test_dsp6_a_box_bigger_than_half_the_earth_covers_the_world() -> None:
    assert bounding_box((10.0, 10.0), 20_100).covers_world


def test_dsp6_the_box_stays_narrow_at_mid_latitudes() -> None:
    box = bounding_box((34.7, 113.6), 25)
    (west, east), = box.lon_ranges
    assert box.max_lat - box.min_lat < 0.5 and east - west < 0.7


def test_dsp1_distance_is_the_wgs84_geodesic_not_a_sphere() -> None:
    a, b = (34.7466, 113.6254), _destination((34.7466, 113.6254), 100.0, 0)
    assert distance_km(a, b) == 100.0
    # A spherical formula is visibly off at this range; the SLA radius decision must not use one.
    assert abs(great_circle(a, b).km - 100.0) > 0.05


@pytest.mark.parametrize("seed", range(5))
def test_dsp6_nearest_returns_exactly_the_k_nearest(seed: int) -> None:
    rng = random.Random(seed)
    centre = (rng.uniform(-80, 80), rng.uniform(-180, 180))
    points = [(i, rng.uniform(-89, 89), rng.uniform(-180, 180)) for i in range(300)]
    points += [(1000 + i, *_destination(centre, rng.uniform(0, 3000), rng.uniform(0, 360))) for i in range(40)]
    fetched_boxes = []

    def fetch(box):
        fetched_boxes.append(box)
        return [p for p in points if box.contains((p[1], p[2]))]

    found = nearest(centre, fetch, lambda p: (p[1], p[2]), lambda p: p[0], at_least=5, start_km=25)
    expected = sorted(points, key=lambda p: geodesic(centre, (p[1], p[2])).km)[:5]
    assert [f.item[0] for f in found[:5]] == [p[0] for p in expected]
    assert [f.distance_km for f in found] == sorted(f.distance_km for f in found)
    assert len(fetched_boxes) > 1  # it had to widen


def test_dsp6_nearest_falls_back_to_a_full_scan_when_nothing_is_near() -> None:
    far = [(1, -45.0, -170.0), (2, 60.0, 100.0)]

    def search(at_least: int) -> list[int]:
        found = nearest((0.0, 0.0), lambda box: [p for p in far if box.contains((p[1], p[2]))],
                        lambda p: (p[1], p[2]), lambda p: p[0], at_least=at_least, start_km=25)
        return [f.item[0] for f in found]

    assert search(1) == [2]
    assert search(5) == [2, 1]


def test_dsp6_nearest_measures_exact_geodesics_only_for_the_few_that_can_win(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(7)
    centre = (34.7, 113.6)
    points = [(i, *_destination(centre, rng.uniform(0, 200), rng.uniform(0, 360))) for i in range(2000)]
    measured = []
    monkeypatch.setattr(geo, "distance_km", lambda a, b: measured.append(b) or distance_km(a, b))
    found = nearest(centre, lambda box: [p for p in points if box.contains((p[1], p[2]))],
                    lambda p: (p[1], p[2]), lambda p: p[0], at_least=10, start_km=200)
    expected = sorted(points, key=lambda p: geodesic(centre, (p[1], p[2])).km)[:10]
    assert [f.item[0] for f in found[:10]] == [p[0] for p in expected]
    assert len(measured) < 40  # of the 2,000 inside the box


@pytest.mark.parametrize("seed", range(3))
def test_dsp6_the_spherical_estimate_stays_within_its_error_bound(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(500):
        a = (rng.uniform(-89.9, 89.9), rng.uniform(-180, 180))
        b = _destination(a, rng.uniform(0.01, 19_000), rng.uniform(0, 360))
        exact = geodesic(a, b).km
        assert abs(geo._sphere_km(a, b) - exact) <= geo._SPHERE_ERROR * exact
