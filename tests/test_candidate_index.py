"""The k-nearest index behind the candidate search (DSP-6, issue 13): the answer of a full scan, fresh in every process.

The reference is a full scan written out plainly: every technician's position (last fix, else home station), the
DSP-6/DSP-10/SCP-1 filter in Python, geopy's geodesic for each, sorted by distance then id.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from geopy.distance import geodesic
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from backend.accounts.models import User
from backend.app import create_app
from backend.audit.models import AuditEntry
from backend.audit.recorder import AuditContext, set_audit_context
from backend.config import Settings
from backend.dispatch import nearest
from backend.dispatch.candidates import Candidate, find_candidates
from backend.dispatch.geo import distance_km
from backend.dispatch.models import ServiceRequest
from backend.dispatch.nearest import (HOME_STATION, LAST_KNOWN_POSITION, exact_km, geodesic_lower_bound_km,
                                      geodesic_upper_bound_km, unit_vectors)
from backend.stations.models import Station
from backend.technicians.models import Technician, TechnicianSkill
from tests import factories
from tests.conftest import START, Api
from tests.test_dispatch_support import ZHENGZHOU, Desk, desk, quick_passwords, settings, site  # noqa: F401

SKILLS = ("body", "electrical", "hydraulics")
FLEET = 60
STATIONS = 5


def _writer(app: Flask) -> Session:
    session = app.extensions["onsite"].new_session(writer=True)
    set_audit_context(session, AuditContext(actor_user_id=None, actor_name="test", action="test"))
    return session


def _search(app: Flask, site_at: tuple[float, float], *, limit: int, skill: str | None = None,
            stations: frozenset[int] | None = None) -> list[Candidate]:
    # A request not yet saved: the search reads only its site, its skill and its deadlines (none: no ETA verdict).
    request = ServiceRequest(site_latitude=site_at[0], site_longitude=site_at[1], required_skill=skill, deadlines=[])
    with app.extensions["onsite"].new_session() as session:
        return find_candidates(session, request, now=START, travel_speed_kmh=60.0, limit=limit,
                               stations=stations)


def _full_scan(app: Flask, site_at: tuple[float, float], *, limit: int, skill: str | None,
               stations: frozenset[int] | None) -> list[tuple[int, float, str]]:
    with app.extensions["onsite"].new_session() as session:
        rows = session.scalars(select(Technician)).all()
        measured = []
        for t in rows:
            home = session.get(Station, t.home_station_id)
            eligible = (t.active and t.on_shift and home.active and home.may_receive_work
                        and (skill is None or skill in t.skills) and (stations is None or home.id in stations))
            if not eligible:
                continue
            fix = t.last_latitude is not None
            where = (t.last_latitude, t.last_longitude) if fix else (home.latitude, home.longitude)
            km = round(geodesic(site_at, where).km, 3)
            measured.append((km, t.id, LAST_KNOWN_POSITION if fix else HOME_STATION))
    return [(ident, km, source) for km, ident, source in sorted(measured)[:limit]]


def _answer(candidates: list[Candidate]) -> list[tuple[int, float, str]]:
    return [(c.technician_id, c.distance_km, c.position_source) for c in candidates]


# --- the answer is the full scan's -------------------------------------------------------------------------------

@dataclass
class Fleet:
    station_ids: list[int]
    technician_ids: list[int]


def _fleet(app: Flask) -> Fleet:
    """Stations and technicians made through the ORM, so audited like the API's; skills fixed, all else redrawn."""
    rng = random.Random(13)
    with _writer(app) as session:
        stations = [Station(code=f"IX{i}", name=f"Index {i}", address="x", latitude=0.0, longitude=0.0)
                    for i in range(STATIONS)]
        session.add_all(stations)
        session.flush()
        technicians = []
        for i in range(FLEET):
            user = User(username=f"index-tech-{i}", full_name=f"Tech {i}", password_hash="-")
            technician = Technician(user=user, home_station_id=stations[i % STATIONS].id)
            technician.skills = rng.sample(SKILLS, rng.randint(0, len(SKILLS)))
            technicians.append(technician)
        session.add_all(technicians)
        session.commit()
        return Fleet([s.id for s in stations], [t.id for t in technicians])


# Places where a nearest search can go wrong: the poles (every meridian meets), the antimeridian (longitude jumps),
# the equator (the sphere is furthest off the ellipsoid for north-south distances), and exact repeats (ties).
HOT_SPOTS = [(89.99, 0.0), (-89.99, 120.0), (0.0, 179.999), (0.0, -179.999), (65.0, 180.0), (0.0, 0.0),
             (34.7466, 113.6254)]
coordinates = st.tuples(st.floats(-90, 90), st.floats(-180, 180))
near_a_hot_spot = st.builds(
    lambda spot, dlat, dlon: (max(-90.0, min(90.0, spot[0] + dlat)), ((spot[1] + dlon + 180) % 360) - 180),
    st.sampled_from(HOT_SPOTS), st.floats(-0.5, 0.5), st.floats(-0.5, 0.5))
places = st.one_of(coordinates, near_a_hot_spot, st.sampled_from(HOT_SPOTS))
# How likely each technician is to be eligible on each count: mostly, or hardly ever (filters excluding most).
odds = st.sampled_from([0.1, 0.5, 0.95])


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    keep_odds = draw(odds)

    def likely() -> bool:
        return draw(st.floats(0, 1)) < keep_odds

    station_places = [draw(places) for _ in range(STATIONS)]
    spots = draw(st.lists(places, min_size=1, max_size=6))  # a few positions many technicians share: ties
    technicians = []
    for _ in range(FLEET):
        where = draw(st.one_of(st.none(), places, st.sampled_from(spots)))
        technicians.append({"position": where, "active": likely(), "on_shift": likely(),
                            "home": draw(st.integers(0, STATIONS - 1)),
                            "skills": [skill for skill in SKILLS if likely()]})
    return {"stations": [{"place": p, "active": likely() or draw(st.booleans()), "may_receive_work": likely()}
                         for p in station_places],
            "technicians": technicians,
            "site": draw(st.one_of(places, st.sampled_from(spots))), "limit": draw(st.integers(1, 6)),
            "skill": draw(st.sampled_from([None, *SKILLS])),
            "scope": draw(st.one_of(st.none(), st.sets(st.integers(0, STATIONS - 1), min_size=1, max_size=2)))}


def _arrange(app: Flask, fleet: Fleet, scenario: dict[str, Any]) -> None:
    with _writer(app) as session:
        for ident, s in zip(fleet.station_ids, scenario["stations"], strict=True):
            station = session.get(Station, ident)
            station.latitude, station.longitude = s["place"]
            station.active, station.may_receive_work = s["active"], s["may_receive_work"]
        for ident, t in zip(fleet.technician_ids, scenario["technicians"], strict=True):
            technician = session.get(Technician, ident)
            technician.last_latitude, technician.last_longitude = t["position"] or (None, None)
            technician.active, technician.on_shift = t["active"], t["on_shift"]
            technician.home_station_id = fleet.station_ids[t["home"]]
            if "skills" in t:
                technician.skills = t["skills"]
        session.commit()


def test_dsp6_the_index_answers_exactly_as_a_full_scan(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    # Small first looks and an early rebuild of the tree, so that widening and patching happen in every example.
    monkeypatch.setattr(nearest, "_FIRST_LOOK_PER_WANTED", 1)
    monkeypatch.setattr(nearest, "_REBUILD_AT_LEAST", 20)
    fleet = _fleet(app)

    @hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(scenario=scenarios())
    def same_answer(scenario: dict[str, Any]) -> None:
        _arrange(app, fleet, scenario)
        scope = None if scenario["scope"] is None else frozenset(fleet.station_ids[i] for i in scenario["scope"])
        found = _search(app, scenario["site"], limit=scenario["limit"], skill=scenario["skill"], stations=scope)
        assert _answer(found) == _full_scan(app, scenario["site"], limit=scenario["limit"], skill=scenario["skill"],
                                            stations=scope)

    same_answer()


@given(a=places, b=places)
@hypothesis_settings(max_examples=500, deadline=None)
def test_the_pruning_bound_never_exceeds_the_geodesic(a: tuple[float, float], b: tuple[float, float]) -> None:
    """The search skips technicians by this bound; were it ever above the true distance, it could skip a winner."""
    u, v = unit_vectors([a[0], b[0]], [a[1], b[1]])
    assert geodesic_lower_bound_km(float(math.dist(u, v))) <= distance_km(a, b)


@given(a=places, b=places)
@hypothesis_settings(max_examples=500, deadline=None)
def test_the_reach_bound_never_falls_short_of_the_geodesic(a: tuple[float, float], b: tuple[float, float]) -> None:
    """A batch is settled, and the database asked about its nearest, within this bound: below the true distance,
    the search would need a second query (never a wrong answer) in the usual case."""
    u, v = unit_vectors([a[0], b[0]], [a[1], b[1]])
    assert geodesic_upper_bound_km(float(math.dist(u, v))) >= distance_km(a, b)


@given(a=places, b=places, bearing=st.floats(0, 360))
@hypothesis_settings(max_examples=300, deadline=None)
def test_dsp1_the_fast_geodesic_is_geopys_to_the_metre(a: tuple[float, float], b: tuple[float, float],
                                                      bearing: float) -> None:
    assert exact_km(a, b) == distance_km(a, b)
    # Right at a rounding boundary, half a metre past a whole one, where only geopy can say which way it goes.
    km = math.floor(distance_km(a, b)) + 0.0005
    boundary = geodesic(kilometers=km).destination(a, bearing)
    assert exact_km(a, (boundary.latitude, boundary.longitude)) == distance_km(a, (boundary.latitude,
                                                                                   boundary.longitude))


def test_dsp6_exact_geodesics_only_for_those_that_can_make_the_list(app: Flask,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(5)
    with _writer(app) as session:
        station = Station(code="BIG", name="Big", address="x", latitude=ZHENGZHOU[0], longitude=ZHENGZHOU[1])
        session.add(station)
        session.flush()
        ids, stamp = range(1, 2001), {"version": 1, "created_at": START, "updated_at": START}
        session.execute(insert(User), [{"id": i, "username": f"t{i}", "full_name": f"T {i}", "password_hash": "-",
                                        **stamp} for i in ids])
        session.execute(insert(Technician), [
            {"id": i, "user_id": i, "home_station_id": station.id, "on_shift": True, **stamp,
             "last_latitude": ZHENGZHOU[0] + rng.uniform(-2, 2), "last_longitude": ZHENGZHOU[1] + rng.uniform(-2, 2)}
            for i in ids])
        session.execute(insert(TechnicianSkill), [{"technician_id": i, "skill": "body"} for i in ids])
        session.commit()
    measured = []
    monkeypatch.setattr(nearest, "exact_km", lambda a, b: measured.append(b) or exact_km(a, b))
    found = _search(app, ZHENGZHOU, limit=10)
    assert _answer(found) == _full_scan(app, ZHENGZHOU, limit=10, skill=None, stations=None)
    assert len(measured) < 15  # of 2,000


# --- fresh as positions change -------------------------------------------------------------------------------------

def _other_process(app: Flask, settings: Settings) -> Iterator[Flask]:
    """A second application on the same database: another gunicorn worker, with an index of its own."""
    other = create_app(settings, clock=app.extensions["onsite"].clock)
    try:
        yield other
    finally:
        other.extensions["onsite"].engine.dispose()


@pytest.fixture
def worker(app: Flask, settings: Settings) -> Iterator[Flask]:
    yield from _other_process(app, settings)


def _candidates(api: Api, request_id: int) -> list[dict[str, Any]]:
    response = api.get(f"/api/v1/service-requests/{request_id}/candidates")
    assert response.status_code == 200, response.get_json()
    return response.get_json()["candidates"]


def test_dsp6_a_position_report_is_seen_by_the_next_search_in_every_process(desk: Desk, worker: Flask) -> None:
    request = desk.register(50)
    target = (request["site_latitude"], request["site_longitude"])
    far = desk.technician(position=ZHENGZHOU, name="Far")
    beside = site(5, 0, target)
    near = desk.technician(position=(beside["site_latitude"], beside["site_longitude"]), name="Near")
    elsewhere = Api(worker.test_client(), desk.dispatcher.token)
    assert [c["technician_id"] for c in _candidates(elsewhere, request["id"])] == [near["id"], far["id"]]

    report = desk.as_technician(far).put(f"/api/v1/technicians/{far['id']}/position",
                                         json={"latitude": target[0], "longitude": target[1]})
    assert report.status_code == 200, report.get_json()

    for api in (elsewhere, desk.dispatcher):  # the other process and this one
        first = _candidates(api, request["id"])[0]
        assert (first["technician_id"], first["distance_km"], first["position_source"]) == \
            (far["id"], 0.0, "last_known_position")


def test_dsp6_a_new_home_station_and_a_moved_station_are_seen_by_the_next_search(desk: Desk) -> None:
    request = desk.register(50)
    target = (request["site_latitude"], request["site_longitude"])
    beside = factories.station(desk.admin, latitude=target[0] + 0.01, longitude=target[1])
    home_only = desk.technician(name="Never reported")  # counts at the Zhengzhou station, 50 km away
    assert _candidates(desk.dispatcher, request["id"])[0]["distance_km"] == pytest.approx(50, abs=0.001)

    url = f"/api/v1/technicians/{home_only['id']}"
    etag = desk.admin.get(url).headers["ETag"]
    assert desk.admin.patch(url, json={"home_station_id": beside["id"]}, headers={"If-Match": etag}).status_code == 200
    moved_home = _candidates(desk.dispatcher, request["id"])[0]
    assert (moved_home["distance_km"], moved_home["position_source"]) == \
        (distance_km(target, (beside["latitude"], beside["longitude"])), "home_station")

    url = f"/api/v1/stations/{beside['id']}"
    etag = desk.admin.get(url).headers["ETag"]
    assert desk.admin.patch(url, json={"latitude": target[0], "longitude": target[1]},
                            headers={"If-Match": etag}).status_code == 200
    assert _candidates(desk.dispatcher, request["id"])[0]["distance_km"] == 0.0


def test_dsp6_a_skill_granted_or_taken_is_seen_by_the_next_search_in_every_process(desk: Desk,
                                                                                  worker: Flask) -> None:
    # The index filters by skill before the database is asked: a stale skill set would hide or offer the wrong one.
    request = desk.register(50, required_skill="hydraulics")
    target = (request["site_latitude"], request["site_longitude"])
    beside = site(5, 0, target)
    near = desk.technician(position=(beside["site_latitude"], beside["site_longitude"]), name="Near")
    far = desk.technician(position=ZHENGZHOU, name="Far", skills=["hydraulics"])
    elsewhere = Api(worker.test_client(), desk.dispatcher.token)
    assert [c["technician_id"] for c in _candidates(elsewhere, request["id"])] == [far["id"]]

    url = f"/api/v1/technicians/{near['id']}"
    patch = desk.admin.patch(url, json={"skills": ["body", "hydraulics"]},
                             headers={"If-Match": desk.admin.get(url).headers["ETag"]})
    assert patch.status_code == 200, patch.get_json()
    for api in (elsewhere, desk.dispatcher):
        assert [c["technician_id"] for c in _candidates(api, request["id"])] == [near["id"], far["id"]]

    url = f"/api/v1/technicians/{far['id']}"
    patch = desk.admin.patch(url, json={"skills": []}, headers={"If-Match": desk.admin.get(url).headers["ETag"]})
    assert patch.status_code == 200, patch.get_json()
    for api in (elsewhere, desk.dispatcher):
        assert [c["technician_id"] for c in _candidates(api, request["id"])] == [near["id"]]


def test_dsp6_the_database_has_the_last_word_over_the_index(app: Flask) -> None:
    # A write past the ORM leaves no audit entry, so the index still offers the technician it took off shift; the
    # database's check refuses them and the search goes on to the next nearest.
    fleet = _fleet(app)
    _arrange(app, fleet, {"stations": [{"place": ZHENGZHOU, "active": True, "may_receive_work": True}] * STATIONS,
                          "technicians": [{"position": tuple(site(km, 0, ZHENGZHOU).values()), "active": True,
                                           "on_shift": True, "home": 0} for km in range(1, FLEET + 1)]})
    nearest_three = [t.technician_id for t in _search(app, ZHENGZHOU, limit=3)]
    assert nearest_three == fleet.technician_ids[:3]
    with _writer(app) as session:
        session.execute(update(Technician).where(Technician.id.in_(nearest_three[:2])).values(on_shift=False))
        session.commit()
    assert [t.technician_id for t in _search(app, ZHENGZHOU, limit=3)] == fleet.technician_ids[2:5]


def test_a_position_in_a_transaction_is_seen_there_and_gone_after_a_rollback(app: Flask) -> None:
    fleet = _fleet(app)
    _arrange(app, fleet, {"stations": [{"place": ZHENGZHOU, "active": True, "may_receive_work": True}] * STATIONS,
                          "technicians": [{"position": None, "active": True, "on_shift": True, "home": 0}] * FLEET})
    far_away = (10.0, 10.0)
    assert _search(app, far_away, limit=1)[0].distance_km > 1000
    with _writer(app) as session:
        session.get(Technician, fleet.technician_ids[0]).last_latitude = far_away[0]
        session.get(Technician, fleet.technician_ids[0]).last_longitude = far_away[1]
        request = ServiceRequest(site_latitude=far_away[0], site_longitude=far_away[1], deadlines=[])
        during = find_candidates(session, request, now=START, travel_speed_kmh=60.0, limit=1)
        session.rollback()
    assert (during[0].technician_id, during[0].distance_km) == (fleet.technician_ids[0], 0.0)
    assert _search(app, far_away, limit=1)[0].distance_km > 1000


def test_a_change_committed_after_a_later_one_is_still_applied(app: Flask) -> None:
    """PostgreSQL hands out audit ids in the order of the inserts, not of the commits: an id below the newest one
    may still be in an open transaction. The index looks for such ids again until they show up."""
    fleet = _fleet(app)
    _arrange(app, fleet, {"stations": [{"place": ZHENGZHOU, "active": True, "may_receive_work": True}] * STATIONS,
                          "technicians": [{"position": None, "active": True, "on_shift": True, "home": 0}] * FLEET})
    early, late = fleet.technician_ids[:2]
    spot = (20.0, 20.0)
    assert _search(app, spot, limit=1)[0].distance_km > 1000

    def audited_move(session: Session, technician_id: int, audit_id: int) -> None:
        # What the ORM does, written out, so the audit id can be chosen.
        session.execute(update(Technician).where(Technician.id == technician_id)
                        .values(last_latitude=spot[0], last_longitude=spot[1]))
        session.execute(insert(AuditEntry).values(
            id=audit_id, at=START, actor_name="test", action="test", entity_type="technicians",
            entity_id=str(technician_id), change="update"))
        session.commit()

    with _writer(app) as session:
        newest = session.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1))
        audited_move(session, late, newest + 2)  # committed first, with the higher id
    assert _search(app, spot, limit=1)[0].technician_id == late
    with _writer(app) as session:
        audited_move(session, early, newest + 1)  # the transaction that held the lower id commits now
    assert [c.technician_id for c in _search(app, spot, limit=2)] == [early, late]


def test_a_search_racing_a_catch_up_in_another_thread_sees_the_newest_position(app: Flask,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Searches read the index without its lock (gunicorn threads, the scheduler's thread). One that read the tree,
    then the feed after another thread had caught both up, used to take the old tree for current."""
    fleet = _fleet(app)
    _arrange(app, fleet, {"stations": [{"place": ZHENGZHOU, "active": True, "may_receive_work": True}] * STATIONS,
                          "technicians": [{"position": None, "active": True, "on_shift": True, "home": 0}] * FLEET})
    spot = (30.0, 30.0)
    assert _search(app, spot, limit=1)[0].distance_km > 1000
    with _writer(app) as session:
        technician = session.get(Technician, fleet.technician_ids[0])
        technician.last_latitude, technician.last_longitude = spot
        session.commit()

    behind, racing = nearest.PositionIndex._behind, []

    def another_thread_catches_up_first(*args: Any) -> bool:
        # Between this search reading the index and asking whether it is behind, another search catches it up.
        if not racing:
            racing.append(True)
            with app.extensions["onsite"].new_session() as other:
                nearest.index_for(other)
        return behind(*args)

    monkeypatch.setattr(nearest.PositionIndex, "_behind", staticmethod(another_thread_catches_up_first))
    found = _search(app, spot, limit=1)[0]
    assert racing
    assert (found.technician_id, found.distance_km) == (fleet.technician_ids[0], 0.0)
