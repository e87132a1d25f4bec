"""Dispatch plans: many requests assigned jointly (PLN-1), within DSP-6 eligibility and a job limit, explained,
compared with one-by-one dispatch, and committed through dispatch (DSP-8) only if nothing they relied on changed."""

from __future__ import annotations

import itertools
import random
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

from geopy.distance import geodesic

from backend.planning.plans.solver import PlanRequest, PlanTechnician, Problem, solve
from tests import factories
from tests.conftest import PASSWORD, START
from tests.test_concurrent_writes import race
from tests.test_dispatch_support import ZHENGZHOU, Desk, desk, etag, quick_passwords, settings, site  # noqa: F401

PLANS = "/api/v1/dispatch-plans"


def _plan(desk: Desk, **body: Any) -> Any:
    return desk.dispatcher.post(PLANS, json=body)


def _created(desk: Desk, **body: Any) -> tuple[dict[str, Any], dict[str, str]]:
    response = _plan(desk, **body)
    assert response.status_code == 201, response.get_json()
    return response.get_json(), etag(response)


def _by_request(plan: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {a["service_request_id"]: a for a in plan["assignments"]}


def _crew(assignment: dict[str, Any]) -> list[int]:
    return [m["technician_id"] for m in assignment["crew"]]


def _jobs_of(desk: Desk, request_id: int) -> list[dict[str, Any]]:
    return desk.dispatcher.get(f"/api/v1/jobs?service_request_id={request_id}").get_json()


def _greedy_trap(desk: Desk) -> dict[str, Any]:
    """Two technicians, two requests, one job each. Board order puts A first (due sooner); one by one, A takes X,
    its nearest, and B is left with Y, who cannot reach it in time. Jointly, Y takes A and X takes B: both on time."""
    x = desk.technician(position=ZHENGZHOU, name="Xu Ming")
    y_at = site(100, 90)
    y = desk.technician(position=(y_at["site_latitude"], y_at["site_longitude"]), name="Yang Li")
    # A: 40 km east, on-site tier, due 3 h from now (reported 21 h ago, DSP-1).
    a = desk.register(km=40, reported_at=(START - timedelta(hours=21)).isoformat())
    # B: 200 km west, reply tier; the reply agrees an on-site time 4 h from now (DSP-2).
    b = desk.register(km=200, bearing=270)
    reply = desk.dispatcher.post(f"/api/v1/service-requests/{b['id']}/replies",
                                 json={"content": "A technician will be there by noon",
                                       "agreed_on_site_at": (START + timedelta(hours=4)).isoformat()})
    assert reply.status_code == 200, reply.get_json()
    return {"x": x, "y": y, "a": a, "b": b}


# --- the plan ----------------------------------------------------------------------------------------------------

def test_plan_meets_a_deadline_that_one_by_one_dispatch_misses(desk: Desk) -> None:
    """PLN-1: fewest missed deadlines first; the greedy baseline is shown beside it under stable names."""
    t = _greedy_trap(desk)
    plan, _ = _created(desk, max_jobs_per_technician=1)
    assert plan["status"] == "proposed" and plan["unassigned"] == []
    by_request = _by_request(plan)
    assert _crew(by_request[t["a"]["id"]]) == [t["y"]["id"]]
    assert _crew(by_request[t["b"]["id"]]) == [t["x"]["id"]]
    assert all(a["deadline_met"] is True for a in plan["assignments"])
    assert by_request[t["a"]["id"]]["greedy_technician_ids"] == [t["x"]["id"]]
    assert by_request[t["b"]["id"]]["greedy_technician_ids"] == [t["y"]["id"]]
    assert plan["objective"]["plan"] == {"missed_deadlines": 0, "total_lateness_minutes": 0.0,
                                         "total_travel_km": 260.0, "assigned": 2, "unassigned": 0}
    greedy = plan["objective"]["greedy"]
    assert (greedy["missed_deadlines"], greedy["total_lateness_minutes"], greedy["total_travel_km"]) == (1, 60.0, 340.0)
    # Each assignment says why: A's nearer technician is planned for B.
    assert f"nearer: technician {t['x']['id']}" in by_request[t["a"]["id"]]["reason"]
    assert t["b"]["number"] in by_request[t["a"]["id"]]["reason"]
    # Distance and ETA as the candidates list reckons them (DSP-6): now + distance / speed.
    member = by_request[t["b"]["id"]]["crew"][0]
    assert member["distance_km"] == 200.0 and member["eta"] == (START + timedelta(hours=200 / 60)).isoformat()
    fetched = desk.dispatcher.get(f"{PLANS}/{plan['id']}")
    assert fetched.status_code == 200 and fetched.get_json() == plan


def test_no_technician_is_planned_past_the_job_limit_counting_open_jobs(desk: Desk) -> None:
    """PLN-1: max_jobs_per_technician (default 3) includes the jobs a technician already has."""
    x = desk.technician(position=ZHENGZHOU)
    far = site(80, 90)
    y = desk.technician(position=(far["site_latitude"], far["site_longitude"]))
    for km in (5, 6):
        response = desk.dispatch(desk.register(km=km, bearing=270)["id"], technician_ids=[x["id"]])
        assert response.status_code == 201
    new = [desk.register(km=km, bearing=270)["id"] for km in (10, 12, 14)]
    plan, _ = _created(desk, service_request_ids=new)
    crews = [_crew(a) for a in plan["assignments"]]
    assert crews.count([x["id"]]) == 1 and crews.count([y["id"]]) == 2
    assert plan["max_jobs_per_technician"] == 3
    roomier, _ = _created(desk, service_request_ids=new, max_jobs_per_technician=5)
    assert [_crew(a) for a in roomier["assignments"]] == [[x["id"]]] * 3
    # The greedy baseline keeps the same limit.
    assert [a["greedy_technician_ids"] for a in plan["assignments"]].count([x["id"]]) == 1


def test_skills_and_barred_stations_are_respected(desk: Desk) -> None:
    """DSP-6 (skill) and DSP-10 (a barred station gets no work), through the candidates' own rules."""
    barred = factories.station(desk.admin, may_receive_work=False, barred_reason="sanction 2026-02",
                               latitude=ZHENGZHOU[0], longitude=ZHENGZHOU[1])
    near_site = site(9, 270)
    desk.technician(position=(near_site["site_latitude"], near_site["site_longitude"]), station=barred,
                    skills=["body", "electrical"])
    plain = desk.technician(position=site_point(5, 270))
    skilled = desk.technician(position=site_point(60, 90), skills=["body", "electrical"])
    wiring = desk.register(km=10, bearing=270, required_skill="electrical")
    door = desk.register(km=10, bearing=270)
    plan, _ = _created(desk)
    by_request = _by_request(plan)
    assert _crew(by_request[wiring["id"]]) == [skilled["id"]]
    assert _crew(by_request[door["id"]]) == [plain["id"]]
    lonely = desk.register(km=10, bearing=270, required_skill="hydraulics")
    plan, _ = _created(desk, service_request_ids=[lonely["id"]])
    assert plan["assignments"] == []
    assert plan["unassigned"][0]["reason"].startswith("no eligible technician (DSP-6)")
    assert plan["objective"]["plan"]["missed_deadlines"] == 1  # left unassigned counts as missed


def site_point(km: float, bearing: float) -> tuple[float, float]:
    point = site(km, bearing)
    return point["site_latitude"], point["site_longitude"]


def test_a_crew_of_two_gets_two_technicians_led_by_the_nearer(desk: Desk) -> None:
    """DSP-7 within PLN-1; the commit creates the crew with that lead."""
    near = desk.technician(position=site_point(5, 270))
    second = desk.technician(position=site_point(30, 90))
    desk.technician(position=site_point(150, 90))
    request = desk.register(km=10, bearing=270)
    plan, tag = _created(desk, crews_of_two=[request["id"]])
    (assignment,) = plan["assignments"]
    assert _crew(assignment) == [near["id"], second["id"]]
    assert assignment["lead_technician_id"] == near["id"] and assignment["crew"][0]["is_lead"] is True
    assert assignment["distance_km"] == round(sum(m["distance_km"] for m in assignment["crew"]), 3)
    committed = desk.dispatcher.post(f"{PLANS}/{plan['id']}/commit", json={}, headers=tag)
    assert committed.status_code == 200, committed.get_json()
    job = desk.dispatcher.get(f"/api/v1/jobs/{committed.get_json()['assignments'][0]['job_id']}").get_json()
    assert job["lead_technician_id"] == near["id"] and len(job["crew"]) == 2


def test_a_crew_left_out_weighs_one_missed_deadline_not_two() -> None:
    """PLN-1: two technicians with room for one job each; a crew of two nearby, or two single requests farther
    off. Serving the crew leaves two requests unassigned (two misses); serving the singles leaves one (the crew)."""
    due = START + timedelta(hours=8)
    reqs = [PlanRequest(1, "S1", 30.045, 113.0, due, None), PlanRequest(2, "S2", 29.955, 113.0, due, None),
            PlanRequest(3, "C", 30.009, 113.0, due, None, crew_size=2)]
    techs = [PlanTechnician(10, "X", 30.0, 113.0, 0), PlanTechnician(11, "Y", 30.0, 113.0, 0)]
    result = solve(Problem(reqs, techs, {None: [10, 11]}, START, 60.0, 1))
    assert sorted(result.plan.assignments) == [1, 2] and list(result.plan.unassigned) == [3]
    assert result.plan.objective.missed_deadlines == 1 <= result.greedy.objective.missed_deadlines


def test_crews_the_flow_would_half_staff_are_never_planned_worse_than_one_by_one() -> None:
    """PLN-1: three technicians with room for one job each and three crews of two, two of them due within the
    hour. The flow spreads the technicians one per crew, and a half-staffed crew is left out; one by one, the first
    crew gets two and is served: so is it in the plan."""
    techs = [PlanTechnician(1, "T1", 33.88, 113.19, 2), PlanTechnician(2, "T2", 34.2, 112.65, 2),
             PlanTechnician(3, "T3", 34.27, 113.09, 2)]
    reqs = [PlanRequest(100, "SR0", 33.66, 113.04, None, None, crew_size=2),
            PlanRequest(101, "SR1", 33.75, 112.97, START + timedelta(minutes=27), None, crew_size=2),
            PlanRequest(102, "SR2", 34.34, 113.4, START + timedelta(minutes=36), None, crew_size=2)]
    result = solve(Problem(reqs, techs, {None: [1, 2, 3]}, START, 60.0, 3))
    assert result.plan.objective.missed_deadlines == result.greedy.objective.missed_deadlines == 2
    assert list(result.plan.assignments) == [100] and len(result.plan.assignments[100].crew) == 2


# --- committing --------------------------------------------------------------------------------------------------

def test_commit_creates_the_jobs_each_recording_the_plan(desk: Desk) -> None:
    """PLN-1, DSP-8: one transaction, through dispatch; each decision names the plan and why."""
    t = _greedy_trap(desk)
    plan, tag = _created(desk, max_jobs_per_technician=1)
    response = desk.dispatcher.post(f"{PLANS}/{plan['id']}/commit", json={}, headers=tag)
    assert response.status_code == 200, response.get_json()
    committed = response.get_json()
    assert committed["status"] == "committed" and committed["committed_at"] == START.isoformat()
    for assignment in committed["assignments"]:
        assert assignment["outcome"] == "committed"
        job = desk.dispatcher.get(f"/api/v1/jobs/{assignment['job_id']}").get_json()
        assert job["service_request_id"] == assignment["service_request_id"]
        assert [m["technician_id"] for m in job["crew"]] == _crew(assignment)
        decision = desk.dispatcher.get(f"/api/v1/jobs/{assignment['job_id']}/dispatch-decision").get_json()
        assert decision["reason"].startswith(f"dispatch plan {plan['id']}: ")
        assert decision["crew"][0]["technician_id"] == _crew(assignment)[0]
    assert desk.dispatcher.get(f"/api/v1/service-requests/{t['a']['id']}").get_json()["status"] == "in_progress"
    again = desk.dispatcher.post(f"{PLANS}/{plan['id']}/commit", json={}, headers=etag(response))
    assert again.status_code == 409 and "already committed" in again.get_json()["detail"]


def test_commit_needs_the_plans_current_etag(desk: Desk) -> None:
    _greedy_trap(desk)
    plan, tag = _created(desk, max_jobs_per_technician=1)
    url = f"{PLANS}/{plan['id']}/commit"
    assert desk.dispatcher.post(url, json={}).status_code == 428
    stale = desk.dispatcher.post(url, json={}, headers={"If-Match": '"999"'})
    assert stale.status_code == 412 and stale.get_json()["current_etag"] == tag["If-Match"]


def test_commit_is_refused_naming_a_request_dispatched_meanwhile_and_creates_nothing(desk: Desk) -> None:
    """PLN-1: nothing is created when what the plan relied on changed."""
    t = _greedy_trap(desk)
    plan, tag = _created(desk, max_jobs_per_technician=1)
    assert desk.dispatch(t["a"]["id"]).status_code == 201
    refused = desk.dispatcher.post(f"{PLANS}/{plan['id']}/commit", json={}, headers=tag)
    assert refused.status_code == 409
    body = refused.get_json()
    assert f"request {t['a']['number']} is in_progress now (dispatched meanwhile as job" in body["detail"]
    # That dispatch went to X, its top candidate, whom the plan keeps for B: X is busier too.
    assert body["changes"][1:] == [f"technician {t['x']['id']} (Xu Ming) has 1 open jobs now, 0 when planned"]
    assert _jobs_of(desk, t["b"]["id"]) == []
    assert desk.dispatcher.get(f"{PLANS}/{plan['id']}").get_json()["status"] == "proposed"


def test_commit_is_refused_when_a_technician_went_off_shift_or_got_busier(desk: Desk) -> None:
    t = _greedy_trap(desk)
    plan, tag = _created(desk, max_jobs_per_technician=1)
    x = desk.admin.get(f"/api/v1/technicians/{t['x']['id']}")
    assert desk.admin.patch(f"/api/v1/technicians/{t['x']['id']}", json={"on_shift": False},
                            headers=etag(x)).status_code == 200
    other = desk.register(km=30)
    assert desk.dispatch(other["id"], technician_ids=[t["y"]["id"]], reason="Customer asked for Yang").status_code \
        == 201
    refused = desk.dispatcher.post(f"{PLANS}/{plan['id']}/commit", json={}, headers=tag)
    assert refused.status_code == 409
    changes = refused.get_json()["changes"]
    assert changes[0] == f"request {t['b']['number']}: not eligible (DSP-6): technician {t['x']['id']} is not on shift"
    assert f"technician {t['y']['id']} (Yang Li) has 1 open jobs now, 0 when planned" in changes
    assert _jobs_of(desk, t["a"]["id"]) == [] and _jobs_of(desk, t["b"]["id"]) == []


def test_the_dispatcher_may_drop_or_swap_before_committing_a_swap_needs_a_reason(desk: Desk) -> None:
    """A swap away from the plan needs a reason, as an override does (DSP-8); a dropped request stays open."""
    t = _greedy_trap(desk)
    z = desk.technician(position=site_point(150, 0), name="Zhao Lei")
    plan, tag = _created(desk, max_jobs_per_technician=1)
    url = f"{PLANS}/{plan['id']}/commit"
    a = next(x for x in plan["assignments"] if x["service_request_id"] == t["a"]["id"])
    unexplained = desk.dispatcher.post(url, json={"swaps": [{"service_request_id": t["a"]["id"],
                                                             "technician_ids": [t["y"]["id"]]}]}, headers=tag)
    assert unexplained.status_code == 422
    assert [e["field"] for e in unexplained.get_json()["errors"]] == ["swaps.0.reason"]
    swap = {"service_request_id": t["b"]["id"], "technician_ids": [z["id"]], "reason": "Zhao knows this depot"}
    response = desk.dispatcher.post(url, json={"drop": [t["a"]["id"]], "swaps": [swap]}, headers=tag)
    assert response.status_code == 200, response.get_json()
    by_request = _by_request(response.get_json())
    assert by_request[t["a"]["id"]]["outcome"] == "dropped" and by_request[t["a"]["id"]]["job_id"] is None
    assert _crew(a) == [t["y"]["id"]]
    swapped = by_request[t["b"]["id"]]
    assert swapped["outcome"] == "swapped" and swapped["swap_reason"] == "Zhao knows this depot"
    decision = desk.dispatcher.get(f"/api/v1/jobs/{swapped['job_id']}/dispatch-decision").get_json()
    assert decision["crew"][0]["technician_id"] == z["id"]
    assert decision["reason"] == (f"dispatch plan {plan['id']}, swapped from technician {t['x']['id']}: "
                                  "Zhao knows this depot")
    assert desk.dispatcher.get(f"/api/v1/service-requests/{t['a']['id']}").get_json()["status"] == "registered"


def test_a_swap_must_stay_eligible_and_within_the_limit(desk: Desk) -> None:
    t = _greedy_trap(desk)
    plan, tag = _created(desk, max_jobs_per_technician=1)
    url = f"{PLANS}/{plan['id']}/commit"
    # Y is planned for A already: B swapped to Y would give Y two jobs.
    over = desk.dispatcher.post(url, json={"swaps": [{"service_request_id": t["b"]["id"],
                                                      "technician_ids": [t["y"]["id"]], "reason": "Closer road"}]},
                                headers=tag)
    assert over.status_code == 422
    assert over.get_json()["errors"][0]["field"] == "swaps.0.technician_ids"
    assert "over the plan's limit of 1" in over.get_json()["detail"]
    unknown = desk.dispatcher.post(url, json={"drop": [999_999]}, headers=tag)
    assert unknown.status_code == 422 and unknown.get_json()["errors"][0]["field"] == "drop"
    assert _jobs_of(desk, t["a"]["id"]) == [] and _jobs_of(desk, t["b"]["id"]) == []


def test_commit_racing_a_dispatch_of_one_of_its_requests_creates_one_job_per_request(desk: Desk) -> None:
    """Real concurrency on PostgreSQL (each thread its own connection): the plan's commit and a one-by-one dispatch
    of one of its requests cross. Either the dispatch wins and the commit is refused naming that request, with
    nothing created; or the commit wins and the dispatch gets 409."""
    desk.technician(position=ZHENGZHOU)
    desk.technician(position=site_point(30, 90))
    app = desk.admin.client.application
    for _ in range(5):
        first, second = desk.register(km=10), desk.register(km=20)
        plan, tag = _created(desk, service_request_ids=[first["id"], second["id"]])
        commit, direct = race(app, lambda api: api.post(f"{PLANS}/{plan['id']}/commit", json={}, headers=tag),
                              lambda api: api.post(f"/api/v1/service-requests/{first['id']}/dispatch", json={}),
                              as_=[desk.dispatcher, desk.dispatcher])
        assert sorted([commit.status_code, direct.status_code]) in ([200, 409], [201, 409]), (
            commit.get_json(), direct.get_json())
        assert len(_jobs_of(desk, first["id"])) == 1
        if commit.status_code == 409:
            assert f"request {first['number']} is in_progress now" in commit.get_json()["detail"]
            assert _jobs_of(desk, second["id"]) == []
        else:
            assert len(_jobs_of(desk, second["id"])) == 1
        for job in desk.dispatcher.get("/api/v1/jobs?status=assigned").get_json():
            cancelled = desk.dispatcher.post(f"/api/v1/jobs/{job['id']}/cancel", json={"reason": "Next round"})
            assert cancelled.status_code == 200, cancelled.get_json()


# --- input -------------------------------------------------------------------------------------------------------

def test_bad_input_is_a_problem_naming_the_field(desk: Desk) -> None:
    desk.technician(position=ZHENGZHOU)
    request = desk.register(km=10)
    for body, field in (({"max_jobs_per_technician": 0}, "max_jobs_per_technician"),
                        ({"max_jobs_per_technician": "3"}, "max_jobs_per_technician"),
                        ({"service_request_ids": []}, "service_request_ids"),
                        ({"tier": "urgent"}, "tier"),
                        ({"crews_of_two": [request["id"] + 1000]}, "crews_of_two")):
        response = _plan(desk, **body)
        assert response.status_code == 422, (body, response.get_json())
        assert response.headers["Content-Type"] == "application/problem+json"
        assert [e["field"] for e in response.get_json()["errors"]] == [field], response.get_json()
    assert desk.dispatch(request["id"]).status_code == 201
    taken = _plan(desk, service_request_ids=[request["id"]])
    assert taken.status_code == 422
    assert taken.get_json()["errors"][0]["field"] == "service_request_ids"
    assert f"request {request['number']} is in_progress" in taken.get_json()["detail"]
    nothing = _plan(desk)
    assert nothing.status_code == 409 and "nothing to plan" in nothing.get_json()["detail"]
    assert desk.dispatcher.get(f"{PLANS}/999999").status_code == 404


def test_a_dispatcher_with_stations_plans_and_sees_only_their_own(desk: Desk) -> None:
    """SCP-1: only the user's stations' requests and technicians; another station's plan answers 404."""
    other = factories.station(desk.admin, latitude=31.2304, longitude=121.4737)
    local = desk.technician(position=ZHENGZHOU)
    desk.technician(position=(31.2304, 121.4737), station=other)
    request = desk.register(km=10)
    created = desk.admin.post("/api/v1/users", json={"username": "dispatcher-shanghai", "password": PASSWORD,
                                                     "roles": ["dispatcher"], "station_ids": [other["id"]]})
    assert created.status_code == 201, created.get_json()
    scoped = desk.login(SimpleNamespace(username="dispatcher-shanghai"))
    assert scoped.post(PLANS, json={}).status_code == 409  # none of its requests waits
    plan, _ = _created(desk)
    assert _crew(_by_request(plan)[request["id"]]) == [local["id"]]
    assert scoped.get(f"{PLANS}/{plan['id']}").status_code == 404
    # The list: newest first, without the requests; another station's plans are not in it.
    second, _ = _created(desk)
    listed = desk.dispatcher.get(PLANS)
    assert listed.status_code == 200, listed.get_json()
    assert [p["id"] for p in listed.get_json()] == [second["id"], plan["id"]]
    assert listed.get_json()[0]["objective"] == second["objective"] and "assignments" not in listed.get_json()[0]
    assert scoped.get(PLANS).get_json() == []
    # Its own station's plan it sees; head office sees every plan.
    desk.register(km=10, origin=(31.2304, 121.4737))
    own = scoped.post(PLANS, json={})
    assert own.status_code == 201, own.get_json()
    assert [p["id"] for p in scoped.get(PLANS).get_json()] == [own.get_json()["id"]]
    assert [p["id"] for p in desk.dispatcher.get(PLANS).get_json()] == [own.get_json()["id"], second["id"], plan["id"]]


# --- the solver against brute force ------------------------------------------------------------------------------

def test_the_solver_finds_the_exact_optimum_of_small_days() -> None:
    """PLN-1's order (missed deadlines, then lateness, then travel) checked against every possible assignment on
    random small days; an unassigned request is a miss, and later than any arrival of the day."""
    rng = random.Random(14)
    for _ in range(60):
        techs = [PlanTechnician(i, f"T{i}", 34 + rng.uniform(-0.5, 0.5), 113 + rng.uniform(-0.5, 0.5),
                                rng.randint(0, 2)) for i in range(1, rng.randint(1, 4) + 1)]
        reqs = [PlanRequest(100 + j, f"SR{j}", 34 + rng.uniform(-0.5, 0.5), 113 + rng.uniform(-0.5, 0.5),
                            START + timedelta(minutes=rng.randint(-30, 90)) if rng.random() < 0.8 else None,
                            rng.choice([None, None, "x"])) for j in range(rng.randint(1, 6))]
        problem = Problem(reqs, techs, {None: [t.id for t in techs], "x": [t.id for t in techs if t.id % 2]},
                          START, 60.0, 3)
        result = solve(problem)
        trips = _trips(problem)
        chosen = {r.id: None for r in reqs} | {i: a.crew[0].technician_id for i, a in result.plan.assignments.items()}
        assert _score(problem, trips, chosen) == _brute_force(problem, trips)
        assert result.plan.objective.missed_deadlines <= result.greedy.objective.missed_deadlines


Trips = dict[tuple[int, int], tuple[float, int]]


def _brute_force(problem: Problem, trips: Trips) -> tuple[int, int, float]:
    options = [[None, *problem.eligible[r.required_skill]] for r in problem.requests]
    room = {t.id: problem.max_jobs_per_technician - t.open_jobs for t in problem.technicians}
    best = None
    for combo in itertools.product(*options):
        if any(combo.count(t) > room[t] for t in set(combo) - {None}):
            continue
        score = _score(problem, trips, dict(zip((r.id for r in problem.requests), combo)))
        best = score if best is None or score < best else best
    assert best is not None
    return best


def _score(problem: Problem, trips: Trips, chosen: dict[int, int | None]) -> tuple[int, int, float]:
    # Left unassigned: a miss, and later than any arrival of the day.
    latest = max((minutes for _km, minutes in trips.values()), default=0)
    missed, late, km = 0, 0, 0.0
    for r in problem.requests:
        t = chosen[r.id]
        if t is None:
            missed, late = missed + 1, late + latest + 1
            continue
        d, minutes = trips[r.id, t]
        missed, late, km = missed + (minutes > 0), late + minutes, km + d
    return missed, late, round(km, 3)


def _trips(problem: Problem) -> Trips:
    """(request, technician) -> (km, whole minutes late, rounded up), as the candidates list reckons them (DSP-6)."""
    where = {t.id: (t.latitude, t.longitude) for t in problem.technicians}
    trips = {}
    for r in problem.requests:
        for t in problem.eligible[r.required_skill]:
            d = round(geodesic((r.latitude, r.longitude), where[t]).km, 3)
            eta = problem.now + timedelta(hours=d / problem.travel_speed_kmh)
            over = (eta - r.due_at).total_seconds() if r.due_at is not None and eta > r.due_at else 0
            trips[r.id, t] = (d, -int(-over // 60))
    return trips
