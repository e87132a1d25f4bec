"""Stock as the warehouse and technicians see it through the API (issue 5, rules PRT-1 and PRT-2)."""

from __future__ import annotations

from typing import Any

from backend.clock import ManualClock
from tests import factories
from tests.test_stock_support import (RECEIPTS, STOCK, TRANSFERS, Stockroom, alternators, pagination,  # noqa: F401
                                      stockroom)

LOCATIONS = "/api/v1/stock-locations"


# --- locations (PRT-1) -------------------------------------------------------------------------------------------

def test_prt1_every_station_and_technician_gets_a_stock_location(stockroom: Stockroom) -> None:
    room = stockroom
    kinds = {loc["kind"]: loc for loc in room.warehouse.get(LOCATIONS).get_json()}
    assert set(kinds) == {"store", "transit", "station", "van"}
    assert kinds["store"]["name"] == "Central store"
    assert kinds["van"] == room.warehouse.get(f"{LOCATIONS}/{room.van}").get_json()
    assert kinds["van"]["technician_id"] == room.technician["id"] and kinds["van"]["name"] == "Van of Wang Wei"
    assert kinds["station"]["station_id"] == room.station["id"]
    assert kinds["station"]["name"] == "Zhengzhou service station"
    # A station's view: its own stock and the vans of the technicians based there, not other stations'.
    factories.station(room.admin)
    mine = room.warehouse.get(f"{LOCATIONS}?station={room.station['id']}").get_json()
    assert sorted(loc["id"] for loc in mine) == sorted([room.station_stock, room.van])


def test_a_location_follows_its_station_name_and_goes_with_an_unused_technician(stockroom: Stockroom) -> None:
    room = stockroom
    url = f"/api/v1/stations/{room.station['id']}"
    room.admin.patch(url, json={"name": "Zhengzhou east"}, headers={"If-Match": room.admin.get(url).headers["ETag"]})
    assert room.warehouse.get(f"{LOCATIONS}/{room.station_stock}").get_json()["name"] == "Zhengzhou east"

    url = f"/api/v1/technicians/{room.technician['id']}"
    assert room.admin.delete(url, headers={"If-Match": room.admin.get(url).headers["ETag"]}).status_code == 204
    assert room.warehouse.get(f"{LOCATIONS}/{room.van}").status_code == 404


def test_a_technician_whose_van_held_stock_cannot_be_deleted(stockroom: Stockroom) -> None:
    room = stockroom
    room.receive({"part_id": room.filter_part["id"], "quantity": 2})
    room.sent(room.store, room.van, {"part_id": room.filter_part["id"], "quantity": 1})
    url = f"/api/v1/technicians/{room.technician['id']}"
    assert room.admin.delete(url, headers={"If-Match": room.admin.get(url).headers["ETag"]}).status_code == 409
    assert room.warehouse.get(f"{LOCATIONS}/{room.van}").status_code == 200


# --- receiving notes (PRT-2) -------------------------------------------------------------------------------------

def test_prt2_a_receiving_note_puts_parts_into_the_central_store_with_ledger_entries(
        stockroom: Stockroom, clock: ManualClock) -> None:
    room = stockroom
    clock.advance(minutes=10)
    receipt = room.receive({"part_id": room.filter_part["id"], "quantity": 12},
                           {"part_id": room.alternator["id"], **alternators("A-1", "A-2")},
                           supplier_reference="DN-88123", note="pallet 3 of 4")
    assert receipt["number"] == f"RN-{receipt['id']:06d}"
    assert receipt["location"]["kind"] == "store" and receipt["received_at"] == "2026-03-02T08:10:00+00:00"
    assert [(line["part"]["part_number"], line["quantity"], line["serials"]) for line in receipt["lines"]] == [
        ("FLT-OIL-D6", 12, []), ("ALT-24V", 2, ["A-1", "A-2"])]
    assert room.warehouse.get(f"{RECEIPTS}/{receipt['id']}").get_json() == receipt

    assert room.level(room.store, room.filter_part) == (12, 0, 12)
    assert room.level(room.store, room.alternator) == (2, 0, 2)
    ledger = room.warehouse.get(f"{STOCK}/ledger?location={room.store}").get_json()
    # A counted part is one entry; a serial-tracked part one entry per unit.
    assert [(e["part"]["id"], e["quantity"], e["serial"]) for e in ledger] == [
        (room.filter_part["id"], 12, None), (room.alternator["id"], 1, "A-1"), (room.alternator["id"], 1, "A-2")]
    me = room.warehouse.get("/api/v1/me").get_json()["id"]
    assert {(e["reason"], e["document_type"], e["document_ref"], e["actor_user_id"], e["at"]) for e in ledger} == {
        ("receipt", "receipt", receipt["number"], me, "2026-03-02T08:10:00+00:00")}


def test_receiving_notes_can_go_to_a_station_and_are_listed_newest_first(stockroom: Stockroom) -> None:
    room = stockroom
    first = room.receive({"part_id": room.filter_part["id"], "quantity": 1})
    second = room.receive({"part_id": room.alternator["id"], **alternators("B-1")}, location_id=room.station_stock)
    assert room.level(room.station_stock, room.alternator) == (1, 0, 1)
    assert [r["id"] for r in room.warehouse.get(RECEIPTS).get_json()] == [second["id"], first["id"]]
    assert [r["id"] for r in room.warehouse.get(f"{RECEIPTS}?part={room.filter_part['id']}").get_json()] == [
        first["id"]]
    assert [r["id"] for r in room.warehouse.get(f"{RECEIPTS}?location={room.station_stock}").get_json()] == [
        second["id"]]


def test_prt2_receiving_notes_that_break_a_rule_are_refused_naming_the_field(stockroom: Stockroom) -> None:
    room = stockroom
    tracked, counted = room.alternator["id"], room.filter_part["id"]
    retired = factories.part(room.admin, active=False)["id"]
    cases = [
        ([{"part_id": tracked, "quantity": 2, "serials": ["A-1"]}], {}, "lines.0.serials"),
        ([{"part_id": tracked, "quantity": 1}], {}, "lines.0.serials"),
        ([{"part_id": counted, "quantity": 1, "serials": ["X-1"]}], {}, "lines.0.serials"),
        ([{"part_id": tracked, **alternators("A-1", "A-1")}], {}, "lines.0.serials"),
        ([{"part_id": tracked, **alternators("A-1")}, {"part_id": tracked, **alternators("A-1")}], {},
         "lines.1.serials"),
        ([{"part_id": counted, "quantity": 1}, {"part_id": 999_999, "quantity": 1}], {}, "lines.1.part_id"),
        ([{"part_id": retired, "quantity": 1}], {}, "lines.0.part_id"),
        ([{"part_id": counted, "quantity": 1}], {"location_id": room.van}, "location_id"),
        ([{"part_id": counted, "quantity": 1}], {"location_id": room.transit}, "location_id"),
        ([{"part_id": counted, "quantity": 0}], {}, "lines.0.quantity"),
        ([{"part_id": tracked, "quantity": 1, "serials": ["bad serial"]}], {}, "lines.0.serials.0"),
        ([], {}, "lines"),
    ]
    for lines, extra, field in cases:
        response = room.warehouse.post(RECEIPTS, json={"supplier": "Bosch", "lines": lines} | extra)
        assert response.status_code == 422, (lines, response.get_json())
        assert [e["field"] for e in response.get_json()["errors"]] == [field], (lines, response.get_json())
    assert room.warehouse.get(RECEIPTS).get_json() == []
    assert room.warehouse.get(STOCK).get_json() == []


def test_only_the_warehouse_records_receiving_notes(stockroom: Stockroom) -> None:
    body = {"supplier": "Bosch", "lines": [{"part_id": stockroom.filter_part["id"], "quantity": 1}]}
    assert stockroom.technician_api.post(RECEIPTS, json=body).status_code == 403
    assert stockroom.admin.post(RECEIPTS, json=body).status_code == 403


# --- serials -----------------------------------------------------------------------------------------------------

def test_a_serial_cannot_be_received_twice_while_in_stock(stockroom: Stockroom) -> None:
    room = stockroom
    room.receive({"part_id": room.alternator["id"], **alternators("A-7")})
    again = room.warehouse.post(RECEIPTS, json={"supplier": "Bosch", "lines": [
        {"part_id": room.alternator["id"], **alternators("A-8", "A-7")}]})
    assert again.status_code == 409
    assert "A-7 is already in stock at Central store" in again.get_json()["detail"]
    assert room.level(room.store, room.alternator) == (1, 0, 1)
    assert room.warehouse.get(RECEIPTS).get_json()[0]["lines"][0]["serials"] == ["A-7"]
    # Another part may use the same serial: serials are unique per part.
    other = factories.part(room.admin, serial_tracked=True)
    room.receive({"part_id": other["id"], **alternators("A-7")})


def test_serial_lookup_gives_where_a_unit_is_and_its_history(stockroom: Stockroom) -> None:
    room = stockroom
    receipt = room.receive({"part_id": room.alternator["id"], **alternators("ALT-0001")})
    transfer = room.sent(room.store, room.station_stock, {"part_id": room.alternator["id"],
                                                          **alternators("ALT-0001")})
    found = room.serial("ALT-0001", api=room.technician_api)
    assert found["part"]["part_number"] == "ALT-24V"
    assert found["status"] == "in_transit" and found["location"]["id"] == room.transit
    assert [(h["location"]["kind"], h["quantity"], h["reason"], h["document_ref"]) for h in found["history"]] == [
        ("store", 1, "receipt", receipt["number"]), ("store", -1, "transfer_sent", transfer["number"]),
        ("transit", 1, "transfer_sent", transfer["number"])]

    assert room.warehouse.get("/api/v1/serials/NOPE-1").status_code == 404


def test_a_serial_used_by_two_parts_needs_the_part_named(stockroom: Stockroom) -> None:
    room = stockroom
    compressor = factories.part(room.admin, serial_tracked=True)
    room.receive({"part_id": room.alternator["id"], **alternators("S-100")})
    room.receive({"part_id": compressor["id"], **alternators("S-100")}, location_id=room.station_stock)
    ambiguous = room.warehouse.get("/api/v1/serials/S-100")
    assert ambiguous.status_code == 422
    assert [e["field"] for e in ambiguous.get_json()["errors"]] == ["part"]
    chosen = room.warehouse.get(f"/api/v1/serials/S-100?part={compressor['id']}").get_json()
    assert chosen["location"]["id"] == room.station_stock and chosen["part"]["id"] == compressor["id"]


# --- transfers ---------------------------------------------------------------------------------------------------

def test_transfer_store_to_station_to_van_and_back_in_two_steps(stockroom: Stockroom) -> None:
    room = stockroom
    filters, alternator = room.filter_part, room.alternator
    room.receive({"part_id": filters["id"], "quantity": 10}, {"part_id": alternator["id"], **alternators("A-1", "A-2")})

    to_station = room.sent(room.store, room.station_stock, {"part_id": filters["id"], "quantity": 4},
                           {"part_id": alternator["id"], **alternators("A-2")})
    assert to_station["status"] == "in_transit" and to_station["number"] == f"TR-{to_station['id']:06d}"
    # In transit is visible: out of the store, not yet at the station.
    assert room.level(room.store, filters) == (6, 0, 6)
    assert room.level(room.transit, filters) == (4, 0, 4)
    assert room.level(room.station_stock, filters) == (0, 0, 0)
    on_the_way = room.warehouse.get(f"{TRANSFERS}?status=in_transit").get_json()
    assert [t["id"] for t in on_the_way] == [to_station["id"]]

    received = room.warehouse.post(f"{TRANSFERS}/{to_station['id']}/receive")
    assert received.status_code == 200, received.get_json()
    assert received.get_json()["status"] == "received" and received.headers["ETag"] == '"2"'
    assert room.level(room.transit, filters) == (0, 0, 0)
    assert room.level(room.station_stock, filters) == (4, 0, 4)
    assert room.serial("A-2")["location"]["id"] == room.station_stock

    # Station -> van: the warehouse sends, the technician takes it into their own van.
    to_van = room.sent(room.station_stock, room.van, {"part_id": alternator["id"], **alternators("A-2")})
    assert room.technician_api.post(f"{TRANSFERS}/{to_van['id']}/receive").status_code == 200
    assert room.level(room.van, alternator) == (1, 0, 1)
    assert room.serial("A-2")["location"]["id"] == room.van

    # ... and back: the technician sends from the van, the station's warehouse receives.
    back = room.sent(room.van, room.station_stock, {"part_id": alternator["id"], **alternators("A-2")},
                     api=room.technician_api)
    assert room.warehouse.post(f"{TRANSFERS}/{back['id']}/receive").status_code == 200
    assert room.level(room.van, alternator) == (0, 0, 0)
    assert room.level(room.station_stock, alternator) == (1, 0, 1)
    assert [t["id"] for t in room.warehouse.get(f"{TRANSFERS}?location={room.van}").get_json()] == [
        back["id"], to_van["id"]]


def test_cancelling_a_transfer_in_transit_returns_the_stock_to_the_source(stockroom: Stockroom,
                                                                          clock: ManualClock) -> None:
    room = stockroom
    room.receive({"part_id": room.alternator["id"], **alternators("A-1")})
    transfer = room.sent(room.store, room.station_stock, {"part_id": room.alternator["id"], **alternators("A-1")})
    url = f"{TRANSFERS}/{transfer['id']}"
    clock.advance(minutes=5)

    assert room.warehouse.post(f"{url}/cancel", json={}).status_code == 422
    cancelled = room.warehouse.post(f"{url}/cancel", json={"reason": "wrong station"})
    assert cancelled.status_code == 200, cancelled.get_json()
    body = cancelled.get_json()
    assert (body["status"], body["cancel_reason"], body["cancelled_at"]) == (
        "cancelled", "wrong station", "2026-03-02T08:05:00+00:00")
    assert room.level(room.store, room.alternator) == (1, 0, 1)
    assert room.level(room.transit, room.alternator) == (0, 0, 0)
    assert room.serial("A-1")["location"]["id"] == room.store

    # Settled is settled: neither receiving nor cancelling again moves anything.
    for action, body in (("receive", None), ("cancel", {"reason": "again"})):
        response = room.warehouse.post(f"{url}/{action}", json=body)
        assert response.status_code == 409 and "already cancelled" in response.get_json()["detail"]
    assert room.level(room.store, room.alternator) == (1, 0, 1)
    assert room.warehouse.post(f"{TRANSFERS}/999999/receive").status_code == 404


def test_prt1_a_transfer_never_takes_more_than_is_there_and_moves_all_lines_or_none(stockroom: Stockroom) -> None:
    room = stockroom
    room.receive({"part_id": room.filter_part["id"], "quantity": 3}, {"part_id": room.alternator["id"],
                                                                     **alternators("A-1")})
    response = room.send(room.store, room.station_stock, {"part_id": room.alternator["id"], **alternators("A-1")},
                         {"part_id": room.filter_part["id"], "quantity": 5})
    assert response.status_code == 409
    problem = response.get_json()
    assert "FLT-OIL-D6 (Oil filter) at Central store: 5 requested, 3 available" in problem["detail"]
    assert problem["shortages"] == [{"location_id": room.store, "part_id": room.filter_part["id"],
                                     "part_number": "FLT-OIL-D6", "requested": 5, "available": 3}]
    assert room.level(room.store, room.alternator) == (1, 0, 1)
    assert room.serial("A-1")["location"]["id"] == room.store
    assert room.warehouse.get(TRANSFERS).get_json() == []


def test_a_serial_moves_only_from_where_it_is(stockroom: Stockroom) -> None:
    room = stockroom
    room.receive({"part_id": room.alternator["id"], **alternators("A-1")})
    room.receive({"part_id": room.alternator["id"], **alternators("A-2")}, location_id=room.station_stock)
    response = room.send(room.store, room.van, {"part_id": room.alternator["id"], **alternators("A-2")})
    assert response.status_code == 409
    assert "A-2 is at Zhengzhou service station" in response.get_json()["detail"]
    assert room.serial("A-2")["location"]["id"] == room.station_stock
    assert room.level(room.store, room.alternator) == (1, 0, 1)


def test_transfers_that_make_no_sense_are_refused(stockroom: Stockroom) -> None:
    room = stockroom
    line = {"part_id": room.filter_part["id"], "quantity": 1}
    for source, destination, field in ((room.store, room.store, "destination_location_id"),
                                       (room.transit, room.store, "source_location_id"),
                                       (room.store, room.transit, "destination_location_id"),
                                       (999_999, room.store, "source_location_id")):
        response = room.send(source, destination, line)
        assert response.status_code == 422, response.get_json()
        assert [e["field"] for e in response.get_json()["errors"]] == [field]


def test_a_technician_handles_only_their_own_van(stockroom: Stockroom) -> None:
    room = stockroom
    line = {"part_id": room.filter_part["id"], "quantity": 1}
    room.receive(line | {"quantity": 5})
    assert room.send(room.store, room.van, line, api=room.technician_api).status_code == 403

    colleague_user = room.make_user("technician")
    colleague = factories.technician(room.admin, colleague_user.id, room.station["id"])
    colleague_api = room.login(colleague_user)
    to_colleague = room.sent(room.store, room.location(technician=colleague["id"])["id"], line)
    assert room.technician_api.post(f"{TRANSFERS}/{to_colleague['id']}/receive").status_code == 403
    assert room.technician_api.post(f"{TRANSFERS}/{to_colleague['id']}/cancel",
                                    json={"reason": "mine now"}).status_code == 403
    assert colleague_api.post(f"{TRANSFERS}/{to_colleague['id']}/receive").status_code == 200


# --- reading stock -----------------------------------------------------------------------------------------------

def test_stock_levels_are_paginated_and_filtered(stockroom: Stockroom) -> None:
    room = stockroom
    parts = [factories.part(room.admin) for _ in range(3)]
    room.receive(*({"part_id": p["id"], "quantity": 2} for p in parts))
    room.sent(room.store, room.station_stock, {"part_id": parts[0]["id"], "quantity": 2})

    first = room.warehouse.get(f"{STOCK}?location={room.store}&page_size=2")
    assert pagination(first)["total"] == 3 and len(first.get_json()) == 2
    row = first.get_json()[0]
    assert row["location"] == {"id": room.store, "code": "STORE", "kind": "store", "name": "Central store"}
    assert row["part"]["part_number"] == parts[0]["part_number"]
    empty = room.warehouse.get(f"{STOCK}?location={room.store}&in_stock=false").get_json()
    assert [(r["part"]["id"], r["on_hand"]) for r in empty] == [(parts[0]["id"], 0)]
    assert len(room.warehouse.get(f"{STOCK}?location={room.store}&in_stock=true").get_json()) == 2
    everywhere = room.warehouse.get(f"{STOCK}?part={parts[0]['id']}&in_stock=true").get_json()
    assert [(r["location"]["kind"], r["available"]) for r in everywhere] == [("transit", 2)]


def test_customer_service_agents_do_not_see_stock(stockroom: Stockroom, as_role: Any) -> None:
    assert as_role("agent").get(STOCK).status_code == 403


# --- the catalogue -----------------------------------------------------------------------------------------------

def test_parts_carry_their_supplier(stockroom: Stockroom) -> None:
    url = f"/api/v1/parts/{stockroom.alternator['id']}"
    assert stockroom.admin.get(url).get_json()["supplier"] == "Bosch"
    changed = stockroom.admin.patch(url, json={"supplier": "Valeo"}, headers={"If-Match": '"1"'})
    assert changed.status_code == 200 and changed.get_json()["supplier"] == "Valeo"


def test_a_part_cannot_change_tracking_once_its_stock_moved(stockroom: Stockroom) -> None:
    """One serial is one unit (PRT-1): a counted part turned tracked would have stock without serials."""
    room = stockroom
    fresh = factories.part(room.admin)
    url = f"/api/v1/parts/{fresh['id']}"
    assert room.admin.patch(url, json={"serial_tracked": True}, headers={"If-Match": '"1"'}).status_code == 200

    url = f"/api/v1/parts/{room.filter_part['id']}"
    room.receive({"part_id": room.filter_part["id"], "quantity": 1})
    refused = room.admin.patch(url, json={"serial_tracked": True}, headers={"If-Match": '"1"'})
    assert refused.status_code == 422
    assert [e["field"] for e in refused.get_json()["errors"]] == ["serial_tracked"]
    assert room.admin.patch(url, json={"name": "Oil filter D6"}, headers={"If-Match": '"1"'}).status_code == 200
