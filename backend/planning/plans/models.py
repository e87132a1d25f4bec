"""Stored dispatch plans (PLN-1): what the plan proposed for each request, why, and what its commit created."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.audit.recorder import Audited
from backend.db import Base, Versioned
from backend.dispatch.models import ServiceRequest


class PlanStatus:
    PROPOSED = "proposed"
    COMMITTED = "committed"


class ItemOutcome:
    """What the commit did with one request of the plan."""

    COMMITTED = "committed"  # dispatched as planned
    SWAPPED = "swapped"  # dispatched to the crew the dispatcher named instead, with a reason
    DROPPED = "dropped"  # left out by the dispatcher


class DispatchPlan(Audited, Versioned, Base):
    __tablename__ = "dispatch_plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(String(20))
    created_by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # Arrival estimates are reckoned from this moment (DSP-6).
    planned_at: Mapped[datetime] = mapped_column()
    max_jobs_per_technician: Mapped[int] = mapped_column(Integer)
    travel_speed_kmh: Mapped[float] = mapped_column(Float)
    # What the dispatcher asked for: station, tier, service_request_ids, crews_of_two.
    filters: Mapped[dict[str, Any]] = mapped_column(JSON)
    # {"plan": {...}, "greedy": {...}}: missed_deadlines, total_lateness_minutes, total_travel_km, assigned, unassigned.
    objective: Mapped[dict[str, Any]] = mapped_column(JSON)
    solver: Mapped[dict[str, Any]] = mapped_column(JSON)
    committed_at: Mapped[datetime | None] = mapped_column()
    committed_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    items: Mapped[list[PlanItem]] = relationship(back_populates="plan", cascade="all, delete-orphan",
                                                 lazy="selectin", order_by="PlanItem.position")

    @property
    def assignments(self) -> list[PlanItem]:
        return [item for item in self.items if item.crew]

    @property
    def unassigned(self) -> list[PlanItem]:
        return [item for item in self.items if not item.crew]


class PlanItem(Audited, Base):
    """One request of a plan: the crew planned for it (the lead first), or why it was left unassigned."""

    __tablename__ = "dispatch_plan_items"
    __table_args__ = (UniqueConstraint("plan_id", "service_request_id", name="uq_dispatch_plan_items_request"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("dispatch_plans.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # board order
    service_request_id: Mapped[int] = mapped_column(ForeignKey("service_requests.id"), index=True)
    on_site_due_at: Mapped[datetime | None] = mapped_column()
    # [{technician_id, name, distance_km, eta, open_jobs, is_lead}]; empty: left unassigned.
    crew: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    distance_km: Mapped[float | None] = mapped_column(Float)
    eta: Mapped[datetime | None] = mapped_column()
    deadline_met: Mapped[bool | None] = mapped_column(Boolean)
    lateness_minutes: Mapped[float | None] = mapped_column(Float)
    # Why these technicians, or why none.
    reason: Mapped[str] = mapped_column(Text)
    # Whom one-by-one dispatch would have sent, for comparison.
    greedy_technician_ids: Mapped[list[int]] = mapped_column(JSON)
    outcome: Mapped[str | None] = mapped_column(String(20))
    swap_reason: Mapped[str | None] = mapped_column(String(1000))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"))

    plan: Mapped[DispatchPlan] = relationship(back_populates="items")
    # Not loaded with the plan: a commit must lock each request before first reading it (backend.db.locked).
    service_request: Mapped[ServiceRequest] = relationship()

    @property
    def service_request_number(self) -> str:
        return self.service_request.number

    @property
    def technician_ids(self) -> list[int]:
        return [member["technician_id"] for member in self.crew]

    @property
    def lead_technician_id(self) -> int | None:
        return self.crew[0]["technician_id"] if self.crew else None
