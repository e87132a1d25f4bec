"""KPI facts: narrow rows kept in step with the tables they come from, so the KPIs (RULES.md §9) read one small,
time-ordered table each instead of joining the raw ones on every call.

Each fact table holds exactly what its KPIs count, one row per thing counted, and is written by backend.kpis.facts
in the same flush as the change that moves it. Facts name the job or request they are derived from but hold no
foreign key to it: a row deleted in the database must not take its fact away unseen, or the rollups below would
still count it; the flush that deletes it takes the fact away and the rollups with it. Each has one index led by the
time that puts a row in a period and holding every other column, so a KPI query reads that index alone, in time
order.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base


class JobFact(Base):
    """A job whose work is done and that was not cancelled: complaint rate, first-time fix, callback coverage, jobs
    and parts per technician."""

    __tablename__ = "kpi_job_facts"

    job_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
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

    attempt_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    job_id: Mapped[int] = mapped_column(Integer, index=True)  # what it is derived from
    attempted_at: Mapped[datetime] = mapped_column()
    station_id: Mapped[int] = mapped_column(Integer)
    technician_id: Mapped[int | None] = mapped_column(Integer)
    rating: Mapped[int | None] = mapped_column(Integer)  # the sum of the four ratings (CB-3)

    __table_args__ = (Index("ix_kpi_rating_facts_period", "attempted_at", "station_id", "technician_id", "rating"),)


class RequestFact(Base):
    """A service request: major-complaint rate."""

    __tablename__ = "kpi_request_facts"

    request_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    reported_at: Mapped[datetime] = mapped_column()
    station_id: Mapped[int] = mapped_column(Integer)
    technician_id: Mapped[int | None] = mapped_column(Integer)  # the lead of its live job, if it has one
    regulator: Mapped[bool] = mapped_column(Boolean)

    __table_args__ = (Index("ix_kpi_request_facts_period", "reported_at", "station_id", "technician_id",
                            "regulator"),)


class DeadlineFact(Base):
    """An SLA deadline that was not waived: service timeliness."""

    __tablename__ = "kpi_deadline_facts"

    deadline_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    request_id: Mapped[int] = mapped_column(Integer, index=True)  # what it is derived from
    due_at: Mapped[datetime] = mapped_column()
    kind: Mapped[str] = mapped_column(String(20))
    station_id: Mapped[int] = mapped_column(Integer)
    technician_id: Mapped[int | None] = mapped_column(Integer)
    met: Mapped[bool] = mapped_column(Boolean)

    __table_args__ = (Index("ix_kpi_deadline_facts_period", "due_at", "kind", "station_id", "technician_id", "met"),)


# --- rollups: the facts summed per UTC month, station and lead technician -----------------------------------------
# A period's whole months are read from these (a few thousand rows a month however many jobs), the partial months
# at its ends from the facts. backend.kpis.rollups keeps them by adding what each change of facts adds or takes
# away. `technician_id` 0 stands for "no lead" (NULL would never match the key of an upsert).

class JobRollup(Base):
    __tablename__ = "kpi_job_rollups"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)  # YYYY-MM, UTC
    station_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    technician_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    jobs: Mapped[int] = mapped_column(Integer)
    complained: Mapped[int] = mapped_column(Integer)
    covered: Mapped[int] = mapped_column(Integer)
    # revisited within KpiRollupState.first_time_fix_days: first-time fix, while that is the window asked for
    revisited: Mapped[int] = mapped_column(Integer)
    parts: Mapped[int] = mapped_column(Integer)


class RatingRollup(Base):
    __tablename__ = "kpi_rating_rollups"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    station_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    technician_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    answered: Mapped[int] = mapped_column(Integer)
    satisfied: Mapped[int] = mapped_column(Integer)
    rated: Mapped[int] = mapped_column(Integer)
    rating_sum: Mapped[int] = mapped_column(Integer)


class RequestRollup(Base):
    __tablename__ = "kpi_request_rollups"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    station_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    technician_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    requests: Mapped[int] = mapped_column(Integer)
    regulator: Mapped[int] = mapped_column(Integer)


class DeadlineRollup(Base):
    __tablename__ = "kpi_deadline_rollups"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    station_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    technician_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    due: Mapped[int] = mapped_column(Integer)
    met: Mapped[int] = mapped_column(Integer)


class KpiRollupState(Base):
    """One row: the first-time-fix window the job rollups count revisits within. When the configured window
    differs (it was changed and `onsite kpi-facts rebuild` not run), first-time fix is read from the facts."""

    __tablename__ = "kpi_rollup_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    first_time_fix_days: Mapped[float] = mapped_column(Float)
