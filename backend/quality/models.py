"""The investigation of a request (001 §售后规章制度1 §6, INV-2): the cause the technical departments found, the
countermeasure (处理对策), and who quality inspection (质检科) holds responsible, with the reason."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from backend.audit.recorder import Audited
from backend.db import Base, Versioned


class ResponsibleKind(StrEnum):
    """Who bears the responsibility (INV-2); the cost allocation (CST-2) follows it."""

    DEPARTMENT = "department"  # responsible_department names it
    SUPPLIER = "supplier"  # responsible_supplier names it (a secondary claim, PRT-7)
    CUSTOMER = "customer"  # misuse: non-quality (INT-3)
    THIRD_PARTY = "third_party"
    EMPLOYEE = "employee"  # responsible_user_id names them


class Investigation(Audited, Versioned, Base):
    """One per request, changed only with If-Match (its version is its ETag); every change is audited."""

    __tablename__ = "investigations"
    __table_args__ = (
        CheckConstraint("responsible_kind IN ('department', 'supplier', 'customer', 'third_party', 'employee')",
                        name="known_responsible_kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    service_request_id: Mapped[int] = mapped_column(ForeignKey("service_requests.id", ondelete="CASCADE"),
                                                    unique=True)
    root_cause: Mapped[str] = mapped_column(String(40), index=True)  # a code from Settings.root_cause_codes
    root_cause_text: Mapped[str] = mapped_column(Text)
    countermeasure: Mapped[str] = mapped_column(Text)
    responsible_kind: Mapped[str] = mapped_column(String(20))
    responsible_department: Mapped[str | None] = mapped_column(String(120))
    responsible_supplier: Mapped[str | None] = mapped_column(String(120))
    responsible_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(Text)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime] = mapped_column()
