"""Service costs (001 §售后规章制度1 §9, CST-1, CST-2): the technicians' expenses, which exist nowhere else, and
finance's allocation decisions. The other cost lines of a request (parts written off, freight, compensation, money
collected) are read from the tables they already live in (backend.costs.ledger.lines), so there is one record of
each amount."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.audit.recorder import Audited
from backend.db import Base, Versioned
from backend.dispatch.models import Job


def _known(column: str, values: type[StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


class ExpenseKind(StrEnum):
    # §9.1: the service branch's
    TRAVEL = "travel"
    LODGING = "lodging"
    ALLOWANCE = "allowance"
    # §9.2: manufacturing cost
    TRANSPORT = "transport"
    PACKAGING = "packaging"


class ExpenseStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class Expense(Audited, Versioned, Base):
    """An expense a technician raised for a job they were on (CST-1), approved or rejected by a supervisor who was
    not on its crew (four eyes). Only approved ones are costs; pending ones are reported apart."""

    __tablename__ = "service_expenses"
    __table_args__ = (
        CheckConstraint(_known("kind", ExpenseKind), name="known_kind"),
        CheckConstraint(_known("status", ExpenseStatus), name="known_status"),
        CheckConstraint("amount > 0", name="positive_amount"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"), index=True)
    technician_id: Mapped[int] = mapped_column(ForeignKey("technicians.id"), index=True)
    kind: Mapped[str] = mapped_column(String(12))
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    # The expense's own date: it counts in the period of this day (UTC).
    incurred_on: Mapped[date] = mapped_column(Date, index=True)
    receipt_number: Mapped[str | None] = mapped_column(String(60))
    description: Mapped[str | None] = mapped_column(String(1000))
    status: Mapped[str] = mapped_column(String(10), index=True)
    raised_by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    raised_at: Mapped[datetime] = mapped_column()
    decided_at: Mapped[datetime | None] = mapped_column()
    decided_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reject_reason: Mapped[str | None] = mapped_column(String(1000))

    job: Mapped[Job] = relationship(lazy="joined")

    @property
    def number(self) -> str:
        return f"EX-{self.id:06d}"


class BorneBy(StrEnum):
    """Who bears a cost (CST-2, 费用摊销)."""

    SERVICE_BRANCH = "service_branch"
    MANUFACTURING = "manufacturing"
    SUPPLIER = "supplier"  # recoverable through its secondary claim (PRT-7)
    CUSTOMER = "customer"  # chargeable, non-quality (INT-3)


class CostSource(StrEnum):
    """Where a cost line of a request lives; with the source row's id it names the line."""

    EXPENSE = "expense"  # service_expenses
    PART = "part"  # write_offs: parts at their unit price (PRT-6)
    FREIGHT = "freight"  # freight_charges (PRT-8)
    COMPENSATION = "compensation"  # report_compensation_lines of the approved report (REP-1)


class CostAllocation(Audited, Versioned, Base):
    """Finance's decision on who bears one cost line, where it departs from or confirms the default; who decided,
    when and why. A line without one is borne as the defaults say (backend.costs.ledger.rules)."""

    __tablename__ = "cost_allocations"
    __table_args__ = (
        UniqueConstraint("service_request_id", "source", "source_id", name="uq_cost_allocations_line"),
        CheckConstraint(_known("source", CostSource), name="known_source"),
        CheckConstraint(_known("borne_by", BorneBy), name="known_borne_by"),
        CheckConstraint("(borne_by = 'supplier') = (supplier IS NOT NULL)", name="supplier_named_when_borne"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    service_request_id: Mapped[int] = mapped_column(ForeignKey("service_requests.id"), index=True)
    source: Mapped[str] = mapped_column(String(15))
    source_id: Mapped[int] = mapped_column(Integer)
    borne_by: Mapped[str] = mapped_column(String(15))
    supplier: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(1000))
    decided_by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime] = mapped_column()
