"""Four eyes and "not yours" (issue 10): nobody decides about a job they are on the crew of (PRT-3, PRT-5, PRT-6,
PRT-8, REP-5, REP-6), a technician's records answer other technicians as if they did not exist (PRT-8), and only
admins and managers change warranty terms (WAR-1)."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.test_dispatch_support import ZHENGZHOU, etag
from tests.test_parts_flow_old_parts import FREIGHT, _owe
from tests.test_parts_flow_support import (OLD_PARTS, REQUISITIONS, Yard, desk, quick_passwords, settings,  # noqa: F401
                                           yard)

FILTER = {"quantity": 1, "reason": "worn"}


def _make_supervisor_too(yard: Yard, user_id: int) -> None:
    url = f"/api/v1/users/{user_id}"
    response = yard.desk.admin.patch(url, json={"roles": ["technician", "supervisor"]},
                                     headers=etag(yard.desk.admin.get(url)))
    assert response.status_code == 200, response.get_json()


def _same_answer(response: Any, ident: int, missing: Any, missing_ident: int) -> None:
    """Two answers a client cannot tell apart, except for the id it asked about (and the request id)."""
    def shape(answer: Any, asked: int) -> str:
        body = {k: v for k, v in answer.get_json().items() if k != "request_id"}
        return re.sub(rf"(?<![0-9]){asked}(?![0-9])", "#", json.dumps(body, sort_keys=True))

    assert response.status_code == missing.status_code
    assert shape(response, ident) == shape(missing, missing_ident)


# --- approvals and excuses are never the crew's own ---------------------------------------------------------------

def test_prt6_a_supervisor_who_is_also_the_technician_cannot_excuse_their_own_old_part(yard: Yard) -> None:
    (owed,) = _owe(yard, {"part_id": yard.filter_part["id"]})
    _make_supervisor_too(yard, yard.tech["user"].id)
    excuse = {"reason": "customer_kept"}
    refused = yard.tech_api.post(f"{OLD_PARTS}/{owed['id']}/excuse", json=excuse)
    assert refused.status_code == 403
    assert "crew" in refused.get_json()["detail"]
    # Nothing was settled, so nothing was written off (PRT-6).
    assert yard.old_parts("status=outstanding")[0]["id"] == owed["id"]
    assert yard.supervisor.post(f"{OLD_PARTS}/{owed['id']}/excuse", json=excuse).status_code == 200


def test_prt5_a_warehouse_keeper_on_the_crew_cannot_take_in_their_own_old_part(yard: Yard) -> None:
    (owed,) = _owe(yard, {"part_id": yard.filter_part["id"]})
    url = f"/api/v1/users/{yard.tech['user'].id}"
    yard.desk.admin.patch(url, json={"roles": ["technician", "warehouse"]}, headers=etag(yard.desk.admin.get(url)))
    assert yard.tech_api.post(f"{OLD_PARTS}/{owed['id']}/receive", json={"condition": "ok"}).status_code == 403
    assert yard.warehouse.post(f"{OLD_PARTS}/{owed['id']}/receive", json={"condition": "ok"}).status_code == 200


def test_prt3_a_supervisor_on_the_crew_cannot_approve_a_crew_mates_requisition(yard: Yard) -> None:
    desk = yard.desk
    both = desk.technician(position=ZHENGZHOU, name="Zhao Lei")
    mate = desk.technician(position=ZHENGZHOU, name="Chen Jie")
    job = desk.dispatch(desk.register()["id"], technician_ids=[both["id"], mate["id"]], lead_id=both["id"])
    assert job.status_code == 201, job.get_json()
    _make_supervisor_too(yard, both["user"].id)
    asked = desk.as_technician(mate).post(REQUISITIONS, json={
        "job_id": job.get_json()["id"], "lines": [{"part_id": yard.filter_part["id"], **FILTER}]})
    assert asked.status_code == 201, asked.get_json()
    url = f"{REQUISITIONS}/{asked.get_json()['id']}"
    as_both = desk.as_technician(both)
    assert as_both.post(f"{url}/approve").status_code == 403
    assert as_both.post(f"{url}/reject", json={"reason": "not needed"}).status_code == 403
    assert yard.supervisor.post(f"{url}/approve").status_code == 200


def test_prt8_a_supervisor_on_the_crew_cannot_approve_freight_for_their_job(yard: Yard) -> None:
    (owed,) = _owe(yard, {"part_id": yard.filter_part["id"]})
    charge = yard.warehouse.post(FREIGHT, json={"amount": "12.00", "description": "courier",
                                                "old_part_ids": [owed["id"]]})
    assert charge.status_code == 201, charge.get_json()
    _make_supervisor_too(yard, yard.tech["user"].id)
    url = f"{FREIGHT}/{charge.get_json()['id']}"
    assert yard.tech_api.post(f"{url}/approve").status_code == 403
    assert yard.supervisor.post(f"{url}/approve").status_code == 200


def test_dsp4_a_manager_on_the_crew_cannot_waive_the_requests_deadlines(yard: Yard) -> None:
    url = f"/api/v1/users/{yard.tech['user'].id}"
    yard.desk.admin.patch(url, json={"roles": ["technician", "manager"]}, headers=etag(yard.desk.admin.get(url)))
    request_id = yard.tech_api.get(f"/api/v1/jobs/{yard.job_id}").get_json()["service_request_id"]
    request_url = f"/api/v1/service-requests/{request_id}"
    waiver = {"kind": "on_site", "reason": "road closed"}
    refused = yard.tech_api.post(f"{request_url}/deadline-waivers", json=waiver,
                                 headers=etag(yard.tech_api.get(request_url)))
    assert refused.status_code == 403
    manager = yard.desk.manager
    assert manager.post(f"{request_url}/deadline-waivers", json=waiver,
                        headers=etag(manager.get(request_url))).status_code == 200


# --- "not yours" answers like "not found" --------------------------------------------------------------------------

def test_a_technician_asking_for_someone_elses_job_gets_the_answer_for_a_missing_one(yard: Yard) -> None:
    other = yard.desk.as_technician(yard.desk.technician(name="Li Na"))
    missing_id = yard.job_id + 1000
    for path in ("", "/events", "/report", "/photos"):
        _same_answer(other.get(f"/api/v1/jobs/{yard.job_id}{path}"), yard.job_id,
                     other.get(f"/api/v1/jobs/{missing_id}{path}"), missing_id)
    _same_answer(other.post(f"/api/v1/jobs/{yard.job_id}/accept", json={}), yard.job_id,
                 other.post(f"/api/v1/jobs/{missing_id}/accept", json={}), missing_id)
    # Parts for a job that is not theirs: the same as for a job that does not exist.
    _same_answer(yard.requisition({"part_id": yard.filter_part["id"], **FILTER}, api=other), yard.job_id,
                 other.post(REQUISITIONS, json={"job_id": missing_id, "lines": [
                     {"part_id": yard.filter_part["id"], **FILTER}]}), missing_id)


def test_prt8_a_technician_charges_freight_only_on_their_own_records(yard: Yard) -> None:
    (owed,) = _owe(yard, {"part_id": yard.filter_part["id"]})
    requisition_id = yard.tech_api.get(REQUISITIONS).get_json()[0]["id"]
    other = yard.desk.as_technician(yard.desk.technician(name="Li Na"))
    body = {"amount": "18.50", "description": "parcel", "old_part_ids": []}
    missing = requisition_id + 1000
    _same_answer(other.post(FREIGHT, json=body | {"requisition_id": requisition_id}), requisition_id,
                 other.post(FREIGHT, json=body | {"requisition_id": missing}), missing)
    missing = owed["id"] + 1000
    _same_answer(other.post(FREIGHT, json=body | {"old_part_ids": [owed["id"]]}), owed["id"],
                 other.post(FREIGHT, json=body | {"old_part_ids": [missing]}), missing)
    assert other.get(FREIGHT).get_json() == []
    # Their own records they may charge.
    own = yard.tech_api.post(FREIGHT, json=body | {"requisition_id": requisition_id, "old_part_ids": [owed["id"]]})
    assert own.status_code == 201, own.get_json()


def test_another_technician_cannot_return_parts_from_someone_elses_requisition(yard: Yard) -> None:
    requisition = yard.issued({"part_id": yard.filter_part["id"], **FILTER})
    other = yard.desk.as_technician(yard.desk.technician(name="Li Na"))
    body = {"destination_location_id": yard.store, "lines": [{"line_no": 1, "quantity": 1}]}
    missing = requisition["id"] + 1000
    _same_answer(other.post(f"{REQUISITIONS}/{requisition['id']}/return-unused", json=body), requisition["id"],
                 other.post(f"{REQUISITIONS}/{missing}/return-unused", json=body), missing)


# --- warranty terms (WAR-1) ---------------------------------------------------------------------------------------

def test_war1_only_admins_and_managers_change_warranty_terms_and_the_change_is_audited(yard: Yard) -> None:
    desk = yard.desk
    url = f"/api/v1/units/{desk.unit['id']}"
    for field, value in (("warranty_end_date", "2099-12-31"), ("warranty_mileage_limit_km", 900000),
                         ("warranty_hours_limit", 99999)):
        refused = desk.agent.patch(url, json={field: value}, headers=etag(desk.agent.get(url)))
        assert refused.status_code == 403, field
        assert [e["field"] for e in refused.get_json()["errors"]] == [field]
    # An agent still keeps the unit's other details, and may resend the terms unchanged.
    unchanged = desk.agent.get(url).get_json()["warranty_end_date"]
    kept = desk.agent.patch(url, json={"model": "C10 coach", "warranty_end_date": unchanged},
                            headers=etag(desk.agent.get(url)))
    assert kept.status_code == 200 and kept.get_json()["model"] == "C10 coach"
    # Nor may an agent register a unit that arrives with terms of their choosing.
    created = desk.agent.post("/api/v1/units", json={"customer_id": desk.customer["id"], "model": "C12 coach",
                                                     "serial_number": "SN-WAR-1", "warranty_end_date": "2099-01-01"})
    assert created.status_code == 403
    changed = desk.manager.patch(url, json={"warranty_end_date": "2027-06-30"}, headers=etag(desk.manager.get(url)))
    assert changed.status_code == 200 and changed.get_json()["warranty_end_date"] == "2027-06-30"
    trail = desk.admin.get(f"/api/v1/audit?entity_type=units&entity_id={desk.unit['id']}").get_json()
    moves = [e for e in trail if e["change"] == "update" and "warranty_end_date" in (e["after"] or {})]
    assert len(moves) == 1
    assert moves[0]["after"]["warranty_end_date"] == "2027-06-30"
    assert moves[0]["actor_user_id"] == desk.manager.get("/api/v1/me").get_json()["id"]
