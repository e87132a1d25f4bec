"""Issue 12, items 1 and 2: when the database is down, restarting, frozen or too slow, every endpoint answers 503
problem+json with Retry-After (the console a readable 503 page) within the configured timeouts, never a 500 or a
hung worker; liveness stays up while readiness fails; and once the database is back, requests succeed again
without restarting anything."""

from __future__ import annotations

import logging
import socket
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from flask import Flask
from prometheus_client import REGISTRY
from flask.testing import FlaskClient
from sqlalchemy import make_url, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from backend import migrate
from backend.app import create_app
from backend.clock import ManualClock
from backend.config import Settings
from backend.db import make_engine
from backend.duties.registry import Duty
from backend.duties.scheduler import DutyScheduler
from backend.http.context import db
from tests.console_support import console_as

CONNECT_TIMEOUT = 2  # psycopg's shortest (it reads 1 as 2)
STATEMENT_TIMEOUT = 2
DATABASE_UNAVAILABLE = "urn:onsite:problem:database-unavailable"
STATION = {"code": "WH", "name": "Wuhan", "address": "Hanyang", "latitude": 30.55, "longitude": 114.22}


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Every app of this module gives up on the database quickly."""
    return Settings(env="testing", database_url=database_url, instance_path=tmp_path / "instance",
                    db_connect_timeout_seconds=CONNECT_TIMEOUT, db_statement_timeout_seconds=STATEMENT_TIMEOUT)


def _app_at(settings: Settings, clock: ManualClock, database_url: str) -> Flask:
    """The same application (same secret key, so sessions and tokens made by `app` are valid) on another
    database URL."""
    return create_app(Settings(**{**vars(settings), "database_url": database_url}), clock=clock)


def _within(seconds: float, call: Callable[[], Any]) -> Any:
    """call()'s result, failing the test (instead of hanging it) when it takes longer than `seconds`."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = call()
        except BaseException as error:  # handed to the test's thread
            outcome["error"] = error

    worker = threading.Thread(target=run, daemon=True)  # a hung call must not keep the test run alive
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"no answer within {seconds} s"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _postgresql_at(port: int) -> str:
    return f"postgresql://onsite:secret@127.0.0.1:{port}/onsite"


def _assert_unavailable(response: Any, *, retry_after: int = 5) -> dict[str, Any]:
    assert response.status_code == 503, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/problem+json"
    assert response.headers["Retry-After"] == str(retry_after)
    body = response.get_json()
    assert body["type"] == DATABASE_UNAVAILABLE and body["status"] == 503 and body["request_id"]
    return body


@pytest.fixture
def dead_database(settings: Settings, clock: ManualClock) -> Iterator[Flask]:
    """The application after its PostgreSQL server went away: nothing listens on its port any more."""
    dead = _app_at(settings, clock, _postgresql_at(_closed_port()))
    yield dead
    dead.extensions["onsite"].engine.dispose()


def test_an_unreachable_database_is_a_503_on_every_kind_of_endpoint(app: Flask, client: FlaskClient, make_user,
                                                                     login, dead_database: Flask) -> None:
    admin = make_user("admin")
    token = login(admin).token
    console = console_as(client, admin)
    session_cookie = client.get_cookie("onsite_console")
    assert session_cookie is not None
    outage = dead_database.test_client()
    bearer = {"Authorization": f"Bearer {token}"}

    health = outage.get("/api/v1/health")
    assert health.status_code == 200 and health.get_json() == {"status": "ok"}  # liveness: the process answers
    ready = _assert_unavailable(outage.get("/api/v1/health/ready"))
    assert "cannot be reached" in ready["detail"]
    _assert_unavailable(outage.get("/api/v1/stations", headers=bearer))
    _assert_unavailable(outage.post("/api/v1/stations", json=STATION, headers=bearer | {"Idempotency-Key": "k1"}))
    _assert_unavailable(outage.post("/api/v1/auth/token", json={"username": admin.username, "password": "x"}))

    # The console: a readable page, not JSON and not a 500, and it does not try the database again to draw it.
    outage.set_cookie("onsite_console", session_cookie.value)
    page = outage.get("/board")
    assert page.status_code == 503 and page.mimetype == "text/html" and page.headers["Retry-After"] == "5"
    shown = page.get_data(as_text=True)
    assert "Temporarily unavailable" in shown and "reload the page" in shown
    assert "Traceback" not in shown and admin.username not in shown  # the header shows no account
    assert console.get("/board").status_code == 200  # the live app, same session: it was only the database


def test_the_retry_after_is_configurable(settings: Settings, clock: ManualClock) -> None:
    outage = create_app(Settings(**{**vars(settings), "database_url": _postgresql_at(_closed_port()),
                                    "db_retry_after_seconds": 17}), clock=clock)
    _assert_unavailable(outage.test_client().get("/api/v1/health/ready"), retry_after=17)
    outage.extensions["onsite"].engine.dispose()


def test_an_outage_is_logged_without_a_traceback_per_request(dead_database: Flask, caplog) -> None:
    outage = dead_database.test_client()
    with caplog.at_level(logging.INFO):
        for _ in range(20):
            _assert_unavailable(outage.get("/api/v1/health/ready"))
    tracebacks = [record for record in caplog.records if record.exc_info]
    assert len(tracebacks) <= 1  # the first in full; its repeats are counted (backend.logs)


class FrozenServer:
    """A database server that accepts connections and never says a word (paused, swapped out, wedged)."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with suppress(OSError):  # closed
            while True:
                self.held.append(self.listener.accept()[0])

    def close(self) -> None:
        for end in [self.listener, *self.held]:
            with suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)  # also ends the accept() waiting in the thread
            end.close()


def test_a_frozen_database_answers_503_within_the_connect_timeout(settings: Settings, clock: ManualClock) -> None:
    server = FrozenServer()
    frozen = _app_at(settings, clock, _postgresql_at(server.port))
    try:
        client = frozen.test_client()
        _assert_unavailable(_within(CONNECT_TIMEOUT + 3, lambda: client.get("/api/v1/health/ready")))
        assert server.held  # it really connected, and waited for an answer that never came
        assert frozen.test_client().get("/api/v1/health").status_code == 200
    finally:
        frozen.extensions["onsite"].engine.dispose()
        server.close()


@contextmanager
def _lock_held_elsewhere(database_url: str) -> Iterator[None]:
    """Another connection holds what a station's creation needs, and keeps holding it (a long migration, a stuck
    batch job): on PostgreSQL the stations table, on SQLite the write lock."""
    if database_url.startswith("sqlite"):
        holder = sqlite3.connect(make_url(database_url).database, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            holder.rollback()
            holder.close()
        return
    engine = make_engine(database_url)
    try:
        with engine.connect() as holder:
            holder.execute(text("LOCK TABLE stations IN ACCESS EXCLUSIVE MODE"))
            yield
            holder.rollback()
    finally:
        engine.dispose()


def test_a_request_waiting_past_the_statement_timeout_gets_a_503_in_time(as_role, database_url: str,
                                                                         is_postgres: bool) -> None:
    admin = as_role("admin")
    with _lock_held_elsewhere(database_url):
        # PostgreSQL cancels the statement (statement_timeout); SQLite gives up waiting for the lock (busy timeout)
        response = _within(STATEMENT_TIMEOUT + 3, lambda: admin.post("/api/v1/stations", json=STATION))
        body = _assert_unavailable(response, retry_after=5 if is_postgres else 1)
    assert ("statement timeout" if is_postgres else "busy") in body["detail"]
    created = admin.post("/api/v1/stations", json=STATION)  # the lock is gone: the same request goes through
    assert created.status_code == 201, created.get_json()
    assert [s["code"] for s in admin.get("/api/v1/stations").get_json()] == ["WH"]  # written once, not twice


def test_a_lock_wait_cut_short_by_the_urls_lock_timeout_is_a_503(settings: Settings, clock: ManualClock,
                                                                 database_url: str, is_postgres: bool) -> None:
    """The README suggests `options=-c lock_timeout=5s` in the URL: a lock wait it ends is the database busy."""
    if not is_postgres:
        pytest.skip("a PostgreSQL lock_timeout")
    url = make_url(database_url).update_query_dict({"options": "-c lock_timeout=500"})
    busy = _app_at(settings, clock, url.render_as_string(hide_password=False))

    @busy.get("/test-only/stations")
    def count_stations() -> str:
        return str(db().scalar(text("SELECT count(*) FROM stations")))

    try:
        with _lock_held_elsewhere(database_url):
            response = _within(STATEMENT_TIMEOUT + 3, lambda: busy.test_client().get("/test-only/stations"))
        body = _assert_unavailable(response, retry_after=1)
        assert "busy" in body["detail"]
    finally:
        busy.extensions["onsite"].engine.dispose()


def test_a_database_error_that_is_a_bug_stays_a_500(app: Flask, client: FlaskClient) -> None:
    @app.get("/test-only/broken-query")
    def broken_query() -> str:
        db().execute(text("SELECT no_such_column FROM stations"))
        return "unreachable"

    response = client.get("/test-only/broken-query")
    assert response.status_code == 500 and "Retry-After" not in response.headers


def test_readiness_passes_on_a_current_schema(client: FlaskClient) -> None:
    response = client.get("/api/v1/health/ready")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "schema_revision": migrate.current_head("sqlite://")}


def test_readiness_fails_while_the_schema_is_behind_this_release(tmp_path: Path, settings: Settings,
                                                                 clock: ManualClock) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    scripts = ScriptDirectory.from_config(migrate.alembic_config(url))
    head = scripts.get_current_head()
    previous = scripts.get_revision(head).down_revision
    migrate.upgrade(url, previous)
    behind = _app_at(settings, clock, url)
    client = behind.test_client()
    response = client.get("/api/v1/health/ready")
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    problem = response.get_json()
    assert problem["type"] == "urn:onsite:problem:database-schema-mismatch"
    assert previous in problem["detail"] and head in problem["detail"] and "onsite db upgrade" in problem["detail"]
    assert client.get("/api/v1/health").status_code == 200

    migrate.upgrade(url)  # the deploy's `onsite db upgrade`: ready without a restart
    assert client.get("/api/v1/health/ready").status_code == 200
    behind.extensions["onsite"].engine.dispose()


def test_a_duty_run_during_an_outage_logs_one_line_and_the_scheduler_carries_on(dead_database: Flask,
                                                                                caplog) -> None:
    def reads_the_database(session: Session, _now: Any, _settings: Any) -> dict[str, int]:
        return {"stations": session.scalar(text("SELECT count(*) FROM stations"))}

    onsite = dead_database.extensions["onsite"]
    scheduler = DutyScheduler(onsite, {"probe": Duty("probe", reads_the_database, None, "test")})  # type: ignore
    scheduler.leading = True
    with caplog.at_level(logging.INFO):
        scheduler.run_if_leading("probe")  # does not raise: the next run tries again
        scheduler.run_if_leading("probe")
    lines = [record for record in caplog.records if "probe" in record.getMessage()]
    assert len(lines) == 2 and all(record.levelno == logging.WARNING and not record.exc_info for record in lines)
    assert "database cannot be reached" in lines[0].getMessage()


def test_a_duty_that_waits_out_a_lock_logs_one_line_not_a_bug(app: Flask, caplog) -> None:
    def meets_a_held_lock(_session: Session, _now: Any, _settings: Any) -> dict[str, int]:
        locked = sqlite3.OperationalError("database is locked")
        locked.sqlite_errorcode = sqlite3.SQLITE_BUSY
        raise OperationalError("UPDATE callbacks SET status = ?", (), locked)

    duties = {"probe": Duty("probe", meets_a_held_lock, None, "test")}  # type: ignore[arg-type]
    scheduler = DutyScheduler(app.extensions["onsite"], duties)
    assert scheduler.lock.try_acquire()
    scheduler.leading = True
    try:
        with caplog.at_level(logging.INFO):
            scheduler.run_if_leading("probe")
    finally:
        scheduler.lock.release()
    lines = [record for record in caplog.records if "probe" in record.getMessage()]
    assert len(lines) == 1 and lines[0].levelno == logging.WARNING and not lines[0].exc_info
    assert "database is busy" in lines[0].getMessage()


# --- PostgreSQL: a real server frozen, restarted or cutting connections ----------------------------------------------

class FreezableProxy:
    """A TCP relay in front of the test PostgreSQL server that can freeze: connections stay open, but nothing is
    passed on either way (the server paused or wedged; the kernel still acknowledges packets, so TCP keepalives
    alone do not notice)."""

    def __init__(self, host: str, port: int, listen_port: int = 0) -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", listen_port))
        self.port = self.listener.getsockname()[1]
        self.thawed = threading.Event()
        self.thawed.set()
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with suppress(OSError):
            while True:
                client = self.listener.accept()[0]
                server = socket.create_connection(self.target)
                self.sockets += [client, server]
                for source, sink in ((client, server), (server, client)):
                    threading.Thread(target=self._relay, args=(source, sink), daemon=True).start()

    def _relay(self, source: socket.socket, sink: socket.socket) -> None:
        with suppress(OSError):
            while data := source.recv(65536):
                self.thawed.wait()
                sink.sendall(data)
        for end in (source, sink):
            with suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.thawed.set()
        # close() alone would not end an accept() or recv() waiting in another thread, nor the socket with it.
        for end in [self.listener, *self.sockets]:
            with suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()


@pytest.fixture
def proxied(app: Flask, settings: Settings, clock: ManualClock, database_url: str,
            is_postgres: bool) -> Iterator[tuple[Flask, FreezableProxy]]:
    if not is_postgres:
        pytest.skip("a PostgreSQL server to freeze")
    url = make_url(settings.database_url)
    proxy = FreezableProxy(url.host or "127.0.0.1", url.port or 5432)
    proxied_app = _app_at(settings, clock, url.set(host="127.0.0.1", port=proxy.port)
                          .render_as_string(hide_password=False))
    yield proxied_app, proxy
    proxy.close()
    proxied_app.extensions["onsite"].engine.dispose()


@pytest.mark.postgres_only
def test_a_database_frozen_under_pooled_connections_answers_503_in_time_and_recovers(proxied) -> None:
    proxied_app, proxy = proxied
    client = proxied_app.test_client()
    assert client.get("/api/v1/health/ready").status_code == 200  # a connection now waits in the pool
    proxy.thawed.clear()
    # The pool's ping gets no answer within the connect timeout, nor does the fresh connection tried next.
    try:
        response = _within(2 * CONNECT_TIMEOUT + 3, lambda: client.get("/api/v1/health/ready"))
    except AssertionError:
        proxy.close()  # ends the request still waiting, so that the app can be disposed of
        raise
    _assert_unavailable(response)
    assert client.get("/api/v1/health").status_code == 200
    proxy.thawed.set()
    assert client.get("/api/v1/health/ready").status_code == 200  # the same process, nothing restarted



@pytest.mark.postgres_only
def test_after_a_frozen_database_the_pool_gauge_counts_no_phantom_connections(proxied) -> None:
    """Connections given up on (a ping or a statement with no answer) leave onsite_db_pool_checked_out where it was,
    not one lower for each, which would leave the gauge wrong (even negative) until the process restarts."""
    proxied_app, proxy = proxied
    client = proxied_app.test_client()

    def in_use() -> float | None:
        return REGISTRY.get_sample_value("onsite_db_pool_checked_out")

    assert client.get("/api/v1/health/ready").status_code == 200  # a connection now waits in the pool
    before = in_use()
    proxy.thawed.clear()
    try:
        _assert_unavailable(_within(2 * CONNECT_TIMEOUT + 3, lambda: client.get("/api/v1/health/ready")))
    finally:
        proxy.thawed.set()
    assert client.get("/api/v1/health/ready").status_code == 200
    assert in_use() == before

@pytest.mark.postgres_only
def test_a_statement_on_a_frozen_server_is_given_up_after_its_timeout(proxied) -> None:
    proxied_app, proxy = proxied
    engine = proxied_app.extensions["onsite"].engine
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
        proxy.thawed.clear()  # frozen mid-transaction: the server cannot even enforce statement_timeout
        try:
            with pytest.raises(OperationalError) as raised:
                _within(STATEMENT_TIMEOUT + CONNECT_TIMEOUT + 3, lambda: connection.execute(text("SELECT 2")))
        finally:
            proxy.close()  # should the statement still hang, closing the connection must not wait for it
        assert raised.value.connection_invalidated  # the connection is dropped, never reused mid-protocol


@pytest.mark.postgres_only
def test_connections_cut_by_the_server_are_replaced_on_the_next_request(as_role, app: Flask, database_url: str,
                                                                        is_postgres: bool) -> None:
    if not is_postgres:
        pytest.skip("pg_terminate_backend")
    admin = as_role("admin")
    assert admin.get("/api/v1/stations").status_code == 200
    assert app.extensions["onsite"].engine.pool.checkedin() >= 1
    cutter = make_engine(database_url)
    try:
        with cutter.connect() as connection:  # a server restart or failover ends every session
            cut = connection.scalar(text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                         "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
        assert cut >= 1
    finally:
        cutter.dispose()
    response = admin.get("/api/v1/stations")
    assert response.status_code == 200, response.get_json()


@pytest.mark.postgres_only
def test_a_server_that_comes_back_is_used_without_a_restart(proxied) -> None:
    """Down (connections refused), then up again on the same address."""
    proxied_app, proxy = proxied
    client = proxied_app.test_client()
    assert client.get("/api/v1/health/ready").status_code == 200
    proxy.close()  # the server stops: its connections end and its port refuses new ones
    _assert_unavailable(client.get("/api/v1/health/ready"))
    revived = FreezableProxy(*proxy.target, listen_port=proxy.port)  # back, at the address the URL names
    try:
        assert client.get("/api/v1/health/ready").status_code == 200
    finally:
        revived.close()


def test_database_settings_must_be_positive() -> None:
    from backend.config import ConfigurationError
    for name in ("db_connect_timeout_seconds", "db_statement_timeout_seconds", "db_retry_after_seconds"):
        with pytest.raises(ConfigurationError, match=name.upper()):
            Settings(**{name: 0})

