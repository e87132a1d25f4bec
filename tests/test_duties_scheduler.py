"""One scheduler at a time: the lease (SQLite) and the advisory lock (PostgreSQL), stand-by and takeover; where
the scheduler runs (`onsite serve`, `onsite scheduler`) and where it never does (create_app)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import replace
from datetime import timedelta

import pytest
from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.triggers.interval import IntervalTrigger
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select, text

from backend.cli import cli
from backend.db import make_engine, make_session_factory
from backend.duties.lock import AdvisoryLock, LeadershipLost, LeaseLock
from backend.duties.registry import Duty, DutyFunction
from backend.duties.scheduler import DutyScheduler
from backend.http.context import Onsite


def _eventually(condition: Callable[[], object], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def start_scheduler(app: Flask, settings, clock):  # type: ignore[no-untyped-def]
    """Schedulers as separate processes would have them: each with its own engine (and so its own connections),
    renewing or retrying the lock every third of a 1 s lease. Their duty, `probe`, records who ran it; its hourly
    trigger never fires during a test, so every run is the catch-up a scheduler does on taking the lock."""
    started: list[DutyScheduler] = []
    quick = replace(settings, scheduler_lease_seconds=1)

    def start(name: str, runs: list[str]) -> DutyScheduler:
        engine = make_engine(quick.database_url)
        onsite = Onsite(settings=quick, clock=clock, engine=engine, session_factory=make_session_factory(engine))
        probe = Duty("probe", lambda _session, _now, _settings: runs.append(name) or {},
                     IntervalTrigger(hours=1), "records its runs")
        scheduler = DutyScheduler(onsite, {"probe": probe})
        scheduler.start()
        started.append(scheduler)
        return scheduler

    yield start
    for scheduler in started:
        with suppress(SchedulerNotRunningError):  # those a test has stopped itself
            scheduler.stop()
        scheduler.onsite.engine.dispose()


def test_of_two_schedulers_started_together_one_runs_the_duties_and_the_other_takes_over(start_scheduler) -> None:
    runs: list[str] = []
    barrier = threading.Barrier(2)
    schedulers: dict[str, DutyScheduler] = {}

    def start(name: str) -> None:
        barrier.wait()
        schedulers[name] = start_scheduler(name, runs)

    threads = [threading.Thread(target=start, args=(name,)) for name in ("first", "second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert _eventually(lambda: runs)
    time.sleep(1.5)  # several rounds of lock renewal and retry: the stand-by keeps standing by
    [leader_name] = runs
    leader = schedulers[leader_name]
    [standby] = [s for name, s in schedulers.items() if name != leader_name]
    assert leader.leading and not standby.leading

    leader.stop()
    assert _eventually(lambda: len(runs) == 2), "the stand-by did not take over"
    assert runs[1] != leader_name and standby.leading


def test_a_scheduler_started_while_another_leads_stands_by(start_scheduler) -> None:
    runs: list[str] = []
    leader = start_scheduler("leader", runs)
    assert _eventually(lambda: leader.leading)
    late = start_scheduler("late", runs)
    time.sleep(1.5)
    assert runs == ["leader"] and not late.leading


def test_an_expired_lease_is_taken_over_and_a_released_one_at_once(app: Flask, clock) -> None:
    """A holder that crashed never renews; once its lease has run out by the clock, a stand-by takes it."""
    engine = app.extensions["onsite"].engine
    first, second = (LeaseLock(engine, clock, holder, timedelta(seconds=60)) for holder in ("first", "second"))
    assert first.try_acquire() and not second.try_acquire()
    clock.advance(seconds=40)
    assert first.try_acquire()  # renewed: now runs until 100 s
    clock.advance(seconds=59)
    assert not second.try_acquire()
    clock.advance(seconds=1)  # first has stopped renewing (crashed) and its lease has run out
    assert second.try_acquire() and not first.try_acquire()
    second.release()
    assert first.try_acquire()


@pytest.mark.postgres_only
def test_the_advisory_lock_is_freed_when_its_connection_dies(app: Flask, clock, is_postgres: bool) -> None:
    if not is_postgres:
        pytest.skip("PostgreSQL advisory locks")
    engine = app.extensions["onsite"].engine
    first, second = (AdvisoryLock(engine, clock, holder) for holder in ("first", "second"))
    try:
        assert first.try_acquire() and not second.try_acquire()
        assert first.try_acquire()  # still holding it
        with engine.connect() as conn:  # the holder's server session ends, as in a crash or a network cut
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND "
                              "database = (SELECT oid FROM pg_database WHERE datname = current_database())"))
        assert _eventually(second.try_acquire)
        assert not first.try_acquire()
    finally:
        first.release()
        second.release()


@pytest.fixture
def fence_probe(app: Flask) -> Iterator[Table]:
    """A table only the test's duty writes: which scheduler wrote which step."""
    table = Table("fence_probe", MetaData(), Column("holder", String(20)), Column("step", Integer))
    engine = app.extensions["onsite"].engine
    table.create(engine)
    yield table
    table.drop(engine)


def test_a_leader_that_lost_the_lock_writes_nothing_more_and_the_new_leader_carries_on(
        app: Flask, settings, clock, is_postgres: bool, fence_probe: Table,
        caplog: pytest.LogCaptureFixture) -> None:
    """Issue 12 item 5: the old leader loses the lock in the middle of a duty, before noticing (no keeper round in
    between): its next transaction is refused, and it stands by; the stand-by takes over and its runs commit."""
    schedulers: dict[str, DutyScheduler] = {}

    def lose_the_lock() -> None:
        if is_postgres:  # the server ends the old leader's lock session, as a restart or a network cut would
            with app.extensions["onsite"].engine.begin() as conn:
                conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'"))
        else:  # the old leader was paused for longer than its lease
            clock.advance(seconds=settings.scheduler_lease_seconds + 1)
        standby = schedulers["standby"]
        assert _eventually(standby.lock.try_acquire)
        standby.leading = True

    def probe_of(holder: str) -> DutyFunction:
        def probe(session, _now, _settings):  # type: ignore[no-untyped-def]
            session.execute(insert(fence_probe).values(holder=holder, step=1))
            session.commit()
            if holder == "leader" and not schedulers["standby"].leading:
                lose_the_lock()
            session.execute(insert(fence_probe).values(holder=holder, step=2))
            return {}
        return probe

    for name in ("leader", "standby"):  # each with its own engine and connections, as separate processes
        engine = make_engine(settings.database_url)
        onsite = Onsite(settings=settings, clock=clock, engine=engine, session_factory=make_session_factory(engine))
        probe = Duty("probe", probe_of(name), IntervalTrigger(hours=1), "writes two steps, committing each")
        schedulers[name] = DutyScheduler(onsite, {"probe": probe})
    leader, standby = schedulers["leader"], schedulers["standby"]
    try:
        assert leader.lock.try_acquire() and not standby.lock.try_acquire()
        leader.leading = True

        leader.run_if_leading("probe")
        assert not leader.leading
        assert "no longer holds the lock" in caplog.text
        leader.run_if_leading("probe")  # stands by: does not even start
        standby.run_if_leading("probe")

        with app.extensions["onsite"].engine.connect() as conn:
            written = conn.execute(select(fence_probe.c.holder, fence_probe.c.step)).all()
        assert sorted(written) == [("leader", 1), ("standby", 1), ("standby", 2)]
    finally:
        for scheduler in schedulers.values():
            scheduler.lock.release()
            scheduler.onsite.engine.dispose()


@pytest.mark.postgres_only
def test_a_new_leader_waits_for_the_old_leaders_running_transaction(app: Flask, settings, clock,
                                                                    is_postgres: bool) -> None:
    """PostgreSQL: the lock is lost while a fenced duty transaction of the old leader runs. The new leader's claim
    waits for that transaction, so the two leaders' transactions never interleave; the old leader's next one is
    refused."""
    if not is_postgres:
        pytest.skip("PostgreSQL advisory locks")
    engine = app.extensions["onsite"].engine
    old, new = (AdvisoryLock(engine, clock, holder) for holder in ("old", "new"))
    duty_engine = make_engine(settings.database_url)
    claimed: list[bool] = []
    claim = threading.Thread(target=lambda: claimed.append(_eventually(new.try_acquire)))
    try:
        assert old.try_acquire()
        with duty_engine.connect() as duty, duty.begin():
            old.fence(duty)  # the transaction goes ahead ...
            with engine.begin() as conn:  # ... and meanwhile the old leader's lock session ends
                conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'"))
            claim.start()
            time.sleep(1)
            assert claim.is_alive() and not claimed, "the new leader did not wait for the old one's transaction"
        claim.join(10)
        assert claimed == [True]
        with duty_engine.connect() as duty, duty.begin(), pytest.raises(LeadershipLost):
            old.fence(duty)
    finally:
        if claim.is_alive():
            claim.join(10)
        old.release()
        new.release()
        duty_engine.dispose()


# --- where schedulers run ----------------------------------------------------------------------------------------

def _scheduler_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "APScheduler"]


def test_create_app_never_starts_a_scheduler(app: Flask) -> None:
    assert _scheduler_threads() == []


@pytest.fixture
def serve_without_serving(monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path):  # type: ignore
    """`onsite serve` up to the point of serving; returns whether a scheduler was running while it served."""
    seen: list[bool] = []
    monkeypatch.setattr(Flask, "run", lambda *_args, **_kwargs: seen.append(bool(_scheduler_threads())))
    env = {"ONSITE_DATABASE_URL": database_url, "ONSITE_INSTANCE_PATH": str(tmp_path / "instance")}

    def serve(*options: str) -> bool:
        result = CliRunner().invoke(cli, ["serve", *options], env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return seen.pop()

    return serve


def test_serve_runs_the_scheduler_in_process_unless_told_not_to(app: Flask, serve_without_serving) -> None:
    assert serve_without_serving() is True
    assert _scheduler_threads() == []  # stopped when serving ends
    assert serve_without_serving("--no-scheduler") is False
