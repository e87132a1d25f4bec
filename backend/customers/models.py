from __future__ import annotations

from datetime import date

from sqlalchemy import JSON, Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.audit.recorder import Audited
from backend.db import Base, Versioned


class Customer(Audited, Versioned, Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    contact_person: Mapped[str | None] = mapped_column(String(120))
    phones: Mapped[list[str]] = mapped_column(JSON, default=list)
    email: Mapped[str | None] = mapped_column(String(254))
    address: Mapped[str | None] = mapped_column(String(300))


class Unit(Audited, Versioned, Base):
    """One piece of equipment (a coach, a machine) with its warranty (三包) terms (WAR-1)."""

    __tablename__ = "units"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    model: Mapped[str] = mapped_column(String(80), index=True)
    serial_number: Mapped[str] = mapped_column(String(80), unique=True)
    delivery_date: Mapped[date | None] = mapped_column(Date)
    warranty_end_date: Mapped[date | None] = mapped_column(Date)
    warranty_mileage_limit_km: Mapped[int | None] = mapped_column(Integer)
    warranty_hours_limit: Mapped[int | None] = mapped_column(Integer)
