"""KPI facts: narrow rows kept in step with the tables they come from, so the KPIs (RULES.md §9) read one small,
time-ordered table each instead of joining the raw ones on every call.

Each fact table holds exactly what its KPIs count, one row per thing counted, and is written by
backend.kpis.facts in the same flush as the change that moves it. Each has one index led by the time that puts
a row in a period and holding every other column, so a KPI query reads that index alone, in time order.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base


class JobFact(Base):
    """A job whose work is done and that was not cancelled: complaint rate, first-time fix, callback coverage, jobs
    and parts per technician."""

    __tablename__ = "kpi_job_facts"

    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True,
                                        autoincrement=False)
    done_at: Mapped[datetime] = mapped_column()
    station_id: Mapped[int] = mapped_column(Integer)  # the request's nearest station (DSP-4)
    technician_id: Mapped[int | None] = mapped_column(Integer)  # the lead (DSP-7)
    complained: Mapped[bool] = mapped_column(Boolean)  # a confirmed non-quality complaint came of its callback
    covered: Mapped[bool] = mapped_column(Boolean)  # its service-quality callback reached the customer in time
    # The unit's next request after the work: first-time fix compares it with the window in force when asked.
    next_request_at: Mapped[datetime | None] = mapped_column()
    parts: Mapped[int] = mapped_column(Integer)  # part quantities on its signed reports

    __table_args__ = (Index("ix_kpi_job_facts_period", "done_at", "station_id", "technician_id", "complained",
                            "covered", "next_request_at", "parts"),)


class RatingFact(Base):
    """A reached service-quality callback attempt on a job: satisfaction."""

    __tablename__ = "kpi_rating_facts"

    attempt_id: Mapped[int] = mapped_column(ForeignKey("callback_attempts.id", ondelete="CASCADE"),
                                            primary_key=True, autoincrement=False)
    attempted_at: Mapped[datetime] = mapped_column()
    station_id: Mapped[int] = mapped_column(Integer)
    technician_id: Mapped[int | None] = mapped_column(Integer)
    rating: Mapped[int | None] = mapped_column(Integer)  # the sum of the four ratings (CB-3)

    __table_args__ = (Index("ix_kpi_rating_facts_period", "attempted_at", "station_id", "technician_id", "rating"),)


class RequestFact(Base):
    """A service request: major-complaint rate."""

    __tablename__ = "kpi_request_facts"

    request_id: Mapped[int] = mapped_column(ForeignKey("service_requests.id", ondelete="CASCADE"),
                                            primary_key=True, autoincrement=False)
    reported_at: Mapped[datetime] = mapped_column()
    station_id: Mapped[int] = mapped_column(Integer)
    technician_id: Mapped[int | None] = mapped_column(Integer)  # the lead of its live job, if it has one
    regulator: Mapped[bool] = mapped_column(Boolean)

    __table_args__ = (Index("ix_kpi_request_facts_period", "reported_at", "station_id", "technician_id",
                            "regulator"),)


class DeadlineFact(Base):
    """An SLA deadline that was not waived: service timeliness."""

    __tablename__ = "kpi_deadline_facts"

    deadline_id: Mapped[int] = mapped_column(ForeignKey("sla_deadlines.id", ondelete="CASCADE"), primary_key=True,
                                             autoincrement=False)
    due_at: Mapped[datetime] = mapped_column()
    kind: Mapped[str] = mapped_column(String(20))
    station_id: Mapped[int] = mapped_column(Integer)
    technician_id: Mapped[int | None] = mapped_column(Integer)
    met: Mapped[bool] = mapped_column(Boolean)

    __table_args__ = (Index("ix_kpi_deadline_facts_period", "due_at", "kind", "station_id", "technician_id", "met"),)
