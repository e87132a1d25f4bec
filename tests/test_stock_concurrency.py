"""rule PRT-1: stock never goes negative, also when several people take the last unit at the same moment.

Real concurrent requests: each thread has its own client and so its own database session and connection. On
PostgreSQL they truly overlap and the conditional UPDATE decides; on SQLite writers queue (BEGIN IMMEDIATE)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from backend.parts.models import Part, StockLocation
from backend.parts.stock.ledger import DocumentRef
from backend.parts.stock.service import issue_to_van, return_to_location
from tests.conftest import START
from tests.test_stock_support import TRANSFERS, Stockroom, alternators, stockroom  # noqa: F401

CALLERS = 6


def _race(room: Stockroom, body: dict[str, Any]) -> list[Any]:
    keepers = [room.login(room.make_user("warehouse")) for _ in range(CALLERS)]
    barrier = threading.Barrier(CALLERS)
    responses: list[Any] = []

    def send(api: Any) -> None:
        client = room.app.test_client()
        barrier.wait()
        responses.append(client.post(TRANSFERS, json=body, headers=api.headers()))

    threads = [threading.Thread(target=send, args=(api,)) for api in keepers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return responses


@pytest.mark.parametrize("kind", ["counted", "serial_tracked"])
def test_prt1_parallel_issues_of_the_last_unit_exactly_one_succeeds(stockroom: Stockroom, kind: str) -> None:
    room = stockroom
    if kind == "counted":
        part, line = room.filter_part, {"part_id": room.filter_part["id"], "quantity": 1}
        room.receive(line | {"quantity": 3})
        earlier = room.sent(room.store, room.station_stock, line | {"quantity": 2})
        room.warehouse.post(f"{TRANSFERS}/{earlier['id']}/receive")
    else:
        part, line = room.alternator, {"part_id": room.alternator["id"], **alternators("LAST-1")}
        room.receive(line)

    responses = _race(room, {"source_location_id": room.store, "destination_location_id": room.van,
                             "lines": [line]})

    assert sorted(r.status_code for r in responses) == [201] + [409] * (CALLERS - 1)
    for refused in (r.get_json() for r in responses if r.status_code == 409):
        assert refused["shortages"] == [{"location_id": room.store, "part_id": part["id"],
                                         "part_number": part["part_number"], "requested": 1, "available": 0}]
        assert f"{part['part_number']} ({part['name']}) at Central store: 1 requested, 0 available" \
            in refused["detail"]
    assert room.level(room.store, part) == (0, 0, 0)
    assert room.level(room.transit, part) == (1, 0, 1)
    assert len(room.warehouse.get(f"{TRANSFERS}?location={room.van}").get_json()) == 1


def test_prt1_issues_and_returns_crossing_between_two_places_neither_deadlock_nor_lose_stock(
        stockroom: Stockroom) -> None:
    """Issuing into a van and returning out of it lock the same two balance rows from opposite ends. Taken in one
    fixed order they queue; in the order of each movement PostgreSQL would abort some as deadlocked."""
    room, rounds, per_direction = stockroom, 5, 4
    room.receive({"part_id": room.filter_part["id"], "quantity": 2 * rounds * per_direction})
    to_van = room.sent(room.store, room.van, {"part_id": room.filter_part["id"], "quantity": rounds * per_direction})
    room.warehouse.post(f"{TRANSFERS}/{to_van['id']}/receive")
    barrier = threading.Barrier(2 * per_direction)
    errors: list[BaseException] = []

    def work(issuing: bool) -> None:
        session = room.app.extensions["onsite"].new_session(writer=True)
        try:
            barrier.wait()
            for _ in range(rounds):
                store, van = session.get(StockLocation, room.store), session.get(StockLocation, room.van)
                common = {"part": session.get(Part, room.filter_part["id"]), "quantity": 1, "van": van,
                          "document": DocumentRef("requisition", "RQ-000001"), "actor_id": None, "now": START}
                if issuing:
                    issue_to_van(session, source=store, **common)
                else:
                    return_to_location(session, destination=store, **common)
                session.commit()
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            session.close()

    threads = [threading.Thread(target=work, args=(n % 2 == 0,)) for n in range(2 * per_direction)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert room.level(room.store, room.filter_part) == (rounds * per_direction, 0, rounds * per_direction)
    assert room.level(room.van, room.filter_part) == (rounds * per_direction, 0, rounds * per_direction)
