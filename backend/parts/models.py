"""Spare parts: the catalogue, and the stock held of them (PRT-1, PRT-2): locations, the append-only ledger, the
balances kept beside it, serial-tracked units, receiving notes and transfers."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (JSON, Boolean, CheckConstraint, ForeignKey, Index, Integer, Numeric, String, UniqueConstraint,
                        event, insert)
from sqlalchemy.orm import Mapped, Session, declared_attr, mapped_column, object_session, relationship

from backend.audit.recorder import Audited
from backend.clock import SystemClock
from backend.db import Base, Versioned, clock_of
from backend.stations.models import Station
from backend.technicians.models import Technician


class Part(Audited, Versioned, Base):
    __tablename__ = "parts"

    id: Mapped[int] = mapped_column(primary_key=True)
    part_number: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    unit_price: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    # A serial-tracked part is one physical unit per serial; the rest are counted.
    serial_tracked: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Who makes it; old parts go back to them as secondary claims (PRT-7).
    supplier: Mapped[str | None] = mapped_column(String(200))


class LocationKind(StrEnum):
    STORE = "store"
    STATION = "station"
    VAN = "van"
    TRANSIT = "transit"


class StockLocation(Base):
    """A place stock is held (rule PRT-1): the central store, each service station, each technician's van, and
    "in transit" for transfers that were sent but not yet received."""

    __tablename__ = "stock_locations"
    __table_args__ = (
        CheckConstraint(f"kind IN ({', '.join(repr(k.value) for k in LocationKind)})", name="known_kind"),
        CheckConstraint("(kind = 'station') = (station_id IS NOT NULL) "
                        "AND (kind = 'van') = (technician_id IS NOT NULL)", name="owner_matches_kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # STORE, TRANSIT, STN-<station id>, VAN-<technician id>: unique, so the fixed locations cannot be doubled.
    code: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(10), index=True)
    # An unused location goes with its station or technician; one with stock history keeps them from being deleted.
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id", ondelete="CASCADE"), unique=True)
    technician_id: Mapped[int | None] = mapped_column(ForeignKey("technicians.id", ondelete="CASCADE"), unique=True)
    created_at: Mapped[datetime] = mapped_column()

    station: Mapped[Station | None] = relationship(lazy="selectin")
    technician: Mapped[Technician | None] = relationship(lazy="selectin")

    @property
    def name(self) -> str:
        # Derived, not stored, so renaming a station or a technician renames their stock location too.
        if self.station is not None:
            return self.station.name
        if self.technician is not None:
            return f"Van of {self.technician.name}"
        return "Central store" if self.kind == LocationKind.STORE else "In transit"


FIXED_LOCATION_CODES = {LocationKind.STORE: "STORE", LocationKind.TRANSIT: "TRANSIT"}


def station_location_code(station_id: int) -> str:
    return f"STN-{station_id}"


def van_location_code(technician_id: int) -> str:
    return f"VAN-{technician_id}"


@event.listens_for(Session, "after_flush")
def _locations_for_new_stations_and_technicians(session: Session, _flush_context: Any) -> None:
    """Every station keeps its own stock (单独建帐) and every technician has a van (rule PRT-1). Creating the
    location in the same flush, whoever creates the station or technician (API, demo loader, CLI), means none
    can exist without one. Ids are known only after the flush, hence after_flush and a Core insert."""
    now = clock_of(session).now()
    rows = []
    for obj in session.new:
        if isinstance(obj, Station):
            rows.append({"code": station_location_code(obj.id), "kind": LocationKind.STATION.value,
                         "station_id": obj.id, "technician_id": None, "created_at": now})
        elif isinstance(obj, Technician):
            rows.append({"code": van_location_code(obj.id), "kind": LocationKind.VAN.value, "station_id": None,
                         "technician_id": obj.id, "created_at": now})
    if rows:
        session.connection().execute(insert(StockLocation.__table__), rows)


class StockBalance(Base):
    """The stored balance of one part at one location: the sum of its ledger entries, kept in step in the same
    transaction for speed (`onsite stock verify` proves it). Changed only by conditional UPDATEs (backend.parts.
    stock.ledger), which, with the checks below, keep stock from ever going negative (rule PRT-1)."""

    __tablename__ = "stock_balances"
    __table_args__ = (
        CheckConstraint("on_hand >= 0", name="on_hand_not_negative"),
        CheckConstraint("reserved >= 0 AND reserved <= on_hand", name="reserved_within_on_hand"),
    )

    location_id: Mapped[int] = mapped_column(ForeignKey("stock_locations.id"), primary_key=True)
    part_id: Mapped[int] = mapped_column(ForeignKey("parts.id"), primary_key=True, index=True)
    on_hand: Mapped[int] = mapped_column(Integer)
    # Promised to an approved requisition; not available to anyone else.
    reserved: Mapped[int] = mapped_column(Integer, default=0)

    location: Mapped[StockLocation] = relationship(lazy="selectin")
    part: Mapped[Part] = relationship(lazy="selectin")

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


class LedgerEntry(Base):
    """One movement of stock into (+) or out of (-) a location (rules PRT-1, PRT-2). Append-only: a mistake is
    corrected by a further movement, never by editing history. Serial-tracked parts move one entry per serial."""

    __tablename__ = "stock_ledger"
    __table_args__ = (
        CheckConstraint("quantity <> 0", name="moves_something"),
        Index("ix_stock_ledger_location_part", "location_id", "part_id"),
        Index("ix_stock_ledger_part_serial", "part_id", "serial"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("stock_locations.id"))
    part_id: Mapped[int] = mapped_column(ForeignKey("parts.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    serial: Mapped[str | None] = mapped_column(String(80))
    reason: Mapped[str] = mapped_column(String(30))
    document_type: Mapped[str] = mapped_column(String(30))
    document_ref: Mapped[str] = mapped_column(String(60), index=True)
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    location: Mapped[StockLocation] = relationship(lazy="selectin")
    part: Mapped[Part] = relationship(lazy="selectin")


@event.listens_for(LedgerEntry, "before_update")
@event.listens_for(LedgerEntry, "before_delete")
def _ledger_is_append_only(*_args: Any) -> None:
    raise TypeError("the stock ledger is append-only (rule PRT-1): record a correcting movement instead")


class SerialUnit(Base):
    """Where each serial-tracked unit is now: one row per (part, serial), so a unit is at exactly one place at a
    time. No location means it is not in stock (installed at a customer); it may come back later."""

    __tablename__ = "stock_serials"
    __table_args__ = (UniqueConstraint("part_id", "serial", name="uq_stock_serials_part_serial"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    part_id: Mapped[int] = mapped_column(ForeignKey("parts.id"))
    serial: Mapped[str] = mapped_column(String(80), index=True)
    location_id: Mapped[int | None] = mapped_column(ForeignKey("stock_locations.id"), index=True)

    part: Mapped[Part] = relationship(lazy="selectin")
    location: Mapped[StockLocation | None] = relationship(lazy="selectin")


class DocumentLine:
    """A line of a receiving note or transfer: a part, how many, and which serials for a serial-tracked part."""

    id: Mapped[int] = mapped_column(primary_key=True)
    part_id: Mapped[int] = mapped_column(ForeignKey("parts.id"), index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    serials: Mapped[list[str]] = mapped_column(JSON)

    @declared_attr
    def part(cls) -> Mapped[Part]:
        return relationship(lazy="selectin")


class Receipt(Audited, Base):
    """A receiving note (备用件接收单, rule PRT-2). Never changed once recorded."""

    __tablename__ = "stock_receipts"

    id: Mapped[int] = mapped_column(primary_key=True)
    supplier: Mapped[str] = mapped_column(String(200), index=True)
    supplier_reference: Mapped[str | None] = mapped_column(String(100))
    location_id: Mapped[int] = mapped_column(ForeignKey("stock_locations.id"), index=True)
    note: Mapped[str | None] = mapped_column(String(1000))
    received_at: Mapped[datetime] = mapped_column(index=True)
    received_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    location: Mapped[StockLocation] = relationship(lazy="selectin")
    lines: Mapped[list[ReceiptLine]] = relationship(cascade="all, delete-orphan", lazy="selectin",
                                                    order_by="ReceiptLine.id")

    @property
    def number(self) -> str:
        return f"RN-{self.id:06d}"


class ReceiptLine(DocumentLine, Audited, Base):
    __tablename__ = "stock_receipt_lines"
    __table_args__ = (CheckConstraint("quantity > 0", name="positive_quantity"),)

    receipt_id: Mapped[int] = mapped_column(ForeignKey("stock_receipts.id", ondelete="CASCADE"), index=True)


class TransferStatus(StrEnum):
    IN_TRANSIT = "in_transit"
    RECEIVED = "received"
    CANCELLED = "cancelled"


class Transfer(Audited, Versioned, Base):
    """Stock sent from one location to another in two steps, so what is on the way is visible: sending moves it
    into "in transit", receiving moves it on to the destination, cancelling back to the source."""

    __tablename__ = "stock_transfers"

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(String(12), index=True)
    source_location_id: Mapped[int] = mapped_column(ForeignKey("stock_locations.id"), index=True)
    destination_location_id: Mapped[int] = mapped_column(ForeignKey("stock_locations.id"), index=True)
    note: Mapped[str | None] = mapped_column(String(1000))
    sent_at: Mapped[datetime] = mapped_column()
    sent_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    received_at: Mapped[datetime | None] = mapped_column()
    received_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    cancelled_at: Mapped[datetime | None] = mapped_column()
    cancelled_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    cancel_reason: Mapped[str | None] = mapped_column(String(300))

    source: Mapped[StockLocation] = relationship(foreign_keys=[source_location_id], lazy="selectin")
    destination: Mapped[StockLocation] = relationship(foreign_keys=[destination_location_id], lazy="selectin")
    lines: Mapped[list[TransferLine]] = relationship(cascade="all, delete-orphan", lazy="selectin",
                                                     order_by="TransferLine.id")

    @property
    def number(self) -> str:
        return f"TR-{self.id:06d}"


class TransferLine(DocumentLine, Audited, Base):
    __tablename__ = "stock_transfer_lines"
    __table_args__ = (CheckConstraint("quantity > 0", name="positive_quantity"),)

    transfer_id: Mapped[int] = mapped_column(ForeignKey("stock_transfers.id", ondelete="CASCADE"), index=True)


# --- the parts flow on jobs (PRT-3..PRT-8) ------------------------------------------------------------------------

class RequisitionStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    ISSUED = "issued"


class Requisition(Audited, Versioned, Base):
    """A technician's request for parts for a job (备用件领料单, rule PRT-3): approved by a supervisor before the
    store issues anything."""

    __tablename__ = "requisitions"
    __table_args__ = (
        CheckConstraint(f"status IN ({', '.join(repr(s.value) for s in RequisitionStatus)})", name="known_status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"), index=True)
    # Whose van the parts go to: the requesting technician.
    technician_id: Mapped[int] = mapped_column(ForeignKey("technicians.id"), index=True)
    status: Mapped[str] = mapped_column(String(10), index=True)
    requested_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column()
    decided_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reject_reason: Mapped[str | None] = mapped_column(String(1000))
    issued_at: Mapped[datetime | None] = mapped_column()
    issued_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    source_location_id: Mapped[int | None] = mapped_column(ForeignKey("stock_locations.id"))

    source: Mapped[StockLocation | None] = relationship(lazy="selectin")
    lines: Mapped[list[RequisitionLine]] = relationship(back_populates="requisition", cascade="all, delete-orphan",
                                                        lazy="selectin", order_by="RequisitionLine.line_no")

    @property
    def number(self) -> str:
        return f"RQ-{self.id:06d}"


class RequisitionLine(Audited, Base):
    __tablename__ = "requisition_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="positive_quantity"),
        CheckConstraint("returned_quantity >= 0 AND returned_quantity <= quantity", name="returned_within_issued"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    requisition_id: Mapped[int] = mapped_column(ForeignKey("requisitions.id", ondelete="CASCADE"), index=True)
    line_no: Mapped[int] = mapped_column(Integer)
    part_id: Mapped[int] = mapped_column(ForeignKey("parts.id"), index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(1000))
    # What was handed out (the serials for a tracked part) and what came back unused.
    issued_serials: Mapped[list[str]] = mapped_column(JSON, default=list)
    returned_quantity: Mapped[int] = mapped_column(Integer, default=0)
    returned_serials: Mapped[list[str]] = mapped_column(JSON, default=list)

    requisition: Mapped[Requisition] = relationship(back_populates="lines")
    part: Mapped[Part] = relationship(lazy="selectin")
    installations: Mapped[list[Installation]] = relationship(
        lazy="selectin", primaryjoin="and_(RequisitionLine.id == Installation.requisition_line_id, "
                                     "Installation.removed_at.is_(None))", viewonly=True)


class Installation(Audited, Base):
    """A part installed on a job as a signed report states it (rule PRT-4): what left the lead technician's van.
    A corrected report that no longer lists it marks it removed (the part went back to the van), so the rows not
    removed are exactly what the current signed report installed."""

    __tablename__ = "part_installations"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"), index=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("field_reports.id"))
    technician_id: Mapped[int] = mapped_column(ForeignKey("technicians.id"))
    part_id: Mapped[int] = mapped_column(ForeignKey("parts.id"), index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    new_serial: Mapped[str | None] = mapped_column(String(80))
    old_serial: Mapped[str | None] = mapped_column(String(80))
    covered_by_warranty: Mapped[bool] = mapped_column(Boolean)
    requisition_line_id: Mapped[int | None] = mapped_column(ForeignKey("requisition_lines.id"), index=True)
    installed_at: Mapped[datetime] = mapped_column()
    # rule PRT-6: the supervisor approved the report that lists it.
    approved_at: Mapped[datetime | None] = mapped_column()
    removed_at: Mapped[datetime | None] = mapped_column()

    part: Mapped[Part] = relationship(lazy="selectin")
    obligation: Mapped[OldPartObligation | None] = relationship(back_populates="installation", lazy="selectin")
    write_off: Mapped[WriteOff | None] = relationship(back_populates="installation", lazy="selectin")


class ObligationStatus(StrEnum):
    OUTSTANDING = "outstanding"
    RECEIVED = "received"
    EXCUSED = "excused"
    # The corrected report no longer lists the part, so no old part is owed.
    CANCELLED = "cancelled"


class ExcuseReason(StrEnum):
    MAILED = "mailed"
    CUSTOMER_KEPT = "customer_kept"
    DESTROYED = "destroyed"
    OTHER = "other"


class Disposition(StrEnum):
    SUPPLIER_CLAIM = "supplier_claim"
    REPAIRED = "repaired"
    SCRAPPED = "scrapped"


class OldPartObligation(Audited, Versioned, Base):
    """The old part replaced by a warranty part must come back (rule PRT-5) by `due_at`, or be excused with a
    reason; once received it is disposed of (rule PRT-7)."""

    __tablename__ = "old_part_obligations"
    __table_args__ = (
        CheckConstraint(f"status IN ({', '.join(repr(s.value) for s in ObligationStatus)})", name="known_status"),
        CheckConstraint(f"disposition IS NULL OR disposition IN ({', '.join(repr(d.value) for d in Disposition)})",
                        name="known_disposition"),
        Index("ix_old_part_obligations_status_due", "status", "due_at"),
        # The old-parts KPI by station or technician: the outstanding ones read from the index alone, in group order.
        Index("ix_old_part_obligations_status_station_due", "status", "station_id", "due_at"),
        Index("ix_old_part_obligations_status_technician_due", "status", "technician_id", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    installation_id: Mapped[int] = mapped_column(ForeignKey("part_installations.id"), unique=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"), index=True)
    technician_id: Mapped[int] = mapped_column(ForeignKey("technicians.id"), index=True)
    # The service request's nearest station: the one whose people chase it.
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"), index=True)
    part_id: Mapped[int] = mapped_column(ForeignKey("parts.id"), index=True)
    serial: Mapped[str | None] = mapped_column(String(80))
    quantity: Mapped[int] = mapped_column(Integer)
    due_at: Mapped[datetime] = mapped_column()
    status: Mapped[str] = mapped_column(String(12))
    marked_overdue_at: Mapped[datetime | None] = mapped_column()
    received_at: Mapped[datetime | None] = mapped_column()
    received_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    condition: Mapped[str | None] = mapped_column(String(1000))
    excused_reason: Mapped[str | None] = mapped_column(String(20))
    excuse_note: Mapped[str | None] = mapped_column(String(1000))
    excused_at: Mapped[datetime | None] = mapped_column()
    excused_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    disposition: Mapped[str | None] = mapped_column(String(20))
    disposed_at: Mapped[datetime | None] = mapped_column()
    disposed_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    supplier_claim_id: Mapped[int | None] = mapped_column(ForeignKey("supplier_claims.id"), index=True)
    # Where a repaired part went back into stock.
    repaired_into_location_id: Mapped[int | None] = mapped_column(ForeignKey("stock_locations.id"))

    installation: Mapped[Installation] = relationship(back_populates="obligation")
    part: Mapped[Part] = relationship(lazy="selectin")
    technician: Mapped[Technician] = relationship(lazy="selectin")

    @property
    def number(self) -> str:
        return f"OP-{self.id:06d}"

    @property
    def overdue(self) -> bool:
        # As of the session's injected clock, so tests with a manual clock see what users would.
        session = object_session(self)
        now = clock_of(session).now() if session is not None else SystemClock().now()
        return self.status == ObligationStatus.OUTSTANDING and self.due_at < now


class WriteOff(Audited, Base):
    """An installed part taken off the books for good (销帐, rule PRT-6), once the report is signed and approved
    and, for a warranty part, its old part is back or excused."""

    __tablename__ = "write_offs"

    id: Mapped[int] = mapped_column(primary_key=True)
    installation_id: Mapped[int] = mapped_column(ForeignKey("part_installations.id"), unique=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"), index=True)
    part_id: Mapped[int] = mapped_column(ForeignKey("parts.id"), index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    serial: Mapped[str | None] = mapped_column(String(80))
    requisition_line_id: Mapped[int | None] = mapped_column(ForeignKey("requisition_lines.id"))
    written_off_at: Mapped[datetime] = mapped_column(index=True)
    # The catalogue price when written off: what the part cost the company (CST-1), kept as it was then.
    unit_price: Mapped[Decimal] = mapped_column(Numeric(12, 2))

    installation: Mapped[Installation] = relationship(back_populates="write_off")
    part: Mapped[Part] = relationship(lazy="selectin")


class ClaimStatus(StrEnum):
    OPEN = "open"
    SENT = "sent"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class SupplierClaim(Audited, Versioned, Base):
    """A secondary claim (二次索赔, rule PRT-7): received old parts of one supplier sent back for compensation."""

    __tablename__ = "supplier_claims"
    __table_args__ = (
        CheckConstraint(f"status IN ({', '.join(repr(s.value) for s in ClaimStatus)})", name="known_status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    supplier: Mapped[str] = mapped_column(String(200), index=True)
    status: Mapped[str] = mapped_column(String(10), index=True)
    amount_claimed: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    amount_recovered: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    note: Mapped[str | None] = mapped_column(String(1000))
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    sent_at: Mapped[datetime | None] = mapped_column()
    settled_at: Mapped[datetime | None] = mapped_column()
    settled_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    old_parts: Mapped[list[OldPartObligation]] = relationship(lazy="selectin", order_by="OldPartObligation.id")

    @property
    def number(self) -> str:
        return f"SC-{self.id:06d}"


class FreightStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class FreightCharge(Audited, Versioned, Base):
    """Shipping cost of mailed warranty parts (rule PRT-8): recorded by its handler, written off once a supervisor
    approves it."""

    __tablename__ = "freight_charges"
    __table_args__ = (
        CheckConstraint(f"status IN ({', '.join(repr(s.value) for s in FreightStatus)})", name="known_status"),
        CheckConstraint("amount > 0", name="positive_amount"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    handler_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    description: Mapped[str] = mapped_column(String(1000))
    requisition_id: Mapped[int | None] = mapped_column(ForeignKey("requisitions.id"), index=True)
    old_part_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(10), index=True)
    recorded_at: Mapped[datetime] = mapped_column()
    decided_at: Mapped[datetime | None] = mapped_column()
    decided_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reject_reason: Mapped[str | None] = mapped_column(String(1000))

    @property
    def number(self) -> str:
        return f"FR-{self.id:06d}"
