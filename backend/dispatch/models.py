"""Service requests with their frozen SLA clocks (INT-1..5, DSP-1..4), and the jobs dispatched for them (DSP-6..8)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from functools import cache
from typing import Any

from sqlalchemy import (JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, event,
                        inspect, text)
from sqlalchemy.orm import MANYTOONE, Mapped, Session, mapped_column, object_session, relationship

from backend.audit.recorder import Audited
from backend.customers.models import Customer, Unit
from backend.db import Base, Versioned, clock_of
from backend.errors import Conflict
from backend.dispatch.sla import UNFULFILLED, effective_status
from backend.stations.models import Station
from backend.technicians.models import Technician


class RequestStatus(StrEnum):
    """The register's states (INT-1, INV-1)."""

    REGISTERED = "registered"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"  # the job's report is approved (REP-5)
    FEEDBACK_GIVEN = "feedback_given"  # the customer was told the outcome
    CLOSED = "closed"  # final: nothing about the request changes any more (INV-1)


# States in which the request's clocks have stopped: nothing is owed any more, late or not.
STOPPED_STATUSES = (RequestStatus.REJECTED, RequestStatus.CLOSED)


class SlaPolicy(Audited, Base):
    """One published version of the SLA numbers. Rows are never edited: a change is a new version (DSP-4)."""

    __tablename__ = "sla_policies"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    radius_km: Mapped[float] = mapped_column(Float)
    on_site_hours: Mapped[float] = mapped_column(Float)
    reply_hours: Mapped[float] = mapped_column(Float)
    written_contact_hours: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column()


class ServiceRequestCounter(Base):
    """The last number handed out per year (INT-1). One row per year; see service.next_request_number."""

    __tablename__ = "service_request_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_number: Mapped[int] = mapped_column(Integer)


class ServiceRequest(Audited, Versioned, Base):
    """An entry in the service request register (客户投诉登记追踪表, INT-1)."""

    __tablename__ = "service_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    # INT-2, INT-3
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    site_address: Mapped[str] = mapped_column(String(300))
    site_latitude: Mapped[float] = mapped_column(Float)
    site_longitude: Mapped[float] = mapped_column(Float)
    fault_description: Mapped[str] = mapped_column(Text)
    fault_category: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(20))
    complaint_class: Mapped[str] = mapped_column(String(20))
    supplier_needed: Mapped[bool] = mapped_column(Boolean)
    required_skill: Mapped[str | None] = mapped_column(String(40))
    reported_at: Mapped[datetime] = mapped_column()
    registered_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # DSP-4: computed once at intake and never recomputed.
    policy_version: Mapped[int] = mapped_column(ForeignKey("sla_policies.version"))
    tier: Mapped[str] = mapped_column(String(20), index=True)
    distance_km: Mapped[float] = mapped_column(Float)
    nearest_station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"), index=True)
    # The earliest open deadline, kept beside the deadlines so the dispatcher's board can sort and filter on an
    # index instead of aggregating every request's deadlines.
    next_due_at: Mapped[datetime | None] = mapped_column(index=True)
    # INT-4
    decision: Mapped[str | None] = mapped_column(String(10))
    decision_reason: Mapped[str | None] = mapped_column(String(1000))
    decided_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column()
    # CB-2: flagged for follow-up since then (null: not flagged); the follow-up callbacks are counted from here.
    follow_up_since: Mapped[datetime | None] = mapped_column()
    # INV-1: a complaint about an earlier (typically closed) request is a new request linked back to it.
    follows_request_id: Mapped[int | None] = mapped_column(ForeignKey("service_requests.id"), index=True)
    # INV-1: the customer told the outcome, by a service-quality callback that reached them or by an agent.
    feedback_given_at: Mapped[datetime | None] = mapped_column()
    feedback_method: Mapped[str | None] = mapped_column(String(20))
    feedback_text: Mapped[str | None] = mapped_column(Text)
    feedback_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # INV-1: closed, with the closing summary.
    closed_at: Mapped[datetime | None] = mapped_column(index=True)
    closing_summary: Mapped[str | None] = mapped_column(Text)
    closed_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    customer: Mapped[Customer] = relationship()
    unit: Mapped[Unit] = relationship()
    nearest_station: Mapped[Station] = relationship()
    deadlines: Mapped[list[Deadline]] = relationship(
        back_populates="service_request", cascade="all, delete-orphan", lazy="selectin", order_by="Deadline.id")

    def deadline(self, kind: str) -> Deadline | None:
        return next((d for d in self.deadlines if d.kind == kind), None)

    def deadlines_changed(self) -> None:
        """Refresh the board's sort key. (The version moves by itself: deadlines are rows the request owns, see
        backend.db.)"""
        upcoming = self.next_deadline
        self.next_due_at = upcoming.due_at if upcoming else None

    @property
    def next_deadline(self) -> Deadline | None:
        """The earliest deadline still to be done: open, or missed and not yet done late. The board leads with it,
        so a missed deadline, the most urgent of all, comes first."""
        if self.status in STOPPED_STATUSES:
            return None  # INT-4, INV-1: a rejected or closed request has nothing left to do, late or not
        pending = [d for d in self.deadlines if d.pending]
        return min(pending, key=lambda d: d.due_at, default=None)


class Deadline(Audited, Base):
    """One SLA clock of a request (DSP-1..4). `status` is stored as open until something settles it; an open
    deadline past due reads as missed (see `current_status`)."""

    __tablename__ = "sla_deadlines"
    __table_args__ = (UniqueConstraint("service_request_id", "kind", name="uq_sla_deadlines_request_kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    service_request_id: Mapped[int] = mapped_column(ForeignKey("service_requests.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    due_at: Mapped[datetime] = mapped_column()
    status: Mapped[str] = mapped_column(String(10))
    met_at: Mapped[datetime | None] = mapped_column()
    waived_reason: Mapped[str | None] = mapped_column(String(1000))
    waived_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    waived_at: Mapped[datetime | None] = mapped_column()

    service_request: Mapped[ServiceRequest] = relationship(back_populates="deadlines")

    @property
    def pending(self) -> bool:
        """Still to be done: open, or missed and not yet done late."""
        return self.status in UNFULFILLED and self.met_at is None

    @property
    def current_status(self) -> str:
        """As of the session's clock, so a deadline shows as missed the moment it passes."""
        return effective_status(self.status, self.due_at, clock_of(object_session(self)).now())


class Communication(Audited, Base):
    """A call, letter or message to or from the customer, archived in time order (INT-5)."""

    __tablename__ = "service_request_communications"
    __table_args__ = (Index("ix_communications_request_time", "service_request_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    service_request_id: Mapped[int] = mapped_column(ForeignKey("service_requests.id", ondelete="CASCADE"))
    occurred_at: Mapped[datetime] = mapped_column()
    direction: Mapped[str] = mapped_column(String(10))
    channel: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(20))
    counterpart: Mapped[str | None] = mapped_column(String(120))
    content: Mapped[str] = mapped_column(Text)
    logged_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column()


JOB_ASSIGNED = "assigned"
_LIVE_JOB = "status NOT IN ('declined', 'cancelled')"
# A job stops counting as a technician's workload once it is archived, declined or cancelled (RULES.md §4).
CLOSED_JOB_STATUSES = ("approved", "declined", "cancelled")


class Job(Audited, Versioned, Base):
    """A field visit (RULES.md §4). Starts as `assigned`; the mobile lifecycle moves `status` on, each move an
    optimistic-locked update of this row."""

    __tablename__ = "jobs"
    __table_args__ = (
        # The backstop behind the row lock in service.dispatch: one live job per request. A declined or cancelled
        # job does not count, so the request can be dispatched again.
        Index("uq_jobs_live_service_request", "service_request_id", unique=True,
              sqlite_where=text(_LIVE_JOB), postgresql_where=text(_LIVE_JOB)),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    service_request_id: Mapped[int] = mapped_column(ForeignKey("service_requests.id"), index=True)
    status: Mapped[str] = mapped_column(String(30), index=True)
    assigned_at: Mapped[datetime] = mapped_column()
    assigned_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # When the technician reported the work done: the callback (CB-1) and old-part (PRT-5) clocks run from it.
    work_done_at: Mapped[datetime | None] = mapped_column(index=True)

    service_request: Mapped[ServiceRequest] = relationship(lazy="joined")
    crew: Mapped[list[JobTechnician]] = relationship(
        back_populates="job", cascade="all, delete-orphan", lazy="selectin",
        order_by=lambda: [JobTechnician.is_lead.desc(), JobTechnician.technician_id])

    @property
    def lead_technician_id(self) -> int | None:
        return next((m.technician_id for m in self.crew if m.is_lead), None)


class JobTechnician(Audited, Base):
    """A member of a job's crew (DSP-7)."""

    __tablename__ = "job_technicians"
    __table_args__ = (
        # DSP-7: at most one lead per job in the database; the service makes sure there is one.
        Index("uq_job_technicians_one_lead", "job_id", unique=True,
              sqlite_where=text("is_lead"), postgresql_where=text("is_lead")),
    )

    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    technician_id: Mapped[int] = mapped_column(ForeignKey("technicians.id"), primary_key=True, index=True)
    is_lead: Mapped[bool] = mapped_column(Boolean)

    job: Mapped[Job] = relationship(back_populates="crew")
    technician: Mapped[Technician] = relationship(lazy="joined")

    @property
    def name(self) -> str:
        return self.technician.name


class DispatchDecision(Audited, Base):
    """Who or what assigned a job and why (DSP-8): the ranked candidates as they were, and the crew chosen."""

    __tablename__ = "dispatch_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), unique=True)
    service_request_id: Mapped[int] = mapped_column(ForeignKey("service_requests.id"), index=True)
    decided_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime] = mapped_column()
    mode: Mapped[str] = mapped_column(String(10))
    suggested_technician_id: Mapped[int | None] = mapped_column(ForeignKey("technicians.id"))
    overrode_suggestion: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str | None] = mapped_column(String(1000))
    travel_speed_kmh: Mapped[float] = mapped_column(Float)
    on_site_due_at: Mapped[datetime | None] = mapped_column()
    candidates: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    crew: Mapped[list[dict[str, Any]]] = mapped_column(JSON)

    job: Mapped[Job] = relationship()


# The candidate search reaches technicians who have never reported a position through their home station:
# (home_station_id, last_latitude IS NULL) in one index, on the technicians table but owned by dispatch.
Index("ix_technicians_home_station_last_latitude", Technician.home_station_id, Technician.last_latitude)


# --- a closed request does not change (INV-1) ---------------------------------------------------------------------

# The rows that make up a request's record, each with the column naming what it belongs to (its request, job,
# report or callback). Not in it: what happens to the parts afterwards (old parts coming back, write-offs, secondary
# claims: PRT-5..7) and the books (costs), which go on after the customer's case is closed.
_RECORD_OWNER_COLUMN = {
    "sla_deadlines": "service_request_id",
    "service_request_communications": "service_request_id",
    "investigations": "service_request_id",
    "callbacks": "service_request_id",
    "jobs": "service_request_id",
    "dispatch_decisions": "job_id",
    "job_technicians": "job_id",
    "job_events": "job_id",
    "job_photos": "job_id",
    "paid_service_approvals": "job_id",
    "field_reports": "job_id",
    "report_part_lines": "report_id",
    "report_compensation_lines": "report_id",
    "callback_attempts": "callback_id",
}


@event.listens_for(Session, "before_flush")
def _refuse_changes_to_closed_requests(session: Session, _flush_context: Any, _instances: Any) -> None:
    """rule INV-1: the one check behind every write path (API, console, duties): any insert, update or delete of a
    closed request or of a row of its record is refused with 409, and the transaction rolls back. Closing itself
    passes: the request was not closed before the flush that closes it."""
    with session.no_autoflush:
        for obj in (*session.new, *session.dirty, *session.deleted):
            if obj in session.dirty and not session.is_modified(obj):
                continue
            service_request = _request_of(session, obj)
            if service_request is not None and _was_closed(service_request):
                raise Conflict(f"request {service_request.number} is closed and cannot change (INV-1); a new "
                               "complaint about it is a new request with follows_request_id "
                               f"{service_request.id}", closed_request_id=service_request.id)


def _request_of(session: Session, obj: Any) -> ServiceRequest | None:
    """The request whose record `obj` is part of, following the owner columns up; None for any other row."""
    while not isinstance(obj, ServiceRequest):
        state = inspect(obj)
        column = _RECORD_OWNER_COLUMN.get(state.mapper.local_table.name)
        if column is None:
            return None
        owner_key, relationship_key, owner_class = _owner_link(state.mapper, column)
        owner = state.dict.get(relationship_key) if relationship_key else None
        if owner is None:  # the relationship not loaded, or a new row given only the id
            ident = state.dict.get(owner_key)
            owner = None if ident is None else session.get(owner_class, ident)
        if owner is None:
            return None
        obj = owner
    return obj


@cache  # per mapper and column: looking through every mapper again on each flush cost a dispatch 0.1 ms
def _owner_link(mapper: Any, column_name: str) -> tuple[str, str | None, type[Any]]:
    """(attribute holding the owner's id, the many-to-one relationship to the owner if mapped, the owner's class)."""
    column = mapper.local_table.c[column_name]
    (foreign_key,) = column.foreign_keys
    owner_table = foreign_key.column.table
    owner_class = next(m.class_ for m in mapper.registry.mappers if m.local_table is owner_table)
    relationship_key = next((r.key for r in mapper.relationships
                             if r.direction is MANYTOONE and column in r.local_columns), None)
    return mapper.get_property_by_column(column).key, relationship_key, owner_class


def _was_closed(service_request: ServiceRequest) -> bool:
    """Closed as the transaction last saw it, before this flush's changes."""
    state = inspect(service_request)
    if state.pending:
        return False
    history = state.attrs.status.history
    before = history.deleted[0] if history.deleted else service_request.status
    return before == RequestStatus.CLOSED
