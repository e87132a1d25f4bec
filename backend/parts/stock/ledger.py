"""The stock ledger (rule PRT-1): every movement of stock is an append-only entry, and the stored balance of each
(location, part) moves with it in the same transaction, so the books always equal the stock (帐物一致).

Stock never goes negative, also under concurrency. Stock leaves a location only through a conditional UPDATE
(`... WHERE on_hand - reserved >= :quantity`): on PostgreSQL a second UPDATE of the same row waits for the first
to commit, then re-checks the condition against the new value; SQLite serialises writers (BEGIN IMMEDIATE, see
backend.db). A serial-tracked unit moves the same way, only from where it is now. These functions write but never
commit; when one raises, the caller must roll back (the HTTP layer does)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import partial
from typing import Any

from sqlalchemy import Table, func, select, update
from sqlalchemy.orm import Session

from backend.db import insert_on_conflict
from backend.errors import Conflict, DomainError
from backend.parts.models import LedgerEntry, Part, SerialUnit, StockBalance, StockLocation

_BALANCES: Table = StockBalance.__table__  # type: ignore[assignment]
_SERIALS: Table = SerialUnit.__table__  # type: ignore[assignment]


class Reason(StrEnum):
    RECEIPT = "receipt"
    TRANSFER_SENT = "transfer_sent"
    TRANSFER_RECEIVED = "transfer_received"
    TRANSFER_CANCELLED = "transfer_cancelled"
    ISSUE = "issue"
    CONSUMPTION = "consumption"
    RETURN = "return"


@dataclass(frozen=True)
class DocumentRef:
    """The document a movement belongs to, e.g. ("receipt", "RN-000012") or ("requisition", "RQ-000031")."""

    type: str
    ref: str


@dataclass(frozen=True)
class Movement:
    """What every ledger entry of one movement shares: why, on which document, by whom, when."""

    reason: Reason
    document: DocumentRef
    actor_id: int | None
    now: datetime


@dataclass(frozen=True)
class Line:
    """An amount of one part; for a serial-tracked part, exactly which units. Build it with make_line."""

    part: Part
    quantity: int
    serials: tuple[str, ...] = ()


def make_line(part: Part, quantity: int, serials: Iterable[str] = (), *, at: str | None = None) -> Line:
    """Checks the amount against the part; `at` prefixes the names of the offending fields (e.g. "lines.2")."""
    def name(field: str) -> str:
        return f"{at}.{field}" if at else field

    serials = tuple(serials)
    if quantity < 1:
        raise DomainError(name("quantity"), "must be at least 1")
    if part.serial_tracked:
        # One serial is one physical unit, so a tracked part moves by naming each unit.
        if len(serials) != quantity:
            raise DomainError(name("serials"), f"{part.part_number} is serial-tracked: give one serial per unit "
                                               f"({quantity} expected, {len(serials)} given)")
        repeated = sorted({s for s in serials if serials.count(s) > 1})
        if repeated:
            raise DomainError(name("serials"), f"serial {', '.join(repeated)} is given more than once")
    elif serials:
        raise DomainError(name("serials"), f"{part.part_number} is counted, not serial-tracked: give no serials")
    return Line(part, quantity, serials)


@dataclass(frozen=True)
class Shortage:
    location: StockLocation
    part: Part
    requested: int
    available: int

    def describe(self) -> str:
        return (f"{self.part.part_number} ({self.part.name}) at {self.location.name}: {self.requested} requested, "
                f"{self.available} available")


class OutOfStock(Conflict):
    """Taking this much would make stock negative or eat into what is reserved (rule PRT-1)."""

    def __init__(self, shortages: Sequence[Shortage]) -> None:
        super().__init__("not enough stock: " + "; ".join(s.describe() for s in shortages),
                         shortages=[{"location_id": s.location.id, "part_id": s.part.id,
                                     "part_number": s.part.part_number, "requested": s.requested,
                                     "available": s.available} for s in shortages])
        self.shortages = list(shortages)


def move(session: Session, line: Line, *, source: StockLocation | None, destination: StockLocation | None,
         movement: Movement, from_reserved: bool = False) -> None:
    """Moves `line` from `source` to `destination` and records both sides in the ledger. No source: the stock
    comes from outside (a receipt); no destination: it leaves the books (installed at a customer). With
    `from_reserved`, the quantity taken is one reserved earlier at the source, and the reservation goes with it."""
    # The two balance rows are locked in location order (and move_all goes part by part), so two movements
    # between the same places in opposite directions queue instead of deadlocking on PostgreSQL.
    changes: list[tuple[int, Callable[[], None]]] = []
    if source is not None:
        changes.append((source.id, partial(_take, session, source, line, from_reserved)))
    if destination is not None:
        changes.append((destination.id, partial(_add, session, destination, line)))
    for _location_id, change in sorted(changes, key=lambda located: located[0]):
        change()
    if source is not None:
        _record(session, line, source, -1, movement)
    if destination is not None:
        _record(session, line, destination, +1, movement)
    if line.part.serial_tracked:
        _move_serials(session, line, source, destination)


def move_all(session: Session, lines: Sequence[Line], *, source: StockLocation | None,
             destination: StockLocation | None, movement: Movement) -> None:
    """Moves every line, or none: a shortage on any line names every short line at once."""
    shortages: list[Shortage] = []
    for line in sorted(lines, key=lambda line: line.part.id):
        try:
            move(session, line, source=source, destination=destination, movement=movement)
        except OutOfStock as short:
            shortages.extend(short.shortages)
    if shortages:
        raise OutOfStock(shortages)


def reserve(session: Session, location: StockLocation, part: Part, quantity: int) -> None:
    """Sets stock aside (for an approved requisition, PRT-3): still on hand, no longer available to others."""
    _check_quantity(quantity)
    here = _balance_of(location, part)
    stmt = (update(_BALANCES).where(here, _BALANCES.c.on_hand - _BALANCES.c.reserved >= quantity)
            .values(reserved=_BALANCES.c.reserved + quantity))
    if session.execute(stmt).rowcount != 1:
        available = session.scalar(select(_BALANCES.c.on_hand - _BALANCES.c.reserved).where(here)) or 0
        raise OutOfStock([Shortage(location, part, quantity, available)])


def release(session: Session, location: StockLocation, part: Part, quantity: int) -> None:
    """Gives reserved stock back to the available pool (a requisition rejected, cancelled or issued short)."""
    _check_quantity(quantity)
    here = _balance_of(location, part)
    stmt = update(_BALANCES).where(here, _BALANCES.c.reserved >= quantity).values(
        reserved=_BALANCES.c.reserved - quantity)
    if session.execute(stmt).rowcount != 1:
        reserved = session.scalar(select(_BALANCES.c.reserved).where(here)) or 0
        raise Conflict(f"only {reserved} of {part.part_number} are reserved at {location.name}; "
                       f"{quantity} cannot be released")


def _check_quantity(quantity: int) -> None:
    if quantity < 1:
        raise DomainError("quantity", "must be at least 1")


def _balance_of(location: StockLocation, part: Part) -> Any:
    return (_BALANCES.c.location_id == location.id) & (_BALANCES.c.part_id == part.id)


def _take(session: Session, location: StockLocation, line: Line, from_reserved: bool) -> None:
    # rule PRT-1: the condition is checked by the database on the row it updates, so no two takers can both
    # see the last unit (see the module docstring).
    b, quantity, here = _BALANCES, line.quantity, _balance_of(location, line.part)
    if from_reserved:
        stmt = (update(b).where(here, b.c.reserved >= quantity)
                .values(on_hand=b.c.on_hand - quantity, reserved=b.c.reserved - quantity))
        left = b.c.reserved
    else:
        stmt = update(b).where(here, b.c.on_hand - b.c.reserved >= quantity).values(on_hand=b.c.on_hand - quantity)
        left = b.c.on_hand - b.c.reserved
    if session.execute(stmt).rowcount != 1:
        raise OutOfStock([Shortage(location, line.part, quantity, session.scalar(select(left).where(here)) or 0)])


def _add(session: Session, location: StockLocation, line: Line) -> None:
    stmt: Any = insert_on_conflict(session, _BALANCES).values(location_id=location.id, part_id=line.part.id,
                                                   on_hand=line.quantity, reserved=0)
    session.execute(stmt.on_conflict_do_update(index_elements=[_BALANCES.c.location_id, _BALANCES.c.part_id],
                                               set_={"on_hand": _BALANCES.c.on_hand + stmt.excluded.on_hand}))


def _record(session: Session, line: Line, location: StockLocation, sign: int, movement: Movement) -> None:
    common = {"at": movement.now, "location_id": location.id, "part_id": line.part.id,
              "reason": movement.reason.value, "document_type": movement.document.type,
              "document_ref": movement.document.ref, "actor_user_id": movement.actor_id}
    if line.part.serial_tracked:
        session.add_all(LedgerEntry(quantity=sign, serial=serial, **common) for serial in line.serials)
    else:
        session.add(LedgerEntry(quantity=sign * line.quantity, serial=None, **common))


def _move_serials(session: Session, line: Line, source: StockLocation | None,
                  destination: StockLocation | None) -> None:
    """A unit moves only from where it is now; one coming from outside must not already be in stock."""
    s = _SERIALS
    target = destination.id if destination is not None else None
    if source is None:
        # New to us, or back in stock after having left it (e.g. repaired): never a second unit in stock.
        stmt: Any = insert_on_conflict(session, s).values([{"part_id": line.part.id, "serial": serial, "location_id": target}
                                                for serial in line.serials])
        stmt = stmt.on_conflict_do_update(index_elements=[s.c.part_id, s.c.serial],
                                          set_={"location_id": stmt.excluded.location_id},
                                          where=s.c.location_id.is_(None))
    else:
        stmt = (update(s).where(s.c.part_id == line.part.id, s.c.serial.in_(line.serials),
                                s.c.location_id == source.id).values(location_id=target))
    moved = set(session.scalars(stmt.returning(s.c.serial)))
    missing = [serial for serial in line.serials if serial not in moved]
    if missing:
        raise _misplaced(session, line.part, missing, source)


def _misplaced(session: Session, part: Part, serials: list[str], source: StockLocation | None) -> Conflict:
    units = {u.serial: u for u in session.scalars(
        select(SerialUnit).where(SerialUnit.part_id == part.id, SerialUnit.serial.in_(serials))
        .execution_options(populate_existing=True))}

    def where(serial: str) -> str:
        unit = units.get(serial)
        return "not in stock" if unit is None or unit.location is None else f"at {unit.location.name}"

    if source is None:
        detail = "; ".join(f"{s} is already in stock {where(s)}" for s in serials)
        return Conflict(f"{part.part_number}: {detail} (one serial is one physical unit)", serials=serials)
    detail = "; ".join(f"{s} is {where(s)}" for s in serials)
    return Conflict(f"{part.part_number}: not at {source.name}: {detail}", serials=serials)


# --- proving balance = ledger ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Mismatch:
    location: str
    part: str
    detail: str

    def __str__(self) -> str:
        return f"{self.location} / {self.part}: {self.detail}"


@dataclass
class VerifyReport:
    locations: int = 0
    balances: int = 0
    serials: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)

    def line(self) -> str:
        found = len(self.mismatches)
        verdict = "balance = ledger" if not found else f"{found} mismatch{'es' if found != 1 else ''}"
        return (f"stock verify: {self.balances} balances and {self.serials} serials at {self.locations} "
                f"locations checked, {verdict}")


PROGRESS_EVERY = 100


def verify_stock(session: Session, progress: Callable[[str], None] = lambda _m: None) -> VerifyReport:
    """Proves, location by location, that each stored balance equals the sum of its ledger entries, and that each
    serial-tracked unit is where its ledger entries put it (rule PRT-1). Reads only."""
    if session.get_bind().dialect.name == "postgresql":
        # One snapshot for the whole check, so movements committed meanwhile cannot look like mismatches.
        # (A SQLite read transaction is a snapshot already.)
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    part_numbers = dict(session.execute(select(Part.id, Part.part_number)).all())
    locations = session.scalars(select(StockLocation).order_by(StockLocation.id)).all()
    report = VerifyReport(locations=len(locations))
    for done, location in enumerate(locations, start=1):
        report.mismatches.extend(_check_balances(session, location, part_numbers, report))
        report.mismatches.extend(_check_serials(session, location, part_numbers, report))
        if done % PROGRESS_EVERY == 0 or done == len(locations):
            progress(f"{done}/{len(locations)} locations checked")
    return report


def _check_balances(session: Session, location: StockLocation, part_numbers: dict[int, str],
                    report: VerifyReport) -> Iterable[Mismatch]:
    stored = dict(session.execute(select(_BALANCES.c.part_id, _BALANCES.c.on_hand)
                                  .where(_BALANCES.c.location_id == location.id)).all())
    booked = dict(session.execute(select(LedgerEntry.part_id, func.sum(LedgerEntry.quantity))
                                  .where(LedgerEntry.location_id == location.id)
                                  .group_by(LedgerEntry.part_id)).all())
    report.balances += len(stored)
    for part_id in sorted(stored.keys() | booked.keys()):
        balance, ledger = stored.get(part_id), int(booked.get(part_id) or 0)
        if balance != ledger and not (balance is None and ledger == 0):
            shown = "no balance row" if balance is None else f"balance {balance}"
            yield Mismatch(location.code, part_numbers[part_id], f"{shown}, ledger sums to {ledger}")


def _check_serials(session: Session, location: StockLocation, part_numbers: dict[int, str],
                   report: VerifyReport) -> Iterable[Mismatch]:
    registered = set(session.execute(select(SerialUnit.part_id, SerialUnit.serial)
                                     .where(SerialUnit.location_id == location.id)).all())
    total = func.sum(LedgerEntry.quantity)
    booked = {(part_id, serial): int(amount) for part_id, serial, amount in session.execute(
        select(LedgerEntry.part_id, LedgerEntry.serial, total)
        .where(LedgerEntry.location_id == location.id, LedgerEntry.serial.is_not(None))
        .group_by(LedgerEntry.part_id, LedgerEntry.serial).having(total != 0))}
    report.serials += len(registered)
    # Here per the ledger means its entries at this location sum to exactly one unit.
    for part_id, serial in sorted(registered | booked.keys()):
        amount = booked.get((part_id, serial), 0)
        if amount != 1 or (part_id, serial) not in registered:
            placed = "registered here" if (part_id, serial) in registered else "registered elsewhere or nowhere"
            yield Mismatch(location.code, part_numbers[part_id],
                           f"serial {serial} is {placed}, its ledger entries here sum to {amount}")
