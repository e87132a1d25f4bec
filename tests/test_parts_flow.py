"""Requisition → approval → issue → install (signed report) → old part back → write-off (rules PRT-3..PRT-6)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from backend.errors import DomainError
from tests.test_parts_flow_support import (OLD_PARTS, REQUISITIONS, Yard, desk, quick_passwords,  # noqa: F401
                                           settings, yard)

FILTERS = 3


def _filters(yard: Yard, quantity: int = FILTERS) -> dict:
    return {"part_id": yard.filter_part["id"], "quantity": quantity, "reason": "clogged oil filter"}


def _conditions(requisition: dict) -> list[str]:
    (line,) = requisition["lines"]
    return line["open_conditions"]


# --- requisitions and their gates (PRT-3) ------------------------------------------------------------------------

def test_a_technician_on_the_crew_requests_parts_and_a_supervisor_approves(yard: Yard) -> None:
    response = yard.requisition(_filters(yard))
    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    assert created["status"] == "pending" and created["number"].startswith("RQ-")
    assert created["technician_id"] == yard.tech["id"]
    assert response.headers["Location"].endswith(f"{REQUISITIONS}/{created['id']}")

    approved = yard.supervisor.post(f"{REQUISITIONS}/{created['id']}/approve")
    assert approved.status_code == 200 and approved.get_json()["status"] == "approved"
    # Deciding twice is refused.
    assert yard.supervisor.post(f"{REQUISITIONS}/{created['id']}/approve").status_code == 409


def test_a_technician_outside_the_crew_cannot_request_parts_for_the_job(yard: Yard) -> None:
    outsider = yard.desk.as_technician(yard.desk.technician(name="Li Na"))
    refused = yard.requisition(_filters(yard), api=outsider)  # as for a job that does not exist (issue 10)
    assert refused.status_code == 422 and [e["field"] for e in refused.get_json()["errors"]] == ["job_id"]


def test_nothing_is_issued_before_approval(yard: Yard) -> None:
    """rule PRT-3: the store issues only what a supervisor approved."""
    pending = yard.requisition(_filters(yard)).get_json()
    refused = yard.issue(pending["id"])
    assert refused.status_code == 409
    assert "approve" in refused.get_json()["detail"]
    assert yard.level(yard.van, yard.filter_part) == 0

    rejected = yard.requisition(_filters(yard)).get_json()
    assert yard.supervisor.post(f"{REQUISITIONS}/{rejected['id']}/reject", json={}).status_code == 422
    answer = yard.supervisor.post(f"{REQUISITIONS}/{rejected['id']}/reject", json={"reason": "use the spare"})
    assert answer.get_json()["status"] == "rejected" and answer.get_json()["reject_reason"] == "use the spare"
    assert yard.issue(rejected["id"]).status_code == 409


def test_issuing_moves_the_parts_from_the_store_to_the_technicians_van(yard: Yard) -> None:
    requisition = yard.approved(_filters(yard), {"part_id": yard.alternator["id"], "quantity": 1,
                                                 "reason": "no charge"})
    # A serial-tracked part needs its serial.
    assert yard.issue(requisition["id"]).status_code == 422
    issued = yard.issue(requisition["id"], {"line_no": 2, "serials": ["ALT-2"]})
    assert issued.status_code == 200, issued.get_json()
    body = issued.get_json()
    assert body["status"] == "issued" and body["lines"][1]["issued_serials"] == ["ALT-2"]
    assert yard.level(yard.store, yard.filter_part) == 10 - FILTERS
    assert yard.level(yard.van, yard.filter_part) == FILTERS
    where = yard.warehouse.get("/api/v1/serials/ALT-2").get_json()
    assert where["location"]["id"] == yard.van
    # Issued once only.
    assert yard.issue(requisition["id"], {"line_no": 2, "serials": ["ALT-1"]}).status_code == 409


def test_issuing_more_than_the_store_holds_is_refused_and_moves_nothing(yard: Yard) -> None:
    requisition = yard.approved(_filters(yard, quantity=11))
    refused = yard.issue(requisition["id"])
    assert refused.status_code == 409 and "not enough stock" in refused.get_json()["detail"]
    assert yard.level(yard.store, yard.filter_part) == 10
    assert yard.get(requisition["id"])["status"] == "approved"  # it can still be issued once stock arrives


def test_only_the_warehouse_issues_and_only_a_supervisor_approves(yard: Yard) -> None:
    requisition = yard.requisition(_filters(yard)).get_json()
    assert yard.warehouse.post(f"{REQUISITIONS}/{requisition['id']}/approve").status_code == 403
    assert yard.tech_api.post(f"{REQUISITIONS}/{requisition['id']}/approve").status_code == 403
    yard.supervisor.post(f"{REQUISITIONS}/{requisition['id']}/approve")
    assert yard.supervisor.post(f"{REQUISITIONS}/{requisition['id']}/issue",
                                json={"source_location_id": yard.store}).status_code == 403
    assert yard.tech_api.post(f"{REQUISITIONS}/{requisition['id']}/issue",
                              json={"source_location_id": yard.store}).status_code == 403


def test_a_technician_sees_only_their_own_requisitions(yard: Yard) -> None:
    mine = yard.requisition(_filters(yard)).get_json()
    other_tech = yard.desk.technician(name="Li Na")
    other = yard.desk.as_technician(other_tech)
    assert other.get(REQUISITIONS).get_json() == []
    assert other.get(f"{REQUISITIONS}/{mine['id']}").status_code == 404
    assert other.get(f"{REQUISITIONS}?technician_id={yard.tech['id']}").status_code == 403
    assert [r["id"] for r in yard.tech_api.get(REQUISITIONS).get_json()] == [mine["id"]]
    assert [r["id"] for r in yard.warehouse.get(REQUISITIONS).get_json()] == [mine["id"]]


def test_replaying_a_requisition_with_the_same_idempotency_key_raises_it_once(yard: Yard) -> None:
    first = yard.requisition(_filters(yard), **{"Idempotency-Key": "rq-1"})
    again = yard.requisition(_filters(yard), **{"Idempotency-Key": "rq-1"})
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["id"] == first.get_json()["id"]
    assert len(yard.tech_api.get(REQUISITIONS).get_json()) == 1


def test_replaying_a_return_with_the_same_idempotency_key_returns_the_parts_once(yard: Yard) -> None:
    requisition = yard.issued(_filters(yard))
    body = {"destination_location_id": yard.store, "lines": [{"line_no": 1, "quantity": 1}]}
    url = f"{REQUISITIONS}/{requisition['id']}/return-unused"
    for _ in range(2):
        assert yard.tech_api.post(url, json=body, headers={"Idempotency-Key": "ret-1"}).status_code == 200
    assert yard.level(yard.van, yard.filter_part) == FILTERS - 1
    assert yard.get(requisition["id"])["lines"][0]["returned_quantity"] == 1


# --- return unused (PRT-6) ---------------------------------------------------------------------------------------

def test_parts_not_used_go_back_into_stock_and_no_more_than_is_unused(yard: Yard) -> None:
    requisition = yard.issued(_filters(yard))
    yard.work_done()
    yard.sign({"part_id": yard.filter_part["id"], "quantity": 2, "covered_by_warranty": False})
    url = f"{REQUISITIONS}/{requisition['id']}/return-unused"
    too_many = yard.tech_api.post(url, json={"destination_location_id": yard.store,
                                             "lines": [{"line_no": 1, "quantity": 2}]})
    assert too_many.status_code == 409  # 3 issued, 2 installed: 1 left
    back = yard.warehouse.post(url, json={"destination_location_id": yard.store,
                                          "lines": [{"line_no": 1, "quantity": 1}]})
    assert back.status_code == 200, back.get_json()
    assert yard.level(yard.van, yard.filter_part) == 0
    assert yard.level(yard.store, yard.filter_part) == 10 - FILTERS + 1
    line = back.get_json()["lines"][0]
    assert (line["installed_quantity"], line["returned_quantity"]) == (2, 1)


def test_another_technician_cannot_return_someone_elses_parts(yard: Yard) -> None:
    requisition = yard.issued(_filters(yard))
    other = yard.desk.as_technician(yard.desk.technician(name="Li Na"))
    response = other.post(f"{REQUISITIONS}/{requisition['id']}/return-unused",
                          json={"destination_location_id": yard.store, "lines": [{"line_no": 1, "quantity": 1}]})
    assert response.status_code == 404  # as for a requisition that does not exist (issue 10)


# --- installation by the signed report (PRT-4, PRT-5) ------------------------------------------------------------

def test_signing_consumes_from_the_lead_technicians_van_and_owes_the_old_part(yard: Yard) -> None:
    requisition = yard.issued(_filters(yard))
    yard.work_done()
    done_at = yard.clock.now()
    yard.later(hours=3)
    yard.sign({"part_id": yard.filter_part["id"], "quantity": 2, "old_serial": None})
    assert yard.level(yard.van, yard.filter_part) == FILTERS - 2
    (owed,) = yard.old_parts()
    assert owed["status"] == "outstanding" and owed["quantity"] == 2
    assert owed["technician_id"] == yard.tech["id"] and owed["station_id"] == yard.desk.station["id"]
    # rule PRT-5: due 7 days (default) after the work was done, not after the signature.
    assert datetime.fromisoformat(owed["due_at"]) == done_at + timedelta(days=7)
    assert yard.get(requisition["id"])["lines"][0]["installed_quantity"] == 2


def test_a_shortage_in_the_van_refuses_the_sign_off_naming_the_line(yard: Yard) -> None:
    yard.issued(_filters(yard, quantity=1))
    yard.work_done()
    with pytest.raises(DomainError) as refused:
        yard.sign({"part_id": yard.filter_part["id"], "quantity": 1},
                  {"part_id": yard.filter_part["id"], "quantity": 1})
    assert refused.value.status == 409 and refused.value.field == "part_lines.1"
    # Nothing was taken: the sign-off transaction rolled back as a whole.
    assert yard.level(yard.van, yard.filter_part) == 1
    assert yard.old_parts() == []


def test_a_serial_tracked_part_is_installed_by_its_serial(yard: Yard) -> None:
    yard.issued({"part_id": yard.alternator["id"], "quantity": 1, "reason": "no charge"},
                serials=({"line_no": 1, "serials": ["ALT-1"]},))
    yard.work_done()
    with pytest.raises(DomainError) as no_serial:
        yard.sign({"part_id": yard.alternator["id"]})
    assert no_serial.value.field == "part_lines.0.new_serial"
    yard.sign({"part_id": yard.alternator["id"], "new_serial": "ALT-1", "old_serial": "OLD-77"})
    unit = yard.warehouse.get("/api/v1/serials/ALT-1").get_json()
    assert unit["status"] == "not_in_stock"
    (owed,) = yard.old_parts()
    assert owed["serial"] == "OLD-77"


def test_a_corrected_report_reconciles_what_was_installed(yard: Yard) -> None:
    """A new signed version: lines gone go back to the van (their old part is no longer owed), new ones are
    consumed, unchanged ones stay as they were."""
    requisition = yard.issued(_filters(yard), {"part_id": yard.alternator["id"], "quantity": 1,
                                               "reason": "no charge"},
                              serials=({"line_no": 2, "serials": ["ALT-1"]},))
    yard.work_done()
    yard.sign({"part_id": yard.filter_part["id"], "quantity": 2},
              {"part_id": yard.alternator["id"], "new_serial": "ALT-1"})
    assert yard.level(yard.van, yard.filter_part) == FILTERS - 2
    assert yard.level(yard.van, yard.alternator) == 0

    yard.sign({"part_id": yard.filter_part["id"], "quantity": 2}, {"part_id": yard.filter_part["id"]})
    assert yard.level(yard.van, yard.filter_part) == FILTERS - 3
    assert yard.warehouse.get("/api/v1/serials/ALT-1").get_json()["location"]["id"] == yard.van
    statuses = sorted((o["part"]["part_number"], o["quantity"], o["status"]) for o in yard.old_parts())
    assert statuses == [("ALT-24V", 1, "cancelled"), ("FLT-OIL-D6", 1, "outstanding"),
                        ("FLT-OIL-D6", 2, "outstanding")]
    lines = yard.get(requisition["id"])["lines"]
    assert [line["installed_quantity"] for line in lines] == [3, 0]
    # The alternator the correction took off is unused again, so it can go back to the store.
    back = yard.tech_api.post(f"{REQUISITIONS}/{requisition['id']}/return-unused", json={
        "destination_location_id": yard.store, "lines": [{"line_no": 2, "quantity": 1, "serials": ["ALT-1"]}]})
    assert back.status_code == 200, back.get_json()
    assert yard.warehouse.get("/api/v1/serials/ALT-1").get_json()["location"]["id"] == yard.store
    # Signing the same content again changes nothing.
    yard.sign({"part_id": yard.filter_part["id"], "quantity": 2}, {"part_id": yard.filter_part["id"]})
    assert yard.level(yard.van, yard.filter_part) == FILTERS - 3
    assert len(yard.old_parts("status=outstanding")) == 2


# --- write-off (PRT-6) -------------------------------------------------------------------------------------------

def test_write_off_waits_for_signature_approval_and_the_old_part(yard: Yard) -> None:
    requisition = yard.issued(_filters(yard, quantity=1))
    assert _conditions(yard.get(requisition["id"])) == ["report_signed", "report_approved"]

    yard.work_done()
    report = yard.sign({"part_id": yard.filter_part["id"]})
    assert _conditions(yard.get(requisition["id"])) == ["report_approved", "old_part_received_or_excused"]
    assert yard.write_offs() == []

    yard.approve_report(report)
    assert _conditions(yard.get(requisition["id"])) == ["old_part_received_or_excused"]
    assert yard.write_offs() == []  # not before the old part is back

    (owed,) = yard.old_parts()
    received = yard.warehouse.post(f"{OLD_PARTS}/{owed['id']}/receive", json={"condition": "cracked housing"})
    assert received.status_code == 200, received.get_json()
    assert received.get_json()["status"] == "received"
    line = yard.get(requisition["id"])["lines"][0]
    assert line["open_conditions"] == [] and line["written_off_quantity"] == 1
    (write_off,) = yard.write_offs()
    assert write_off["part"]["id"] == yard.filter_part["id"] and write_off["job_id"] == yard.job_id


def test_the_old_part_back_before_approval_still_waits_for_approval(yard: Yard) -> None:
    yard.issued(_filters(yard, quantity=1))
    yard.work_done()
    report = yard.sign({"part_id": yard.filter_part["id"]})
    (owed,) = yard.old_parts()
    yard.warehouse.post(f"{OLD_PARTS}/{owed['id']}/receive", json={"condition": "ok"})
    assert yard.write_offs() == []  # not before approval
    yard.approve_report(report)
    assert len(yard.write_offs()) == 1
    yard.approve_report(report)  # a second approval call writes nothing off twice
    assert len(yard.write_offs()) == 1


def test_a_non_warranty_part_is_written_off_on_approval_without_an_old_part(yard: Yard) -> None:
    yard.issued(_filters(yard, quantity=1))
    yard.work_done()
    report = yard.sign({"part_id": yard.filter_part["id"], "covered_by_warranty": False})
    assert yard.old_parts() == []
    assert yard.write_offs() == []  # not before approval
    yard.approve_report(report)
    assert len(yard.write_offs()) == 1


def test_an_excused_old_part_lets_the_write_off_happen(yard: Yard) -> None:
    yard.issued(_filters(yard, quantity=1))
    yard.work_done()
    yard.approve_report(yard.sign({"part_id": yard.filter_part["id"]}))
    (owed,) = yard.old_parts()
    url = f"{OLD_PARTS}/{owed['id']}/excuse"
    assert yard.warehouse.post(url, json={"reason": "customer_kept"}).status_code == 403
    assert yard.supervisor.post(url, json={"reason": "other"}).status_code == 422  # other needs a note
    excused = yard.supervisor.post(url, json={"reason": "customer_kept", "note": "kept as a spare"})
    assert excused.status_code == 200 and excused.get_json()["excused_reason"] == "customer_kept"
    assert len(yard.write_offs()) == 1
    # Settled once: receiving it now is refused.
    assert yard.warehouse.post(f"{OLD_PARTS}/{owed['id']}/receive", json={"condition": "x"}).status_code == 409
