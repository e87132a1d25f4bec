"""Arrangements shared by the stock tests (no tests in here)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from backend.parts.models import LocationKind
from backend.parts.stock.service import fixed_location
from tests import factories
from tests.conftest import Api

STOCK = "/api/v1/stock"
RECEIPTS = f"{STOCK}/receipts"
TRANSFERS = f"{STOCK}/transfers"


@dataclass
class Stockroom:
    """A warehouse keeper, a station with a technician (and so a van), a counted and a serial-tracked part."""

    app: Any
    warehouse: Api
    admin: Api
    station: dict[str, Any]
    technician: dict[str, Any]
    technician_api: Api
    filter_part: dict[str, Any]
    alternator: dict[str, Any]
    store: int
    transit: int
    station_stock: int
    van: int
    make_user: Any
    login: Any

    def location(self, **filters: Any) -> dict[str, Any]:
        query = "&".join(f"{k}={v}" for k, v in filters.items())
        (found,) = self.warehouse.get(f"/api/v1/stock-locations?{query}").get_json()
        return found

    def receive(self, *lines: dict[str, Any], **fields: Any) -> dict[str, Any]:
        response = self.warehouse.post(RECEIPTS, json={"supplier": "Bosch", "lines": list(lines)} | fields)
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    def send(self, source: int, destination: int, *lines: dict[str, Any], api: Api | None = None) -> Any:
        return (api or self.warehouse).post(TRANSFERS, json={"source_location_id": source,
                                                             "destination_location_id": destination,
                                                             "lines": list(lines)})

    def sent(self, source: int, destination: int, *lines: dict[str, Any], api: Api | None = None) -> dict[str, Any]:
        response = self.send(source, destination, *lines, api=api)
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    def level(self, location: int, part: dict[str, Any]) -> tuple[int, int, int]:
        """(on_hand, reserved, available); a location that never held the part has none."""
        rows = self.warehouse.get(f"{STOCK}?location={location}&part={part['id']}").get_json()
        if not rows:
            return (0, 0, 0)
        (row,) = rows
        return row["on_hand"], row["reserved"], row["available"]

    def serial(self, serial: str, api: Api | None = None) -> dict[str, Any]:
        response = (api or self.warehouse).get(f"/api/v1/serials/{serial}")
        assert response.status_code == 200, response.get_json()
        return response.get_json()


def alternators(*serials: str) -> dict[str, Any]:
    return {"quantity": len(serials), "serials": list(serials)}


def pagination(response: Any) -> dict[str, Any]:
    return json.loads(response.headers["X-Pagination"])


@pytest.fixture
def stockroom(app, as_role, make_user, login) -> Stockroom:  # type: ignore[no-untyped-def]
    # The migration creates the central store and the in-transit location; the test harness empties every table.
    session = app.extensions["onsite"].new_session(writer=True)
    store, transit = (fixed_location(session, kind).id for kind in (LocationKind.STORE, LocationKind.TRANSIT))
    session.commit()
    session.close()
    admin = as_role("admin")
    station = factories.station(admin, name="Zhengzhou service station")
    tech_user = make_user("technician", full_name="Wang Wei")
    technician = factories.technician(admin, tech_user.id, station["id"])
    warehouse = as_role("warehouse")
    room = Stockroom(app=app, warehouse=warehouse, admin=admin, station=station, technician=technician,
                     technician_api=login(tech_user),
                     filter_part=factories.part(admin, part_number="FLT-OIL-D6", name="Oil filter"),
                     alternator=factories.part(admin, part_number="ALT-24V", name="Alternator 24 V",
                                               serial_tracked=True, supplier="Bosch"),
                     store=store, transit=transit, station_stock=0, van=0, make_user=make_user, login=login)
    room.station_stock = room.location(station=station["id"], kind="station")["id"]
    room.van = room.location(technician=technician["id"])["id"]
    return room
