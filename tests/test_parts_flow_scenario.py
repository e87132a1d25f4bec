"""The whole warranty-part chain through the HTTP API, with the real report flow (issue 5; PRT-2..PRT-7,
REP-2..5): received → requested → approved → issued → installed at sign-off → approved → old part back →
written off → claimed from the supplier."""

from __future__ import annotations

from tests import factories
from tests.conftest import Api
from tests.test_dispatch_support import ZHENGZHOU, Desk, desk, etag, quick_passwords, settings  # noqa: F401
from tests.test_fieldwork_support import Field, complete_report, field, stock_van, supervisor  # noqa: F401


def open_conditions(field: Field, requisition_id: int) -> list[str]:
    body = field.lead.get(f"/api/v1/requisitions/{requisition_id}").get_json()
    return body["lines"][0]["open_conditions"]


def test_prt3_to_prt7_a_warranty_part_from_the_store_to_the_supplier_claim(desk: Desk, supervisor: Api) -> None:
    warehouse = desk.login(desk.make_user("warehouse"))
    valve = factories.part(desk.admin, name="Door actuator valve", supplier="Wabco")
    assert warehouse.post("/api/v1/stock/receipts", json={
        "supplier": "Wabco", "lines": [{"part_id": valve["id"], "quantity": 4}]}).status_code == 201
    request = desk.register(km=30)
    lead = desk.technician(position=ZHENGZHOU)
    job = desk.dispatch(request["id"], technician_ids=[lead["id"]]).get_json()
    field = Field(desk=desk, supervisor=supervisor, request=request, job=job, lead=desk.as_technician(lead),
                  lead_technician=lead, part=valve)

    # PRT-3: requested for the job, nothing issued before a supervisor approves.
    requisition = field.lead.post("/api/v1/requisitions", json={
        "job_id": job["id"], "lines": [{"part_id": valve["id"], "quantity": 1, "reason": "Valve leaks"}]}).get_json()
    store = warehouse.get("/api/v1/stock-locations", query_string={"kind": "store"}).get_json()[0]["id"]
    issue = {"source_location_id": store}
    assert warehouse.post(f"/api/v1/requisitions/{requisition['id']}/issue", json=issue).status_code == 409
    assert supervisor.post(f"/api/v1/requisitions/{requisition['id']}/approve").status_code == 200
    assert warehouse.post(f"/api/v1/requisitions/{requisition['id']}/issue", json=issue).status_code == 200
    assert open_conditions(field, requisition["id"]) == ["report_signed", "report_approved"]
    assert van_on_hand(warehouse, lead["id"], valve["id"]) == 1

    # PRT-4: installed on the report; signing takes it out of the van.
    field.to("signed")
    assert van_on_hand(warehouse, lead["id"], valve["id"]) == 0
    [owed] = warehouse.get("/api/v1/old-parts", query_string={"status": "outstanding"}).get_json()
    assert (owed["job_id"], owed["serial"]) == (job["id"], "OLD-1")
    assert warehouse.get("/api/v1/write-offs").get_json() == []
    # Installed under warranty: now the old part is owed as well.
    assert open_conditions(field, requisition["id"]) == ["report_approved", "old_part_received_or_excused"]

    # PRT-6: approval alone does not write it off while the old part is still out.
    assert field.lead.post(f"{field.url}/report/submit").status_code == 200
    assert supervisor.post(f"{field.url}/report/approve", headers=etag(field.report(supervisor))).status_code == 200
    assert open_conditions(field, requisition["id"]) == ["old_part_received_or_excused"]
    assert warehouse.get("/api/v1/write-offs").get_json() == []

    # PRT-5/6: the old part comes back; the last condition met, the part is written off by itself.
    received = warehouse.post(f"/api/v1/old-parts/{owed['id']}/receive", json={"condition": "Leaking seal"})
    assert received.status_code == 200, received.get_json()
    [written_off] = warehouse.get("/api/v1/write-offs").get_json()
    assert (written_off["job_id"], written_off["quantity"]) == (job["id"], 1)
    assert open_conditions(field, requisition["id"]) == []

    # PRT-7: the old part goes back to its supplier as a secondary claim.
    claim = warehouse.post("/api/v1/supplier-claims", json={"old_part_ids": [owed["id"]], "amount_claimed": "120.00"})
    assert claim.status_code == 201, claim.get_json()
    assert (claim.get_json()["supplier"], claim.get_json()["status"]) == ("Wabco", "open")


def van_on_hand(api: Api, technician_id: int, part_id: int) -> int:
    [van] = api.get("/api/v1/stock-locations", query_string={"technician": technician_id}).get_json()
    rows = api.get("/api/v1/stock", query_string={"location": van["id"], "part": part_id}).get_json()
    return sum(row["on_hand"] for row in rows)



def test_prt5_correcting_only_the_old_serial_keeps_the_old_part_already_handed_in(field: Field) -> None:
    """The supervisor rejects a report for a mistyped old serial after the old part came back: the correction
    changes the serial of the part owed; it does not owe the same part a second time."""
    field.to("submitted")
    warehouse = field.desk.login(field.desk.make_user("warehouse"))
    [owed] = warehouse.get("/api/v1/old-parts").get_json()
    assert warehouse.post(f"/api/v1/old-parts/{owed['id']}/receive", json={"condition": "ok"}).status_code == 200
    field.supervisor.post(f"{field.url}/report/reject", json={"reason": "The old serial is OLD-2"})
    assert field.lead.post(f"{field.url}/report/corrections").status_code == 201
    corrected = complete_report(field.part["id"])
    corrected["part_lines"][0]["old_serial"] = "OLD-2"
    assert field.write_report(**corrected).status_code == 200
    assert field.sign().status_code == 200
    assert [(o["status"], o["serial"]) for o in warehouse.get("/api/v1/old-parts").get_json()] == [
        ("received", "OLD-2")]
    field.lead.post(f"{field.url}/report/submit")
    field.supervisor.post(f"{field.url}/report/approve", headers=etag(field.report(field.supervisor)))
    assert len(warehouse.get("/api/v1/write-offs").get_json()) == 1


def test_prt4_a_part_on_a_crew_mates_van_is_fitted_at_the_leads_sign_off(desk: Desk, supervisor: Api) -> None:
    """The mate raised the requisition and carries the part; the lead gets the signature: it comes off the mate's van,
    and an unused mate's van part can still go back."""
    request = desk.register(km=30)
    lead, mate = desk.technician(position=ZHENGZHOU), desk.technician(position=ZHENGZHOU)
    job = desk.dispatch(request["id"], technician_ids=[lead["id"], mate["id"]], lead_id=lead["id"]).get_json()
    part = factories.part(desk.admin)
    stock_van(desk, mate["id"], part["id"], quantity=1)
    field = Field(desk=desk, supervisor=supervisor, request=request, job=job, lead=desk.as_technician(lead),
                  lead_technician=lead, part=part)
    field.to("signed")
    warehouse = desk.login(desk.make_user("warehouse"))
    assert van_on_hand(warehouse, mate["id"], part["id"]) == 0
    assert van_on_hand(warehouse, lead["id"], part["id"]) == 0
    # A correction that drops the line puts the part back where it came from.
    assert field.lead.post(f"{field.url}/report/corrections").status_code == 201
    assert field.write_report(part_lines=[]).status_code == 200
    assert field.sign().status_code == 200
    assert van_on_hand(warehouse, mate["id"], part["id"]) == 1
