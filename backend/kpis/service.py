"""KPIs (RULES.md §9) against their targets (DSP-5), by period and by station, technician or month.

Each KPI is defined here twice over the same rules, in SQL that aggregates in the database (GROUP BY: one row per
group comes back, however many jobs there are). `KPIS` aggregates the raw tables, one query per KPI: the reference,
too slow for a year of a million jobs. `FROM_FACTS`, what the API answers from, reads the narrow fact tables that
backend.kpis.facts keeps in step with the raw tables (one query per table); tests/test_kpis_facts.py holds the two
to the same answers. Periods are half-open, [start, end).

What counts, where the rules leave it open:
- service timeliness, per deadline kind: deadlines that fell due in the period (and are past by now), waived ones
  left out; met ÷ due.
- satisfaction: reached service-quality callbacks (CB-1) in the period; a customer counts as satisfied when the mean
  of their four ratings (CB-3) is at least 4. The mean rating is shown beside it.
- complaint rate attributable to service (001 §3.2.1: 用户抱怨率, 确属服务责任的): jobs done in the period whose
  callback reopened a complaint that is `non_quality` (INT-3: not a product fault) and that the manager accepted
  (INT-4: confirmed), ÷ jobs done.
- major-complaint rate (000: 重大问题客户投诉率): requests reported in the period that came through a regulator
  (INT-2 channel `regulator`), ÷ requests reported.
- first-time fix: jobs done in the period with no new request for the same unit within `first_time_fix_days` after
  the work, ÷ jobs done (provisional while a job's window is still running).
- callback coverage: jobs done in the period whose service-quality callback reached the customer by its due time
  (CB-1), ÷ jobs done.
- old parts outstanding and overdue (PRT-5): as of now, whatever the period.
- jobs and parts per technician: jobs done in the period, and the part quantities on their signed reports, ÷ the
  lead technicians who did them (grouped by technician: each one's own figures).
A job counts for its lead technician (DSP-7) and a request for its nearest station (frozen at intake, DSP-4). A user
with stations sees the figures of those stations only (SCP-1): every query is narrowed by the request's station
(the old part's, for old parts).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Float, Select, and_, case, cast, exists, func, literal, null, select, union_all
from sqlalchemy.orm import Session, aliased

from backend.accounts.models import User
from backend.accounts.scope import stations_of, within_stations
from backend.callbacks.models import Callback, CallbackAttempt, CallbackKind
from backend.clock import next_month
from backend.config import Settings
from backend.dispatch.models import Deadline, Job, JobTechnician, ServiceRequest
from backend.dispatch.sla import DeadlineStatus
from backend.kpis.facts import NOT_LIVE, complained, covered, rating
from backend.kpis.models import DeadlineFact, JobFact, RatingFact, RequestFact
from backend.kpis.rollups import NO_LEAD, ROLLUP_OF, Rollup, window_of
from backend.kpis.sql import MonthOf, WithinDays
from backend.parts.models import ObligationStatus, OldPartObligation
from backend.reports.models import SIGNED, FieldReport, ReportPartLine


class GroupBy(StrEnum):
    STATION = "station"
    TECHNICIAN = "technician"
    MONTH = "month"


@dataclass(frozen=True)
class Target:
    comparison: str
    share: float

    def met(self, value: float | None) -> bool | None:
        return None if value is None else _COMPARE[self.comparison](value, self.share)

    def __str__(self) -> str:
        return f"{self.comparison} {self.share:.0%}"


_COMPARE = {">=": operator.ge, "<": operator.lt, "<=": operator.le}
# rule DSP-5: the targets, in one place.
TARGETS = {"service_timeliness": Target(">=", 0.90), "satisfaction": Target(">=", 0.85),
           "service_complaint_rate": Target("<", 0.03), "major_complaint_rate": Target("<=", 0.01)}


@dataclass(slots=True)
class Row:
    # Not frozen: by technician an answer has tens of thousands of rows, and a frozen dataclass costs about three
    # times as much to make.
    kpi: str
    group: str | None
    value: float | None
    numerator: float | None = None
    denominator: int | None = None
    detail: str | None = None

    @property
    def target(self) -> str | None:
        return str(TARGETS[self.kpi]) if self.kpi in TARGETS else None

    @property
    def target_met(self) -> bool | None:
        return TARGETS[self.kpi].met(self.value) if self.kpi in TARGETS else None


# --- the queries -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Query:
    """What every KPI query is given."""

    session: Session
    start: datetime
    end: datetime
    group_by: GroupBy | None
    now: datetime
    settings: Settings
    stations: frozenset[int] | None = None  # SCP-1: None is the whole company

    def in_scope(self, station_column: Any) -> ColumnElement[bool]:
        return within_stations(station_column, self.stations)

    def group(self, *, station: Any, technician: Any, month_of: Any = None, month: Any = None) -> ColumnElement[Any]:
        """The grouping column: `month` is a YYYY-MM column, `month_of` a timestamp to take it of."""
        if self.group_by is None:
            return null().label("grp")
        column = {GroupBy.STATION: station, GroupBy.TECHNICIAN: technician,
                  GroupBy.MONTH: MonthOf(month_of) if month is None else month}[self.group_by]
        return column.label("grp")

    def run(self, stmt: Select[Any]) -> list[Any]:
        if self.group_by is not None:
            stmt = stmt.group_by(stmt.selected_columns.grp).order_by(stmt.selected_columns.grp)
        return list(self.session.execute(stmt))

    def in_period(self, column: Any) -> ColumnElement[bool]:
        return and_(column >= self.start, column < self.end)


# A job counts for its lead technician (DSP-7); a request for its live job's lead (at most one live job each).
LEAD = aliased(JobTechnician, name="lead")
LIVE_JOB = aliased(Job, name="live_job")


def _of_jobs(q: Query, month_of: Any, *columns: Any, request: bool = False, lead: bool = False) -> Select[Any]:
    """From jobs, grouped by the request's station, the lead technician, or the month of `month_of`. The request
    and the lead are joined only when the grouping or the caller's columns need them: over a million jobs every
    join costs seconds."""
    grp = q.group(station=ServiceRequest.nearest_station_id, technician=LEAD.technician_id, month_of=month_of)
    stmt = select(grp, *columns).select_from(Job)
    if request or q.group_by == GroupBy.STATION or q.stations is not None:
        stmt = (stmt.join(ServiceRequest, ServiceRequest.id == Job.service_request_id)
                .where(q.in_scope(ServiceRequest.nearest_station_id)))
    if lead or q.group_by == GroupBy.TECHNICIAN:
        stmt = stmt.outerjoin(LEAD, and_(LEAD.job_id == Job.id, LEAD.is_lead))
    return stmt


def _jobs_done(q: Query, *columns: Any, request: bool = False, lead: bool = False) -> Select[Any]:
    """Jobs whose work was done in the period (and that were not cancelled)."""
    return (_of_jobs(q, Job.work_done_at, *columns, request=request, lead=lead)
            .where(q.in_period(Job.work_done_at), Job.status != "cancelled"))


def _of_requests(q: Query, month_of: Any, *columns: Any) -> Select[Any]:
    """From requests; grouped by technician, through their live job's lead (if they have one yet)."""
    grp = q.group(station=ServiceRequest.nearest_station_id, technician=LEAD.technician_id, month_of=month_of)
    stmt = select(grp, *columns).select_from(ServiceRequest).where(q.in_scope(ServiceRequest.nearest_station_id))
    if q.group_by == GroupBy.TECHNICIAN:
        stmt = (stmt.outerjoin(LIVE_JOB, and_(LIVE_JOB.service_request_id == ServiceRequest.id,
                                              LIVE_JOB.status.not_in(NOT_LIVE)))
                .outerjoin(LEAD, and_(LEAD.job_id == LIVE_JOB.id, LEAD.is_lead)))
    return stmt


def _label(grp: Any) -> str | None:
    return None if grp is None else str(grp)


def _share(kpi: str, rows: list[Any]) -> list[Row]:
    return [Row(kpi, _label(grp), part / whole if whole else None, part, whole) for grp, part, whole in rows]


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _within_window(q: Query, later: Any, work_done_at: Any) -> ColumnElement[bool]:
    # First-time fix: `later` is within first_time_fix_days of the work.
    return WithinDays(later, work_done_at, literal(float(q.settings.first_time_fix_days), Float))


def service_timeliness(q: Query) -> list[Row]:
    # rule DSP-5: deadlines met ÷ deadlines due, per kind; an open deadline past due is missed (DSP-4).
    stmt = (_of_requests(q, Deadline.due_at, Deadline.kind, _count_if(Deadline.status == DeadlineStatus.MET),
                         func.count())
            .join(Deadline, Deadline.service_request_id == ServiceRequest.id)
            .where(q.in_period(Deadline.due_at), Deadline.due_at < q.now, Deadline.status != DeadlineStatus.WAIVED)
            .group_by(Deadline.kind).order_by(Deadline.kind))
    return _timeliness_rows(q.run(stmt))


def _timeliness_rows(rows: list[Any]) -> list[Row]:
    return [Row("service_timeliness", _label(grp), met / due, met, due, kind) for grp, kind, met, due in rows]


def satisfaction(q: Query) -> list[Row]:
    # rules CB-3, DSP-5: each reached service-quality callback's four ratings, counted when the customer answered.
    stmt = (_of_jobs(q, CallbackAttempt.attempted_at, *_satisfaction_columns(rating()))
            .join(Callback, and_(Callback.job_id == Job.id, Callback.kind == CallbackKind.SERVICE_QUALITY))
            .join(CallbackAttempt, and_(CallbackAttempt.callback_id == Callback.id, CallbackAttempt.reached))
            .where(q.in_period(CallbackAttempt.attempted_at)))
    return _satisfaction_rows(q.run(stmt))


def _satisfaction_columns(ratings: Any) -> tuple[Any, ...]:
    # Satisfied: a mean of the four ratings of at least 4.
    return _count_if(ratings >= 16), func.count(), func.avg(cast(ratings, Float) / 4)


def _satisfaction_rows(rows: list[Any]) -> list[Row]:
    out = []
    for grp, satisfied, answered, mean in rows:
        out += [Row("satisfaction", _label(grp), satisfied / answered if answered else None, satisfied, answered),
                Row("satisfaction_mean", _label(grp), None if mean is None else round(float(mean), 3), None,
                    answered)]
    return out


def service_complaint_rate(q: Query) -> list[Row]:
    # rule DSP-5 (001 §3.2.1): complaints confirmed as the service's, reopened from the job's callback (CB-3).
    return _share("service_complaint_rate", q.run(_jobs_done(q, _count_if(complained(Job.id)), func.count())))


def major_complaint_rate(q: Query) -> list[Row]:
    # rule DSP-5 (000): complaints so serious the customer took them to a regulator, ÷ requests reported.
    stmt = (_of_requests(q, ServiceRequest.reported_at, _count_if(ServiceRequest.channel == "regulator"),
                         func.count())
            .where(q.in_period(ServiceRequest.reported_at)))
    return _share("major_complaint_rate", q.run(stmt))


def first_time_fix(q: Query) -> list[Row]:
    # RULES.md §9: no revisit of the same unit within first_time_fix_days of the work.
    later = aliased(ServiceRequest, name="later")
    revisited = exists().where(later.unit_id == ServiceRequest.unit_id, later.reported_at > Job.work_done_at,
                               _within_window(q, later.reported_at, Job.work_done_at))
    return _share("first_time_fix", q.run(_jobs_done(q, _count_if(~revisited), func.count(), request=True)))


def callback_coverage(q: Query) -> list[Row]:
    # rule CB-1: the customer reached by the callback's due time.
    return _share("callback_coverage", q.run(_jobs_done(q, _count_if(covered(Job.id)), func.count())))


def old_parts(q: Query) -> list[Row]:
    # rule PRT-5: old parts not yet back, and those of them past their due time; as of now.
    grp = q.group(station=OldPartObligation.station_id, technician=OldPartObligation.technician_id,
                  month_of=OldPartObligation.due_at)
    stmt = (select(grp, func.count(), _count_if(OldPartObligation.due_at < q.now))
            .where(OldPartObligation.status == ObligationStatus.OUTSTANDING,
                   q.in_scope(OldPartObligation.station_id)))
    rows = []
    for grp, outstanding, overdue in q.run(stmt):
        rows += [Row("old_parts_outstanding", _label(grp), outstanding),
                 Row("old_parts_overdue", _label(grp), overdue)]
    return rows


def jobs_per_technician(q: Query) -> list[Row]:
    stmt = _jobs_done(q, func.count(), func.count(func.distinct(LEAD.technician_id)), lead=True)
    return _per_technician("jobs_per_technician", q.run(stmt))


def _per_technician(kpi: str, rows: list[Any]) -> list[Row]:
    return [Row(kpi, _label(grp), count / technicians if technicians else None, count, technicians)
            for grp, count, technicians in rows]


def parts_per_technician(q: Query) -> list[Row]:
    # The part lines of the report the customer signed (REP-1, REP-3); a superseded version does not count.
    stmt = (_jobs_done(q, func.coalesce(func.sum(ReportPartLine.quantity), 0),
                       func.count(func.distinct(LEAD.technician_id)), lead=True)
            .outerjoin(FieldReport, and_(FieldReport.job_id == Job.id, FieldReport.status == SIGNED))
            .outerjoin(ReportPartLine, ReportPartLine.report_id == FieldReport.id))
    return _per_technician("parts_per_technician", q.run(stmt))


# In the order they are reported. Each aggregates the raw tables: the reference the facts are tested against
# (tests/test_kpis_facts.py, benchmarks/kpis.py).
KPIS: dict[str, Callable[[Query], list[Row]]] = {
    "service_timeliness": service_timeliness, "satisfaction": satisfaction,
    "service_complaint_rate": service_complaint_rate, "major_complaint_rate": major_complaint_rate,
    "first_time_fix": first_time_fix, "callback_coverage": callback_coverage, "old_parts": old_parts,
    "jobs_per_technician": jobs_per_technician, "parts_per_technician": parts_per_technician}


def from_raw_tables(q: Query) -> list[Row]:
    return [row for kpi in KPIS.values() for row in kpi(q)]


# --- from the facts and their rollups ---------------------------------------------------------------------------
# The same figures read from backend.kpis.models: a period's whole UTC months from the rollups, the partial months
# at its ends from the facts (each fact table has one index led by its time), one query per fact table. The five
# KPIs about jobs done share one.

def split_period(start: datetime, end: datetime) -> tuple[list[str], list[tuple[datetime, datetime]]]:
    """The whole UTC months within [start, end) (YYYY-MM), and the rest of it as half-open intervals."""
    month_start = start.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    first = month_start if month_start >= start else next_month(month_start)
    months, cursor = [], first
    while cursor is not None and (following := next_month(cursor)) is not None and following <= end:
        months.append(f"{cursor.year:04d}-{cursor.month:02d}")  # as MonthOf spells it, year 1 too
        cursor = following
    if not months or first is None or cursor is None:  # (months implies both; said for the type checker)
        return [], [(start, end)]
    return months, [(low, high) for low, high in ((start, first), (cursor, end)) if low < high]


def _summed(q: Query, rollup: Rollup, end: datetime, *, whole_months: bool = True) -> list[Any]:
    """Per group (and per the rollup's own keys, e.g. deadline kind): the sum of each of the rollup's measures over
    [q.start, end), then how many lead technicians contributed. Groups with nothing in them are left out, as the
    raw tables' GROUP BY leaves them out."""
    months, edges = split_period(q.start, end) if whole_months else ([], [(q.start, end)])
    parts = []
    if months:
        stored = rollup.model
        technician = func.nullif(stored.technician_id, NO_LEAD)
        parts.append(select(q.group(station=stored.station_id, technician=technician, month=stored.month),
                            *(getattr(stored, k) for k in rollup.keys), technician.label("technician"),
                            *(getattr(stored, m) for m in rollup.measures))
                     .where(stored.month.between(months[0], months[-1]), q.in_scope(stored.station_id)))
    fact, window = rollup.fact, literal(float(q.settings.first_time_fix_days), Float)
    at = getattr(fact, rollup.at)
    for low, high in edges:
        parts.append(select(q.group(station=fact.station_id, technician=fact.technician_id, month_of=at),
                            *(getattr(fact, k) for k in rollup.keys), fact.technician_id.label("technician"),
                            *(c.label(m) for m, c in rollup.contributions(fact, window).items()))
                     .where(at >= low, at < high, q.in_scope(fact.station_id)))
    rows = (union_all(*parts) if len(parts) > 1 else parts[0]).subquery()
    counted = rows.c[rollup.measures[0]]  # the facts themselves: jobs, answered, requests, deadlines due
    grouped = q.group_by is not None
    stmt = select(rows.c.grp if grouped else null().label("grp"), *(rows.c[k] for k in rollup.keys),
                  *(func.coalesce(func.sum(rows.c[m]), 0) for m in rollup.measures),
                  _lead_technicians(q, counted, rows.c.technician))
    group = [*(rows.c[k] for k in rollup.keys), *([rows.c.grp] if grouped else [])]
    if group:
        stmt = stmt.group_by(*group).order_by(*group).having(func.sum(counted) > 0)
    return list(q.session.execute(stmt))


def _lead_technicians(q: Query, counted: Any, technician: Any) -> ColumnElement[int]:
    """How many lead technicians contributed to a group. By technician the group is one technician (or none), so a
    flag answers what the DISTINCT count would, without SQLite sorting each group's technicians."""
    if q.group_by is GroupBy.TECHNICIAN:
        return func.max(case((and_(counted > 0, technician.is_not(None)), 1), else_=0))
    return func.count(func.distinct(case((counted > 0, technician))))


def _deadlines_from_facts(q: Query) -> dict[str, list[Row]]:
    # Deadlines due by now only: an open one past due counts as missed, one not yet due not at all.
    rows = _summed(q, ROLLUP_OF[DeadlineFact], min(q.end, q.now))
    return {"service_timeliness": _timeliness_rows([(grp, kind, met, due) for grp, kind, due, met, _ in rows])}


def _ratings_from_facts(q: Query) -> dict[str, list[Row]]:
    rows = _summed(q, ROLLUP_OF[RatingFact], q.end)
    return {"satisfaction": _satisfaction_rows([(grp, satisfied, answered, rating_sum / 4 / rated if rated else None)
                                                for grp, answered, satisfied, rated, rating_sum, _ in rows])}


def _jobs_from_facts(q: Query) -> dict[str, list[Row]]:
    # The job rollups count revisits within one window; asked for another, first-time fix needs the facts.
    same_window = window_of(q.session.connection()) == q.settings.first_time_fix_days
    rows = _summed(q, ROLLUP_OF[JobFact], q.end, whole_months=same_window)
    figures: dict[str, list[tuple[Any, ...]]] = {kpi: [] for kpi in (
        "service_complaint_rate", "first_time_fix", "callback_coverage", "jobs_per_technician", "parts_per_technician")}
    for grp, jobs, with_complaint, with_callback, revisited, parts, technicians in rows:
        figures["service_complaint_rate"].append((grp, with_complaint, jobs))
        figures["first_time_fix"].append((grp, jobs - revisited, jobs))
        figures["callback_coverage"].append((grp, with_callback, jobs))
        figures["jobs_per_technician"].append((grp, jobs, technicians))
        figures["parts_per_technician"].append((grp, parts, technicians))
    return {kpi: (_per_technician if kpi.endswith("_per_technician") else _share)(kpi, counts)
            for kpi, counts in figures.items()}


def _requests_from_facts(q: Query) -> dict[str, list[Row]]:
    rows = _summed(q, ROLLUP_OF[RequestFact], q.end)
    return {"major_complaint_rate": _share("major_complaint_rate",
                                           [(grp, regulator, requests) for grp, requests, regulator, _ in rows])}


# One query each; the benchmark times each. Old parts are few and as of now: their own table answers at once.
FROM_FACTS: dict[str, Callable[[Query], dict[str, list[Row]]]] = {
    "deadline facts": _deadlines_from_facts, "rating facts": _ratings_from_facts, "job facts": _jobs_from_facts,
    "request facts": _requests_from_facts, "old parts": lambda q: {"old_parts": old_parts(q)}}


def from_facts(q: Query) -> list[Row]:
    by_kpi = {kpi: rows for query in FROM_FACTS.values() for kpi, rows in query(q).items()}
    return [row for kpi in KPIS for row in by_kpi[kpi]]


def compute(session: Session, *, start: datetime, end: datetime, group_by: GroupBy | None, now: datetime,
            settings: Settings, user: User) -> list[Row]:
    return from_facts(Query(session, start, end, group_by, now, settings, stations_of(user)))
