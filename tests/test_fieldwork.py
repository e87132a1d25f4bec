"""The technician's job flow through the API (issue 4; RULES.md §4, JOB-1..4, DSP-1, DSP-9)."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from itertools import product

import pytest
from sqlalchemy import func, select, update

from backend.clock import ManualClock
from backend.dispatch.models import Job
from backend.fieldwork.lifecycle import TRANSITIONS, JobStatus, arrival_time, next_status
from backend.fieldwork.models import JobEvent
from backend.errors import Conflict
from tests.conftest import START
from tests.test_dispatch_support import ZHENGZHOU, Desk, desk, quick_passwords, settings  # noqa: F401
from tests.test_fieldwork_support import ON_SITE_AT, Field, field, supervisor  # noqa: F401



# action -> (where the job must be first, the body the app sends)
REPLAYS = {"accept": ("assigned", {}), "decline": ("assigned", {"reason": "No parts on the van"}),
           "depart": ("accepted", {}), "arrive": ("en_route", {"position": ON_SITE_AT}),
           "work-done": ("on_site", {}), "escalate": ("on_site", {"problem": "Frame cracked"})}


def events(field: Field, action: str) -> int:
    session = field.desk.session
    session.rollback()
    return session.scalar(select(func.count()).select_from(JobEvent)
                          .where(JobEvent.job_id == field.job["id"], JobEvent.action == action)) or 0


def test_job1_the_job_shows_what_the_technician_needs_before_leaving(field: Field) -> None:
    job = field.lead.get(field.url).get_json()
    assert job["unit_model"] == field.desk.unit["model"]
    assert job["unit_serial_number"] == field.desk.unit["serial_number"]
    assert job["site_address"] == "Depot 3"
    assert job["contact_person"] == field.desk.customer["contact_person"]
    assert job["phones"] == field.desk.customer["phones"]


def test_the_app_walks_the_job_from_accept_to_work_done_recording_device_and_server_time(
        field: Field, clock: ManualClock) -> None:
    device_time = (START + timedelta(minutes=3)).isoformat()
    for action, body in (("accept", {}), ("depart", {"device_time": device_time}),
                         ("arrive", {"position": ON_SITE_AT}), ("work-done", {})):
        clock.advance(minutes=10)
        response = field.act(action, **body)
        assert response.status_code == 200, response.get_json()
    result = response.get_json()
    assert result["job"]["status"] == "work_done"
    assert result["job"]["work_done_at"] == (START + timedelta(minutes=40)).isoformat()
    steps = field.lead.get(f"{field.url}/events").get_json()
    assert [s["to_status"] for s in steps] == ["accepted", "en_route", "on_site", "work_done"]
    assert steps[1]["device_time"] == device_time
    assert steps[1]["server_time"] == (START + timedelta(minutes=20)).isoformat()


@pytest.mark.parametrize(("state", "action"), [(s, a) for s, a in product(JobStatus, TRANSITIONS)
                                               if s not in TRANSITIONS[a][0]])
def test_every_illegal_transition_is_refused_with_the_current_state(state: JobStatus, action: str) -> None:
    with pytest.raises(Conflict) as refused:
        next_status(state, action)
    assert refused.value.extra["current_status"] == state


def test_an_illegal_action_over_the_api_is_a_409_naming_the_current_state(field: Field) -> None:
    for action in ("depart", "arrive", "work-done"):
        response = field.act(action, position=ON_SITE_AT)
        assert response.status_code == 409
        assert response.get_json()["current_status"] == "assigned"
    field.to("on_site")
    for action, body in (("accept", {}), ("decline", {"reason": "x"}), ("depart", {}),
                         ("arrive", {"position": ON_SITE_AT})):
        response = field.act(action, **body)
        assert (response.status_code, response.get_json()["current_status"]) == (409, "on_site")
    assert field.lead.get(field.url).get_json()["status"] == "on_site"


def test_jobs_arrival_needs_the_devices_position_and_keeps_the_distance_from_the_site(field: Field) -> None:
    field.to("en_route")
    response = field.act("arrive")
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "position"
    response = field.act("arrive", position=ON_SITE_AT)
    event = response.get_json()["event"]
    # The site is 30 km east of Zhengzhou; the technician reports from about 1 km east of it.
    assert 28 < event["distance_to_site_km"] < 30
    assert event["accuracy_m"] == 8.0


def test_dsp1_arriving_in_time_meets_the_on_site_deadline(field: Field, clock: ManualClock) -> None:
    field.to("en_route")
    clock.advance(hours=5)
    field.act("arrive", position=ON_SITE_AT)
    on_site = _deadline(field, "on_site")
    assert (on_site["status"], on_site["met_at"]) == ("met", (START + timedelta(hours=5)).isoformat())


def test_jobs_a_device_clock_close_to_the_servers_decides_a_late_delivered_arrival(field: Field,
                                                                                   clock: ManualClock) -> None:
    """The app arrived in time but its message reached the server 2 minutes after the deadline: the device's
    reading, within the allowed skew of 5 minutes, counts."""
    field.to("en_route")
    deadline = START + timedelta(hours=24)
    clock.set(deadline + timedelta(minutes=2))
    field.act("arrive", position=ON_SITE_AT, device_time=(deadline - timedelta(minutes=1)).isoformat())
    assert _deadline(field, "on_site")["status"] == "met"


def test_jobs_a_device_clock_far_from_the_servers_is_not_trusted(field: Field, clock: ManualClock) -> None:
    field.to("en_route")
    deadline = START + timedelta(hours=24)
    clock.set(deadline + timedelta(hours=2))
    response = field.act("arrive", position=ON_SITE_AT, device_time=(deadline - timedelta(hours=1)).isoformat())
    assert response.get_json()["event"]["device_time"] == (deadline - timedelta(hours=1)).isoformat()
    assert _deadline(field, "on_site")["status"] == "missed"


def test_the_arrival_rule_uses_the_earlier_reading_only_within_the_skew() -> None:
    skew = timedelta(minutes=5)
    assert arrival_time(START, START - timedelta(minutes=4), skew) == START - timedelta(minutes=4)
    assert arrival_time(START, START - timedelta(minutes=6), skew) == START
    assert arrival_time(START, START + timedelta(minutes=3), skew) == START
    assert arrival_time(START, None, skew) == START


def _deadline(field: Field, kind: str) -> dict:
    request = field.desk.agent.get(f"/api/v1/service-requests/{field.request['id']}").get_json()
    return next(d for d in request["deadlines"] if d["kind"] == kind)


def test_decline_needs_a_reason_returns_the_request_to_the_board_and_tells_its_dispatchers(field: Field) -> None:
    assert field.act("decline").status_code == 422
    response = field.act("decline", reason="Van broken down")
    assert response.get_json()["job"]["status"] == "declined"
    request = field.desk.agent.get(f"/api/v1/service-requests/{field.request['id']}").get_json()
    assert request["status"] == "registered"
    inbox = field.desk.dispatcher.get("/api/v1/me/notifications").get_json()
    assert [(n["kind"], n["payload"]["reason"]) for n in inbox] == [("job.declined", "Van broken down")]
    # The declined job no longer holds the request: it can be dispatched again.
    other = field.desk.technician(position=ZHENGZHOU)
    assert field.desk.dispatch(field.request["id"], technician_ids=[other["id"]],
                               reason="The first one declined").status_code == 201


def test_cancel_is_a_dispatchers_with_a_reason(field: Field) -> None:
    field.to("accepted")
    assert field.act("cancel", reason="Customer fixed it").status_code == 403
    assert field.act("cancel", api=field.desk.dispatcher).status_code == 422
    response = field.act("cancel", api=field.desk.dispatcher, reason="Customer fixed it")
    assert response.get_json()["job"]["status"] == "cancelled"
    assert field.act("cancel", api=field.desk.dispatcher, reason="again").status_code == 409
    request = field.desk.agent.get(f"/api/v1/service-requests/{field.request['id']}").get_json()
    assert request["status"] == "registered"


def test_a_job_the_customer_has_signed_cannot_be_cancelled(field: Field) -> None:
    """Once signed, the parts are installed and the report is the customer's: it is approved or rejected."""
    field.to("signed")
    response = field.act("cancel", api=field.desk.dispatcher, reason="Duplicate")
    assert (response.status_code, response.get_json()["current_status"]) == (409, "signed")
    request = field.desk.agent.get(f"/api/v1/service-requests/{field.request['id']}").get_json()
    assert request["status"] == "in_progress"


def test_job4_escalation_reaches_dispatchers_and_supervisors_at_once_without_moving_the_job(field: Field) -> None:
    assert field.act("escalate", problem="Frame cracked").status_code == 409  # not taken yet
    field.to("on_site")
    response = field.act("escalate", problem="Frame cracked behind the door",
                         proposal="Tow to the station", customer_demand="A replacement coach today")
    assert response.status_code == 201
    for api in (field.desk.dispatcher, field.supervisor):
        [notice] = api.get("/api/v1/me/notifications").get_json()
        assert notice["kind"] == "job.escalated"
        assert notice["payload"]["customer_demand"] == "A replacement coach today"
    assert field.lead.get(field.url).get_json()["status"] == "on_site"


def test_a_technician_outside_the_crew_cannot_see_or_move_the_job(field: Field) -> None:
    outsider = field.desk.as_technician(field.desk.technician(position=ZHENGZHOU))
    # Answered as if the job did not exist (issue 10).
    for action, (_state, body) in REPLAYS.items():
        assert field.act(action, api=outsider, **body).status_code == 404
    assert outsider.get(f"{field.url}/events").status_code == 404
    assert outsider.get(f"{field.url}/report").status_code == 404
    assert events(field, "accept") == 0


@pytest.mark.parametrize("action", list(REPLAYS))
def test_offline_replay_of_an_action_acts_once_and_a_reused_key_with_another_body_is_refused(
        field: Field, action: str) -> None:
    state, body = REPLAYS[action]
    if state != "assigned":
        field.to(state)
    key = {"Idempotency-Key": f"app-{action}-1"}
    first = field.lead.post(f"{field.url}/{action}", json=body, headers=key)
    again = field.lead.post(f"{field.url}/{action}", json=body, headers=key)
    assert first.status_code in (200, 201)
    assert (again.status_code, again.get_json()) == (first.status_code, first.get_json())
    assert again.headers["Idempotent-Replayed"] == "true"
    assert events(field, action) == 1
    other = field.lead.post(f"{field.url}/{action}", json=body | {"device_time": START.isoformat()}, headers=key)
    assert other.status_code == 422
    assert other.get_json()["errors"][0]["field"] == "Idempotency-Key"


def test_sync_returns_my_changed_jobs_since_the_cursor(field: Field, clock: ManualClock) -> None:
    first = field.lead.get("/api/v1/me/jobs").get_json()
    assert [j["id"] for j in first["jobs"]] == [field.job["id"]]
    assert first["has_more"] is False
    # Nothing new: the overlap may repeat recent changes, but a quiet hour later nothing comes back.
    clock.advance(hours=1)
    quiet = field.lead.get("/api/v1/me/jobs", query_string={"since": first["next_cursor"]}).get_json()
    quiet = field.lead.get("/api/v1/me/jobs", query_string={"since": quiet["next_cursor"]}).get_json()
    assert quiet["jobs"] == []
    clock.advance(minutes=5)
    field.act("accept")
    changed = field.lead.get("/api/v1/me/jobs", query_string={"since": quiet["next_cursor"]}).get_json()
    assert [(j["id"], j["status"]) for j in changed["jobs"]] == [(field.job["id"], "accepted")]


def test_sync_pages_through_many_changes_and_shows_only_my_jobs(field: Field) -> None:
    desk = field.desk
    mine = [field.job["id"]]
    for _ in range(4):
        request = desk.register(km=20)
        mine.append(desk.dispatch(request["id"], technician_ids=[field.lead_technician["id"]]).get_json()["id"])
    someone_else = desk.technician(position=ZHENGZHOU)
    desk.dispatch(desk.register(km=20)["id"], technician_ids=[someone_else["id"]])
    seen, cursor = [], None
    for _ in range(5):
        page = field.lead.get("/api/v1/me/jobs", query_string={"limit": 2} | ({"since": cursor} if cursor else {}))
        body = page.get_json()
        seen += [j["id"] for j in body["jobs"]]
        cursor = body["next_cursor"]
        if not body["has_more"]:
            break
    assert sorted(set(seen)) == sorted(mine)
    for bad in ("garbage", base64.urlsafe_b64encode(json.dumps([START.isoformat(), 2**70]).encode()).decode()):
        response = field.lead.get("/api/v1/me/jobs", query_string={"since": bad})
        assert (response.status_code, response.get_json()["errors"][0]["field"]) == (422, "since")


def test_sync_catches_a_change_stamped_before_the_cursor_but_committed_after(field: Field,
                                                                               clock: ManualClock) -> None:
    synced = field.lead.get("/api/v1/me/jobs").get_json()
    # A slow transaction stamped its change 30 s ago and commits only now, after the app synced.
    session = field.desk.session
    session.execute(update(Job).where(Job.id == field.job["id"])
                    .values(status="accepted", updated_at=START - timedelta(seconds=30), version=Job.version + 1))
    session.commit()
    again = field.lead.get("/api/v1/me/jobs", query_string={"since": synced["next_cursor"]}).get_json()
    assert [(j["id"], j["status"]) for j in again["jobs"]] == [(field.job["id"], "accepted")]


def test_every_action_leaves_an_audit_record_with_the_device(field: Field) -> None:
    field.lead.post(f"{field.url}/accept", json={}, headers={"X-Device-Id": "phone-7"})
    entries = field.desk.admin.get("/api/v1/audit", query_string={"entity_type": "jobs",
                                                                  "entity_id": str(field.job["id"])}).get_json()
    accepted = [e for e in entries if e["change"] == "update" and e["after"].get("status") == "accepted"]
    assert [(e["device_id"], e["actor_user_id"]) for e in accepted] == [("phone-7", field.lead_technician["user"].id)]
