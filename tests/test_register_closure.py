"""The register to its end (issue 15; INT-1, INV-1, INT-3, INV-2): resolved -> feedback_given -> closed, a closed
request refuses every change, a new complaint about it is a new linked request, the register filtered by every
state and exported as CSV."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, update

from backend.callbacks.models import Callback, CallbackKind
from backend.clock import ManualClock
from backend.dispatch.models import Communication, Job, RequestStatus, ServiceRequest
from backend.duties.callbacks import callbacks as callbacks_duty
from backend.errors import Conflict
from tests import factories
from tests.conftest import Api
from tests.console_support import console_as
from tests.test_dispatch_support import Desk, desk, etag, quick_passwords, settings  # noqa: F401
from tests.test_fieldwork_support import Field, field, supervisor  # noqa: F401

REQUESTS = "/api/v1/service-requests"
INVESTIGATION = {"root_cause": "supplier_part", "root_cause_text": "Door actuator valve seal failed early",
                 "countermeasure": "Incoming inspection of the valve batch; supplier to change the seal",
                 "responsible_kind": "supplier", "responsible_supplier": "Ningbo Valve Co.",
                 "reason": "The seal material is out of specification"}


def approve(field: Field) -> None:
    """The job through to the approved report: the request is resolved (REP-5)."""
    field.to("submitted")
    approved = field.supervisor.post(f"{field.url}/report/approve", headers=etag(field.report(field.supervisor)))
    assert approved.status_code == 200, approved.get_json()


def url(field: Field, tail: str = "") -> str:
    return f"{REQUESTS}/{field.request['id']}{tail}"


def current(api: Api, field: Field) -> Any:
    return api.get(url(field))


def give_feedback(field: Field, **overrides: Any) -> Any:
    agent = field.desk.agent
    body = {"method": "phone", "text": "Told Mr Wang the valve was replaced under warranty"} | overrides
    return agent.post(url(field, "/feedback"), json=body, headers=etag(current(agent, field)))


def investigate(field: Field) -> None:
    quality = field.desk.login(field.desk.make_user("quality"))
    response = quality.put(url(field, "/investigation"), json=INVESTIGATION)
    assert response.status_code == 200, response.get_json()


def close(field: Field, api: Api | None = None, **body: Any) -> Any:
    api = api or field.desk.manager
    return api.post(url(field, "/closure"), json={"summary": "Valve replaced; customer satisfied"} | body,
                    headers=etag(current(api, field)))


@pytest.fixture
def closed(field: Field) -> Field:
    approve(field)
    assert give_feedback(field).status_code == 200
    investigate(field)
    response = close(field)
    assert response.status_code == 200, response.get_json()
    return field


# --- the transitions ---------------------------------------------------------------------------------------------

def test_int1_inv1_resolved_then_feedback_given_then_closed(field: Field, clock: ManualClock) -> None:
    approve(field)
    clock.advance(hours=2)
    told = give_feedback(field)
    assert told.status_code == 200, told.get_json()
    body = told.get_json()
    assert body["status"] == "feedback_given"
    assert body["feedback_method"] == "phone" and body["feedback_text"].startswith("Told Mr Wang")
    assert body["feedback_given_at"] == clock.now().isoformat()
    # INT-5: what the customer was told is archived with the calls and letters.
    log = field.desk.agent.get(url(field, "/communications")).get_json()
    assert [(c["kind"], c["direction"], c["channel"]) for c in log][-1] == ("feedback", "outgoing", "phone")

    investigate(field)
    clock.advance(hours=1)
    done = close(field, field.desk.agent, summary="Valve replaced under warranty; customer satisfied")
    assert done.status_code == 200, done.get_json()
    body = done.get_json()
    assert body["status"] == "closed"
    assert body["closing_summary"] == "Valve replaced under warranty; customer satisfied"
    assert body["closed_at"] == clock.now().isoformat()
    assert body["next_due_at"] is None
    assert all(d["status"] != "open" for d in body["deadlines"])


def test_inv1_the_transitions_are_audited(closed: Field) -> None:
    entries = closed.desk.manager.get("/api/v1/audit", query_string={
        "entity_type": "service_requests", "entity_id": str(closed.request["id"])}).get_json()
    statuses = [e["after"].get("status") for e in reversed(entries) if e["after"] and "status" in e["after"]]
    assert statuses[-3:] == ["resolved", "feedback_given", "closed"]


def test_inv1_feedback_only_once_resolved(field: Field) -> None:
    refused = give_feedback(field)
    assert refused.status_code == 409
    assert refused.get_json()["current_status"] == "in_progress"
    assert current(field.desk.agent, field).get_json()["status"] == "in_progress"


@pytest.mark.parametrize(("body", "field_name"), [({"text": "  "}, "text"), ({"method": "pigeon"}, "method"),
                                                  ({"given_at": "2030-01-01T00:00:00Z"}, "given_at")])
def test_inv1_feedback_names_the_bad_field(field: Field, body: dict[str, Any], field_name: str) -> None:
    approve(field)
    refused = give_feedback(field, **body)
    assert refused.status_code == 422
    assert refused.mimetype == "application/problem+json"
    assert [e["field"] for e in refused.get_json()["errors"]] == [field_name]
    assert current(field.desk.agent, field).get_json()["status"] == "resolved"


def test_inv1_feedback_and_closure_need_if_match(field: Field) -> None:
    approve(field)
    agent = field.desk.agent
    stale = current(agent, field)
    assert agent.post(url(field, "/feedback"), json={"method": "phone", "text": "Told"}).status_code == 428
    assert give_feedback(field).status_code == 200
    assert agent.post(url(field, "/closure"), json={"summary": "Done"}, headers=etag(stale)).status_code == 412
    assert agent.post(url(field, "/closure"), json={"summary": "Done"}).status_code == 428


def test_inv1_closing_needs_the_feedback_first(field: Field) -> None:
    approve(field)
    investigate(field)
    refused = close(field)
    assert refused.status_code == 409
    assert refused.get_json()["current_status"] == "resolved"


def test_inv1_closing_needs_a_summary(field: Field) -> None:
    approve(field)
    give_feedback(field)
    investigate(field)
    refused = close(field, summary=" ")
    assert refused.status_code == 422
    assert [e["field"] for e in refused.get_json()["errors"]] == ["summary"]


def test_int3_inv2_a_quality_complaint_is_not_closed_without_its_investigation(field: Field) -> None:
    approve(field)
    give_feedback(field)
    refused = close(field)
    assert refused.status_code == 409
    problem = refused.get_json()
    assert problem["missing"] == "investigation" and "investigation" in problem["detail"]
    assert current(field.desk.agent, field).get_json()["status"] == "feedback_given"
    investigate(field)
    assert close(field).status_code == 200


def test_int3_a_non_quality_complaint_closes_without_an_investigation(desk: Desk, supervisor: Api,
                                                                     session: Any) -> None:
    request = desk.register(complaint_class="non_quality")
    session.execute(update(ServiceRequest).where(ServiceRequest.id == request["id"]).values(status="resolved"))
    session.commit()
    path = f"{REQUESTS}/{request['id']}"
    told = desk.agent.post(f"{path}/feedback", json={"method": "email", "text": "Operator error; trained"},
                           headers=etag(desk.agent.get(path)))
    assert told.status_code == 200, told.get_json()
    done = desk.manager.post(f"{path}/closure", json={"summary": "Misuse; operator trained"},
                             headers=etag(desk.manager.get(path)))
    assert done.status_code == 200, done.get_json()


def test_int4_inv1_a_rejected_request_can_be_closed(desk: Desk) -> None:
    request = desk.register(complaint_class="non_quality")
    path = f"{REQUESTS}/{request['id']}"
    rejected = desk.manager.post(f"{path}/decision", json={"outcome": "rejected", "reason": "Not our product"},
                                 headers=etag(desk.manager.get(path)))
    assert rejected.status_code == 200
    done = desk.manager.post(f"{path}/closure", json={"summary": "Rejected: not our product"},
                             headers=etag(rejected))
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["status"] == "closed" and done.get_json()["decision"] == "rejected"


@pytest.mark.parametrize("role", ["dispatcher", "supervisor", "technician", "quality", "finance"])
def test_inv1_who_may_record_feedback_and_close(field: Field, role: str) -> None:
    approve(field)
    other = field.desk.login(field.desk.make_user(role))
    assert other.post(url(field, "/feedback"), json={"method": "phone", "text": "Told"},
                      headers=etag(current(field.desk.agent, field))).status_code == 403
    assert other.post(url(field, "/closure"), json={"summary": "Done"},
                      headers=etag(current(field.desk.agent, field))).status_code == 403


def test_scp1_feedback_and_closure_stay_within_the_callers_stations(field: Field) -> None:
    approve(field)
    elsewhere = factories.station(field.desk.admin, code="BJ", latitude=39.86, longitude=116.29)
    outsider = field.desk.login(field.desk.make_user("agent", "manager", station_ids=[elsewhere["id"]]))
    tag = etag(current(field.desk.agent, field))
    assert outsider.post(url(field, "/feedback"), json={"method": "phone", "text": "Told"},
                         headers=tag).status_code == 404
    assert outsider.post(url(field, "/closure"), json={"summary": "Done"}, headers=tag).status_code == 404


# --- the service-quality callback gives the feedback -------------------------------------------------------------

def _service_quality_callback(app: Flask, field: Field, clock: ManualClock) -> int:
    session = field.desk.session
    onsite = app.extensions["onsite"]
    callbacks_duty(session, clock.now(), onsite.settings)
    session.commit()
    return session.scalar(select(Callback.id).where(Callback.job_id == field.job["id"],
                                                    Callback.kind == CallbackKind.SERVICE_QUALITY))


def _reach(field: Field, callback_id: int, **body: Any) -> Any:
    return field.desk.agent.post(f"/api/v1/callbacks/{callback_id}/result", json={
        "reached": True, "method": "sms", "attitude": 5, "skill": 5, "arrival_time": 4, "promise_kept": 5,
        "comments": "Customer confirms the door works"} | body)


def test_inv1_a_service_quality_callback_that_reaches_the_customer_gives_the_feedback(
        app: Flask, field: Field, clock: ManualClock, as_role: Any) -> None:
    approve(field)
    callback_id = _service_quality_callback(app, field, clock)
    field.desk.agent = as_role("agent")
    assert _reach(field, callback_id).status_code == 200
    body = current(field.desk.agent, field).get_json()
    assert body["status"] == "feedback_given"
    assert body["feedback_method"] == "sms" and body["feedback_text"] == "Customer confirms the door works"


def test_inv1_a_callback_before_the_report_is_approved_is_not_the_feedback(
        app: Flask, field: Field, clock: ManualClock) -> None:
    field.to("work_done")
    callback_id = _service_quality_callback(app, field, clock)
    assert _reach(field, callback_id).status_code == 200
    assert current(field.desk.agent, field).get_json()["status"] == "in_progress"


def test_inv1_an_unreached_callback_is_not_the_feedback(app: Flask, field: Field, clock: ManualClock) -> None:
    approve(field)
    callback_id = _service_quality_callback(app, field, clock)
    response = field.desk.agent.post(f"/api/v1/callbacks/{callback_id}/result",
                                     json={"reached": False, "method": "phone"})
    assert response.status_code == 200
    assert current(field.desk.agent, field).get_json()["status"] == "resolved"


# --- a closed request refuses every change -----------------------------------------------------------------------

def test_inv1_closing_withdraws_open_callbacks_and_the_follow_up_flag(app: Flask, field: Field,
                                                                    clock: ManualClock) -> None:
    approve(field)
    callback_id = _service_quality_callback(app, field, clock)
    agent = field.desk.agent
    assert agent.put(url(field, "/follow-up"), json={"follow_up": True}).status_code == 200
    give_feedback(field)
    investigate(field)
    assert close(field).status_code == 200
    assert agent.get(f"/api/v1/callbacks/{callback_id}").get_json()["status"] == "cancelled"
    assert current(agent, field).get_json()["follow_up_since"] is None
    # The callbacks duty owes a closed request nothing, even for a job that never got its callback.
    session = field.desk.session
    session.rollback()  # a fresh snapshot: SQLite refuses a write from a stale one
    session.execute(Callback.__table__.delete().where(Callback.id == callback_id))
    session.commit()
    assert callbacks_duty(session, clock.now() + timedelta(days=5), app.extensions["onsite"].settings) == {
        "callbacks_created": 0, "follow_ups_created": 0}


def test_inv1_a_closed_request_refuses_every_change(closed: Field, clock: ManualClock) -> None:
    desk, job_url = closed.desk, closed.url
    before = current(desk.manager, closed)
    tag = etag(before)
    quality = desk.login(desk.make_user("quality"))
    writes = [
        (desk.agent, "post", url(closed, "/feedback"), {"method": "phone", "text": "Again"}, tag),
        (desk.manager, "post", url(closed, "/closure"), {"summary": "Again"}, tag),
        (desk.manager, "post", url(closed, "/decision"), {"outcome": "accepted", "reason": "Late"}, tag),
        (desk.manager, "post", url(closed, "/deadline-waivers"), {"kind": "on_site", "reason": "Late"}, tag),
        (desk.agent, "post", url(closed, "/communications"),
         {"direction": "incoming", "channel": "phone", "content": "The door sticks again"}, {}),
        (desk.agent, "put", url(closed, "/follow-up"), {"follow_up": True}, {}),
        (desk.dispatcher, "post", url(closed, "/replies"),
         {"content": "Coming", "agreed_on_site_at": "2026-03-09T08:00:00Z"}, {}),
        (desk.dispatcher, "post", url(closed, "/written-contacts"), {"content": "Letter"}, {}),
        (desk.dispatcher, "post", url(closed, "/dispatch"), {}, {}),
        (quality, "put", url(closed, "/investigation"), INVESTIGATION,
         etag(quality.get(url(closed, "/investigation")))),
        (closed.lead, "post", f"{job_url}/report/corrections", {}, {}),
        (closed.lead, "post", f"{job_url}/escalate",
         {"problem": "Door sticks again", "proposal": "Replace the door", "customer_demand": "New door"}, {}),
        (closed.supervisor, "post", f"{job_url}/report/approve", {}, etag(closed.report(closed.supervisor))),
    ]
    answers = {path + " " + method: getattr(api, method)(path, json=body, headers=headers).status_code
               for api, method, path, body, headers in writes}
    assert set(answers.values()) == {409}, answers
    after = current(desk.manager, closed)
    assert after.headers["ETag"] == before.headers["ETag"]
    assert after.get_json() == before.get_json()


def test_inv1_the_one_check_covers_every_write_path(closed: Field) -> None:
    """Below the API too (a console form, a duty): any change to the request's record is refused at flush."""
    session = closed.desk.session
    session.rollback()
    job = session.get(Job, closed.job["id"])
    job.status = "assigned"
    with pytest.raises(Conflict, match="closed"):
        session.flush()
    session.rollback()
    session.add(Communication(service_request_id=closed.request["id"], direction="incoming", channel="phone",
                              kind="message", content="Again", occurred_at=job.assigned_at,
                              created_at=job.assigned_at))
    with pytest.raises(Conflict, match="closed"):
        session.flush()
    session.rollback()


def test_inv1_a_new_complaint_about_a_closed_request_is_a_new_linked_request(closed: Field) -> None:
    desk = closed.desk
    follow = desk.agent.post(REQUESTS, json=desk.intake_body(30, fault_description="The door sticks again",
                                                              follows_request_id=closed.request["id"]))
    assert follow.status_code == 201, follow.get_json()
    assert follow.get_json()["follows_request_id"] == closed.request["id"]
    assert follow.get_json()["status"] == "registered"
    linked = desk.agent.get(REQUESTS, query_string={"follows_request_id": closed.request["id"]}).get_json()
    assert [r["id"] for r in linked] == [follow.get_json()["id"]]
    assert current(desk.agent, closed).get_json()["status"] == "closed"


def test_inv1_a_linked_request_names_an_earlier_request_of_the_same_customer(desk: Desk) -> None:
    earlier = desk.register()
    stranger = factories.customer(desk.admin)
    stranger_unit = factories.unit(desk.admin, stranger["id"])
    body = desk.intake_body(customer_id=stranger["id"], unit_id=stranger_unit["id"], follows_request_id=earlier["id"])
    refused = desk.agent.post(REQUESTS, json=body)
    assert refused.status_code == 422
    assert [e["field"] for e in refused.get_json()["errors"]] == ["follows_request_id"]
    missing = desk.agent.post(REQUESTS, json=desk.intake_body(follows_request_id=999999))
    assert [e["field"] for e in missing.get_json()["errors"]] == ["follows_request_id"]


# --- the register: every state, and the CSV ----------------------------------------------------------------------

def _in_state(desk: Desk, session: Any) -> dict[str, int]:
    """One request in each of the register's states (the transitions themselves are tested above)."""
    made = {state.value: desk.register()["id"] for state in RequestStatus}
    for state, request_id in made.items():
        session.execute(update(ServiceRequest).where(ServiceRequest.id == request_id).values(status=state))
    session.commit()
    return made


def test_int1_the_register_filters_by_every_state(desk: Desk, session: Any) -> None:
    made = _in_state(desk, session)
    assert set(made) == {"registered", "accepted", "rejected", "in_progress", "resolved", "feedback_given", "closed"}
    for state, request_id in made.items():
        listed = desk.agent.get(REQUESTS, query_string={"status": state}).get_json()
        assert [r["id"] for r in listed] == [request_id], state
    refused = desk.agent.get(REQUESTS, query_string={"status": "archived"})
    assert refused.status_code == 422
    assert [e["field"] for e in refused.get_json()["errors"]] == ["status"]


def _csv(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_int1_the_register_as_csv_one_row_per_request_with_its_dates(closed: Field, clock: ManualClock) -> None:
    desk = closed.desk
    waiting = desk.register(km=20)
    rows = _csv(desk.manager.get(f"{REQUESTS}.csv"))
    assert [r["number"] for r in rows] == [closed.request["number"], waiting["number"]]
    done, fresh = rows
    body = current(desk.manager, closed).get_json()
    arrived = next(d for d in body["deadlines"] if d["kind"] == "on_site")["met_at"]
    approved_at = closed.report(closed.supervisor).get_json()["reviewed_at"]
    assert done["status"] == "closed" and done["complaint_class"] == "quality"
    assert done["station"] == "ZZ" and done["unit_serial_number"] == desk.unit["serial_number"]
    assert done["reported_at"] == body["reported_at"]
    assert done["accepted_at"] == ""  # dispatched straight from registered: no INT-4 acceptance was needed
    assert done["on_site_at"] == arrived
    assert done["resolved_at"] == approved_at
    assert done["feedback_given_at"] == body["feedback_given_at"]
    assert done["closed_at"] == body["closed_at"]
    assert done["root_cause"] == "supplier_part" and done["responsible_kind"] == "supplier"
    assert done["closing_summary"] == "Valve replaced; customer satisfied"
    assert fresh["status"] == "registered"
    assert [fresh[k] for k in ("on_site_at", "resolved_at", "feedback_given_at", "closed_at")] == ["", "", "", ""]
    # The list's filters apply.
    assert [r["number"] for r in _csv(desk.manager.get(f"{REQUESTS}.csv", query_string={"status": "closed"}))] == [
        closed.request["number"]]


def test_int1_the_csv_shows_the_acceptance_date_and_the_linked_request(desk: Desk, clock: ManualClock) -> None:
    first = desk.register()
    clock.advance(hours=1)
    path = f"{REQUESTS}/{first['id']}"
    desk.manager.post(f"{path}/decision", json={"outcome": "accepted", "reason": "Under warranty"},
                      headers=etag(desk.manager.get(path)))
    second = desk.register(follows_request_id=first["id"])
    rows = {r["number"]: r for r in _csv(desk.agent.get(f"{REQUESTS}.csv"))}
    assert rows[first["number"]]["accepted_at"] == clock.now().isoformat()
    assert rows[second["number"]]["follows_request"] == first["number"]


def test_scp1_the_csv_holds_only_the_callers_stations(desk: Desk) -> None:
    beijing = factories.station(desk.admin, code="BJ", latitude=39.8585, longitude=116.2870)
    near_zz = desk.register()
    near_bj = desk.register(km=10, origin=(39.8585, 116.2870))
    bj_agent = desk.login(desk.make_user("agent", station_ids=[beijing["id"]]))
    rows = _csv(bj_agent.get(f"{REQUESTS}.csv"))
    assert [r["number"] for r in rows] == [near_bj["number"]]
    assert near_zz["number"] in {r["number"] for r in _csv(desk.agent.get(f"{REQUESTS}.csv"))}


# --- the console shows the register's end ------------------------------------------------------------------------

def test_inv1_the_console_records_the_feedback_and_closes(client: Any, make_user: Any, desk: Desk,
                                                          session: Any) -> None:
    request = desk.register(complaint_class="non_quality")
    session.execute(update(ServiceRequest).where(ServiceRequest.id == request["id"]).values(status="resolved"))
    session.commit()
    page = f"/requests/{request['id']}"
    agent = console_as(client, make_user("agent"))
    assert "Tell the customer the outcome" in agent.text(page)
    version = str(desk.agent.get(f"{REQUESTS}/{request['id']}").get_json()["version"])
    blank = agent.post(f"{page}/feedback", {"method": "phone", "text": " ", "version": version})
    assert blank.status_code == 422
    told = agent.post(f"{page}/feedback", {"method": "phone", "text": "Told: operator error", "version": version})
    assert told.status_code == 302
    shown = agent.text(page)
    assert "Told: operator error" in shown and "Close the request" in shown
    version = str(desk.agent.get(f"{REQUESTS}/{request['id']}").get_json()["version"])
    closed = agent.post(f"{page}/closure", {"summary": "Operator trained", "version": version})
    assert closed.status_code == 302
    shown = agent.text(page)
    assert "Operator trained" in shown and "Log a call or letter" not in shown


def test_inv1_the_console_shows_the_new_states_in_chinese(client: Any, make_user: Any, desk: Desk,
                                                          session: Any) -> None:
    request = desk.register()
    session.execute(update(ServiceRequest).where(ServiceRequest.id == request["id"])
                    .values(status="closed", closing_summary="已处理", closed_at=ServiceRequest.reported_at))
    session.commit()
    console = console_as(client, make_user("manager"))
    assert console.post("/language", {"language": "zh_CN", "next": "/board"}).status_code == 302
    page = console.text(f"/requests/{request['id']}")
    assert "已关闭" in page and "已处理" in page
    assert "记录决定" not in console.text(f"/requests/{request['id']}")  # no action is offered on a closed request


def test_inv1_inv2_the_demo_data_has_closed_requests_with_investigations(app: Flask, session: Any,
                                                                          client: Any) -> None:
    from backend.demo import DEMO_INVESTIGATIONS, load_demo_data
    from backend.quality.models import Investigation
    services = app.extensions["onsite"]
    load_demo_data(session, services.settings, signer=services.signer, media=services.media)
    session.commit()
    closed = session.scalars(select(ServiceRequest).where(ServiceRequest.status == "closed")).all()
    assert sorted(r.fault_description for r in closed) == sorted(DEMO_INVESTIGATIONS)
    assert all(r.feedback_given_at and r.closing_summary for r in closed)
    investigated = session.scalars(select(Investigation.service_request_id)).all()
    assert sorted(investigated) == sorted(r.id for r in closed)
    token = client.post("/api/v1/auth/token", json={"username": "quality", "password": "quality-demo-pass"})
    assert token.status_code == 200 and token.get_json()["roles"] == ["quality"]
