"""The books behind the stock API: the van functions the requisition and report flows will call (PRT-3..PRT-6,
stock side), reservations, the append-only ledger, `onsite stock verify` (PRT-1) and the migration's backfill."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from backend import migrate
from backend.cli import cli
from backend.db import make_engine
from backend.errors import Conflict, DomainError
from backend.parts.models import LedgerEntry, Part, StockLocation
from backend.parts.stock import ledger
from backend.parts.stock import service as stock
from backend.parts.stock.ledger import DocumentRef, OutOfStock
from tests.conftest import START
from tests.test_stock_support import TRANSFERS, Stockroom, alternators, stockroom  # noqa: F401

REQUISITION = DocumentRef("requisition", "RQ-000001")
REPORT = DocumentRef("report", "FR-000001")


@contextmanager
def books(room: Stockroom) -> Iterator[tuple[Session, Any]]:
    """A writer session and a lookup of the stockroom's locations and parts in it; commits on success."""
    session = room.app.extensions["onsite"].new_session(writer=True)
    try:
        def get(ref: Any) -> Any:
            return session.get(Part, ref["id"]) if isinstance(ref, dict) else session.get(StockLocation, ref)

        yield session, get
        session.commit()
    finally:
        session.close()


def _history(room: Stockroom, serial: str) -> list[tuple[str, int, str, str]]:
    return [(h["location"]["kind"], h["quantity"], h["reason"], h["document_ref"])
            for h in room.serial(serial)["history"]]


# --- issue, consume, return --------------------------------------------------------------------------------------

def test_parts_issued_to_a_van_are_consumed_or_returned(stockroom: Stockroom) -> None:
    """Stock side of PRT-3 (issue), PRT-4 (installed: consumed from the van) and PRT-6 (unused parts go back)."""
    room = stockroom
    room.receive({"part_id": room.filter_part["id"], "quantity": 5},
                 {"part_id": room.alternator["id"], **alternators("A-1", "A-2")})
    actor = room.warehouse.get("/api/v1/me").get_json()["id"]
    with books(room) as (session, get):
        store, filters, alternator = get(room.store), get(room.filter_part), get(room.alternator)
        van = stock.van_of(session, room.technician["id"])
        stock.issue_to_van(session, part=filters, quantity=3, source=store, van=van, document=REQUISITION,
                           actor_id=actor, now=START)
        stock.issue_to_van(session, part=alternator, quantity=2, serials=["A-1", "A-2"], source=store, van=van,
                           document=REQUISITION, actor_id=actor, now=START)
        stock.consume_from_van(session, part=filters, quantity=1, van=van, document=REPORT, actor_id=None, now=START)
        stock.consume_from_van(session, part=alternator, quantity=1, serials=["A-1"], van=van, document=REPORT,
                               actor_id=None, now=START)
        stock.return_to_location(session, part=filters, quantity=2, van=van, destination=store,
                                 document=REQUISITION, actor_id=actor, now=START)
        stock.return_to_location(session, part=alternator, quantity=1, serials=["A-2"], van=van,
                                 destination=get(room.station_stock), document=REQUISITION, actor_id=actor,
                                 now=START)

    assert room.level(room.store, room.filter_part) == (4, 0, 4)
    assert room.level(room.van, room.filter_part) == (0, 0, 0)
    assert room.level(room.station_stock, room.alternator) == (1, 0, 1)
    installed = room.serial("A-1")
    assert installed["status"] == "not_in_stock" and installed["location"] is None
    assert _history(room, "A-1") == [("store", 1, "receipt", "RN-000001"), ("store", -1, "issue", "RQ-000001"),
                                     ("van", 1, "issue", "RQ-000001"), ("van", -1, "consumption", "FR-000001")]
    assert room.serial("A-2")["location"]["id"] == room.station_stock

    # An installed unit that comes back (say, repaired) may be received again; it is one unit with one history.
    room.receive({"part_id": room.alternator["id"], **alternators("A-1")}, supplier="Repair shop")
    assert room.serial("A-1")["status"] == "in_stock"
    assert _history(room, "A-1")[-1] == ("store", 1, "receipt", "RN-000002")


def test_the_van_functions_refuse_what_the_books_cannot_allow(stockroom: Stockroom) -> None:
    room = stockroom
    room.receive({"part_id": room.filter_part["id"], "quantity": 2},
                 {"part_id": room.alternator["id"], **alternators("A-1", "A-2")})
    to_van = room.sent(room.store, room.van, {"part_id": room.alternator["id"], **alternators("A-2")})
    room.warehouse.post(f"{TRANSFERS}/{to_van['id']}/receive")
    with books(room) as (session, get):
        store, van, filters, alternator = get(room.store), get(room.van), get(room.filter_part), get(room.alternator)
        common = {"document": REQUISITION, "actor_id": None, "now": START}
        with pytest.raises(OutOfStock) as short:
            stock.issue_to_van(session, part=filters, quantity=3, source=store, van=van, **common)
        assert [(s.requested, s.available) for s in short.value.shortages] == [(3, 2)]
        with pytest.raises(DomainError, match="is not a technician's van"):
            stock.issue_to_van(session, part=filters, quantity=1, source=store, van=get(room.station_stock),
                               **common)
        with pytest.raises(DomainError, match="one serial per unit"):
            stock.issue_to_van(session, part=alternator, quantity=1, source=store, van=van, **common)
        with pytest.raises(Conflict, match="A-1 is at Central store"):
            stock.consume_from_van(session, part=alternator, quantity=1, serials=["A-1"], van=van, **common)
        session.rollback()
    assert room.level(room.store, room.filter_part) == (2, 0, 2)


# --- reservations ------------------------------------------------------------------------------------------------

def test_reserved_stock_is_on_hand_but_not_available(stockroom: Stockroom) -> None:
    room = stockroom
    room.receive({"part_id": room.filter_part["id"], "quantity": 5})
    with books(room) as (session, get):
        ledger.reserve(session, get(room.store), get(room.filter_part), 3)
    assert room.level(room.store, room.filter_part) == (5, 3, 2)

    # Nobody else can take what is promised ...
    line = {"part_id": room.filter_part["id"], "quantity": 3}
    refused = room.send(room.store, room.station_stock, line)
    assert refused.status_code == 409 and refused.get_json()["shortages"][0]["available"] == 2
    with books(room) as (session, get):
        with pytest.raises(OutOfStock):
            ledger.reserve(session, get(room.store), get(room.filter_part), 3)
        session.rollback()

    # ... and issuing against the reservation uses it up.
    with books(room) as (session, get):
        stock.issue_to_van(session, part=get(room.filter_part), quantity=3, source=get(room.store), van=get(room.van),
                           document=REQUISITION, actor_id=None, now=START, from_reserved=True)
    assert room.level(room.store, room.filter_part) == (2, 0, 2)
    assert room.level(room.van, room.filter_part) == (3, 0, 3)

    with books(room) as (session, get):
        ledger.reserve(session, get(room.store), get(room.filter_part), 2)
        with pytest.raises(Conflict, match="only 2 of FLT-OIL-D6 are reserved"):
            ledger.release(session, get(room.store), get(room.filter_part), 3)
        ledger.release(session, get(room.store), get(room.filter_part), 2)
    assert room.level(room.store, room.filter_part) == (2, 0, 2)


# --- the ledger is append-only and proven against the balances ---------------------------------------------------

def test_ledger_entries_cannot_be_edited_or_deleted(stockroom: Stockroom) -> None:
    stockroom.receive({"part_id": stockroom.filter_part["id"], "quantity": 5})
    for change in (lambda s, entry: setattr(entry, "quantity", 50), lambda s, entry: s.delete(entry)):
        with books(stockroom) as (session, _get):
            change(session, session.scalars(select(LedgerEntry)).one())
            with pytest.raises(TypeError, match="append-only"):
                session.flush()
            session.rollback()
    assert stockroom.level(stockroom.store, stockroom.filter_part) == (5, 0, 5)


@pytest.fixture
def verify(database_url: str, tmp_path: Path) -> Any:
    def verify() -> Any:
        env = {"ONSITE_DATABASE_URL": database_url, "ONSITE_INSTANCE_PATH": str(tmp_path / "instance")}
        return CliRunner().invoke(cli, ["stock", "verify"], env=env, catch_exceptions=False)

    return verify


def _tamper(room: Stockroom, statement: str, **params: Any) -> None:
    with books(room) as (session, _get):
        session.execute(text(statement), params)


def test_prt1_stock_verify_proves_balance_equals_ledger_and_catches_a_tampered_balance(
        stockroom: Stockroom, verify: Any) -> None:
    room = stockroom
    room.receive({"part_id": room.filter_part["id"], "quantity": 5},
                 {"part_id": room.alternator["id"], **alternators("A-1", "A-2")})
    transfer = room.sent(room.store, room.van, {"part_id": room.filter_part["id"], "quantity": 2})
    room.warehouse.post(f"{TRANSFERS}/{transfer['id']}/receive")

    clean = verify()
    assert clean.exit_code == 0, clean.output
    assert "4/4 locations checked" in clean.output
    assert clean.output.strip().splitlines()[-1] == (
        "stock verify: 4 balances and 2 serials at 4 locations checked, balance = ledger")

    _tamper(room, "UPDATE stock_balances SET on_hand = on_hand + 1 WHERE location_id = :l AND part_id = :p",
            l=room.van, p=room.filter_part["id"])
    _tamper(room, "DELETE FROM stock_balances WHERE location_id = :l AND part_id = :p",
            l=room.store, p=room.alternator["id"])
    caught = verify()
    assert caught.exit_code == 1
    lines = caught.output.strip().splitlines()
    assert "MISMATCH STORE / ALT-24V: no balance row, ledger sums to 2" in lines
    assert f"MISMATCH VAN-{room.technician['id']} / FLT-OIL-D6: balance 3, ledger sums to 2" in lines
    assert lines[-1] == "stock verify: 3 balances and 2 serials at 4 locations checked, 2 mismatches"


def test_prt1_stock_verify_catches_a_serial_moved_outside_the_ledger(stockroom: Stockroom, verify: Any) -> None:
    room = stockroom
    room.receive({"part_id": room.alternator["id"], **alternators("A-1")})
    _tamper(room, "UPDATE stock_serials SET location_id = :van WHERE serial = 'A-1'", van=room.van)
    caught = verify()
    assert caught.exit_code == 1
    assert "MISMATCH STORE / ALT-24V: serial A-1 is registered elsewhere or nowhere, its ledger entries here " \
           "sum to 1" in caught.output
    assert f"MISMATCH VAN-{room.technician['id']} / ALT-24V: serial A-1 is registered here, its ledger entries " \
           f"here sum to 0" in caught.output


# --- the migration -----------------------------------------------------------------------------------------------

def test_prt1_the_migration_gives_existing_stations_and_technicians_their_stock_locations(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'before-stock.db'}"
    migrate.upgrade(url, "0001")
    engine = make_engine(url)
    stamp = {"version": 1, "created_at": "2026-01-05 08:00:00", "updated_at": "2026-01-05 08:00:00"}
    with engine.begin() as conn:
        for code in ("ZZ", "BJ"):
            conn.execute(text("INSERT INTO stations (code, name, address, latitude, longitude, active, "
                              "may_receive_work, version, created_at, updated_at) VALUES (:code, :code, 'x', 34.7, "
                              "113.6, 1, 1, :version, :created_at, :updated_at)"), {"code": code, **stamp})
        conn.execute(text("INSERT INTO users (username, full_name, password_hash, active, version, created_at, "
                          "updated_at) VALUES ('tech01', 'Li Lei', 'x', 1, :version, :created_at, :updated_at)"),
                     stamp)
        conn.execute(text("INSERT INTO technicians (user_id, home_station_id, active, on_shift, version, created_at, "
                          "updated_at) VALUES (1, 2, 1, 0, :version, :created_at, :updated_at)"), stamp)
    migrate.upgrade(url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT code, kind, station_id, technician_id FROM stock_locations "
                                 "ORDER BY id")).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [("STORE", "store", None, None), ("TRANSIT", "transit", None, None),
                                        ("STN-1", "station", 1, None), ("STN-2", "station", 2, None),
                                        ("VAN-1", "van", None, 1)]
