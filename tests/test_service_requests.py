"""The service request register and its SLA clocks: RULES.md §1 (INT-1..5) and §2 (DSP-1..4)."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from backend.audit.models import AuditEntry
from backend.clock import ManualClock
from backend.config import Settings
from backend.dispatch.models import Deadline
from backend.dispatch.policy import current_policy, publish_policy
from tests import factories
from tests.conftest import START, Api
from tests.test_dispatch_support import Desk, desk, etag, quick_passwords, settings, site  # noqa: F401  (fixtures)

URL = "/api/v1/service-requests"


def deadlines(request: dict) -> dict[str, dict]:
    return {d["kind"]: d for d in request["deadlines"]}


def iso(moment: datetime) -> str:
    return moment.isoformat()


# --- INT-1: numbering --------------------------------------------------------------------------------------------

def test_int1_numbers_are_sr_year_six_digits_and_sequential(desk: Desk) -> None:
    first, second = desk.register(), desk.register()
    assert re.fullmatch(r"SR-2026-\d{6}", first["number"])
    assert (first["number"], second["number"]) == ("SR-2026-000001", "SR-2026-000002")
    assert first["status"] == "registered"


def test_int1_numbers_restart_each_year(desk: Desk, clock: ManualClock) -> None:
    desk.register()
    clock.set(START.replace(year=2027, month=1, day=1))
    assert desk.register()["number"] == "SR-2027-000001"


def test_int1_concurrent_intakes_never_share_a_number(app: Flask, desk: Desk) -> None:
    body = desk.intake_body()
    barrier = threading.Barrier(4)
    numbers: list[str] = []

    def register() -> None:
        client = app.test_client()
        barrier.wait()
        response = client.post(URL, json=body, headers=desk.agent.headers())
        assert response.status_code == 201, response.get_json()
        numbers.append(response.get_json()["number"])

    threads = [threading.Thread(target=register) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(numbers) == [f"SR-2026-{n:06d}" for n in range(1, 5)]


# --- DSP-1 / DSP-2 / DSP-3: tiers and deadlines at the boundaries -----------------------------------------------

@pytest.mark.parametrize("km, tier", [(99.9, "on_site"), (100.0, "on_site"), (100.1, "reply")])
def test_dsp1_dsp2_the_radius_boundary_is_geodesic_and_100_km_is_inside(desk: Desk, km: float, tier: str) -> None:
    request = desk.register(km)
    assert request["distance_km"] == pytest.approx(km, abs=0.001)
    assert request["tier"] == tier
    kinds = deadlines(request)
    if tier == "on_site":  # rule DSP-1: on site within 24 h of the report
        assert set(kinds) == {"on_site"}
        assert kinds["on_site"]["due_at"] == iso(START + timedelta(hours=24))
    else:  # rule DSP-2: reply within 12 h
        assert set(kinds) == {"reply"}
        assert kinds["reply"]["due_at"] == iso(START + timedelta(hours=12))
    assert kinds[tier]["status"] == "open"
    assert request["nearest_station"]["id"] == desk.station["id"]


@pytest.mark.parametrize("bearing", [0, 137, 270])
def test_dsp1_exactly_100_km_is_inside_on_every_bearing(desk: Desk, bearing: float) -> None:
    body = desk.intake_body(**site(100.0, bearing))
    request = desk.agent.post(URL, json=body).get_json()
    assert (request["distance_km"], request["tier"]) == (100.0, "on_site")


def test_dsp2_supplier_needed_within_the_radius_gets_the_reply_tier(desk: Desk) -> None:
    request = desk.register(10, supplier_needed=True)
    assert request["tier"] == "reply"
    assert set(deadlines(request)) == {"reply"}


@pytest.mark.parametrize("km, tier_deadline", [(30, "on_site"), (250, "reply")])
def test_dsp3_chassis_engine_gets_written_contact_on_top_of_its_tier(desk: Desk, km: float,
                                                                      tier_deadline: str) -> None:
    request = desk.register(km, fault_category="chassis_engine")
    kinds = deadlines(request)
    assert set(kinds) == {tier_deadline, "written_contact"}
    assert kinds["written_contact"]["due_at"] == iso(START + timedelta(hours=12))


def test_dsp1_clocks_run_from_the_reported_time_of_a_late_logged_letter(desk: Desk) -> None:
    reported = START - timedelta(hours=30)
    request = desk.register(20, channel="letter", reported_at=iso(reported))
    assert request["reported_at"] == iso(reported)
    on_site = deadlines(request)["on_site"]
    assert on_site["due_at"] == iso(reported + timedelta(hours=24))
    assert on_site["status"] == "missed"  # already past due when logged


def test_int2_reported_at_in_the_future_is_refused_naming_the_field(desk: Desk) -> None:
    body = desk.intake_body(reported_at=iso(START + timedelta(minutes=1)))
    response = desk.agent.post(URL, json=body)
    assert response.status_code == 422
    assert [e["field"] for e in response.get_json()["errors"]] == ["reported_at"]


def test_int2_reported_at_without_an_offset_is_refused(desk: Desk) -> None:
    response = desk.agent.post(URL, json=desk.intake_body(reported_at="2026-03-02T07:00:00"))
    assert response.status_code == 422
    assert [e["field"] for e in response.get_json()["errors"]] == ["reported_at"]


def test_int2_a_unit_of_another_customer_is_refused(desk: Desk) -> None:
    other = factories.customer(desk.admin)
    response = desk.agent.post(URL, json=desk.intake_body(customer_id=other["id"]))
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "unit_id"


@pytest.mark.parametrize("field, value", [("fault_category", "engine"), ("complaint_class", "maybe"),
                                          ("channel", "pigeon"), ("site_latitude", 91)])
def test_int2_int3_bad_values_are_422_naming_the_field(desk: Desk, field: str, value: object) -> None:
    response = desk.agent.post(URL, json=desk.intake_body(**{field: value}))
    assert response.status_code == 422
    assert [e["field"] for e in response.get_json()["errors"]] == [field]


# --- distances: the nearest active station ----------------------------------------------------------------------

def test_dsp1_distance_is_to_the_nearest_active_station(desk: Desk) -> None:
    near = factories.station(desk.admin, **_position(150))
    factories.station(desk.admin, active=False, **_position(200))
    request = desk.register(210)  # 60 km from `near`, 10 km from the inactive one
    assert request["nearest_station"]["id"] == near["id"]
    assert request["distance_km"] == pytest.approx(60, abs=0.01)
    assert request["tier"] == "on_site"


def test_dsp1_a_station_beyond_the_first_search_box_is_still_found(desk: Desk) -> None:
    request = desk.register(2500)
    assert request["nearest_station"]["id"] == desk.station["id"]
    assert request["distance_km"] == pytest.approx(2500, abs=0.001)


def test_dsp1_no_active_station_is_a_clear_409(desk: Desk) -> None:
    station = desk.admin.get(f"/api/v1/stations/{desk.station['id']}")
    desk.admin.patch(f"/api/v1/stations/{desk.station['id']}", json={"active": False}, headers=etag(station))
    response = desk.agent.post(URL, json=desk.intake_body())
    assert response.status_code == 409
    assert "no active service station" in response.get_json()["detail"]


def _position(km: float) -> dict[str, float]:
    """Station coordinates `km` east of Zhengzhou, on the line the requests' sites are placed on."""
    s = site(km)
    return {"latitude": s["site_latitude"], "longitude": s["site_longitude"]}


# --- DSP-4: frozen at intake ------------------------------------------------------------------------------------

def test_dsp4_deactivating_the_station_after_intake_does_not_move_frozen_deadlines(desk: Desk) -> None:
    factories.station(desk.admin, **_position(400))
    before = desk.register(80)
    station = desk.admin.get(f"/api/v1/stations/{desk.station['id']}")
    assert desk.admin.patch(f"/api/v1/stations/{desk.station['id']}", json={"active": False},
                            headers=etag(station)).status_code == 200
    after = desk.agent.get(f"{URL}/{before['id']}").get_json()
    for key in ("tier", "distance_km", "nearest_station", "deadlines", "policy_version"):
        assert after[key] == before[key]
    # A new request at the same site is measured from the station still active.
    assert desk.register(80)["tier"] == "reply"


def test_dsp4_a_new_policy_version_applies_only_to_new_requests(desk: Desk, session: Session) -> None:
    old = desk.register(150)
    assert (old["policy_version"], old["tier"]) == (1, "reply")
    publish_policy(session, START, radius_km=200, on_site_hours=48, reply_hours=6, written_contact_hours=6)
    session.commit()
    new = desk.register(150)
    assert (new["policy_version"], new["tier"]) == (2, "on_site")
    assert deadlines(new)["on_site"]["due_at"] == iso(START + timedelta(hours=48))
    assert desk.agent.get(f"{URL}/{old['id']}").get_json()["deadlines"] == old["deadlines"]


def test_dsp4_the_first_policy_version_is_seeded_from_the_configuration(session: Session,
                                                                        settings: Settings) -> None:
    configured = replace(settings, sla_radius_km=150.0, sla_on_site_hours=36.0)
    first = current_policy(session, configured, START)
    assert (first.version, first.radius_km, first.on_site_hours, first.reply_hours) == (1, 150.0, 36.0, 12.0)
    # Seeded once: a later change of configuration does not silently re-version the policy.
    assert current_policy(session, settings, START) == first


def test_dsp4_the_etag_moves_when_only_a_deadline_changes(desk: Desk) -> None:
    request = desk.register(300, fault_category="chassis_engine")  # reply and written contact both due at +12 h
    before = desk.agent.get(f"{URL}/{request['id']}")
    after = desk.dispatcher.post(f"{URL}/{request['id']}/written-contacts", json={"content": "Engine fault noted"})
    assert after.get_json()["next_due_at"] == before.get_json()["next_due_at"]
    assert after.headers["ETag"] != before.headers["ETag"]
    stale = desk.manager.post(f"{URL}/{request['id']}/decision", json={"outcome": "accepted", "reason": "ok"},
                              headers=etag(before))
    assert stale.status_code == 412


def test_dsp4_an_open_deadline_reads_missed_once_it_has_passed(desk: Desk, clock: ManualClock) -> None:
    request = desk.register(20)
    clock.advance(hours=24, seconds=1)
    assert deadlines(desk.agent.get(f"{URL}/{request['id']}").get_json())["on_site"]["status"] == "missed"


# --- the dispatcher's board ----------------------------------------------------------------------------------------

def test_board_sorts_by_earliest_open_deadline_and_filters(desk: Desk, clock: ManualClock) -> None:
    near = desk.register(20)  # on site due +24 h
    far = desk.register(300)  # reply due +12 h
    late = desk.register(20, reported_at=iso(START - timedelta(hours=25)))  # already overdue
    board = desk.dispatcher.get(URL).get_json()
    assert [r["id"] for r in board] == [late["id"], far["id"], near["id"]]
    assert [r["id"] for r in desk.dispatcher.get(f"{URL}?overdue=true").get_json()] == [late["id"]]
    assert [r["id"] for r in desk.dispatcher.get(f"{URL}?overdue=false").get_json()] == [far["id"], near["id"]]
    assert [r["id"] for r in desk.dispatcher.get(f"{URL}?tier=reply").get_json()] == [far["id"]]
    due_before = (START + timedelta(hours=13)).isoformat().replace("+00:00", "Z")
    assert [r["id"] for r in desk.dispatcher.get(f"{URL}?due_before={due_before}").get_json()] == [late["id"],
                                                                                                   far["id"]]
    assert len(desk.dispatcher.get(f"{URL}?station={desk.station['id']}").get_json()) == 3
    assert desk.dispatcher.get(f"{URL}?status=accepted").get_json() == []


def test_dsp4_a_deadline_marked_missed_keeps_its_request_first_on_the_board(desk: Desk, clock: ManualClock,
                                                                            session: Session,
                                                                            settings: Settings) -> None:
    from backend.duties.sla_watch import sla_watch

    late = desk.register(20)  # on site due +24 h
    clock.advance(hours=20)
    fresh = desk.register(300)  # reply due +12 h from now, i.e. +32 h
    clock.advance(hours=5)  # the first request's on-site deadline has passed
    sla_watch(session, clock.now(), settings)
    session.commit()
    board = desk.dispatcher.get(URL).get_json()
    # Missed but still to be done: the most urgent of all, not the last.
    assert [r["id"] for r in board] == [late["id"], fresh["id"]]
    assert board[0]["next_due_at"] == iso(START + timedelta(hours=24))


def test_board_refuses_an_unknown_status_filter_naming_it(desk: Desk) -> None:
    response = desk.dispatcher.get(f"{URL}?status=lost")
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "status"


# --- INT-4: the manager's decision --------------------------------------------------------------------------------

def test_int4_a_manager_accepts_with_a_reason_and_if_match(desk: Desk) -> None:
    request = desk.agent.get(f"{URL}/{desk.register()['id']}")
    url = f"{URL}/{request.get_json()['id']}/decision"
    body = {"outcome": "accepted", "reason": "door fault is a product defect"}
    assert desk.manager.post(url, json=body).status_code == 428
    assert desk.manager.post(url, json=body, headers={"If-Match": '"99"'}).status_code == 412
    response = desk.manager.post(url, json=body, headers=etag(request))
    assert response.status_code == 200, response.get_json()
    decided = response.get_json()
    assert (decided["status"], decided["decision"], decided["decision_reason"]) == (
        "accepted", "accepted", "door fault is a product defect")
    assert response.headers["ETag"] != request.headers["ETag"]
    again = desk.manager.post(url, json=body, headers=etag(response))
    assert again.status_code == 409


def test_int4_only_a_manager_decides(desk: Desk) -> None:
    request = desk.register()
    response = desk.dispatcher.post(f"{URL}/{request['id']}/decision", json={"outcome": "accepted", "reason": "ok"},
                                    headers={"If-Match": '"1"'})
    assert response.status_code == 403


def test_int4_a_decision_needs_a_reason(desk: Desk) -> None:
    request = desk.agent.get(f"{URL}/{desk.register()['id']}")
    response = desk.manager.post(f"{URL}/{request.get_json()['id']}/decision", json={"outcome": "rejected",
                                                                                     "reason": "  "},
                                 headers=etag(request))
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "reason"


def test_int4_rejecting_stops_the_clocks_with_the_reason(desk: Desk, clock: ManualClock) -> None:
    request = desk.register(20, fault_category="chassis_engine")
    clock.advance(hours=13)  # written contact (12 h) already missed, on-site (24 h) still open
    current = desk.agent.get(f"{URL}/{request['id']}")
    response = desk.manager.post(f"{URL}/{request['id']}/decision",
                                 json={"outcome": "rejected", "reason": "misuse: not a product fault"},
                                 headers=etag(current))
    rejected = response.get_json()
    assert rejected["status"] == "rejected"
    kinds = deadlines(rejected)
    assert kinds["written_contact"]["status"] == "missed"
    assert kinds["on_site"]["status"] == "waived"
    assert kinds["on_site"]["waived_reason"] == "request rejected: misuse: not a product fault"
    assert rejected["next_due_at"] is None
    assert desk.dispatcher.get(f"{URL}?overdue=true").get_json() == []  # off the board's overdue list
    late_contact = desk.dispatcher.post(f"{URL}/{request['id']}/written-contacts", json={"content": "x"})
    assert late_contact.status_code == 409 and "rejected" in late_contact.get_json()["detail"]
    assert desk.dispatch(request["id"]).status_code == 409


# --- DSP-2: the reply to a far-away customer ------------------------------------------------------------------------

def test_dsp2_the_reply_meets_its_deadline_and_opens_the_agreed_on_site_deadline(desk: Desk,
                                                                                 clock: ManualClock) -> None:
    request = desk.register(300)
    clock.advance(hours=2)
    agreed = START + timedelta(days=2)
    response = desk.dispatcher.post(f"{URL}/{request['id']}/replies", json={
        "content": "Engineer will be with you on Wednesday morning", "agreed_on_site_at": iso(agreed)})
    assert response.status_code == 200, response.get_json()
    kinds = deadlines(response.get_json())
    assert kinds["reply"]["status"] == "met"
    assert kinds["reply"]["met_at"] == iso(START + timedelta(hours=2))
    assert (kinds["on_site"]["due_at"], kinds["on_site"]["status"]) == (iso(agreed), "open")
    assert response.get_json()["next_due_at"] == iso(agreed)
    assert desk.dispatcher.post(f"{URL}/{request['id']}/replies", json={
        "content": "again", "agreed_on_site_at": iso(agreed)}).status_code == 409


def test_dsp2_a_late_reply_is_recorded_but_the_deadline_stays_missed(desk: Desk, clock: ManualClock) -> None:
    request = desk.register(300)
    clock.advance(hours=13)
    response = desk.dispatcher.post(f"{URL}/{request['id']}/replies", json={
        "content": "Sorry for the delay", "agreed_on_site_at": iso(START + timedelta(days=3))})
    reply = deadlines(response.get_json())["reply"]
    assert (reply["status"], reply["met_at"]) == ("missed", iso(START + timedelta(hours=13)))


def test_dsp2_a_reply_after_the_deadline_was_marked_missed_is_still_recorded(desk: Desk, session: Session,
                                                                              clock: ManualClock) -> None:
    request = desk.register(300)
    clock.advance(hours=13)
    # What the sla-watch duty does to an open deadline past due.
    session.execute(update(Deadline).where(Deadline.service_request_id == request["id"]).values(status="missed"))
    session.commit()
    assert [r["id"] for r in desk.dispatcher.get(f"{URL}?overdue=true").get_json()] == [request["id"]]
    response = desk.dispatcher.post(f"{URL}/{request['id']}/replies", json={
        "content": "Sorry for the delay", "agreed_on_site_at": iso(START + timedelta(days=3))})
    assert response.status_code == 200, response.get_json()
    reply = deadlines(response.get_json())["reply"]
    assert (reply["status"], reply["met_at"]) == ("missed", iso(START + timedelta(hours=13)))
    assert desk.dispatcher.get(f"{URL}?overdue=true").get_json() == []


def test_dsp2_the_agreed_time_must_follow_the_reply(desk: Desk) -> None:
    request = desk.register(300)
    response = desk.dispatcher.post(f"{URL}/{request['id']}/replies", json={
        "content": "yesterday?", "agreed_on_site_at": iso(START - timedelta(hours=1))})
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "agreed_on_site_at"


def test_dsp2_a_near_request_has_no_reply_deadline_to_meet(desk: Desk) -> None:
    request = desk.register(20)
    response = desk.dispatcher.post(f"{URL}/{request['id']}/replies", json={
        "content": "x", "agreed_on_site_at": iso(START + timedelta(days=1))})
    assert response.status_code == 409


def test_dsp2_only_a_dispatcher_replies(desk: Desk) -> None:
    request = desk.register(300)
    response = desk.agent.post(f"{URL}/{request['id']}/replies", json={
        "content": "x", "agreed_on_site_at": iso(START + timedelta(days=1))})
    assert response.status_code == 403


# --- DSP-3: written contact ------------------------------------------------------------------------------------------

def test_dsp3_the_written_contact_meets_its_deadline_and_is_archived(desk: Desk) -> None:
    request = desk.register(20, fault_category="chassis_engine")
    response = desk.dispatcher.post(f"{URL}/{request['id']}/written-contacts",
                                    json={"content": "We have logged the engine fault; an engineer will call."})
    assert response.status_code == 200, response.get_json()
    assert deadlines(response.get_json())["written_contact"]["status"] == "met"
    log = desk.agent.get(f"{URL}/{request['id']}/communications").get_json()
    assert [(e["kind"], e["direction"], e["channel"]) for e in log] == [("written_contact", "outgoing", "letter")]


def test_dsp3_a_body_fault_has_no_written_contact_deadline(desk: Desk) -> None:
    request = desk.register(20)
    response = desk.dispatcher.post(f"{URL}/{request['id']}/written-contacts", json={"content": "x"})
    assert response.status_code == 409
    assert "no written_contact deadline" in response.get_json()["detail"]


# --- INT-5: the call and letter log ----------------------------------------------------------------------------------

def test_int5_communications_are_listed_in_time_order(desk: Desk) -> None:
    request = desk.register(20)
    url = f"{URL}/{request['id']}/communications"
    later = desk.agent.post(url, json={"direction": "incoming", "channel": "phone", "content": "Customer chased us",
                                       "counterpart": "Sun Hao"})
    assert later.status_code == 201, later.get_json()
    earlier = desk.agent.post(url, json={"direction": "incoming", "channel": "letter", "content": "Letter of complaint",
                                         "occurred_at": iso(START - timedelta(days=1))})
    assert earlier.status_code == 201
    log = desk.dispatcher.get(url).get_json()
    assert [e["content"] for e in log] == ["Letter of complaint", "Customer chased us"]
    assert log[1]["counterpart"] == "Sun Hao"


def test_int5_a_communication_cannot_be_logged_in_the_future(desk: Desk) -> None:
    request = desk.register(20)
    response = desk.agent.post(f"{URL}/{request['id']}/communications", json={
        "direction": "outgoing", "channel": "phone", "content": "x", "occurred_at": iso(START + timedelta(hours=1))})
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "occurred_at"


def test_int5_a_technician_cannot_read_the_log(desk: Desk, as_role: Callable[..., Api]) -> None:
    request = desk.register(20)
    assert as_role("technician").get(f"{URL}/{request['id']}/communications").status_code == 403


# --- DSP-4: waivers --------------------------------------------------------------------------------------------------

def test_dsp4_a_manager_waives_an_open_deadline_with_a_reason(desk: Desk) -> None:
    request = desk.register(20)
    current = desk.agent.get(f"{URL}/{request['id']}")
    url = f"{URL}/{request['id']}/deadline-waivers"
    assert desk.dispatcher.post(url, json={"kind": "on_site", "reason": "x"}, headers=etag(current)).status_code == 403
    assert desk.manager.post(url, json={"kind": "on_site"}, headers=etag(current)).status_code == 422
    response = desk.manager.post(url, json={"kind": "on_site", "reason": "customer closed for holiday"},
                                 headers=etag(current))
    assert response.status_code == 200, response.get_json()
    on_site = deadlines(response.get_json())["on_site"]
    assert (on_site["status"], on_site["waived_reason"]) == ("waived", "customer closed for holiday")
    again = desk.manager.post(url, json={"kind": "on_site", "reason": "again"}, headers=etag(response))
    assert again.status_code == 409


def test_dsp4_a_missed_deadline_cannot_be_waived_afterwards(desk: Desk, clock: ManualClock) -> None:
    request = desk.register(20)
    clock.advance(hours=25)
    current = desk.agent.get(f"{URL}/{request['id']}")
    response = desk.manager.post(f"{URL}/{request['id']}/deadline-waivers",
                                 json={"kind": "on_site", "reason": "too late"}, headers=etag(current))
    assert response.status_code == 409
    assert "missed" in response.get_json()["detail"]


def test_dsp4_waiving_a_deadline_the_request_lacks_names_the_kind(desk: Desk) -> None:
    request = desk.register(20)
    current = desk.agent.get(f"{URL}/{request['id']}")
    response = desk.manager.post(f"{URL}/{request['id']}/deadline-waivers",
                                 json={"kind": "reply", "reason": "x"}, headers=etag(current))
    assert response.status_code == 409
    assert response.get_json()["errors"][0]["field"] == "kind"


# --- roles, audit, idempotency ---------------------------------------------------------------------------------------

def test_int1_only_agents_and_dispatchers_register(desk: Desk, as_role: Callable[..., Api]) -> None:
    for role in ("technician", "manager", "warehouse"):
        assert as_role(role).post(URL, json=desk.intake_body()).status_code == 403
    assert desk.dispatcher.post(URL, json=desk.intake_body()).status_code == 201


def test_int1_intake_is_audited_with_the_actor(desk: Desk, session: Session) -> None:
    request = desk.register(20)
    entries = session.scalars(select(AuditEntry).where(AuditEntry.entity_type.in_(["service_requests",
                                                                                  "sla_deadlines"]))).all()
    assert {(e.entity_type, e.change) for e in entries} == {("service_requests", "create"),
                                                            ("sla_deadlines", "create")}
    assert all(e.action == "POST /api/v1/service-requests" and e.actor_user_id for e in entries)
    assert any(e.after and e.after.get("number") == request["number"] for e in entries)


def test_int1_a_retried_intake_with_the_same_idempotency_key_registers_once(desk: Desk) -> None:
    body, key = desk.intake_body(), {"Idempotency-Key": "intake-1"}
    first = desk.agent.post(URL, json=body, headers=key)
    second = desk.agent.post(URL, json=body, headers=key)
    assert first.status_code == second.status_code == 201
    assert second.headers["Idempotent-Replayed"] == "true"
    assert first.get_json()["number"] == second.get_json()["number"]
    assert len(desk.agent.get(URL).get_json()) == 1


def test_an_unknown_request_is_a_404_problem(desk: Desk) -> None:
    response = desk.agent.get(f"{URL}/999")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"


def test_stored_times_are_utc_and_offsets_are_normalised(desk: Desk) -> None:
    request = desk.register(20, reported_at="2026-03-02T10:00:00+08:00")  # 02:00 UTC
    assert request["reported_at"] == "2026-03-02T02:00:00+00:00"
    assert deadlines(request)["on_site"]["due_at"] == "2026-03-03T02:00:00+00:00"

