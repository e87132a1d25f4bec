"""Service-quality callbacks (回访) and follow-up contacts (RULES.md §8), each with the attempts made to reach
the customer."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.audit.recorder import Audited
from backend.db import Base, Versioned
from backend.dispatch.models import Deadline, ServiceRequest


class CallbackKind(StrEnum):
    SERVICE_QUALITY = "service_quality"  # CB-1: one per job whose work was done
    FOLLOW_UP = "follow_up"  # CB-2: one every interval while the request is flagged


class CallbackStatus(StrEnum):
    OPEN = "open"
    DONE = "done"  # the customer was reached and answered
    UNREACHED = "unreached"  # every attempt allowed failed
    CANCELLED = "cancelled"  # a follow-up no longer wanted: the request was unflagged


class ContactMethod(StrEnum):
    PHONE = "phone"
    SMS = "sms"
    EMAIL = "email"


RATINGS = ("attitude", "skill", "arrival_time", "promise_kept")  # CB-3, from 004


class Callback(Audited, Versioned, Base):
    """A task for an agent: contact the customer by `due_at`, not before `next_attempt_at`.

    `dedupe_key` names what the task is owed for (the job, or the request and the follow-up's sequence number),
    so the duty that creates them can run any number of times and never create one twice."""

    __tablename__ = "callbacks"
    __table_args__ = (Index("ix_callbacks_status_next_attempt", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(80), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    sequence: Mapped[int] = mapped_column(Integer)
    service_request_id: Mapped[int] = mapped_column(ForeignKey("service_requests.id", ondelete="CASCADE"),
                                                    index=True)
    # The job whose service is asked about (CB-1); none for a follow-up, which is about the request.
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(12))
    due_at: Mapped[datetime] = mapped_column(index=True)
    next_attempt_at: Mapped[datetime] = mapped_column()
    attempts_made: Mapped[int] = mapped_column(Integer)
    completed_at: Mapped[datetime | None] = mapped_column()

    service_request: Mapped[ServiceRequest] = relationship(lazy="joined")
    attempts: Mapped[list[CallbackAttempt]] = relationship(
        back_populates="callback", cascade="all, delete-orphan", lazy="selectin", order_by="CallbackAttempt.number")

    @property
    def request_number(self) -> str:
        return self.service_request.number

    @property
    def customer_id(self) -> int:
        return self.service_request.customer_id


class CallbackAttempt(Audited, Base):
    """One try at reaching the customer (CB-3): how, when, by whom, and what they said if reached."""

    __tablename__ = "callback_attempts"
    __table_args__ = (
        *(CheckConstraint(f"{name} IS NULL OR {name} BETWEEN 1 AND 5", name=f"{name}_1_to_5") for name in RATINGS),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    callback_id: Mapped[int] = mapped_column(ForeignKey("callbacks.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    attempted_at: Mapped[datetime] = mapped_column(index=True)
    agent_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reached: Mapped[bool] = mapped_column(Boolean)
    method: Mapped[str] = mapped_column(String(10))
    attitude: Mapped[int | None] = mapped_column(Integer)
    skill: Mapped[int | None] = mapped_column(Integer)
    arrival_time: Mapped[int | None] = mapped_column(Integer)
    promise_kept: Mapped[int | None] = mapped_column(Integer)
    comments: Mapped[str | None] = mapped_column(Text)
    # CB-3: the complaint this answer reopened, a new request linked back to here.
    complaint_request_id: Mapped[int | None] = mapped_column(ForeignKey("service_requests.id"), index=True)

    callback: Mapped[Callback] = relationship(back_populates="attempts")


# The timeliness KPI (RULES.md §9) selects deadlines by when they fell due; on the deadlines table, owned here.
Index("ix_sla_deadlines_due_at", Deadline.due_at)
