"""A technician's day as ordered stops: RULES.md §11 (PLN-2), with DSP-1 deadlines, DSP-6 travel and SCP-1 scope."""

from __future__ import annotations

import itertools
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from backend.clock import ManualClock
from backend.config import ConfigurationError, Settings
from backend.dispatch.models import Job, JobTechnician
from backend.fieldwork.lifecycle import JobStatus
from backend.planning.routes.sequence import Stop, solve
from tests import factories
from tests.conftest import Api
from tests.test_dispatch_support import ZHENGZHOU, Desk, desk, quick_passwords, settings  # noqa: F401

# 08:00 in Shanghai (UTC+8) on the day after START: the start of a default shift.
SHANGHAI_MORNING = datetime(2026, 3, 3, 0, 0, tzinfo=UTC)


def job_for(desk: Desk, tech: dict[str, Any], km: float, bearing: float = 90.0, *, reported_hours_ago: float = 0,
            origin: tuple[float, float] = ZHENGZHOU, now: datetime, **intake: Any) -> dict[str, Any]:
    """A request `km` from `origin`, reported so long ago (its DSP-1 deadline is 24 h after), with a job assigned to
    `tech` as dispatch (or a committed plan) leaves it: how the job came does not change the route."""
    request = desk.register(km=km, bearing=bearing, origin=origin,
                            reported_at=(now - timedelta(hours=reported_hours_ago)).isoformat(), **intake)
    job = Job(service_request_id=request["id"], status=JobStatus.ASSIGNED, assigned_at=now,
              crew=[JobTechnician(technician_id=tech["id"], is_lead=True)])
    desk.session.add(job)
    desk.session.commit()
    return {"id": job.id, "service_request_id": request["id"]}


def route_of(api: Api, url: str = "/api/v1/me/route", **query: Any) -> dict[str, Any]:
    response = api.get(url, query_string=query)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def stop_jobs(route: dict[str, Any]) -> list[int]:
    return [stop["job_id"] for stop in route["stops"]]


def test_the_order_meets_a_deadline_that_the_shortest_order_would_miss(desk: Desk, clock: ManualClock) -> None:
    """rule PLN-2: the near job first would be shortest, but would make the far one late; the route goes far first."""
    clock.set(SHANGHAI_MORNING)
    tech = desk.technician(position=ZHENGZHOU)
    near = job_for(desk, tech, 5, 90, now=clock.now())
    # Due in 90 minutes (reported 22.5 h ago, DSP-1's 24 h): 40 km away is 40 minutes' drive.
    urgent = job_for(desk, tech, 40, 270, reported_hours_ago=22.5, now=clock.now())
    route = route_of(desk.as_technician(tech))
    assert stop_jobs(route) == [urgent["id"], near["id"]]
    assert [stop["late"] for stop in route["stops"]] == [False, False]
    assert route["missed_deadlines"] == 0 and route["not_scheduled"] == []
    first, second = route["stops"]
    assert first["travel_km"] == pytest.approx(40, abs=0.01)
    assert first["arrival"] == "2026-03-03T08:40:00+08:00"
    assert first["departure"] == "2026-03-03T10:40:00+08:00"  # the default 2 h on site
    assert second["arrival"] == "2026-03-03T11:25:00+08:00"  # 45 km back east at 60 km/h
    # The shortest order (near first: 5 + 45 km) would have reached the urgent job at 10:50, after 09:30.
    assert route["total_travel_km"] == pytest.approx(85, abs=0.01)
    assert first["due_at"] == "2026-03-03T09:30:00+08:00"


def test_lateness_that_cannot_be_avoided_is_flagged_and_kept_small(desk: Desk, clock: ManualClock) -> None:
    """rule PLN-2: when not every deadline can be met, as few as possible are missed, each flagged with how late."""
    clock.set(SHANGHAI_MORNING)
    tech = desk.technician(position=ZHENGZHOU)
    first = job_for(desk, tech, 30, 0, reported_hours_ago=23.5, now=clock.now())  # due 08:30, 30 min away
    second = job_for(desk, tech, 30, 180, reported_hours_ago=23, now=clock.now())  # due 09:00, 60 km from the first
    route = route_of(desk.as_technician(tech))
    assert stop_jobs(route) == [first["id"], second["id"]]
    assert [(s["late"], s["minutes_late"]) for s in route["stops"]] == [(False, 0), (True, 150)]
    # The other order would be late at the first job instead, by 180 minutes.
    assert route["missed_deadlines"] == 1 and route["total_minutes_late"] == 150


def test_a_job_under_way_stays_first_and_the_rest_follow_it(desk: Desk, clock: ManualClock) -> None:
    """rule PLN-2: the job the technician is on site at is not moved; the day goes on from its site when its visit
    (counted from the arrival, JOB-2) is over."""
    clock.set(SHANGHAI_MORNING)
    tech = desk.technician(position=ZHENGZHOU)
    app = desk.as_technician(tech)
    current = job_for(desk, tech, 10, now=clock.now())
    urgent = job_for(desk, tech, 10, 270, reported_hours_ago=23, now=clock.now())  # due 09:00, 20 km away
    for action, body in (("accept", {}), ("arrive", {"position": {"latitude": ZHENGZHOU[0],
                                                                   "longitude": ZHENGZHOU[1]}})):
        assert app.post(f"/api/v1/jobs/{current['id']}/{action}", json=body).status_code == 200
    clock.advance(minutes=30)
    route = route_of(app)
    assert stop_jobs(route) == [current["id"], urgent["id"]]
    assert [(s["status"], s["arrival"], s["departure"]) for s in route["stops"]][0] == (
        "on_site", "2026-03-03T08:00:00+08:00", "2026-03-03T10:00:00+08:00")
    assert route["stops"][1]["late"] is True and route["missed_deadlines"] == 1


def test_the_route_starts_now_when_later_than_the_shift_and_what_does_not_fit_is_listed(
        desk: Desk, clock: ManualClock) -> None:
    """rule PLN-2: within the working hours. START is 16:00 in Shanghai: the day starts now, and of two 2-hour jobs
    in a shift ending 20:00 only one fits."""
    tech = desk.technician(position=ZHENGZHOU)
    jobs = [job_for(desk, tech, km, now=clock.now()) for km in (5, 6)]
    shift = desk.admin.get(f"/api/v1/technicians/{tech['id']}")
    assert (shift.get_json()["shift_start"], shift.get_json()["shift_end"]) == ("08:00:00", "18:00:00")
    changed = desk.admin.patch(f"/api/v1/technicians/{tech['id']}", json={"shift_end": "20:00"},
                               headers={"If-Match": shift.headers["ETag"]})
    assert changed.status_code == 200, changed.get_json()
    route = route_of(desk.as_technician(tech))
    assert route["date"] == "2026-03-02" and route["timezone"] == "Asia/Shanghai"
    assert route["shift_start"] == "2026-03-02T08:00:00+08:00" and route["shift_end"] == "2026-03-02T20:00:00+08:00"
    assert route["starts_at"] == "2026-03-02T16:00:00+08:00"
    assert stop_jobs(route) == [jobs[0]["id"]]
    assert route["stops"][0]["arrival"] == "2026-03-02T16:05:00+08:00"
    assert [(j["job_id"], j["reason"], j["misses_deadline"]) for j in route["not_scheduled"]] == [
        (jobs[1]["id"], "does not fit in the shift", False)]
    # Tomorrow both fit, from the home station, from 08:00.
    tomorrow = route_of(desk.as_technician(tech), date="2026-03-03")
    assert tomorrow["starts_at"] == "2026-03-03T08:00:00+08:00" and tomorrow["start_source"] == "home_station"
    assert sorted(stop_jobs(tomorrow)) == sorted(j["id"] for j in jobs) and tomorrow["not_scheduled"] == []
    # After the shift ends the working day is the next one.
    clock.set(datetime(2026, 3, 2, 12, 30, tzinfo=UTC))  # 20:30 in Shanghai
    assert route_of(desk.as_technician(tech))["date"] == "2026-03-03"


def test_a_day_of_more_stops_than_are_solved_exactly_orders_the_most_urgent_and_keeps_the_rest_that_fit(
        desk: Desk, clock: ManualClock, app: Any) -> None:
    """rule PLN-2: 14 visits. The 12 with the earliest deadlines are ordered exactly; of the two due tomorrow, the
    15-minute one follows them (it fits in the day, so it is not left out), the 9-hour one does not fit."""
    clock.set(SHANGHAI_MORNING)
    onsite = app.extensions["onsite"]
    onsite.settings = replace(onsite.settings, visit_hours=0.25, visit_hours_by_fault="chassis_engine=9")
    tech = desk.technician(position=ZHENGZHOU)
    relaxed = job_for(desk, tech, 3, 0, now=clock.now())  # reported now: due tomorrow morning
    long = job_for(desk, tech, 3, 0, now=clock.now(), fault_category="chassis_engine")
    urgent = [job_for(desk, tech, 3 + i, 30 * i, reported_hours_ago=14, now=clock.now()) for i in range(12)]
    route = route_of(desk.as_technician(tech))
    assert sorted(stop_jobs(route)[:12]) == sorted(j["id"] for j in urgent)
    assert stop_jobs(route)[12:] == [relaxed["id"]] and route["stops"][12]["late"] is False
    assert [(j["job_id"], j["reason"], j["misses_deadline"]) for j in route["not_scheduled"]] == [
        (long["id"], "does not fit in the shift", False)]


def test_a_station_in_another_time_zone_plans_in_its_own_local_day(desk: Desk, clock: ManualClock) -> None:
    """rule PLN-2: the date and the shift are the home station's, here New York's (UTC-5, UTC-4 from 8 March)."""
    new_york = (40.7128, -74.0060)
    station = factories.station(desk.admin, code="NYC", latitude=new_york[0], longitude=new_york[1],
                                timezone="America/New_York")
    tech = desk.technician(station=station)
    job = job_for(desk, tech, 30, 0, origin=new_york, now=clock.now())
    # START is 03:00 in New York: the working day is 2 March, from 08:00 local, 13:00 UTC.
    route = route_of(desk.as_technician(tech))
    assert (route["date"], route["timezone"]) == ("2026-03-02", "America/New_York")
    assert route["starts_at"] == "2026-03-02T08:00:00-05:00"
    assert [(s["job_id"], s["arrival"]) for s in route["stops"]] == [(job["id"], "2026-03-02T08:30:00-05:00")]
    assert route_of(desk.as_technician(tech), date="2026-03-09")["shift_start"] == "2026-03-09T08:00:00-04:00"


def test_a_day_across_a_daylight_saving_change_counts_real_hours(desk: Desk, clock: ManualClock) -> None:
    """rule PLN-2: New York springs forward at 02:00 on 8 March 2026, so a 01:00-07:30 shift lasts 5.5 hours. Half an
    hour's drive from 01:00 EST arrives at 01:30 EST; two hours on site end at 04:30 EDT; a second visit at the same
    site ends at 06:30 EDT, and a third (to 08:30 EDT) does not fit. Minutes late are real minutes too."""
    new_york = (40.7128, -74.0060)
    station = factories.station(desk.admin, code="NYC", latitude=new_york[0], longitude=new_york[1],
                                timezone="America/New_York")
    tech = desk.technician(station=station, shift_start="01:00", shift_end="07:30")
    # Reported now, 08:00 UTC on 2 March: due at 08:00 UTC on 3 March (03:00 EST).
    first, second, third = (job_for(desk, tech, 30, 0, origin=new_york, now=clock.now()) for _ in range(3))
    route = route_of(desk.as_technician(tech), date="2026-03-08")
    assert (route["starts_at"], route["shift_end"]) == ("2026-03-08T01:00:00-05:00", "2026-03-08T07:30:00-04:00")
    assert [(s["job_id"], s["arrival"], s["departure"], s["visit_minutes"], s["minutes_late"])
            for s in route["stops"]] == [
        (first["id"], "2026-03-08T01:30:00-05:00", "2026-03-08T04:30:00-04:00", 120, 7110),
        (second["id"], "2026-03-08T04:30:00-04:00", "2026-03-08T06:30:00-04:00", 120, 7230)]
    assert [(j["job_id"], j["reason"]) for j in route["not_scheduled"]] == [(third["id"], "does not fit in the shift")]


def test_lateness_is_judged_in_real_time_when_clocks_fall_back(desk: Desk, clock: ManualClock) -> None:
    """rule PLN-2: New York falls back at 02:00 EDT on 1 November 2026 to 01:00 EST. A job due at 01:45 EDT and reached
    at 01:30 EST (45 minutes later) is late, though 01:30 reads earlier on the wall."""
    new_york = (40.7128, -74.0060)
    station = factories.station(desk.admin, code="NYC", latitude=new_york[0], longitude=new_york[1],
                                timezone="America/New_York")
    tech = desk.technician(station=station, shift_start="01:00")
    clock.set(datetime(2026, 10, 31, 6, 0, tzinfo=UTC))
    # Reported 05:45 UTC on 31 October: due 05:45 UTC on 1 November, 01:45 EDT. The shift starts at the first 01:00
    # (EDT, 05:00 UTC); 90 km away is reached at 06:30 UTC, the second 01:30 (EST).
    job = job_for(desk, tech, 90, 0, origin=new_york, reported_hours_ago=0.25, now=clock.now())
    route = route_of(desk.as_technician(tech), date="2026-11-01")
    assert route["starts_at"] == "2026-11-01T01:00:00-04:00"
    [stop] = route["stops"]
    assert (stop["job_id"], stop["due_at"], stop["arrival"]) == (
        job["id"], "2026-11-01T01:45:00-04:00", "2026-11-01T01:30:00-05:00")
    assert (stop["late"], stop["minutes_late"]) == (True, 45)


def test_time_on_site_is_configured_per_fault_category(desk: Desk, clock: ManualClock, app: Any) -> None:
    """ONSITE_VISIT_HOURS for every visit, ONSITE_VISIT_HOURS_BY_FAULT where a fault category differs."""
    clock.set(SHANGHAI_MORNING)
    onsite = app.extensions["onsite"]
    onsite.settings = replace(onsite.settings, visit_hours=1.5, visit_hours_by_fault="chassis_engine=4")
    tech = desk.technician(position=ZHENGZHOU)
    engine = job_for(desk, tech, 10, now=clock.now(), fault_category="chassis_engine")
    body = job_for(desk, tech, 10, 180, now=clock.now())
    minutes = {s["job_id"]: s["visit_minutes"] for s in route_of(desk.as_technician(tech))["stops"]}
    assert minutes == {engine["id"]: 240, body["id"]: 90}


def test_the_office_sees_routes_of_its_stations_only_and_not_other_stations_jobs(
        desk: Desk, clock: ManualClock, make_user: Any, login: Any) -> None:
    """rule SCP-1: a dispatcher of another station does not find the technician; one of the technician's station
    sees the stop of another station's job only as busy time."""
    clock.set(SHANGHAI_MORNING)
    other = factories.station(desk.admin, code="LY", latitude=34.6197, longitude=112.4540)
    tech = desk.technician(position=ZHENGZHOU)
    home_job = job_for(desk, tech, 5, now=clock.now())
    away_job = job_for(desk, tech, 120, 270, now=clock.now())  # nearest station: the other one
    url = f"/api/v1/technicians/{tech['id']}/route"
    assert desk.admin.get(f"/api/v1/service-requests/{away_job['service_request_id']}").get_json()[
        "nearest_station"]["id"] == other["id"]

    company = route_of(desk.dispatcher, url)
    assert sorted(stop_jobs(company)) == sorted([home_job["id"], away_job["id"]])
    theirs = route_of(login(make_user("dispatcher", station_ids=[desk.station["id"]])), url)
    assert sorted(stop_jobs(theirs), key=str) == sorted([home_job["id"], None], key=str)
    hidden = next(s for s in theirs["stops"] if s["job_id"] is None)
    assert hidden["service_request_number"] is None and hidden["site_latitude"] is None and hidden["arrival"]
    elsewhere = login(make_user("supervisor", station_ids=[other["id"]])).get(url)
    assert elsewhere.status_code == 404
    assert desk.dispatcher.get("/api/v1/technicians/999999/route").status_code == 404


def test_a_bad_date_is_refused_naming_the_field(desk: Desk) -> None:
    tech = desk.technician()
    for bad in ("2026-02-30", "tomorrow", "2026-03-02T08:00:00+08:00"):
        response = desk.as_technician(tech).get("/api/v1/me/route", query_string={"date": bad})
        assert response.status_code == 422, (bad, response.get_json())
        assert response.get_json()["errors"][0]["field"] == "date"


def test_a_date_outside_the_calendar_python_can_convert_is_refused_naming_the_field(desk: Desk) -> None:
    """A valid ISO date whose shift has no UTC form (midnight of 1 January of year 1 east of Greenwich, the evening
    of 31 December 9999 west of it), or no RFC 3339 form (1900 in Shanghai kept local mean time, +08:05:43), is bad
    input, not a server error nor an answer the spec cannot describe."""
    east = desk.technician(shift_start="00:00")
    new_york = factories.station(desk.admin, code="NYC", latitude=40.7128, longitude=-74.0060,
                                 timezone="America/New_York")
    west = desk.technician(station=new_york, shift_end="23:30")
    for tech, bad in ((east, "0001-01-01"), (west, "9999-12-31"), (east, "1900-06-01")):
        for api, url in ((desk.as_technician(tech), "/api/v1/me/route"),
                         (desk.dispatcher, f"/api/v1/technicians/{tech['id']}/route")):
            response = api.get(url, query_string={"date": bad})
            assert response.status_code == 422, (url, bad, response.get_json())
            assert response.get_json()["errors"][0]["field"] == "date"


def test_a_shift_is_a_local_time_without_an_offset(desk: Desk) -> None:
    """The shift is read in the home station's time zone: a time with its own offset is refused, not a 500."""
    tech = desk.technician()
    url = f"/api/v1/technicians/{tech['id']}"
    for field, value in (("shift_end", "20:00+02:00"), ("shift_start", "07:00Z"), ("shift_start", "7 am"),
                         ("shift_end", "")):
        response = desk.admin.patch(url, json={field: value}, headers={"If-Match": desk.admin.get(url)
                                                                       .headers["ETag"]})
        assert response.status_code == 422, (field, response.get_json())
        assert response.get_json()["errors"][0]["field"] == field
    created = desk.admin.post("/api/v1/technicians", json={
        "user_id": desk.make_user("technician").id, "home_station_id": desk.station["id"], "shift_start": "08:00+08:00"})
    assert created.status_code == 422 and created.get_json()["errors"][0]["field"] == "shift_start"
    assert (desk.admin.get(url).get_json()["shift_start"], desk.admin.get(url).get_json()["shift_end"]) == (
        "08:00:00", "18:00:00")


def test_a_shift_must_end_after_it_starts(desk: Desk) -> None:
    tech = desk.technician()
    url = f"/api/v1/technicians/{tech['id']}"
    response = desk.admin.patch(url, json={"shift_end": "07:00"}, headers={"If-Match": desk.admin.get(url)
                                                                           .headers["ETag"]})
    assert response.status_code == 422 and response.get_json()["errors"][0]["field"] == "shift_end"
    assert desk.admin.get(url).get_json()["shift_end"] == "18:00:00"


def test_a_technician_account_without_a_profile_has_no_route(login: Any, make_user: Any) -> None:
    assert login(make_user("technician")).get("/api/v1/me/route").status_code == 404


def test_sync_carries_the_route_resequenced_when_a_job_is_added_or_declined(desk: Desk, clock: ManualClock) -> None:
    """The app learns of the new order through /me/jobs, in the same answer as the job that changed it."""
    clock.set(SHANGHAI_MORNING)
    tech = desk.technician(position=ZHENGZHOU)
    app = desk.as_technician(tech)
    near = job_for(desk, tech, 5, now=clock.now())
    synced = app.get("/api/v1/me/jobs").get_json()
    assert stop_jobs(synced["route"]) == [near["id"]]

    clock.advance(minutes=5)  # beyond the sync's overlap, so each answer holds only what changed since
    urgent = job_for(desk, tech, 40, 270, reported_hours_ago=22.5, now=clock.now())
    added = app.get("/api/v1/me/jobs", query_string={"since": synced["next_cursor"]}).get_json()
    assert urgent["id"] in [j["id"] for j in added["jobs"]]
    assert stop_jobs(added["route"]) == [urgent["id"], near["id"]]

    clock.advance(minutes=5)
    declined = app.post(f"/api/v1/jobs/{urgent['id']}/decline", json={"reason": "van broke down"})
    assert declined.status_code == 200, declined.get_json()
    after = app.get("/api/v1/me/jobs", query_string={"since": added["next_cursor"]}).get_json()
    assert [(j["id"], j["status"]) for j in after["jobs"]] == [(urgent["id"], "declined")]
    assert stop_jobs(after["route"]) == [near["id"]]
    assert after["route"] == route_of(app)


# --- the solver itself: exact against brute force ----------------------------------------------------------------

def _simulate(order: tuple[int, ...], stops: list[Stop], seconds: list[list[int]], metres: list[list[int]],
              horizon: int) -> tuple[int, int, int, int] | None:
    """The objective of visiting exactly these stops in this order (None: some stop does not fit)."""
    clock = late = lateness = travelled = 0
    here = 0
    for index in order:
        arrival = clock + seconds[here][index + 1]
        clock = arrival + stops[index].duration_s
        if clock > horizon:
            return None
        due = stops[index].due_s
        if due is not None and arrival > due:
            late, lateness = late + 1, lateness + arrival - due
        travelled += metres[here][index + 1]
        here = index + 1
    left = [i for i in range(len(stops)) if i not in order]
    missed = late + sum(1 for i in left if stops[i].due_s is not None and stops[i].due_s <= horizon)
    return missed, len(left), lateness, travelled


def _random_day(rng: random.Random, n: int) -> tuple[list[Stop], list[list[int]], list[list[int]], int]:
    points = [(rng.uniform(0, 60), rng.uniform(0, 60)) for _ in range(n + 1)]
    metres = [[round(((a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2) ** 0.5 * 1000) for b in points] for a in points]
    seconds = [[round(m * 60 / 1000) for m in row] for row in metres]  # 60 km/h
    stops = [Stop(rng.choice([1800, 3600, 7200]), rng.choice([None, rng.randint(-3600, 30000)]))
             for _ in range(n)]
    return stops, seconds, metres, rng.choice([14400, 36000])


@pytest.mark.parametrize("seed", range(4))
def test_the_solver_is_exact_against_brute_force_on_small_days(seed: int) -> None:
    """rule PLN-2: every subset and order of up to 6 stops is tried; the solver's route is as good as the best."""
    rng = random.Random(seed)
    for _ in range(40):
        stops, seconds, metres, horizon = _random_day(rng, rng.randint(0, 6))
        best = min(key for k in range(len(stops) + 1) for order in itertools.permutations(range(len(stops)), k)
                   if (key := _simulate(order, stops, seconds, metres, horizon)) is not None)
        route = solve(stops, seconds, metres, horizon)
        assert _simulate(route.order, stops, seconds, metres, horizon) == route.objective == best
        assert sorted(route.order + route.left_out) == list(range(len(stops)))


@pytest.mark.parametrize("value", ["engine=4", "body=0", "body=-1", "body=inf", "body", "body=two"])
def test_a_bad_time_on_site_per_fault_category_stops_the_server_from_starting(value: str) -> None:
    with pytest.raises(ConfigurationError, match="ONSITE_VISIT_HOURS_BY_FAULT"):
        Settings.from_env({"ONSITE_VISIT_HOURS_BY_FAULT": value})
