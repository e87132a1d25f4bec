"""The `onsite` command. Every subcommand reads its settings (ONSITE_DATABASE_URL, ...) from the environment."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click
from sqlalchemy.orm import Session
from werkzeug.serving import WSGIRequestHandler

from backend.config import SECRET_KEY_ADVICE, ConfigurationError, Settings, is_loopback_host, secret_key_problem

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

DEFAULT_SPEC_PATH = Path("openapi/openapi.json")
log = logging.getLogger(__name__)


def _settings(**overrides: object) -> Settings:
    from backend.logs import configure_logging

    try:
        settings = Settings.from_env(**overrides)
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from exc
    configure_logging(settings)  # from the start, so a gunicorn master logs like its workers
    return settings


@click.group()
def cli() -> None:
    """Onsite: field-service dispatch and mobile-technician backend."""


@cli.group("db")
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
@click.option("--revision", default="heads", show_default=True)
def db_upgrade(revision: str) -> None:
    """Migrate the database schema (creates the database file on SQLite)."""
    from backend import migrate

    settings = _settings()
    settings.create_instance_path()
    migrate.upgrade(settings.database_url, revision)
    click.echo(f"database at revision {migrate.current_head(settings.database_url)}")


@cli.command("create-user")
@click.argument("username")
@click.option("--role", "roles", multiple=True, required=True, help="Repeat for several roles.")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--full-name", default=None)
def create_user(username: str, roles: tuple[str, ...], password: str, full_name: str | None) -> None:
    """Create a user account with one or more roles."""
    from backend.accounts.service import create_user as create
    from backend.errors import DomainError

    app = _app()
    with _cli_session(app, "create-user") as session:
        try:
            user = create(session, username=username, password=password, roles=list(roles), full_name=full_name,
                          min_password_length=app.extensions["onsite"].settings.password_min_length)
        except DomainError as exc:
            raise click.ClickException(f"{exc.field}: {exc.detail}") from exc
        session.commit()
        click.echo(f"created user {user.username} (id {user.id}) with roles {', '.join(user.roles)}")


@cli.command("demo-data")
def demo_data() -> None:
    """Load demo stations, technicians, customers, units, parts, one user per role and a few service requests
    with jobs (idempotent)."""
    from backend.demo import load_demo_data

    settings = _settings()
    if settings.env == "production":
        raise click.ClickException("refusing to load demo data in production: its accounts' passwords are "
                                   "published in the README")
    app = _app(settings)
    with _cli_session(app, "demo-data") as session:
        services = app.extensions["onsite"]
        summary = load_demo_data(session, services.settings, signer=services.signer, media=services.media,
                                 progress=lambda message: click.echo(f"  {message}"))
        session.commit()
    click.echo("demo users (username / password):")
    for username, password, roles in summary.credentials:
        click.echo(f"  {username:<18} {password:<28} {', '.join(roles)}")
    click.echo(summary.line())


@cli.group("stock")
def stock_group() -> None:
    """Spare-parts stock."""


@stock_group.command("verify")
def stock_verify() -> None:
    """Prove every stored stock balance equals its ledger, and every serial is where the ledger puts it (PRT-1).
    Lists each mismatch and exits with status 1 if there is any."""
    from backend.parts.stock.ledger import verify_stock

    app = _app()
    session = app.extensions["onsite"].new_session()
    try:
        report = verify_stock(session, progress=lambda message: click.echo(f"  {message}"))
    finally:
        session.close()
    for mismatch in report.mismatches:
        click.echo(f"MISMATCH {mismatch}")
    click.echo(report.line())
    if report.mismatches:
        raise click.exceptions.Exit(1)


@cli.group("kpi-facts")
def kpi_facts_group() -> None:
    """The KPI facts (kept in step with the raw tables as they change)."""


@kpi_facts_group.command("rebuild")
def kpi_facts_rebuild() -> None:
    """Derive every KPI fact again from the raw tables, in one transaction (e.g. after a change made with SQL)."""
    import time

    from backend.kpis.facts import rebuild

    app = _app()
    began = time.perf_counter()
    with app.extensions["onsite"].new_session(writer=True) as session:
        # Revisits counted within the configured first-time-fix window, so the job rollups serve it.
        written = rebuild(session.connection(), progress=lambda message: click.echo(f"  {message}"),
                          window=app.extensions["onsite"].settings.first_time_fix_days)
        session.commit()
    counts = ", ".join(f"{n:,} {name}" for name, n in written.items())
    click.echo(f"KPI facts rebuilt ({counts}) in {time.perf_counter() - began:.1f} s")


@kpi_facts_group.command("check")
def kpi_facts_check() -> None:
    """Compare every KPI fact with what the raw tables give now. Lists the first mismatches and exits with status 1
    if there is any (`onsite kpi-facts rebuild` repairs them)."""
    from backend.kpis.facts import check
    from backend.kpis.rollups import window_of

    app = _app()
    with app.extensions["onsite"].new_session() as session:
        if session.get_bind().dialect.name == "postgresql":
            # One snapshot for the whole check, so changes committed meanwhile cannot look like mismatches.
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        report = check(session.connection(), progress=lambda message: click.echo(f"  {message}"))
        window, configured = window_of(session.connection()), app.extensions["onsite"].settings.first_time_fix_days
    for mismatch in report.shown:
        click.echo(f"MISMATCH {mismatch}")
    if window != configured:  # not a mismatch: the answers are right, first-time fix just comes from the facts
        click.echo(f"NOTE the job rollups count revisits within {window:g} days, the first-time-fix window is "
                   f"{configured:g}: `onsite kpi-facts rebuild` makes the rollups serve it again")
    click.echo(report.line())
    if report.mismatches:
        raise click.exceptions.Exit(1)


@cli.command("backup")
@click.argument("path", type=click.Path(path_type=Path))
def backup_command(path: Path) -> None:
    """Back up the database (a consistent snapshot, taken while Onsite keeps running: SQLite's online backup, or
    pg_dump), the media files and the report signing key into PATH, a new owner-only folder. It holds secrets."""
    from backend.backup import service
    from backend.clock import SystemClock

    try:
        outcome = service.backup(_settings(), path, now=SystemClock().now(),
                                 progress=lambda message: click.echo(f"  {message}"))
    except service.BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    _report(outcome)


@cli.command("restore")
@click.argument("path", type=click.Path(path_type=Path, exists=True, file_okay=False))
def restore_command(path: Path) -> None:
    """Restore the backup in PATH into the configured database, which must be empty (a new SQLite file or a new
    PostgreSQL database), and into the instance folder (media, signing key). Stop Onsite first."""
    from backend.backup import service

    try:
        outcome = service.restore(_settings(), path, progress=lambda message: click.echo(f"  {message}"))
    except service.BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    _report(outcome)


def _report(outcome) -> None:  # type: ignore[no-untyped-def]
    for notice in outcome.notices:
        click.echo(f"WARNING: {notice}")
    click.echo(outcome.summary)


@cli.command("openapi")
@click.option("--output", type=click.Path(path_type=Path), default=DEFAULT_SPEC_PATH, show_default=True)
def openapi(output: Path) -> None:
    """Write the OpenAPI document generated from the code."""
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render_openapi(), encoding="utf-8")
    click.echo(f"wrote {output}")


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--production", is_flag=True,
              help="Production settings (ONSITE_ENV=production), under gunicorn with several worker processes.")
@click.option("--workers", default=None, type=int, help="gunicorn workers (default: 2 x CPUs + 1).")
@click.option("--no-scheduler", is_flag=True,
              help="Run no scheduled duties in this process (e.g. when `onsite scheduler` runs them).")
def serve(host: str, port: int, production: bool, workers: int | None, no_scheduler: bool) -> None:
    """Serve the API (development server, or gunicorn with --production), running the scheduled duties too."""
    settings = _settings(env="production") if production else _settings()
    # Whoever knows the secret can sign in as anyone, so a server others can reach needs one nobody can guess.
    if not is_loopback_host(host) and (problem := secret_key_problem(settings.secret_key)):
        raise click.ClickException(f"refusing to serve on {host} with {problem}: anyone who can reach the server "
                                   f"could forge an admin's token. Serve on 127.0.0.1, or set ONSITE_SECRET_KEY; "
                                   f"{SECRET_KEY_ADVICE}")
    if production:
        _serve_gunicorn(settings, host, port, workers or (2 * (os.cpu_count() or 1) + 1),
                        with_scheduler=not no_scheduler)
        return
    app = _app(settings)
    in_flight = _InFlightRequests(app.wsgi_app)
    app.wsgi_app = in_flight  # type: ignore[method-assign]
    with _scheduler(app, enabled=not no_scheduler):
        click.echo(f"Onsite on http://{host}:{port}  (API docs: http://{host}:{port}/docs)")
        # SIGTERM (a service manager's or container runtime's stop) stops the server as Ctrl+C does: it closes
        # its socket; then the requests in flight are finished and the scheduler hands its lock over.
        previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
        try:
            app.run(host=host, port=port, threaded=True, use_reloader=False,
                    request_handler=_BannerlessRequestHandler)
        finally:
            signal.signal(signal.SIGTERM, previous)
        in_flight.wait_until_idle(settings.request_timeout_seconds)


class _InFlightRequests:
    """WSGI middleware counting the requests being served, so that the development server, once stopped, can let
    them finish (its request threads are daemons, which would die with the process)."""

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app
        self._count = 0
        self._idle = threading.Condition()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterator[bytes]:
        # A generator, so that a request is done once its body is sent, even when the server never calls close():
        # werkzeug skips that when the client has hung up by the time it drains the socket.
        with self._idle:
            self._count += 1
        try:
            body = self.app(environ, start_response)
            try:
                yield from body
            finally:
                if hasattr(body, "close"):
                    body.close()
        finally:
            self._done()

    def _done(self) -> None:
        with self._idle:
            self._count -= 1
            self._idle.notify_all()

    def wait_until_idle(self, timeout: float) -> None:
        with self._idle:
            if self._count:
                log.info("waiting up to %s s for %d request(s) in flight", timeout, self._count)
            if not self._idle.wait_for(lambda: self._count == 0, timeout):
                log.warning("stopping with %d request(s) unfinished after %s s", self._count, timeout)


class _BannerlessRequestHandler(WSGIRequestHandler):
    """Werkzeug's request handler without its `Server: Werkzeug/x Python/y` banner (it tells an attacker which
    known flaws to try); the rest of http.server's send_response is kept."""

    def send_response(self, code: int, message: str | None = None) -> None:
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string())


def _serve_gunicorn(settings: Settings, host: str, port: int, workers: int, *, with_scheduler: bool) -> None:
    from gunicorn.app.base import BaseApplication
    from gunicorn.glogging import Logger
    from gunicorn.http import wsgi

    class BannerlessResponse(wsgi.Response):  # type: ignore[misc]
        """gunicorn's response without its `Server: gunicorn` header, which no gunicorn setting turns off."""

        def default_headers(self) -> list[str]:
            return [line for line in super().default_headers() if not line.startswith("Server:")]

    # Every gunicorn worker type makes its responses through this module attribute (in gunicorn.http.wsgi.create).
    wsgi.Response = BannerlessResponse
    _share_metrics_between_workers(settings)

    class OnsiteLogger(Logger):  # type: ignore[misc]
        """gunicorn's own messages (workers booting and exiting, signals, timeouts) go through Onsite's log handler,
        in its format. gunicorn's access log stays off: the app writes one line per request itself."""

        def setup(self, cfg) -> None:  # type: ignore[no-untyped-def]
            super().setup(cfg)
            for handler in [h for h in self.error_log.handlers if getattr(h, "_gunicorn", False)]:
                self.error_log.removeHandler(handler)
            self.error_log.propagate = True

    running = ExitStack()

    class OnsiteGunicorn(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("logger_class", OnsiteLogger)
            # A worker stopping (SIGTERM: it finishes its request first) stops its scheduler, handing the lock over.
            self.cfg.set("worker_exit", lambda _server, _worker: running.close())
            self.cfg.set("child_exit", lambda _server, worker: _forget_worker_metrics(worker.pid))
            # A sync worker serves one request at a time, so a slow or stalled client holds it: the worker is
            # restarted after the request timeout, and oversized request lines and headers are refused unread.
            # (Keep-alive does not apply: sync workers close every connection; the reverse proxy keeps clients'.)
            self.cfg.set("timeout", settings.request_timeout_seconds)
            self.cfg.set("graceful_timeout", settings.request_timeout_seconds)
            self.cfg.set("limit_request_line", 4094)
            self.cfg.set("limit_request_fields", 50)
            self.cfg.set("limit_request_field_size", 8190)
            # Newer gunicorn's control socket is one path per user (~/.gunicorn/gunicorn.ctl), which a second server
            # on the host would take over (and delete on exit); Onsite is stopped by signals.
            if "control_socket_disable" in self.cfg.settings:
                self.cfg.set("control_socket_disable", True)

        def load(self):  # type: ignore[no-untyped-def]
            # Each worker starts a scheduler; the scheduler lock lets one of them run the duties.
            from backend.app import create_app

            app = create_app(settings)
            running.enter_context(_scheduler(app, enabled=with_scheduler))
            return app

    click.echo(f"Onsite (gunicorn, {workers} workers) on http://{host}:{port}")
    OnsiteGunicorn().run()


def _share_metrics_between_workers(settings: Settings) -> None:
    """prometheus-client's multiprocess mode: each worker writes its counts to files in a folder of its own under
    the instance path, emptied at start (old workers' counts would add up forever), and /metrics adds them up.
    Set before any worker imports prometheus_client, which reads it once."""
    folder = settings.instance_path / "prometheus-metrics"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(mode=0o700, parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)


def _forget_worker_metrics(pid: int) -> None:
    """A worker that exited no longer counts in the pool gauges (its counters stay: they are totals)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid)


@cli.command("scheduler")
def scheduler() -> None:
    """Run the scheduled duties in the foreground until Ctrl+C or SIGTERM. Start as many as you like, on any
    machines: one holds the database lock and runs the duties, the others stand by to take over."""
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with _scheduler(_app()) as running:
        click.echo(f"scheduler {running.holder} running {', '.join(running.duties)}; Ctrl+C stops it")
        while not stop.wait(1):
            pass
    click.echo("scheduler stopped")


@cli.group("duty")
def duty_group() -> None:
    """Scheduled duties, by hand."""


@duty_group.command("list")
def duty_list() -> None:
    """The duties and their schedules."""
    from backend.duties.registry import registered

    for duty in registered().values():
        click.echo(f"{duty.name:<12} {duty.trigger}  {duty.description}")


@duty_group.command("run")
@click.argument("name")
def duty_run(name: str) -> None:
    """Run one duty once, now. Safe while a scheduler runs: duties are idempotent."""
    from backend.duties.registry import describe, registered, run_duty

    duties = registered()
    if name not in duties:
        raise click.ClickException(f"no duty {name!r}; the duties are: {', '.join(duties)}")
    onsite = _app().extensions["onsite"]
    click.echo(f"running {name} as of {onsite.clock.now().isoformat(timespec='seconds')} ...")
    click.echo(describe(name, run_duty(onsite, duties[name])))


@contextmanager
def _scheduler(app, *, enabled: bool = True):  # type: ignore[no-untyped-def]
    """The scheduled duties running in this process (the scheduler stands by while another holds the lock)."""
    if not enabled:
        yield None
        return
    from backend.duties.registry import registered
    from backend.duties.scheduler import DutyScheduler

    running = DutyScheduler(app.extensions["onsite"], registered())
    running.start()
    try:
        yield running
    finally:
        running.stop()


def render_openapi() -> str:
    app = _app(Settings.from_env(database_url="sqlite://"))
    spec = app.extensions["flask-smorest"]["apis"][""]["ext_obj"].spec.to_dict()
    return json.dumps(spec, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _app(settings: Settings | None = None):  # type: ignore[no-untyped-def]
    from backend.app import create_app

    return create_app(settings or _settings())


@contextmanager
def _cli_session(app, action: str) -> Iterator[Session]:  # type: ignore[no-untyped-def]
    """A write session for a command, audited as the command's own action."""
    from backend.audit.recorder import AuditContext, set_audit_context

    session = app.extensions["onsite"].new_session(writer=True)
    actor = f"cli:{os.environ.get('USER', 'unknown')}"
    set_audit_context(session, AuditContext(actor_user_id=None, actor_name=actor, action=f"onsite {action}"))
    try:
        yield session
    finally:
        session.close()
