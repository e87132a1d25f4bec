"""KPI facts (issue 13): GET /api/v1/kpis reads fact rows kept as things happen; they must give exactly what
aggregating the raw tables gives (backend.kpis.service.KPIS, the reference), whatever happened in whatever order,
and `onsite kpi-facts check` must notice when they do not."""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from backend.accounts.models import User
from backend.callbacks.models import Callback, CallbackAttempt
from backend.config import Settings
from backend.customers.models import Customer, Unit
from backend.db import locked
from backend.dispatch.models import Deadline, Job, JobTechnician, ServiceRequest, SlaPolicy
from backend.dispatch.service import lock_job
from backend.kpis.facts import FACT_TABLES, check, rebuild
from backend.kpis.models import DeadlineFact, JobFact, JobRollup, RequestFact
from backend.kpis.rollups import ROLLUPS, window_of
from backend.kpis.service import GroupBy, Query, Row, from_facts, from_raw_tables, split_period
from backend.parts.models import Part
from backend.reports.models import FieldReport, ReportPartLine
from backend.stations.models import Station
from backend.technicians.models import Technician

BEGIN = datetime(2026, 1, 1, tzinfo=UTC)
DAYS = 120
STATIONS, TECHNICIANS, UNITS = 4, 8, 25


def _at(rng: random.Random, after: datetime | None = None, within_days: float = DAYS) -> datetime:
    start = after or BEGIN
    return start + timedelta(seconds=rng.uniform(0, within_days * 86400))


class History:
    """Random field service, made through the ORM in many small transactions, the way the services change things:
    requests and their deadlines, jobs with crews (declined, cancelled, re-dispatched, leads swapped), work done,
    callbacks and their attempts (some reopening complaints later decided), reports signed and superseded with
    part lines, deadlines settled one by one and in bulk, and rows deleted."""

    def __init__(self, session: Session, rng: random.Random) -> None:
        self.session, self.rng = session, rng
        self.requests: list[ServiceRequest] = []
        self.jobs: list[Job] = []
        self.numbers = iter(range(1, 10**6))

    def master_data(self) -> None:
        s = self.session
        s.add(SlaPolicy(version=1, radius_km=100, on_site_hours=24, reply_hours=12, written_contact_hours=12,
                        created_at=BEGIN))
        s.add_all(Station(id=i, code=f"S{i}", name=f"Station {i}", address="road", latitude=30.0 + i,
                          longitude=110.0) for i in range(1, STATIONS + 1))
        s.add_all(User(id=i, username=f"tech{i}", full_name=f"Tech {i}", password_hash="-")
                  for i in range(1, TECHNICIANS + 1))
        s.flush()
        s.add_all(Technician(id=i, user_id=i, home_station_id=(i - 1) % STATIONS + 1)
                  for i in range(1, TECHNICIANS + 1))
        s.add(Customer(id=1, name="Transit", phones=[]))
        s.flush()
        s.add_all(Unit(id=i, customer_id=1, model="C12", serial_number=f"U{i}") for i in range(1, UNITS + 1))
        s.add_all(Part(id=i, part_number=f"P{i}", name=f"Part {i}", unit_price=Decimal(10)) for i in (1, 2, 3))
        s.commit()

    def request(self, reported_at: datetime | None = None, **values: Any) -> ServiceRequest:
        rng = self.rng
        reported_at = reported_at or _at(rng)
        engine = rng.random() < 0.3
        request = ServiceRequest(
            number=f"SR-T-{next(self.numbers):06d}", status="in_progress", customer_id=1,
            unit_id=rng.randint(1, UNITS), site_address="somewhere", site_latitude=30.0, site_longitude=110.0,
            fault_description="test", fault_category="chassis_engine" if engine else "body",
            channel=rng.choice(("phone", "phone", "letter", "regulator")),
            complaint_class=rng.choice(("quality", "non_quality")), supplier_needed=False, reported_at=reported_at,
            policy_version=1, tier="on_site", distance_km=rng.uniform(1, 99),
            nearest_station_id=rng.randint(1, STATIONS), decision=rng.choice((None, "accepted", "rejected")),
            **values)
        kinds = ("on_site", "written_contact") if engine else ("on_site",)
        request.deadlines = [Deadline(kind=kind, due_at=reported_at + timedelta(hours=rng.choice((12, 24))),
                                      status=rng.choice(("open", "met", "missed", "waived")))
                             for kind in kinds]
        self.session.add(request)
        self.requests.append(request)
        return request

    def dispatch(self, request: ServiceRequest) -> Job:
        rng = self.rng
        crew = rng.sample(range(1, TECHNICIANS + 1), rng.choice((1, 1, 2)))
        job = Job(service_request=request, status="assigned", assigned_at=request.reported_at + timedelta(hours=1),
                  crew=[JobTechnician(technician_id=t, is_lead=n == 0) for n, t in enumerate(crew)])
        self.session.add(job)
        self.jobs.append(job)
        return job

    def live_job(self, request: ServiceRequest) -> Job | None:
        return next((j for j in self.jobs if j.service_request is request
                     and j.status not in ("declined", "cancelled")), None)

    def play(self, steps: int) -> None:
        self.master_data()
        for _ in range(steps):
            self.rng.choice(self.STEPS)(self)
            self.session.commit()

    # --- the steps, each one transaction ---

    def new_requests(self) -> None:
        for _ in range(self.rng.randint(1, 4)):
            self.request()

    def dispatch_some(self) -> None:
        for request in self.rng.sample(self.requests, min(6, len(self.requests))):
            if self.live_job(request) is None:
                self.dispatch(request)

    def work_done(self) -> None:
        for job in self.rng.sample(self.jobs, min(4, len(self.jobs))):
            if job.status not in ("declined", "cancelled"):
                job.status = self.rng.choice(("completed", "approved"))
                job.work_done_at = _at(self.rng, job.assigned_at, 3)

    def decline_or_cancel(self) -> None:
        if self.jobs:
            job = self.rng.choice(self.jobs)
            job.status = self.rng.choice(("declined", "cancelled"))

    def swap_lead(self) -> None:
        crewed = [j for j in self.jobs if len(j.crew) > 1]
        if crewed:
            job = self.rng.choice(crewed)
            lead, other = sorted(job.crew, key=lambda m: not m.is_lead)[:2]
            lead.is_lead = False
            self.session.flush()  # one lead at a time (uq_job_technicians_one_lead)
            other.is_lead = True

    def change_crew(self) -> None:
        if self.jobs:
            job = self.rng.choice(self.jobs)
            lead = next(m for m in job.crew if m.is_lead)
            job.crew.remove(lead)
            self.session.flush()
            free = sorted(set(range(1, TECHNICIANS + 1)) - {m.technician_id for m in job.crew})
            job.crew.append(JobTechnician(technician_id=self.rng.choice(free), is_lead=True))

    def call_back(self) -> None:
        rng = self.rng
        for job in rng.sample(self.jobs, min(3, len(self.jobs))):
            if job.work_done_at is None:
                continue
            callback = Callback(dedupe_key=f"service_quality:job:{job.id}:{next(self.numbers)}",
                                kind=rng.choice(("service_quality", "service_quality", "follow_up")), sequence=1,
                                service_request_id=job.service_request_id, job_id=job.id,
                                status=rng.choice(("done", "open", "unreached")),
                                due_at=job.work_done_at + timedelta(days=3), next_attempt_at=job.work_done_at,
                                attempts_made=0, completed_at=_at(rng, job.work_done_at, 6))
            for number in range(1, rng.randint(1, 3) + 1):
                reached = rng.random() < 0.7
                complaint = self.request(_at(rng, job.work_done_at, 5)) if reached and rng.random() < 0.4 else None
                if complaint is not None:
                    self.session.flush()
                callback.attempts.append(CallbackAttempt(
                    number=number, attempted_at=_at(rng, job.work_done_at, 6), reached=reached, method="phone",
                    **{name: rng.randint(1, 5) if reached else None
                       for name in ("attitude", "skill", "arrival_time", "promise_kept")},
                    complaint_request_id=complaint and complaint.id))
            self.session.add(callback)

    def decide_complaints(self) -> None:
        complaints = [r for r in self.requests if r.decision is None]
        for request in self.rng.sample(complaints, min(3, len(complaints))):
            request.decision = self.rng.choice(("accepted", "rejected"))
            request.complaint_class = self.rng.choice(("quality", "non_quality"))

    def settle_deadlines(self) -> None:
        for request in self.rng.sample(self.requests, min(3, len(self.requests))):
            for deadline in request.deadlines:
                deadline.status = self.rng.choice(("met", "missed", "waived", "open"))

    def settle_deadlines_in_bulk(self) -> None:
        if self.requests:
            ids = [r.id for r in self.rng.sample(self.requests, min(5, len(self.requests)))]
            self.session.execute(update(Deadline).where(Deadline.service_request_id.in_(ids))
                                 .values(status=self.rng.choice(("met", "missed"))))
            self.session.expire_all()

    def decide_in_bulk(self) -> None:
        if self.requests:
            request = self.rng.choice(self.requests)
            self.session.execute(update(ServiceRequest).where(ServiceRequest.id == request.id)
                                 .values(decision="accepted", complaint_class="non_quality"))
            self.session.expire_all()

    def report(self) -> None:
        rng = self.rng
        for job in rng.sample(self.jobs, min(3, len(self.jobs))):
            current = self.session.scalar(select(FieldReport).where(FieldReport.job_id == job.id,
                                                                    FieldReport.status != "superseded"))
            version = 1
            if current is not None:
                current.status = "superseded"
                version = current.version_no + 1
                self.session.flush()
            self.session.add(FieldReport(job_id=job.id, version_no=version, status=rng.choice(("draft", "signed")),
                                         part_lines=[ReportPartLine(
                                             line_no=n, part_id=p, part_number=f"P{p}", part_name="a part",
                                             quantity=rng.randint(1, 4), reason="worn", covered_by_warranty=True)
                                             for n, p in enumerate(rng.sample((1, 2, 3), rng.randint(0, 3)), 1)]))

    def any(self, model: type[Any]) -> Any:
        rows = self.session.scalars(select(model).order_by(*model.__table__.primary_key.columns)).all()
        return self.rng.choice(rows) if rows else None

    def edit_report_lines(self) -> None:
        if (line := self.any(ReportPartLine)) is not None:
            if self.rng.random() < 0.5:
                line.quantity += 1
            else:
                self.session.delete(line)

    def move_request(self) -> None:
        if self.requests:
            request = self.rng.choice(self.requests)
            request.unit_id = self.rng.randint(1, UNITS)
            request.nearest_station_id = self.rng.randint(1, STATIONS)
            request.reported_at = _at(self.rng)

    def delete_attempt(self) -> None:
        if (attempt := self.any(CallbackAttempt)) is not None:
            self.session.delete(attempt)

    STEPS = (new_requests, new_requests, dispatch_some, dispatch_some, dispatch_some, work_done, work_done,
             work_done, decline_or_cancel,
             swap_lead, change_crew, call_back, call_back, decide_complaints, settle_deadlines,
             settle_deadlines_in_bulk, decide_in_bulk, report, report, edit_report_lines, move_request,
             delete_attempt)


def _table(rows: list[Row]) -> list[tuple[Any, ...]]:
    """Rows as comparable values: counts as numbers whatever type the database returned them in."""
    def plain(value: Any) -> Any:
        return float(value) if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool) else value
    return [tuple(plain(v) for v in asdict(row).values()) for row in rows]


@pytest.fixture
def history(app, session: Session) -> History:  # noqa: ARG001  (app: a fresh database)
    history = History(session, random.Random(20261129))
    history.play(steps=150)
    return history


def test_the_facts_answer_exactly_as_the_raw_tables_do(history: History, session: Session,
                                                        settings: Settings) -> None:
    assert len(history.jobs) >= 40 and session.scalar(select(func.count()).select_from(JobFact)) > 20
    rng = random.Random(7)
    periods = [(BEGIN, BEGIN + timedelta(days=DAYS + 10))]  # everything
    periods += [tuple(sorted((_at(rng), _at(rng)))) for _ in range(6)]  # arbitrary, to the microsecond
    # whole months only (from the rollups), and whole months with a partial one before (rollups and facts)
    periods += [(datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)),
                (datetime(2026, 1, 20, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC))]
    compared = 0
    for start, end in periods:
        now = _at(rng, start, 60)
        for group_by in (None, *GroupBy):
            for stations in (None, frozenset({1, 3})):
                for days in (30, 3):  # the first-time-fix window as configured when asked
                    q = Query(session, start, end, group_by, now, replace(settings, first_time_fix_days=days),
                              stations)
                    raw = _table(from_raw_tables(q))
                    assert _table(from_facts(q)) == raw, (start, end, group_by, stations, days)
                    compared += len(raw)
    assert compared > 1000  # the comparisons were about something


def _stored(connection: Any) -> dict[str, list[tuple[Any, ...]]]:
    """Every fact, and every rollup row that counts something (one whose counts all went back to 0 is no row)."""
    facts = {t.name: sorted(map(tuple, connection.execute(select(*t.columns)))) for t in FACT_TABLES}
    rollups = {r.name: sorted(row for row in map(tuple, connection.execute(select(r.model.__table__)))
                              if any(row[len(r.key_names):])) for r in ROLLUPS}
    return facts | rollups


def test_check_agrees_after_any_history_and_a_rebuild_changes_nothing(history: History, session: Session) -> None:
    connection = session.connection()
    report = check(connection)
    assert report.mismatches == 0, report.shown
    assert report.checked["job facts"] == session.scalar(select(func.count()).select_from(JobFact))
    assert report.checked["job rollups"] > 10
    kept = _stored(connection)
    rebuild(connection)
    assert _stored(connection) == kept


def test_check_catches_a_tampered_missing_or_extra_fact(history: History, session: Session) -> None:
    connection = session.connection()
    job_id = session.scalar(select(JobFact.job_id).order_by(JobFact.job_id).limit(1))
    connection.execute(update(JobFact).where(JobFact.job_id == job_id).values(parts=JobFact.parts + 1))
    deadline_id = session.scalar(select(DeadlineFact.deadline_id).limit(1))
    connection.execute(delete(DeadlineFact).where(DeadlineFact.deadline_id == deadline_id))
    report = check(connection)
    # Each tampered fact disagrees with the raw tables, and the rollup row it was counted in with the facts.
    assert report.mismatches == 4, report.shown
    assert report.shown[0].startswith(f"job facts {job_id}: stored ")
    assert report.shown[1].startswith(f"deadline facts {deadline_id}: stored None")
    assert report.shown[2].startswith("job rollups (month 2026-")
    assert report.shown[3].startswith("deadline rollups (month 2026-")
    rebuild(connection)
    assert check(connection).mismatches == 0


def test_whole_months_are_read_from_the_rollups_and_check_catches_a_tampered_one(
        history: History, session: Session, settings: Settings) -> None:
    february = Query(session, datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC), None,
                     BEGIN + timedelta(days=DAYS), settings)
    assert _table(from_facts(february)) == _table(from_raw_tables(february))
    connection = session.connection()
    connection.execute(update(JobRollup).where(JobRollup.month == "2026-02").values(jobs=JobRollup.jobs + 1))
    assert _table(from_facts(february)) != _table(from_raw_tables(february))
    report = check(connection)
    assert report.mismatches >= 1 and all(line.startswith("job rollups (month 2026-02") for line in report.shown)
    rebuild(connection)
    assert check(connection).mismatches == 0
    assert _table(from_facts(february)) == _table(from_raw_tables(february))


def test_a_changed_first_time_fix_window_is_answered_from_the_facts_until_a_rebuild(
        history: History, session: Session, settings: Settings) -> None:
    """The job rollups count revisits within the window they were built with; asked for another, first-time fix
    still comes out right, and a rebuild with the new window puts the rollups back in use."""
    connection = session.connection()
    assert window_of(connection) == settings.first_time_fix_days
    ten_days = replace(settings, first_time_fix_days=10)
    year = Query(session, BEGIN, BEGIN + timedelta(days=DAYS + 10), GroupBy.MONTH, BEGIN + timedelta(days=DAYS),
                 ten_days)
    assert _table(from_facts(year)) == _table(from_raw_tables(year))
    rebuild(connection, window=10)
    assert window_of(connection) == 10 and check(connection).mismatches == 0
    assert _table(from_facts(year)) == _table(from_raw_tables(year))
    connection.execute(update(JobRollup).values(revisited=JobRollup.revisited + 1))  # now read: they count
    assert _table(from_facts(year)) != _table(from_raw_tables(year))


def test_two_transactions_changing_one_jobs_facts_at_once_leave_facts_and_rollups_right(
        app, session: Session) -> None:
    """A job's work is done in one transaction while another registers the unit's next request, which ends the
    job's first-time fix. Each derives the job's facts. On PostgreSQL (READ COMMITTED) the second used to derive
    them from a view missing the first's uncommitted change, and keep them so; now it waits for the first and
    derives from what it committed. (On SQLite the second writer waits at BEGIN.)"""
    h = History(session, random.Random(1))
    h.master_data()
    request = h.request(BEGIN)
    request.unit_id = 1
    job = h.dispatch(request)
    session.commit()
    job_id = job.id
    onsite = app.extensions["onsite"]
    first, second = onsite.new_session(writer=True), onsite.new_session(writer=True)
    try:
        job = first.get(Job, job_id)
        job.status, job.work_done_at = "completed", BEGIN + timedelta(hours=2)
        first.flush()

        def next_request() -> None:
            other = History(second, random.Random(2))
            other.numbers = iter(range(500, 10**6))
            other.request(BEGIN + timedelta(hours=3)).unit_id = 1
            second.commit()

        thread = threading.Thread(target=next_request)
        thread.start()
        thread.join(0.5)
        assert thread.is_alive()  # waiting for the first transaction
        first.commit()
        thread.join(30)
        assert not thread.is_alive()
    finally:
        first.close()
        second.close()
    session.rollback()
    connection = session.connection()
    assert check(connection).mismatches == 0, check(connection).shown
    fact = session.get(JobFact, job_id)
    assert fact is not None and fact.next_request_at == BEGIN + timedelta(hours=3)
    assert connection.scalar(select(func.sum(JobRollup.revisited))) == 1


def test_kpi_facts_commands(history: History, session: Session, database_url: str, tmp_path) -> None:
    from click.testing import CliRunner

    from backend.cli import cli

    def run(*args: str, window: str = "30") -> Any:
        env = {"ONSITE_DATABASE_URL": database_url, "ONSITE_INSTANCE_PATH": str(tmp_path / "instance"),
               "ONSITE_FIRST_TIME_FIX_DAYS": window}
        return CliRunner().invoke(cli, ["kpi-facts", *args], env=env, catch_exceptions=False)

    session.close()
    result = run("check")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1].endswith("all agree with the raw tables")
    with session.begin():
        session.execute(update(JobFact).values(covered=~JobFact.covered))
    result = run("check")
    assert result.exit_code == 1
    assert "MISMATCH job facts" in result.output and "disagree with the raw tables" in result.output
    result = run("rebuild")
    assert result.exit_code == 0 and result.output.splitlines()[-1].startswith("KPI facts rebuilt (")
    assert "job facts: " in result.output and "job rollups: " in result.output  # progress
    assert run("check").exit_code == 0
    # The first-time-fix window changed: the answers stay right (from the facts), check says how to speed them up
    # again, and a rebuild counts the rollups' revisits within the new window.
    result = run("check", window="10")
    assert result.exit_code == 0 and "NOTE the job rollups count revisits within 30 days" in result.output
    assert run("rebuild", window="10").exit_code == 0
    result = run("check", window="10")
    assert result.exit_code == 0 and "NOTE" not in result.output


def test_a_period_splits_into_whole_utc_months_and_the_partial_ends() -> None:
    def utc(*args: int) -> datetime:
        return datetime(*args, tzinfo=UTC)

    assert split_period(utc(2025, 11, 16), utc(2026, 2, 10)) == (
        ["2025-12", "2026-01"], [(utc(2025, 11, 16), utc(2025, 12, 1)), (utc(2026, 2, 1), utc(2026, 2, 10))])
    assert split_period(utc(2025, 6, 1), utc(2025, 7, 1)) == (["2025-06"], [])
    # 08:00 in Beijing on 1 June is midnight UTC: June is whole
    beijing = timezone(timedelta(hours=8))
    assert split_period(datetime(2025, 6, 1, 8, tzinfo=beijing), utc(2025, 7, 1))[0] == ["2025-06"]
    assert split_period(utc(2025, 6, 2), utc(2025, 7, 1)) == ([], [(utc(2025, 6, 2), utc(2025, 7, 1))])
    assert split_period(utc(9999, 12, 1), utc(9999, 12, 31)) == ([], [(utc(9999, 12, 1), utc(9999, 12, 31))])
    assert split_period(utc(1, 1, 1), utc(1, 3, 1)) == (["0001-01", "0001-02"], [])


@pytest.mark.parametrize("how", ["deleted", "deleted in bulk", "moved to another request"])
def test_a_job_deleted_or_moved_takes_its_lead_off_the_request_it_left(app, session: Session, how: str) -> None:
    h = History(session, random.Random(5))
    h.master_data()
    left, other = h.request(BEGIN), h.request(BEGIN + timedelta(days=40))
    job = h.dispatch(left)
    session.commit()
    assert session.get(RequestFact, left.id).technician_id is not None
    if how == "deleted":
        session.delete(job)
    elif how == "deleted in bulk":
        session.execute(delete(Job).where(Job.id == job.id))
    else:
        job.service_request = other
    session.commit()
    assert session.get(RequestFact, left.id).technician_id is None
    report = check(session.connection())
    assert report.mismatches == 0, report.shown


def test_deriving_facts_never_waits_crosswise_with_a_write_about_the_job(app, session: Session) -> None:
    """An agent records a callback attempt (its flush derives the job's facts), then locks the job's request to tell
    the outcome; meanwhile a write about the job locks request, then job (lock_job). Deriving facts used to lock the
    job first, and PostgreSQL broke the cycle by failing one of the two."""
    h = History(session, random.Random(1))
    h.master_data()
    request = h.request(BEGIN)
    job = h.dispatch(request)
    session.flush()
    job.status, job.work_done_at = "completed", BEGIN + timedelta(hours=2)
    callback = Callback(dedupe_key="x", kind="service_quality", sequence=1, service_request_id=request.id,
                        job_id=job.id, status="open", due_at=BEGIN + timedelta(days=3), next_attempt_at=BEGIN,
                        attempts_made=0)
    session.add(callback)
    session.commit()
    job_id, request_id, callback_id = job.id, request.id, callback.id
    onsite = app.extensions["onsite"]
    agent, technician = onsite.new_session(writer=True), onsite.new_session(writer=True)
    errors: list[str] = []
    try:
        answered = agent.get(Callback, callback_id)
        answered.attempts.append(CallbackAttempt(
            number=1, attempted_at=BEGIN + timedelta(days=1), reached=True, method="phone", attitude=5, skill=5,
            arrival_time=5, promise_kept=5))
        agent.flush()

        def write_about_the_job() -> None:
            try:
                lock_job(technician, job_id)
                technician.commit()
            except Exception as error:  # noqa: BLE001  (any failure is the finding)
                errors.append(repr(error))
                technician.rollback()

        thread = threading.Thread(target=write_about_the_job)
        thread.start()
        thread.join(0.5)
        locked(agent, ServiceRequest, request_id)  # as backend.callbacks.service tells the outcome
        agent.commit()
        thread.join(30)
        assert not thread.is_alive()
    finally:
        agent.close()
        technician.close()
    assert errors == []
