"""Candidates, dispatch and jobs: RULES.md §3 (DSP-6..8, DSP-10)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.audit.models import AuditEntry
from backend.dispatch.models import Job
from tests import factories
from tests.conftest import START, Api
from tests.test_dispatch_support import ZHENGZHOU, Desk, desk, quick_passwords, settings, site  # noqa: F401

URL = "/api/v1/service-requests"


def point(km: float, bearing: float = 90.0, origin: tuple[float, float] = ZHENGZHOU) -> tuple[float, float]:
    s = site(km, bearing, origin)
    return s["site_latitude"], s["site_longitude"]


def candidates(desk: Desk, request_id: int, **query: object) -> list[dict]:
    response = desk.dispatcher.get(f"{URL}/{request_id}/candidates", query_string=query)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["candidates"]


def site_request(desk: Desk, **overrides: object) -> dict:
    """A request whose site is 50 km east of the Zhengzhou station."""
    return desk.register(50, **overrides)


def near_site(km: float, bearing: float = 0.0) -> tuple[float, float]:
    """A position `km` from the site of `site_request`."""
    return point(km, bearing, origin=point(50))


# --- DSP-6: who is eligible, and in what order ---------------------------------------------------------------------

def test_dsp6_candidates_are_ranked_by_distance_with_eta_and_why(desk: Desk) -> None:
    request = site_request(desk)
    mid = desk.technician(position=near_site(10), name="Mid")
    far = desk.technician(position=near_site(30), name="Far")
    close = desk.technician(position=near_site(5), name="Close")
    ranked = candidates(desk, request["id"])
    assert [c["technician_id"] for c in ranked] == [close["id"], mid["id"], far["id"]]
    first = ranked[0]
    assert first["distance_km"] == pytest.approx(5, abs=0.001)
    assert first["eta"] == (START + timedelta(hours=5 / 60)).isoformat()  # 60 km/h by default
    assert (first["can_meet_deadline"], first["open_jobs"], first["rank"], first["name"]) == (True, 0, 1, "Close")
    assert first["position_source"] == "last_known_position"
    assert first["reason"].startswith("ranked first")
    assert "farther than #1" in ranked[1]["reason"]


def test_dsp6_only_active_on_shift_skilled_technicians_of_stations_receiving_work(desk: Desk) -> None:
    request = site_request(desk, required_skill="chassis_engine")
    barred = factories.station(desk.admin, may_receive_work=False, barred_reason="sanction 2026-02")
    closed = factories.station(desk.admin, active=False)
    eligible = desk.technician(position=near_site(20), skills=["chassis_engine"])
    desk.technician(position=near_site(1), skills=["chassis_engine"], on_shift=False)
    desk.technician(position=near_site(2), skills=["chassis_engine"], active=False)
    desk.technician(position=near_site(3), skills=["body"])
    desk.technician(position=near_site(4), skills=["chassis_engine"], station=barred)  # rule DSP-10
    desk.technician(position=near_site(5), skills=["chassis_engine"], station=closed)
    assert [c["technician_id"] for c in candidates(desk, request["id"])] == [eligible["id"]]


def test_dsp6_a_technician_never_seen_is_placed_at_their_home_station(desk: Desk) -> None:
    request = site_request(desk)
    home = desk.technician()  # no fix: at the Zhengzhou station, 50 km from the site
    (candidate,) = candidates(desk, request["id"])
    assert candidate["technician_id"] == home["id"]
    assert candidate["position_source"] == "home_station"
    assert candidate["distance_km"] == pytest.approx(50, abs=0.001)


def test_dsp6_a_last_known_position_beats_the_home_station(desk: Desk) -> None:
    request = site_request(desk)
    tech = desk.technician(position=near_site(3))
    (candidate,) = candidates(desk, request["id"])
    assert (candidate["technician_id"], candidate["position_source"]) == (tech["id"], "last_known_position")
    assert candidate["distance_km"] == pytest.approx(3, abs=0.001)


def test_dsp6_who_cannot_arrive_before_the_on_site_deadline_is_marked_so(desk: Desk) -> None:
    request = site_request(desk)  # on site within 24 h: 1,440 km at 60 km/h
    reachable = desk.technician(position=near_site(1400))
    too_far = desk.technician(position=near_site(1500, 180))
    ranked = candidates(desk, request["id"])
    assert [(c["technician_id"], c["can_meet_deadline"]) for c in ranked] == [(reachable["id"], True),
                                                                             (too_far["id"], False)]
    assert "cannot arrive before the on-site deadline" in ranked[1]["reason"]


def test_dsp6_dsp2_before_the_reply_there_is_no_on_site_deadline_to_meet(desk: Desk) -> None:
    request = desk.register(300)  # reply tier
    desk.technician(position=point(300))
    (candidate,) = candidates(desk, request["id"])
    assert candidate["can_meet_deadline"] is None
    desk.dispatcher.post(f"{URL}/{request['id']}/replies", json={
        "content": "Tomorrow 09:00", "agreed_on_site_at": (START + timedelta(minutes=30)).isoformat()})
    (candidate,) = candidates(desk, request["id"])
    assert candidate["can_meet_deadline"] is True  # 0 km: ETA now, before the agreed time


def test_dsp6_ties_in_distance_go_to_fewer_open_jobs_then_technician_id(desk: Desk) -> None:
    busy = desk.technician(position=near_site(10))
    idle = desk.technician(position=near_site(10))
    also_idle = desk.technician(position=near_site(10))
    other = site_request(desk)
    assert desk.dispatch(other["id"], technician_ids=[busy["id"]]).status_code == 201
    request = site_request(desk)
    ranked = candidates(desk, request["id"])
    assert [(c["technician_id"], c["open_jobs"]) for c in ranked] == [(idle["id"], 0), (also_idle["id"], 0),
                                                                     (busy["id"], 1)]
    assert "tied with #1" in ranked[1]["reason"]
    assert "more open jobs" in ranked[2]["reason"]


def test_dsp6_the_limit_keeps_the_best(desk: Desk) -> None:
    request = site_request(desk)
    techs = [desk.technician(position=near_site(km)) for km in (40, 10, 30, 20)]
    assert [c["technician_id"] for c in candidates(desk, request["id"], limit=2)] == [techs[1]["id"], techs[3]["id"]]


def test_dsp6_candidates_across_the_antimeridian(desk: Desk) -> None:
    fiji = (-16.5, 179.95)
    station = factories.station(desk.admin, latitude=fiji[0], longitude=fiji[1])
    request = desk.register(10, origin=fiji)  # the site is just east of 180°: its longitude is negative
    assert request["site_longitude"] < 0
    assert request["nearest_station"]["id"] == station["id"]
    across = desk.technician(station=station, position=point(20, 270, origin=fiji))  # west of 180°
    beyond = desk.technician(station=station, position=point(30, 90, origin=fiji))
    ranked = candidates(desk, request["id"])
    assert [c["technician_id"] for c in ranked] == [beyond["id"], across["id"]]
    assert [c["distance_km"] for c in ranked] == pytest.approx([20, 30], abs=0.01)


def test_dsp6_candidates_at_high_latitude(desk: Desk) -> None:
    svalbard = (78.22, 15.65)
    station = factories.station(desk.admin, latitude=svalbard[0], longitude=svalbard[1])
    request = desk.register(10, bearing=0, origin=svalbard)
    east = desk.technician(station=station, position=point(60, 90, origin=svalbard))  # ~2.6° of longitude away
    ranked = candidates(desk, request["id"])
    assert [c["technician_id"] for c in ranked] == [east["id"]]
    assert ranked[0]["distance_km"] == pytest.approx(60.8, abs=1)


def test_dsp6_no_eligible_technician_is_an_empty_list_and_dispatch_a_clear_409(desk: Desk) -> None:
    request = site_request(desk, required_skill="hydraulics")
    desk.technician(position=near_site(5))  # lacks the skill
    assert candidates(desk, request["id"]) == []
    response = desk.dispatch(request["id"])
    assert response.status_code == 409
    assert response.mimetype == "application/problem+json"
    assert "no eligible technician" in response.get_json()["detail"]
    assert "'hydraulics'" in response.get_json()["detail"]


# --- dispatch (DSP-6..8) -------------------------------------------------------------------------------------------

def test_dsp8_automatic_dispatch_takes_the_top_candidate_and_records_why(desk: Desk) -> None:
    request = site_request(desk)
    best = desk.technician(position=near_site(5))
    second = desk.technician(position=near_site(15))
    response = desk.dispatch(request["id"])
    assert response.status_code == 201, response.get_json()
    job = response.get_json()
    assert response.headers["Location"] == f"/api/v1/jobs/{job['id']}"
    assert response.headers["ETag"] == '"1"'
    assert (job["status"], job["service_request_number"], job["lead_technician_id"]) == (
        "assigned", request["number"], best["id"])
    assert [(m["technician_id"], m["is_lead"]) for m in job["crew"]] == [(best["id"], True)]
    assert desk.agent.get(f"{URL}/{request['id']}").get_json()["status"] == "in_progress"
    decision = desk.dispatcher.get(f"/api/v1/jobs/{job['id']}/dispatch-decision").get_json()
    assert decision["mode"] == "automatic" and decision["overrode_suggestion"] is False
    assert decision["suggested_technician_id"] == best["id"]
    assert [c["technician_id"] for c in decision["candidates"]] == [best["id"], second["id"]]
    assert decision["crew"][0]["distance_km"] == pytest.approx(5, abs=0.001)
    assert decision["crew"][0]["eta"] == (START + timedelta(hours=5 / 60)).isoformat()
    assert decision["on_site_due_at"] == (START + timedelta(hours=24)).isoformat()
    assert decision["decided_by_user_id"] is not None and decision["travel_speed_kmh"] == 60.0


def test_dsp8_choosing_someone_other_than_the_top_candidate_needs_a_reason(desk: Desk) -> None:
    request = site_request(desk)
    desk.technician(position=near_site(5))
    chosen = desk.technician(position=near_site(15))
    refused = desk.dispatch(request["id"], technician_ids=[chosen["id"]])
    assert refused.status_code == 422
    assert refused.get_json()["errors"][0]["field"] == "reason"
    blank = desk.dispatch(request["id"], technician_ids=[chosen["id"]], reason=" ")
    assert blank.status_code == 422
    response = desk.dispatch(request["id"], technician_ids=[chosen["id"]], reason="knows this customer's fleet")
    assert response.status_code == 201, response.get_json()
    decision = desk.dispatcher.get(f"/api/v1/jobs/{response.get_json()['id']}/dispatch-decision").get_json()
    assert (decision["mode"], decision["overrode_suggestion"], decision["reason"]) == (
        "manual", True, "knows this customer's fleet")
    assert decision["crew"][0]["technician_id"] == chosen["id"]
    assert decision["crew"][0]["rank"] == 2


def test_dsp7_a_crew_of_two_has_exactly_one_lead(desk: Desk) -> None:
    request = site_request(desk)
    first = desk.technician(position=near_site(5))
    second = desk.technician(position=near_site(6))
    crew = [first["id"], second["id"]]
    no_lead = desk.dispatch(request["id"], technician_ids=crew)
    assert no_lead.status_code == 422 and no_lead.get_json()["errors"][0]["field"] == "lead_id"
    outsider = desk.dispatch(request["id"], technician_ids=crew, lead_id=first["id"] + 100)
    assert outsider.status_code == 422 and outsider.get_json()["errors"][0]["field"] == "lead_id"
    response = desk.dispatch(request["id"], technician_ids=crew, lead_id=second["id"])
    assert response.status_code == 201, response.get_json()
    job = response.get_json()
    assert job["lead_technician_id"] == second["id"]
    assert sorted((m["technician_id"], m["is_lead"]) for m in job["crew"]) == [(first["id"], False),
                                                                              (second["id"], True)]


def test_dsp6_an_explicitly_chosen_technician_must_be_eligible(desk: Desk) -> None:
    request = site_request(desk)
    desk.technician(position=near_site(5))
    resting = desk.technician(position=near_site(6), on_shift=False)
    response = desk.dispatch(request["id"], technician_ids=[resting["id"], 99999], reason="x")
    assert response.status_code == 422
    problem = response.get_json()
    assert problem["errors"][0]["field"] == "technician_ids"
    assert f"technician {resting['id']} is not on shift" in problem["detail"]
    assert "technician 99999 does not exist" in problem["detail"]
    duplicate = desk.dispatch(request["id"], technician_ids=[resting["id"], resting["id"]], reason="x")
    assert duplicate.status_code == 422


def test_dsp6_a_request_is_dispatched_once(desk: Desk) -> None:
    request = site_request(desk)
    desk.technician(position=near_site(5))
    assert desk.dispatch(request["id"]).status_code == 201
    again = desk.dispatch(request["id"])
    assert again.status_code == 409
    assert "in_progress" in again.get_json()["detail"]


def test_dsp6_a_retried_dispatch_with_the_same_idempotency_key_makes_one_job(desk: Desk) -> None:
    request = site_request(desk)
    desk.technician(position=near_site(5))
    key = {"Idempotency-Key": "dispatch-1"}
    url = f"{URL}/{request['id']}/dispatch"
    first = desk.dispatcher.post(url, json={}, headers=key)
    second = desk.dispatcher.post(url, json={}, headers=key)
    assert first.status_code == second.status_code == 201
    assert first.get_json()["id"] == second.get_json()["id"]


def test_dsp8_dispatch_is_audited_in_the_same_transaction(desk: Desk, session: Session) -> None:
    request = site_request(desk)
    desk.technician(position=near_site(5))
    desk.dispatch(request["id"])
    changes = session.execute(select(AuditEntry.entity_type, AuditEntry.change)
                              .where(AuditEntry.action == "POST /api/v1/service-requests/<id:service_request_id>"
                                                          "/dispatch")).all()
    assert set(changes) == {("jobs", "create"), ("job_technicians", "create"), ("dispatch_decisions", "create"),
                            ("service_requests", "update")}


def test_dsp6_two_dispatchers_at_once_make_exactly_one_job(app: Flask, desk: Desk, session: Session) -> None:
    """Real concurrent requests, each thread with its own client and database connection: on PostgreSQL the
    request's row lock makes the later dispatcher wait and then see the job; SQLite serialises writers."""
    request = site_request(desk)
    desk.technician(position=near_site(5))
    desk.technician(position=near_site(6))
    dispatchers = [desk.dispatcher] + [desk.login(desk.make_user("dispatcher")) for _ in range(3)]
    barrier = threading.Barrier(len(dispatchers))
    statuses: list[int] = []

    def dispatch(api: Api) -> None:
        client = app.test_client()
        barrier.wait()
        response = client.post(f"{URL}/{request['id']}/dispatch", json={}, headers=api.headers())
        statuses.append(response.status_code)

    threads = [threading.Thread(target=dispatch, args=(api,)) for api in dispatchers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201, 409, 409, 409]
    assert session.scalar(select(func.count()).select_from(Job)) == 1


def test_dsp6_open_jobs_are_counted_at_once(desk: Desk) -> None:
    tech = desk.technician(position=near_site(5))
    first, second = site_request(desk), site_request(desk)
    desk.dispatch(first["id"])
    (candidate,) = candidates(desk, second["id"])
    assert (candidate["technician_id"], candidate["open_jobs"]) == (tech["id"], 1)


# --- roles and ownership -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ["agent", "technician", "manager", "supervisor"])
def test_dsp6_only_a_dispatcher_dispatches(desk: Desk, as_role: Callable[..., Api], role: str) -> None:
    request = site_request(desk)
    assert as_role(role).post(f"{URL}/{request['id']}/dispatch", json={}).status_code == 403


@pytest.mark.parametrize("role", ["agent", "technician", "warehouse"])
def test_dsp6_candidates_are_for_the_office(desk: Desk, as_role: Callable[..., Api], role: str) -> None:
    request = site_request(desk)
    assert as_role(role).get(f"{URL}/{request['id']}/candidates").status_code == 403


def test_a_technician_sees_only_their_own_jobs(desk: Desk) -> None:
    mine = desk.technician(position=near_site(5))
    theirs = desk.technician(position=near_site(5, 180))
    my_job = desk.dispatch(site_request(desk)["id"], technician_ids=[mine["id"]]).get_json()
    their_job = desk.dispatch(site_request(desk)["id"], technician_ids=[theirs["id"]], reason="x").get_json()
    me = desk.as_technician(mine)
    assert [j["id"] for j in me.get("/api/v1/jobs").get_json()] == [my_job["id"]]
    assert me.get(f"/api/v1/jobs/{my_job['id']}").status_code == 200
    # Not theirs answers like a job that does not exist (issue 10), so job ids cannot be probed.
    hidden = me.get(f"/api/v1/jobs/{their_job['id']}")
    assert hidden.status_code == 404 and hidden.mimetype == "application/problem+json"
    assert me.get(f"/api/v1/jobs?technician_id={theirs['id']}").status_code == 403
    assert me.get(f"/api/v1/jobs/{my_job['id']}/dispatch-decision").status_code == 403
    office = desk.dispatcher.get("/api/v1/jobs").get_json()
    assert {j["id"] for j in office} == {my_job["id"], their_job["id"]}
    filtered = desk.dispatcher.get(f"/api/v1/jobs?technician_id={theirs['id']}").get_json()
    assert [j["id"] for j in filtered] == [their_job["id"]]


def test_jobs_are_not_for_agents_or_the_warehouse(desk: Desk, as_role: Callable[..., Api]) -> None:
    for role in ("agent", "warehouse"):
        assert as_role(role).get("/api/v1/jobs").status_code == 403


def test_an_unknown_job_is_a_404(desk: Desk) -> None:
    assert desk.dispatcher.get("/api/v1/jobs/999").status_code == 404
    assert desk.dispatcher.get("/api/v1/jobs/999/dispatch-decision").status_code == 404
    assert desk.dispatch(999).status_code == 404

