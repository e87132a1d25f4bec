"""Old parts owed back and overdue (PRT-5), their monthly disposition and supplier claims (PRT-7), freight
(PRT-8), and the old-parts duties."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import select

from backend.config import ConfigurationError

from backend.notifications.models import Notification
from tests.test_duties_support import inbox
from tests.test_parts_flow_support import (OLD_PARTS, Yard, desk, quick_passwords, settings, yard)  # noqa: F401

CLAIMS = "/api/v1/supplier-claims"
FREIGHT = "/api/v1/freight"


def _owe(yard: Yard, *lines: dict[str, Any]) -> list[dict[str, Any]]:
    """Filters (and alternators) issued, installed under warranty on a signed report: old parts owed."""
    requisition_lines = [{"part_id": line["part_id"], "quantity": line.get("quantity", 1), "reason": "worn"}
                         for line in lines]
    serials = tuple({"line_no": n, "serials": [line["new_serial"]]}
                    for n, line in enumerate(lines, start=1) if "new_serial" in line)
    yard.issued(*requisition_lines, serials=serials)
    yard.work_done()
    yard.sign(*lines)
    return yard.old_parts("status=outstanding")


def _receive(yard: Yard, old_part: dict[str, Any]) -> dict[str, Any]:
    response = yard.warehouse.post(f"{OLD_PARTS}/{old_part['id']}/receive", json={"condition": "worn out"})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _notifications(yard: Yard, kind: str) -> list[Notification]:
    yard.session.rollback()
    return list(yard.session.scalars(select(Notification).where(Notification.kind == kind)
                                     .order_by(Notification.id)))


# --- outstanding and overdue (PRT-5) -----------------------------------------------------------------------------

def test_an_old_part_not_back_by_its_due_time_is_listed_overdue(yard: Yard) -> None:
    (owed,) = _owe(yard, {"part_id": yard.filter_part["id"]})
    assert yard.old_parts("status=overdue") == []
    yard.later(days=7, minutes=1)
    (overdue,) = yard.old_parts("status=overdue")
    assert overdue["id"] == owed["id"] and overdue["overdue"] is True
    assert [o["id"] for o in yard.old_parts("status=outstanding")] == [owed["id"]]
    station = yard.desk.station["id"]
    assert len(yard.old_parts(f"status=overdue&station_id={station}&technician_id={yard.tech['id']}")) == 1
    assert yard.old_parts(f"status=overdue&technician_id={yard.tech['id'] + 100}") == []
    _receive(yard, owed)
    assert yard.old_parts("status=overdue") == []


def test_the_due_time_is_configurable_and_must_be_positive(yard: Yard) -> None:
    """rule PRT-5: 7 days is a default (ONSITE_OLD_PART_DUE_DAYS)."""
    with pytest.raises(ConfigurationError):
        replace(yard.settings, old_part_due_days=0)
    yard.settings = replace(yard.settings, old_part_due_days=2)
    _owe(yard, {"part_id": yard.filter_part["id"]})
    yard.later(days=2, minutes=1)
    assert len(yard.old_parts("status=overdue")) == 1


def test_a_technician_sees_only_the_old_parts_they_owe(yard: Yard) -> None:
    _owe(yard, {"part_id": yard.filter_part["id"]})
    assert len(yard.old_parts(api=yard.tech_api)) == 1
    other = yard.desk.as_technician(yard.desk.technician(name="Li Na"))
    assert yard.old_parts(api=other) == []
    assert other.get(f"{OLD_PARTS}?technician_id={yard.tech['id']}").status_code == 403
    # Receiving is the warehouse's, excusing the supervisor's.
    (owed,) = yard.old_parts()
    assert yard.tech_api.post(f"{OLD_PARTS}/{owed['id']}/receive", json={"condition": "ok"}).status_code == 403
    assert yard.tech_api.post(f"{OLD_PARTS}/{owed['id']}/excuse", json={"reason": "mailed"}).status_code == 403


# --- the old-parts duty ------------------------------------------------------------------------------------------

def test_the_daily_duty_marks_overdue_once_and_tells_the_technician_and_the_warehouse(yard: Yard) -> None:
    _owe(yard, {"part_id": yard.filter_part["id"]})
    assert yard.run("old-parts") == {"old_parts_marked_overdue": 0}
    yard.later(days=7, hours=1)
    assert yard.run("old-parts") == {"old_parts_marked_overdue": 1}
    yard.later(days=1)
    assert yard.run("old-parts") == {"old_parts_marked_overdue": 0}
    (owed,) = yard.old_parts()
    assert owed["marked_overdue_at"] is not None
    told = [(n.recipient_user_id, n.recipient_role) for n in _notifications(yard, "old_part.overdue")]
    assert told == [(yard.tech["user"].id, None), (None, "warehouse")]
    assert [n["kind"] for n in inbox(yard.tech_api)] == ["old_part.overdue"]
    assert [n["kind"] for n in inbox(yard.warehouse)] == ["old_part.overdue"]


def test_the_daily_duty_catches_up_after_a_gap(yard: Yard) -> None:
    _owe(yard, {"part_id": yard.filter_part["id"]}, {"part_id": yard.filter_part["id"], "quantity": 2})
    yard.later(days=30)  # the scheduler was down for weeks
    assert yard.run("old-parts") == {"old_parts_marked_overdue": 2}
    assert yard.run("old-parts") == {"old_parts_marked_overdue": 0}
    assert len(_notifications(yard, "old_part.overdue")) == 4


def test_the_monthly_list_goes_to_the_station_once_a_month(yard: Yard) -> None:
    (owed,) = _owe(yard, {"part_id": yard.filter_part["id"]})
    assert yard.run("monthly-old-parts") == {"stations_notified": 0}  # nothing received yet
    _receive(yard, owed)
    yard.later(minutes=1)
    assert yard.run("monthly-old-parts") == {"stations_notified": 1}
    assert yard.run("monthly-old-parts") == {"stations_notified": 0}
    (for_supervisor, for_warehouse) = _notifications(yard, "old_parts.awaiting_disposition")
    assert (for_supervisor.recipient_role, for_warehouse.recipient_role) == ("supervisor", "warehouse")
    assert for_supervisor.station_id == yard.desk.station["id"]
    assert [o["old_part_id"] for o in for_supervisor.payload["old_parts"]] == [owed["id"]]
    # Still waiting next month: listed again, once.
    yard.later(days=31)
    assert yard.run("monthly-old-parts") == {"stations_notified": 1}
    assert yard.run("monthly-old-parts") == {"stations_notified": 0}
    # Disposed of: off the list.
    yard.warehouse.post(f"{OLD_PARTS}/{owed['id']}/dispose", json={"disposition": "scrapped"})
    yard.later(days=31)
    assert yard.run("monthly-old-parts") == {"stations_notified": 0}


# --- disposition and supplier claims (PRT-7) ---------------------------------------------------------------------

def test_a_received_old_part_is_repaired_into_stock_or_scrapped(yard: Yard) -> None:
    first, second = _owe(yard, {"part_id": yard.filter_part["id"]}, {"part_id": yard.filter_part["id"],
                                                                     "quantity": 2})
    url = f"{OLD_PARTS}/{first['id']}/dispose"
    assert yard.warehouse.post(url, json={"disposition": "scrapped"}).status_code == 409  # not received yet
    _receive(yard, first)
    _receive(yard, second)
    assert yard.old_parts("awaiting_disposition=true") != []
    store_before = yard.level(yard.store, yard.filter_part)
    assert yard.warehouse.post(url, json={"disposition": "repaired"}).status_code == 422  # where to?
    repaired = yard.warehouse.post(url, json={"disposition": "repaired", "location_id": yard.store})
    assert repaired.status_code == 200 and repaired.get_json()["disposition"] == "repaired"
    assert yard.level(yard.store, yard.filter_part) == store_before + 1
    scrapped = yard.warehouse.post(f"{OLD_PARTS}/{second['id']}/dispose", json={"disposition": "scrapped"})
    assert scrapped.get_json()["disposition"] == "scrapped"
    assert yard.level(yard.store, yard.filter_part) == store_before + 1
    assert yard.old_parts("awaiting_disposition=true") == []
    assert yard.warehouse.post(url, json={"disposition": "scrapped"}).status_code == 409  # once only


def test_a_supplier_claim_groups_one_suppliers_old_parts_and_records_what_was_recovered(yard: Yard) -> None:
    filter_1, filter_2, alternator = _owe(yard, {"part_id": yard.filter_part["id"]},
                                          {"part_id": yard.filter_part["id"]},
                                          {"part_id": yard.alternator["id"], "new_serial": "ALT-1",
                                           "old_serial": "OLD-9"})
    for old_part in (filter_1, filter_2, alternator):
        _receive(yard, old_part)
    mixed = yard.warehouse.post(CLAIMS, json={"old_part_ids": [filter_1["id"], alternator["id"]],
                                              "amount_claimed": "80.00"})
    assert mixed.status_code == 422  # Mann and Bosch are two claims
    assert yard.supervisor.post(CLAIMS, json={"old_part_ids": [filter_1["id"]],
                                              "amount_claimed": "25.00"}).status_code == 403
    created = yard.warehouse.post(CLAIMS, json={"old_part_ids": [filter_1["id"], filter_2["id"]],
                                                "amount_claimed": "25.00", "note": "batch 2026-03"})
    assert created.status_code == 201, created.get_json()
    claim = created.get_json()
    assert (claim["supplier"], claim["status"], claim["amount_claimed"]) == ("Mann", "open", "25.00")
    assert sorted(o["id"] for o in claim["old_parts"]) == sorted([filter_1["id"], filter_2["id"]])
    claimed = yard.old_parts(f"supplier_claim_id={claim['id']}")
    assert [o["disposition"] for o in claimed] == ["supplier_claim", "supplier_claim"]
    again = yard.warehouse.post(CLAIMS, json={"old_part_ids": [filter_1["id"]], "amount_claimed": "5.00"})
    assert again.status_code == 409  # already claimed

    url = f"{CLAIMS}/{claim['id']}"
    assert yard.warehouse.post(f"{url}/settle", json={"outcome": "accepted",
                                                      "amount_recovered": "20.00"}).status_code == 409  # not sent
    assert yard.warehouse.post(f"{url}/send").get_json()["status"] == "sent"
    assert yard.warehouse.post(f"{url}/settle", json={"outcome": "accepted"}).status_code == 422
    settled = yard.warehouse.post(f"{url}/settle", json={"outcome": "accepted", "amount_recovered": "20.00"})
    assert settled.status_code == 200
    assert (settled.get_json()["status"], settled.get_json()["amount_recovered"]) == ("accepted", "20.00")
    assert [c["id"] for c in yard.supervisor.get(f"{CLAIMS}?status=accepted").get_json()] == [claim["id"]]


# --- freight (PRT-8) ---------------------------------------------------------------------------------------------

def test_freight_is_recorded_by_its_handler_and_approved_by_a_supervisor(yard: Yard) -> None:
    (owed,) = _owe(yard, {"part_id": yard.filter_part["id"]})
    body = {"amount": "18.50", "description": "old filter mailed by courier", "old_part_ids": [owed["id"]]}
    first = yard.tech_api.post(FREIGHT, json=body, headers={"Idempotency-Key": "fr-1"})
    again = yard.tech_api.post(FREIGHT, json=body, headers={"Idempotency-Key": "fr-1"})
    assert first.status_code == again.status_code == 201
    assert len(yard.tech_api.get(FREIGHT).get_json()) == 1  # the retry recorded nothing twice
    charge = first.get_json()
    assert (charge["status"], charge["handler_user_id"]) == ("pending", yard.tech["user"].id)
    assert yard.tech_api.post(FREIGHT, json=body | {"amount": "0.00"}).status_code == 422
    assert yard.tech_api.post(FREIGHT, json=body | {"old_part_ids": [999]}).status_code == 422

    other = yard.desk.as_technician(yard.desk.technician(name="Li Na"))
    assert other.get(FREIGHT).get_json() == []
    assert yard.tech_api.post(f"{FREIGHT}/{charge['id']}/approve").status_code == 403
    approved = yard.supervisor.post(f"{FREIGHT}/{charge['id']}/approve")
    assert approved.status_code == 200 and approved.get_json()["status"] == "approved"
    assert yard.supervisor.post(f"{FREIGHT}/{charge['id']}/reject", json={"reason": "x"}).status_code == 409


def test_a_handler_cannot_approve_their_own_freight(yard: Yard) -> None:
    both = yard.desk.login(yard.desk.make_user("warehouse", "supervisor"))
    charge = both.post(FREIGHT, json={"amount": "9.00", "description": "parcel", "old_part_ids": [],
                                      "requisition_id": yard.issued({"part_id": yard.filter_part["id"],
                                                                     "quantity": 1, "reason": "x"})["id"]})
    assert charge.status_code == 201, charge.get_json()
    assert both.post(f"{FREIGHT}/{charge.get_json()['id']}/approve").status_code == 403
