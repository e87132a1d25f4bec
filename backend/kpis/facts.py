"""Keeps the KPI facts (backend.kpis.models) in step with the raw tables, rebuilds them, and checks them.

Each fact table has one SELECT over the raw tables that derives its rows (`FactTable.rows`). The same SELECT serves
three ways, so there is one definition of every fact:
- as it happens: after every flush, the facts of each job and request the flush touched are deleted and derived
  again, in the same transaction (`_after_flush`); ORM bulk UPDATE/DELETE statements are caught as well
  (`_bulk_statement`). Hooking the session, not the services, means no code path can forget them. A Core statement
  on a raw table outside the ORM is not seen: run `onsite kpi-facts rebuild` after one.
- `rebuild`: all of them, in chunks of source ids (`onsite kpi-facts rebuild`, and migration 0017's backfill);
- `check`: the stored rows against freshly derived ones (`onsite kpi-facts check`).
Every change of facts moves their rollups (backend.kpis.rollups) in the same statements.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache, cached_property
from itertools import islice
from typing import Any

from sqlalchemy import (ColumnElement, Connection, Select, and_, bindparam, case, delete, event, func, insert, inspect,
                        or_, select, union)
from sqlalchemy.orm import ORMExecuteState, Session, aliased
from sqlalchemy.sql import visitors

from backend.callbacks.models import Callback, CallbackAttempt, CallbackKind, CallbackStatus
from backend.db import insert_on_conflict
from backend.dispatch.models import Deadline, Job, JobTechnician, ServiceRequest
from backend.dispatch.sla import DeadlineStatus
from backend.kpis.models import DeadlineFact, JobFact, RatingFact, RequestFact
from backend.kpis.rollups import DEFAULT_WINDOW, ROLLUP_OF, Rollup, compare_rollups, rebuild_rollups, window_of
from backend.kpis.sql import IdList, InIds
from backend.reports.models import SIGNED, FieldReport, ReportPartLine

# --- what the KPIs count, shared by the facts and by backend.kpis.service's raw-table queries -------------------

NOT_LIVE = ("declined", "cancelled")  # a request's live job is its one job in neither state


def rating(attempt: Any = CallbackAttempt) -> ColumnElement[int]:
    """The sum of a callback attempt's four ratings (CB-3); 16 or more is a mean of at least 4."""
    return attempt.attitude + attempt.skill + attempt.arrival_time + attempt.promise_kept


def complained(job_id: Any) -> ColumnElement[bool]:
    """A complaint reopened from one of the job's callbacks (CB-3), not a product fault (INT-3) and accepted by
    the manager (INT-4)."""
    complaint = aliased(ServiceRequest, name="complaint")
    return (select(Callback.id).join(CallbackAttempt, CallbackAttempt.callback_id == Callback.id)
            .join(complaint, complaint.id == CallbackAttempt.complaint_request_id)
            .where(Callback.job_id == job_id, complaint.complaint_class == "non_quality",
                   complaint.decision == "accepted").exists())


def covered(job_id: Any) -> ColumnElement[bool]:
    """The job's service-quality callback reached the customer by its due time (CB-1)."""
    in_time = and_(Callback.kind == CallbackKind.SERVICE_QUALITY, Callback.status == CallbackStatus.DONE,
                   Callback.completed_at <= Callback.due_at)
    # Judged over the job's callbacks, found by job alone: with `status = 'done'` in the WHERE, SQLite without
    # ANALYZE statistics reads every done callback through ix_callbacks_status_next_attempt, for each job.
    return (select(func.count()).where(Callback.job_id == job_id).having(func.max(case((in_time, 1), else_=0)) == 1)
            .exists())


def _lead_of(job_id: Any) -> Any:
    # At most one lead per job (uq_job_technicians_one_lead).
    return (select(JobTechnician.technician_id).where(JobTechnician.job_id == job_id, JobTechnician.is_lead)
            .scalar_subquery())


def _live_lead_of(request_id: Any) -> Any:
    # At most one live job per request (uq_jobs_live_service_request).
    return (select(JobTechnician.technician_id).join(Job, Job.id == JobTechnician.job_id)
            .where(Job.service_request_id == request_id, Job.status.not_in(NOT_LIVE), JobTechnician.is_lead)
            .scalar_subquery())


# --- the fact tables and how each is derived ---------------------------------------------------------------------

def _job_rows(keep: ColumnElement[bool]) -> Select[Any]:
    later = aliased(ServiceRequest, name="later")
    next_request_at = (select(func.min(later.reported_at))
                       .where(later.unit_id == ServiceRequest.unit_id, later.reported_at > Job.work_done_at)
                       .scalar_subquery())
    parts = (select(func.coalesce(func.sum(ReportPartLine.quantity), 0))
             .join(FieldReport, FieldReport.id == ReportPartLine.report_id)
             .where(FieldReport.job_id == Job.id, FieldReport.status == SIGNED).scalar_subquery())
    return (select(Job.id, Job.work_done_at, ServiceRequest.nearest_station_id, _lead_of(Job.id),
                   complained(Job.id), covered(Job.id), next_request_at, parts)
            .join(ServiceRequest, ServiceRequest.id == Job.service_request_id)
            .where(Job.work_done_at.is_not(None), Job.status != "cancelled", keep))


def _rating_rows(keep: ColumnElement[bool]) -> Select[Any]:
    return (select(CallbackAttempt.id, Job.id, CallbackAttempt.attempted_at, ServiceRequest.nearest_station_id,
                   _lead_of(Job.id), rating())
            .join(Callback, Callback.id == CallbackAttempt.callback_id)
            .join(Job, Job.id == Callback.job_id)
            .join(ServiceRequest, ServiceRequest.id == Job.service_request_id)
            .where(Callback.kind == CallbackKind.SERVICE_QUALITY, CallbackAttempt.reached, keep))


def _request_rows(keep: ColumnElement[bool]) -> Select[Any]:
    return select(ServiceRequest.id, ServiceRequest.reported_at, ServiceRequest.nearest_station_id,
                  _live_lead_of(ServiceRequest.id), ServiceRequest.channel == "regulator").where(keep)


def _deadline_rows(keep: ColumnElement[bool]) -> Select[Any]:
    return (select(Deadline.id, ServiceRequest.id, Deadline.due_at, Deadline.kind, ServiceRequest.nearest_station_id,
                   _live_lead_of(ServiceRequest.id), Deadline.status == DeadlineStatus.MET)
            .join(ServiceRequest, ServiceRequest.id == Deadline.service_request_id)
            .where(Deadline.status != DeadlineStatus.WAIVED, keep))


IDS = bindparam("ids", type_=IdList())


@dataclass(frozen=True)
class FactTable:
    name: str
    model: type[Any]
    rows: Callable[[ColumnElement[bool]], Select[Any]]  # the facts, given a condition on `source`
    sources: Any  # the id of what the facts are derived, refreshed, rebuilt and checked by: a job or a request
    source: Any  # that id as `rows` reads it
    derived_from: Any  # that id as the fact table holds it

    @property
    def columns(self) -> list[Any]:
        return list(self.model.__table__.columns)

    @property
    def rollup(self) -> Rollup:
        return ROLLUP_OF[self.model]

    # The statements are built once (building one costs far more than running it on a few rows), with parameters:
    # `ids` (a list, one parameter: IDS) or `low` and `high` (a range of source ids).
    @cached_property
    def forget(self) -> Any:
        """Deletes the facts of `ids`, returning each one's rollup key and contributions."""
        return (delete(self.model).where(InIds(self.derived_from, IDS))
                .returning(*self.rollup.keyed(self.model)))

    @cached_property
    def rows_of_ids(self) -> Select[Any]:
        return self.rows(InIds(self.source, IDS))

    @cached_property
    def derive_range(self) -> Any:
        return insert(self.model).from_select(self.columns, self.rows_in_range)

    @cached_property
    def rows_in_range(self) -> Select[Any]:
        return self.rows(and_(self.source >= bindparam("low"), self.source < bindparam("high")))

    @cached_property
    def stored_in_range(self) -> Select[Any]:
        # Through the sources, so a fact whose job or request is gone is not in any range (check counts them).
        return select(*self.columns).where(self.derived_from.in_(
            select(self.sources).where(self.sources >= bindparam("low"), self.sources < bindparam("high"))))


BY_JOB = (FactTable("job facts", JobFact, _job_rows, Job.id, Job.id, JobFact.job_id),
          FactTable("rating facts", RatingFact, _rating_rows, Job.id, Callback.job_id, RatingFact.job_id))
BY_REQUEST = (FactTable("request facts", RequestFact, _request_rows, ServiceRequest.id, ServiceRequest.id,
                        RequestFact.request_id),
              FactTable("deadline facts", DeadlineFact, _deadline_rows, ServiceRequest.id,
                        Deadline.service_request_id, DeadlineFact.request_id))
FACT_TABLES = BY_JOB + BY_REQUEST


_DERIVE: dict[tuple[str, str], Any] = {}  # (fact table, dialect): its INSERT ... SELECT, built once


def _derive(connection: Connection, table: FactTable) -> Any:
    """Inserts the facts the raw tables give for `ids`, returning each one's rollup key and contributions. An
    upsert, as a safety net: refresh() locks the sources first, so no other transaction can have inserted one of
    these facts since the DELETE."""
    key = (table.name, connection.dialect.name)
    if key not in _DERIVE:
        upsert = insert_on_conflict(connection, table.model.__table__).from_select(table.columns, table.rows_of_ids)
        _DERIVE[key] = (upsert.on_conflict_do_update(
            index_elements=[table.columns[0]], set_={c.name: upsert.excluded[c.name] for c in table.columns[1:]})
            .returning(*table.rollup.keyed(table.model)))
    return _DERIVE[key]


def _replace(connection: Connection, table: FactTable, ids: list[int], window: float) -> None:
    """Derive the facts of these sources again (delete what is stored, insert what the raw tables say now) and move
    the rollups by the difference."""
    parameters = {"ids": ids, "window": window}
    taken = connection.execute(table.forget, parameters).all()
    added = connection.execute(_derive(connection, table), parameters).all()
    table.rollup.apply(connection, taken, added)


# --- as it happens -----------------------------------------------------------------------------------------------

@dataclass
class Touched:
    """What a flush changed that facts are derived from, by id."""

    jobs: set[int] = field(default_factory=set)
    crews: set[int] = field(default_factory=set)  # jobs whose live-ness or lead may have changed
    requests: set[int] = field(default_factory=set)
    units: set[int] = field(default_factory=set)  # a request for a unit ends its jobs' first-time fix
    callbacks: set[int] = field(default_factory=set)
    reports: set[int] = field(default_factory=set)

    def __bool__(self) -> bool:
        return any((self.jobs, self.crews, self.requests, self.units, self.callbacks, self.reports))

    def add(self, model: type[Any], values: Callable[[str], Iterable[Any]]) -> None:
        """`values(attribute)`: the attribute's values before and after the change (a row that moved, say a crew
        member to another job, changes the facts of both)."""
        for attribute, into in _TOUCHES.get(model, ()):
            getattr(self, into).update(v for v in values(attribute) if v is not None)


# Per raw model: (attribute, the Touched set its values go into).
_TOUCHES: dict[type[Any], tuple[tuple[str, str], ...]] = {
    # a job's request: before and after, so a job deleted or moved takes its lead off the request it left
    Job: (("id", "jobs"), ("id", "crews"), ("service_request_id", "requests")),
    JobTechnician: (("job_id", "jobs"), ("job_id", "crews")),
    ServiceRequest: (("id", "requests"), ("unit_id", "units")),
    Deadline: (("service_request_id", "requests"),),
    Callback: (("job_id", "jobs"),),
    CallbackAttempt: (("callback_id", "callbacks"),),
    FieldReport: (("job_id", "jobs"),),
    ReportPartLine: (("report_id", "reports"),),
}


def refresh(session: Session, touched: Touched) -> None:
    """Derive again the facts of every job and request whose facts the touched rows feed."""
    connection = session.connection()
    requests = set(touched.requests)
    feeders = [select(Callback.job_id).where(Callback.id.in_(touched.callbacks)) if touched.callbacks else None,
               select(FieldReport.job_id).where(FieldReport.id.in_(touched.reports)) if touched.reports else None,
               # a request's station, and (as a complaint) whether it counts against the job it came from
               select(Job.id).where(Job.service_request_id.in_(requests)) if requests else None,
               (select(Callback.job_id).join(CallbackAttempt, CallbackAttempt.callback_id == Callback.id)
                .where(CallbackAttempt.complaint_request_id.in_(requests))) if requests else None,
               (select(Job.id).join(ServiceRequest, ServiceRequest.id == Job.service_request_id)
                .where(ServiceRequest.unit_id.in_(touched.units))) if touched.units else None]
    feeders = [f for f in feeders if f is not None]
    jobs = set(touched.jobs)
    if feeders:
        jobs |= set(connection.scalars(union(*feeders) if len(feeders) > 1 else feeders[0]))
    jobs.discard(None)
    if touched.crews:
        requests |= set(connection.scalars(select(Job.service_request_id).where(Job.id.in_(touched.crews))))
    requests.discard(None)
    if connection.dialect.name == "postgresql" and (jobs or requests):
        # Another transaction deriving facts of the same job or request waits until this one commits, then derives
        # them from what this one wrote: neither derives from a view missing the other's change, and the rollups
        # move by what really changed. Requests only (a job's through its request), in id order: every write about
        # a job locks its request before the job, so taking a job here could wait crosswise with one.
        connection.execute(_LOCK_REQUESTS, {"request_ids": sorted(requests), "job_ids": sorted(jobs)})
    window = window_of(connection) if jobs else DEFAULT_WINDOW  # only the job rollups count revisits
    for tables, ids in ((BY_JOB, jobs), (BY_REQUEST, requests)):
        for chunk in _chunks(sorted(ids), 5_000):
            for table in tables:
                _replace(connection, table, chunk, window)


_LOCK_REQUESTS = (select(ServiceRequest.id)
                  .where(or_(InIds(ServiceRequest.id, bindparam("request_ids", type_=IdList())),
                             ServiceRequest.id.in_(select(Job.service_request_id)
                                                   .where(InIds(Job.id, bindparam("job_ids", type_=IdList()))))))
                  .order_by(ServiceRequest.id).with_for_update())


def _chunks(items: list[int], size: int) -> Iterator[list[int]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _history(obj: Any) -> Callable[[str], list[Any]]:
    state = inspect(obj)
    return lambda attribute: list(state.attrs[attribute].history.sum())


@cache
def _read_by_facts() -> dict[type[Any], tuple[str, ...]]:
    """Per raw model, the attributes some fact is derived from: found in the facts' own SELECTs, so a change to any
    other column (a request's status, a job's arrival time) is known not to move a fact without a list to keep."""
    models = {model.__table__: model for model in _TOUCHES}
    read: dict[type[Any], set[str]] = {model: set() for model in _TOUCHES}
    for table in FACT_TABLES:
        for element in visitors.iterate(table.rows_of_ids):
            for column in getattr(element, "base_columns", ()):  # through aliases to the table's own column
                if (model := models.get(getattr(column, "table", None))) is not None:
                    read[model].add(inspect(model).get_property_by_column(column).key)
    return {model: tuple(sorted(attributes)) for model, attributes in read.items()}


def _moves_facts(obj: Any) -> bool:
    """Whether a changed row changed something its facts are derived from."""
    attributes = inspect(obj).attrs
    return any(attributes[name].history.has_changes() for name in _read_by_facts()[type(obj)])


def _job_of(obj: Job | JobTechnician) -> int:
    return obj.id if isinstance(obj, Job) else obj.job_id


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _flush_context: Any) -> None:
    touched = Touched()
    # Jobs just dispatched: no work done and no callbacks (a callback made in this flush touches its job itself), so
    # no facts of their own yet; their crews only make a lead for their requests' facts.
    dispatched = {obj.id for obj in session.new if isinstance(obj, Job) and obj.work_done_at is None}
    dirty = session.dirty  # a new set at each access
    for obj in [*session.new, *dirty, *session.deleted]:
        if isinstance(obj, (Job, JobTechnician)) and (job_id := _job_of(obj)) in dispatched:
            touched.crews.add(job_id)
        elif type(obj) in _TOUCHES and (obj not in dirty or _moves_facts(obj)):
            touched.add(type(obj), _history(obj))
    if touched:
        refresh(session, touched)


@event.listens_for(Session, "do_orm_execute")
def _bulk_statement(state: ORMExecuteState) -> Any:
    """An ORM UPDATE or DELETE of raw rows (`session.execute(update(Deadline).where(...))`): note the rows it
    reaches before it runs, and derive their facts again after."""
    if not (state.is_update or state.is_delete) or state.bind_mapper is None:
        return None
    model = state.bind_mapper.class_
    attributes = sorted({attribute for attribute, _into in _TOUCHES.get(model, ())})
    if not attributes:
        return None
    where = state.statement.whereclause
    key = inspect(model).primary_key[0]
    reached = select(key.label("key"), *(getattr(model, a) for a in attributes))
    before = state.session.execute(reached if where is None else reached.where(where)).all()
    result = state.invoke_statement()
    rows = list(before)
    if state.is_update and before:  # the values the statement set, e.g. a request moved to another unit
        rows += state.session.execute(reached.where(key.in_([row.key for row in before]))).all()
    touched = Touched()
    for row in rows:
        touched.add(model, lambda attribute, row=row: [row._mapping[attribute]])
    if touched:
        refresh(state.session, touched)
    return result


# --- rebuild and check -------------------------------------------------------------------------------------------

CHUNK = 50_000


@dataclass(frozen=True)
class _Chunk:
    bounds: dict[str, int]  # low, high: source ids low <= id < high
    done: int
    total: int
    what: str  # jobs or requests


def _chunks_of(connection: Connection, table: FactTable) -> Iterator[_Chunk]:
    """The table's sources (jobs or requests) in CHUNK-wide id ranges, with how many are done."""
    source = table.sources
    low, high = connection.execute(select(func.min(source), func.max(source))).one()
    total = connection.scalar(select(func.count()).select_from(source.table)) or 0
    done = 0
    for start in range(low or 0, (high or -1) + 1, CHUNK):
        done += connection.scalar(select(func.count()).where(source >= start, source < start + CHUNK))
        yield _Chunk({"low": start, "high": start + CHUNK}, done, total, source.table.name.replace("service_", ""))


def _count(connection: Connection, table: FactTable) -> int:
    return connection.scalar(select(func.count()).select_from(table.model)) or 0


def rebuild(connection: Connection, progress: Callable[[str], None] = lambda _m: None,
            window: float = DEFAULT_WINDOW) -> dict[str, int]:
    """Every fact derived again from the raw tables, then every rollup summed again from the facts with revisits
    counted within `window` days (the configured first-time-fix window); returns the rows written, by table."""
    for table in FACT_TABLES:
        connection.execute(delete(table.model))
        for chunk in _chunks_of(connection, table):
            connection.execute(table.derive_range, chunk.bounds)
            progress(f"{table.name}: {chunk.done:,}/{chunk.total:,} {chunk.what}")
    facts = {table.name: _count(connection, table) for table in FACT_TABLES}
    return facts | rebuild_rollups(connection, window, progress)


@dataclass
class CheckReport:
    checked: dict[str, int] = field(default_factory=dict)
    mismatches: int = 0
    shown: list[str] = field(default_factory=list)

    def line(self) -> str:
        counts = ", ".join(f"{n:,} {name}" for name, n in self.checked.items())
        verdict = (f"{self.mismatches:,} disagree with the raw tables" if self.mismatches
                   else "all agree with the raw tables")
        return f"KPI facts checked ({counts}): {verdict}"

    def mismatch(self, text: str, limit: int) -> None:
        self.mismatches += 1
        if len(self.shown) < limit:
            self.shown.append(text)


def check(connection: Connection, progress: Callable[[str], None] = lambda _m: None,
          limit: int = 100) -> CheckReport:
    """Every stored fact against the one the raw tables give now, and every rollup row against the facts summed:
    missing, extra or different (the first `limit` described). Reads only."""
    report = CheckReport()
    for table in FACT_TABLES:
        checked = 0
        for chunk in _chunks_of(connection, table):
            derived = {row[0]: tuple(row) for row in connection.execute(table.rows_in_range, chunk.bounds)}
            stored = {row[0]: tuple(row) for row in connection.execute(table.stored_in_range, chunk.bounds)}
            checked += len(stored)
            for key in sorted(derived.keys() | stored.keys()):
                if derived.get(key) != stored.get(key):
                    report.mismatch(f"{table.name} {key}: stored {stored.get(key)}, "
                                    f"the raw tables give {derived.get(key)}", limit)
            progress(f"{table.name}: {chunk.done:,}/{chunk.total:,} {chunk.what}")
        if (orphans := _count(connection, table) - checked) > 0:  # e.g. a rating left on a callback of no job
            report.mismatch(f"{table.name}: {orphans:,} stored facts belong to no job or request", limit)
        report.checked[table.name] = checked
    report.checked |= compare_rollups(connection, lambda text: report.mismatch(text, limit))
    progress("rollups compared with the facts")
    return report
