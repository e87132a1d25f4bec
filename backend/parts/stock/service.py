"""Stock operations (rules PRT-1, PRT-2 and the stock side of PRT-3..PRT-6): receiving notes, two-step transfers,
issuing to a technician's van, consuming from it and returning from it, and the queries behind the stock API.
Plain functions on a Session, no Flask; every movement goes through backend.parts.stock.ledger."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Select, or_, select, true
from sqlalchemy.orm import Session

from backend.accounts.models import Role, User
from backend.accounts.scope import in_scope, stations_of
from backend.db import clock_of, locked
from backend.errors import Conflict, DomainError, Forbidden, NotFound
from backend.parts.models import (FIXED_LOCATION_CODES, LedgerEntry, LocationKind, Part, Receipt, ReceiptLine,
                                  SerialUnit, StockBalance, StockLocation, Transfer, TransferLine, TransferStatus)
from backend.parts.stock.ledger import DocumentRef, Line, Movement, Reason, make_line, move, move_all
from backend.technicians.models import Technician

# Where goods from a supplier may arrive (PRT-2): the central store, or a station, which keeps its own books.
RECEIVING_KINDS = frozenset({LocationKind.STORE, LocationKind.STATION})
_WAREHOUSE = frozenset({Role.WAREHOUSE})


# --- locations ---------------------------------------------------------------------------------------------------

def fixed_location(session: Session, kind: LocationKind) -> StockLocation:
    """The central store or the in-transit location. The migration creates both; made here if missing (an emptied
    database), and the unique code keeps a racing second creation from doubling them."""
    code = FIXED_LOCATION_CODES[kind]
    location = session.scalar(select(StockLocation).where(StockLocation.code == code))
    if location is None:
        location = StockLocation(code=code, kind=kind.value, created_at=clock_of(session).now())
        session.add(location)
        session.flush()
    return location


def central_store(session: Session) -> StockLocation:
    return fixed_location(session, LocationKind.STORE)


def van_of(session: Session, technician_id: int) -> StockLocation:
    van = session.scalar(select(StockLocation).where(StockLocation.technician_id == technician_id))
    if van is None:
        raise NotFound("van of technician", technician_id)
    return van


def get_location(session: Session, location_id: int, field: str) -> StockLocation:
    location = session.get(StockLocation, location_id)
    if location is None:
        raise DomainError(field, f"no stock location with id {location_id}")
    return location


def _require_kind(location: StockLocation, kinds: Iterable[LocationKind], field: str, what: str) -> None:
    if location.kind not in set(kinds):
        raise DomainError(field, f"{location.name} is not {what}")


def locations_within_scope(user: User) -> ColumnElement[bool]:
    """SCP-1: a user with stations sees the stock of those stations and of the vans of technicians based there;
    the central store and goods in transit are head office's."""
    stations = stations_of(user)
    if stations is None:
        return true()
    based_there = select(Technician.id).where(Technician.home_station_id.in_(sorted(stations)))
    return or_(StockLocation.station_id.in_(sorted(stations)), StockLocation.technician_id.in_(based_there))


def _at_locations_within_scope(location_column: Any, user: User) -> ColumnElement[bool]:
    if stations_of(user) is None:
        return true()
    return location_column.in_(select(StockLocation.id).where(locations_within_scope(user)))


def location_in_scope(location: StockLocation, user: User) -> bool:
    station_id = location.technician.home_station_id if location.technician is not None else location.station_id
    return in_scope(station_id, user)


def get_visible_location(session: Session, location_id: int, user: User) -> StockLocation:
    location = session.get(StockLocation, location_id)
    if location is None or not location_in_scope(location, user):
        raise NotFound("stock location", location_id)
    return location


def _check_may_handle(actor: User, location: StockLocation, action: str) -> None:
    """The warehouse handles stock anywhere within its stations (SCP-1); a technician, only their own van."""
    if actor.has_any_role(_WAREHOUSE) and location_in_scope(location, actor):
        return
    if location.technician is not None and location.technician.user_id == actor.id:
        return
    raise Forbidden(f"only the warehouse, or the technician whose van it is, may {action} {location.name}")


def list_locations(filters: dict[str, Any], user: User) -> Select[Any]:
    stmt = select(StockLocation).where(locations_within_scope(user))
    if "kind" in filters:
        stmt = stmt.where(StockLocation.kind == filters["kind"])
    if "station" in filters:
        based_there = select(Technician.id).where(Technician.home_station_id == filters["station"])
        stmt = stmt.where(or_(StockLocation.station_id == filters["station"],
                              StockLocation.technician_id.in_(based_there)))
    if "technician" in filters:
        stmt = stmt.where(StockLocation.technician_id == filters["technician"])
    return stmt.order_by(StockLocation.id)


# --- document lines ----------------------------------------------------------------------------------------------

def document_lines(session: Session, raw: list[dict[str, Any]], *, receiving: bool = False) -> list[Line]:
    """Resolves and checks the lines of a receiving note or transfer; errors name the line, e.g. lines.1.serials."""
    lines: list[Line] = []
    seen: set[tuple[int, str]] = set()
    for index, item in enumerate(raw):
        at = f"lines.{index}"
        part = session.get(Part, item["part_id"])
        if part is None:
            raise DomainError(f"{at}.part_id", f"no part with id {item['part_id']}")
        if receiving and not part.active:
            raise DomainError(f"{at}.part_id", f"{part.part_number} is no longer active in the parts catalogue")
        line = make_line(part, item["quantity"], item.get("serials", ()), at=at)
        for serial in line.serials:
            if (part.id, serial) in seen:
                raise DomainError(f"{at}.serials", f"serial {serial} of {part.part_number} is on an earlier line")
            seen.add((part.id, serial))
        lines.append(line)
    return lines


def _lines_of(document: Receipt | Transfer) -> list[Line]:
    return [Line(line.part, line.quantity, tuple(line.serials)) for line in document.lines]


def _line_rows(lines: list[Line], model: type[ReceiptLine] | type[TransferLine]) -> list[Any]:
    return [model(part=line.part, quantity=line.quantity, serials=list(line.serials)) for line in lines]


# --- receiving notes (PRT-2) -------------------------------------------------------------------------------------

def receive_goods(session: Session, data: dict[str, Any], *, actor_id: int | None, now: datetime) -> Receipt:
    """rule PRT-2: receiving parts creates a receiving note (备用件接收单) and its ledger entries."""
    location_id = data.get("location_id")
    location = central_store(session) if location_id is None else get_location(session, location_id, "location_id")
    _require_kind(location, RECEIVING_KINDS, "location_id", "the central store or a station")
    lines = document_lines(session, data["lines"], receiving=True)
    receipt = Receipt(supplier=data["supplier"], supplier_reference=data.get("supplier_reference"),
                      location=location, note=data.get("note"), received_at=now, received_by_user_id=actor_id,
                      lines=_line_rows(lines, ReceiptLine))
    session.add(receipt)
    session.flush()
    move_all(session, lines, source=None, destination=location,
             movement=Movement(Reason.RECEIPT, DocumentRef("receipt", receipt.number), actor_id, now))
    return receipt


def list_receipts(filters: dict[str, Any], user: User) -> Select[Any]:
    stmt = select(Receipt).where(_at_locations_within_scope(Receipt.location_id, user))
    if "location" in filters:
        stmt = stmt.where(Receipt.location_id == filters["location"])
    if "part" in filters:
        stmt = stmt.where(Receipt.lines.any(ReceiptLine.part_id == filters["part"]))
    return stmt.order_by(Receipt.id.desc())


def get_visible_receipt(session: Session, receipt_id: int, user: User) -> Receipt:
    receipt = session.get(Receipt, receipt_id)
    if receipt is None or not location_in_scope(receipt.location, user):
        raise NotFound("receiving note", receipt_id)
    return receipt


# --- transfers ---------------------------------------------------------------------------------------------------

def send_transfer(session: Session, data: dict[str, Any], *, actor: User, now: datetime) -> Transfer:
    """Step one of two: the stock leaves the source and shows as in transit until the destination receives it."""
    source = get_location(session, data["source_location_id"], "source_location_id")
    destination = get_location(session, data["destination_location_id"], "destination_location_id")
    real_places = set(LocationKind) - {LocationKind.TRANSIT}
    _require_kind(source, real_places, "source_location_id", "a place stock can be sent from")
    _require_kind(destination, real_places, "destination_location_id", "a place stock can be sent to")
    if source.id == destination.id:
        raise DomainError("destination_location_id", "must differ from the source")
    _check_may_handle(actor, source, "send stock from")
    lines = document_lines(session, data["lines"])
    transfer = Transfer(status=TransferStatus.IN_TRANSIT.value, source=source, destination=destination,
                        note=data.get("note"), sent_at=now, sent_by_user_id=actor.id,
                        lines=_line_rows(lines, TransferLine))
    session.add(transfer)
    session.flush()
    move_all(session, lines, source=source, destination=fixed_location(session, LocationKind.TRANSIT),
             movement=_transfer_movement(transfer, Reason.TRANSFER_SENT, actor, now))
    return transfer


def receive_transfer(session: Session, transfer_id: int, *, actor: User, now: datetime) -> Transfer:
    """Step two: the destination takes the stock in."""
    transfer = _in_transit(session, transfer_id)
    _check_may_handle(actor, transfer.destination, "receive stock into")
    move_all(session, _lines_of(transfer), source=fixed_location(session, LocationKind.TRANSIT),
             destination=transfer.destination, movement=_transfer_movement(transfer, Reason.TRANSFER_RECEIVED,
                                                                             actor, now))
    transfer.status = TransferStatus.RECEIVED.value
    transfer.received_at, transfer.received_by_user_id = now, actor.id
    session.flush()
    return transfer


def cancel_transfer(session: Session, transfer_id: int, *, actor: User, reason: str, now: datetime) -> Transfer:
    """Calls back a transfer still in transit: the stock returns to the source."""
    transfer = _in_transit(session, transfer_id)
    _check_may_handle(actor, transfer.source, "take back stock sent from")
    move_all(session, _lines_of(transfer), source=fixed_location(session, LocationKind.TRANSIT),
             destination=transfer.source, movement=_transfer_movement(transfer, Reason.TRANSFER_CANCELLED,
                                                                        actor, now))
    transfer.status = TransferStatus.CANCELLED.value
    transfer.cancelled_at, transfer.cancelled_by_user_id, transfer.cancel_reason = now, actor.id, reason
    session.flush()
    return transfer


def get_visible_transfer(session: Session, transfer_id: int, user: User) -> Transfer:
    transfer = session.get(Transfer, transfer_id)
    if transfer is None or not (location_in_scope(transfer.source, user) or
                                location_in_scope(transfer.destination, user)):
        raise NotFound("transfer", transfer_id)
    return transfer


def _in_transit(session: Session, transfer_id: int) -> Transfer:
    # The row lock makes a second receive or cancel wait for the first and then see that it is settled.
    transfer = locked(session, Transfer, transfer_id)
    if transfer is None:
        raise NotFound("transfer", transfer_id)
    if transfer.status != TransferStatus.IN_TRANSIT:
        raise Conflict(f"transfer {transfer.number} is already {transfer.status.replace('_', ' ')}")
    return transfer


def _transfer_movement(transfer: Transfer, reason: Reason, actor: User, now: datetime) -> Movement:
    return Movement(reason, DocumentRef("transfer", transfer.number), actor.id, now)


def list_transfers(filters: dict[str, Any], user: User) -> Select[Any]:
    stmt = select(Transfer).where(or_(_at_locations_within_scope(Transfer.source_location_id, user),
                                      _at_locations_within_scope(Transfer.destination_location_id, user)))
    if "status" in filters:
        stmt = stmt.where(Transfer.status == filters["status"])
    if "location" in filters:
        stmt = stmt.where(or_(Transfer.source_location_id == filters["location"],
                              Transfer.destination_location_id == filters["location"]))
    if "part" in filters:
        stmt = stmt.where(Transfer.lines.any(TransferLine.part_id == filters["part"]))
    return stmt.order_by(Transfer.id.desc())


# --- a technician's van: issue, consume, return (for the requisition and report flows) --------------------------

_HOLDING_KINDS = (LocationKind.STORE, LocationKind.STATION)


def issue_to_van(session: Session, *, part: Part, quantity: int, source: StockLocation, van: StockLocation,
                 document: DocumentRef, actor_id: int | None, now: datetime, serials: Iterable[str] = (),
                 from_reserved: bool = False) -> None:
    """The store or a station hands parts to a technician's van in one step (rule PRT-3: the caller has checked
    that the requisition is approved). With `from_reserved`, the quantity was reserved at the source on approval."""
    _require_kind(source, _HOLDING_KINDS, "source", "the central store or a station")
    _require_kind(van, (LocationKind.VAN,), "van", "a technician's van")
    move(session, make_line(part, quantity, serials), source=source, destination=van,
         movement=Movement(Reason.ISSUE, document, actor_id, now), from_reserved=from_reserved)


def consume_from_van(session: Session, *, part: Part, quantity: int, van: StockLocation, document: DocumentRef,
                     actor_id: int | None, now: datetime, serials: Iterable[str] = ()) -> None:
    """A part installed at the customer's (rule PRT-4, a report line) leaves the van and the books; a serial-tracked
    unit stays findable by its serial, as no longer in stock."""
    _require_kind(van, (LocationKind.VAN,), "van", "a technician's van")
    move(session, make_line(part, quantity, serials), source=van, destination=None,
         movement=Movement(Reason.CONSUMPTION, document, actor_id, now))


def return_to_location(session: Session, *, part: Part, quantity: int, van: StockLocation,
                       destination: StockLocation, document: DocumentRef, actor_id: int | None, now: datetime,
                       serials: Iterable[str] = ()) -> None:
    """Parts not used go back from the van into stock (rule PRT-6)."""
    _require_kind(van, (LocationKind.VAN,), "van", "a technician's van")
    _require_kind(destination, _HOLDING_KINDS, "destination", "the central store or a station")
    move(session, make_line(part, quantity, serials), source=van, destination=destination,
         movement=Movement(Reason.RETURN, document, actor_id, now))


# --- reading stock -----------------------------------------------------------------------------------------------

def stock_levels(filters: dict[str, Any], user: User) -> Select[Any]:
    stmt = select(StockBalance).where(_at_locations_within_scope(StockBalance.location_id, user))
    if "location" in filters:
        stmt = stmt.where(StockBalance.location_id == filters["location"])
    if "part" in filters:
        stmt = stmt.where(StockBalance.part_id == filters["part"])
    if "in_stock" in filters:
        stmt = stmt.where(StockBalance.on_hand > 0 if filters["in_stock"] else StockBalance.on_hand == 0)
    return stmt.order_by(StockBalance.location_id, StockBalance.part_id)


def ledger_entries(filters: dict[str, Any], user: User) -> Select[Any]:
    stmt = select(LedgerEntry).where(_at_locations_within_scope(LedgerEntry.location_id, user))
    if "location" in filters:
        stmt = stmt.where(LedgerEntry.location_id == filters["location"])
    if "part" in filters:
        stmt = stmt.where(LedgerEntry.part_id == filters["part"])
    return stmt.order_by(LedgerEntry.id)


class SerialStatus(StrEnum):
    IN_STOCK = "in_stock"
    IN_TRANSIT = "in_transit"
    NOT_IN_STOCK = "not_in_stock"


def _serial_status(location: StockLocation | None) -> SerialStatus:
    if location is None:
        return SerialStatus.NOT_IN_STOCK
    return SerialStatus.IN_TRANSIT if location.kind == LocationKind.TRANSIT else SerialStatus.IN_STOCK


def find_serial(session: Session, serial: str, part_id: int | None, user: User) -> dict[str, Any]:
    """Where a serial-tracked unit is now, and every movement of it from the ledger, oldest first. SCP-1: a user with
    stations finds a unit only if it is, or has been, at their stations' locations; they see its movements there
    only, and where it is now only if that is one of them (a unit that moved on is elsewhere, location null)."""
    stmt = select(SerialUnit).where(SerialUnit.serial == serial)
    if part_id is not None:
        stmt = stmt.where(SerialUnit.part_id == part_id)
    if stations_of(user) is not None:
        moved_here = (select(LedgerEntry.id)
                      .where(LedgerEntry.part_id == SerialUnit.part_id, LedgerEntry.serial == SerialUnit.serial,
                             _at_locations_within_scope(LedgerEntry.location_id, user)))
        stmt = stmt.where(or_(_at_locations_within_scope(SerialUnit.location_id, user), moved_here.exists()))
    units = session.scalars(stmt.order_by(SerialUnit.part_id)).all()
    if not units:
        raise NotFound("serial", serial)
    if len(units) > 1:
        numbers = ", ".join(unit.part.part_number for unit in units)
        raise DomainError("part", f"serial {serial} is used by several parts ({numbers}); name the part",
                          location="query")
    unit = units[0]
    history = session.scalars(select(LedgerEntry).where(LedgerEntry.part_id == unit.part_id,
                                                        LedgerEntry.serial == unit.serial,
                                                        _at_locations_within_scope(LedgerEntry.location_id, user))
                              .order_by(LedgerEntry.id)).all()
    here = unit.location is not None and location_in_scope(unit.location, user)
    return {"serial": unit.serial, "part": unit.part, "status": _serial_status(unit.location),
            "location": unit.location if here else None, "history": history}
