"""The request path: the API's hot endpoints under gunicorn, against a bare Flask ping served the same way.

    .venv/bin/python benchmarks/request_path.py                  # 5 s per endpoint, about 3 minutes with the data
    .venv/bin/python benchmarks/request_path.py --duration 30    # steadier figures
    git archive REV | tar -x -C /tmp/before              # before and after in the same run, endpoint by endpoint
    .venv/bin/python benchmarks/request_path.py --baseline /tmp/before

Builds a throwaway SQLite file with the real migrations and `onsite demo-data`, serves it with
`onsite serve --production --workers 2` (gunicorn, sync workers, a random secret key, no scheduler) and a bare Flask
app answering /ping under gunicorn with 2 sync workers, then drives each endpoint with wrk (`apt-get install wrk`;
one thread, 8 connections) for a fixed time, after a one-second warm-up. Per endpoint it prints requests per second,
p50 and p99 latency, the ratio to the ping's requests per second measured right before it, and the server's CPU
time per request (gunicorn's master and workers, from /proc) with its ratio to the ping's: on a machine busy with
other work the CPU time per request is the steadier figure.

First the yardsticks, served by the ping's gunicorn: what a bare Flask view reading the job's row by primary key
costs with the SQLAlchemy ORM and with SQLAlchemy Core, nothing else (no sign-in, no checks, logs or metrics): the
least any endpoint of this stack that reads the database can cost. Then Onsite's endpoints:

  GET  /api/v1/health                             liveness: no sign-in, no database (the app's own layers)
  GET  /api/v1/jobs/{id}                          a dispatcher reading a dispatched job
  GET  /api/v1/service-requests/{id}              the same job's request
  GET  /api/v1/service-requests?page_size=50      the board's first page (the demo data's requests)
  GET  /api/v1/service-requests/{id}/candidates   a registered request, 30 technicians
  GET  /api/v1/me/jobs                            a technician's sync
  POST /api/v1/service-requests                   intake by an agent, a fresh body each time

Then it registers 10,000 more open requests through the intake service (each revision's own, on its own file) and
measures the board's first page again, also with a single connection (its latency without queueing). Errors (4xx and
5xx answers, socket errors, answers slower than wrk's 2 s timeout) are counted and reported.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import secrets  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import sqlite3  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import Any  # noqa: E402

from backend.db import SQLITE_MMAP_BYTES  # noqa: E402

CONNECTIONS = 8
OPEN_REQUESTS = 10_000
# The yardsticks, served by gunicorn like the app: a bare Flask ping, and the least a Flask view reading one row
# with SQLAlchemy can do (a session or connection per request, the job's row by primary key, its id and status out,
# its version as the ETag; no sign-in, checks, logs or metrics). They show what the stack itself costs.
YARDSTICK_APP = '''
import os

from flask import Flask
from sqlalchemy import Integer, String, bindparam, create_engine, event, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

app = Flask(__name__)
engine = create_engine(os.environ["YARDSTICK_DATABASE_URL"])
new_session = sessionmaker(engine)


@event.listens_for(engine, "connect")
def _like_onsite(dbapi_connection, _record):
    # The connection set up as Onsite sets up its own (backend.db), so that only the layers above differ.
    for pragma in ("journal_mode=WAL", "foreign_keys=ON", "busy_timeout=5000", "mmap_size=%(mmap)d"):
        dbapi_connection.execute(f"PRAGMA {pragma}")


class Base(DeclarativeBase):
    pass


class Job(Base):
    __tablename__ = "jobs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String)
    version: Mapped[int] = mapped_column(Integer)


JOB = select(Job.id, Job.status, Job.version).where(Job.id == bindparam("job_id"))


@app.get("/ping")
def ping():
    return {"pong": True}


@app.get("/orm/jobs/<int:job_id>")
def job_by_orm(job_id):
    with new_session() as session:
        job = session.get(Job, job_id)
        return {"id": job.id, "status": job.status}, {"ETag": f'"{job.version}"'}


@app.get("/core/jobs/<int:job_id>")
def job_by_core(job_id):
    with engine.connect() as connection:
        job = connection.execute(JOB, {"job_id": job_id}).one()
        return {"id": job.id, "status": job.status}, {"ETag": f'"{job.version}"'}
'''
# wrk's Lua: the method, headers and body per request; `done` prints one JSON line with the figures.
WRK_SCRIPT = '''
local counter = 0
thread_id = 0  -- a global, so that setup can give each thread its own
local method, body_template = %(method)s, %(body)s
local pairs_ = %(pairs)s
wrk.method = method
wrk.headers["Authorization"] = %(authorization)s
wrk.headers["Content-Type"] = "application/json"

function setup(thread)
  thread:set("thread_id", math.random(1, 1000000))
end

function request()
  if body_template == nil then
    return wrk.format(nil)
  end
  counter = counter + 1
  local pair = pairs_[(counter %% #pairs_) + 1]
  local body = string.format(body_template, pair[1], pair[2], 30 + math.random() * 10, 105 + math.random() * 15,
                             thread_id, counter)
  return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
  io.write(string.format('{"requests": %%d, "duration_us": %%d, "p50_us": %%d, "p99_us": %%d, "errors": %%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout))
end
'''
# Run by `python -c` in a revision's folder (so its own intake service), with that revision's environment:
# argv[1] open requests at sites spread over the demo stations' part of China, argv[2] the (customer, unit) pairs.
FILL = '''
import json, random, sys
from datetime import UTC, datetime, timedelta
from backend.app import create_app
from backend.audit.recorder import AuditContext, set_audit_context
from backend.dispatch.service import register_request

count, units = int(sys.argv[1]), json.loads(sys.argv[2])
onsite = create_app().extensions["onsite"]
rng, now = random.Random(20261129), datetime.now(UTC)
for start in range(0, count, 1000):
    with onsite.new_session(writer=True) as session:
        set_audit_context(session, AuditContext(actor_user_id=None, actor_name="benchmark", action="benchmark"))
        for _ in range(start, min(start + 1000, count)):
            customer_id, unit_id = rng.choice(units)
            register_request(session, {
                "customer_id": customer_id, "unit_id": unit_id, "site_address": "Benchmark Road",
                "site_latitude": rng.uniform(23.0, 40.0), "site_longitude": rng.uniform(104.0, 121.0),
                "fault_description": "benchmark", "fault_category": rng.choice(["body", "chassis_engine"]),
                "channel": "phone", "complaint_class": "quality", "supplier_needed": rng.random() < 0.1,
                "required_skill": None, "reported_at": now - timedelta(minutes=rng.randrange(600))},
                actor_id=None, now=now, settings=onsite.settings)
        session.commit()
    print(f"  open requests: {min(start + 1000, count):,}/{count:,}", flush=True)
'''
INTAKE_BODY = ('{"customer_id": %d, "unit_id": %d, "site_address": "Benchmark Road", "site_latitude": %.6f, '
               '"site_longitude": %.6f, "fault_description": "benchmark %d-%d", "fault_category": "body", '
               '"channel": "phone", "complaint_class": "quality"}')


@dataclass(frozen=True)
class Endpoint:
    name: str
    path: str
    username: str
    method: str = "GET"
    body: str | None = None


PASSWORDS = {"dispatcher": "dispatcher-demo-pass", "agent": "agent-demo-pass"}
TECHNICIAN_PASSWORD = "technician-demo-pass"
PING = Endpoint("GET /ping (bare Flask)", "/ping", "")
YARDSTICKS: list[Callable[[dict[str, Any]], Endpoint]] = [
    lambda ids: Endpoint("GET one row, SQLAlchemy ORM (bare Flask)", f"/orm/jobs/{ids['job']}", ""),
    lambda ids: Endpoint("GET one row, SQLAlchemy Core (bare Flask)", f"/core/jobs/{ids['job']}", ""),
]
# Each made from the demo data's ids (demo_ids).
ENDPOINTS: list[Callable[[dict[str, Any]], Endpoint]] = [
    # No sign-in, no database: what every request pays for the app's own layers (request id, CSRF check, metrics,
    # access log, audit context, security headers, flask-smorest's response), the floor under the others' ratios.
    lambda ids: Endpoint("GET health (floor)", "/api/v1/health", ""),
    lambda ids: Endpoint("GET jobs/{id}", f"/api/v1/jobs/{ids['job']}", "dispatcher"),
    lambda ids: Endpoint("GET service-requests/{id}", f"/api/v1/service-requests/{ids['request']}", "dispatcher"),
    lambda ids: Endpoint("GET board (page_size=50)", "/api/v1/service-requests?page_size=50", "dispatcher"),
    lambda ids: Endpoint("GET candidates", f"/api/v1/service-requests/{ids['registered']}/candidates", "dispatcher"),
    lambda ids: Endpoint("GET me/jobs (technician)", "/api/v1/me/jobs", ids["technician"]),
    lambda ids: Endpoint("POST service-requests", "/api/v1/service-requests", "agent", method="POST",
                         body=INTAKE_BODY),
]


@dataclass(frozen=True)
class Figures:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int
    # The server's processes' CPU time (master and workers, user and system) per request: unlike requests per second,
    # hardly moved by other work on the machine, so the ratio of two of them is the steadier comparison.
    cpu_ms: float


@dataclass
class Target:
    """One revision of Onsite under gunicorn, on its own database."""

    label: str
    root: Path
    folder: Path
    env: dict[str, str]
    url: str = ""
    pid: int = 0
    ids: dict[str, Any] = field(default_factory=dict)

    @property
    def database(self) -> Path:
        return self.folder / "http-benchmark.db"

    def onsite(self, *arguments: str) -> list[str]:
        # `onsite` of the revision at `root`: its folder comes first on the path of `python -c`.
        return [sys.executable, "-c", "from backend.cli import cli; cli()", *arguments]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=5, help="seconds per endpoint (default 5)")
    parser.add_argument("--open-requests", type=int, default=OPEN_REQUESTS,
                        help=f"open requests for the board's second measurement (default {OPEN_REQUESTS:,})")
    parser.add_argument("--baseline", type=Path, help="a copy of another revision (git archive REV | tar -x -C "
                        "DIR), served beside this one and measured in turn with it, endpoint by endpoint")
    parser.add_argument("--keep", type=Path, help="build the databases under this folder and keep them")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        roots = [("baseline", args.baseline.resolve())] if args.baseline else []
        targets = [make_target(label, root, folder / label) for label, root in [*roots, ("current", ROOT)]]
        (folder / "yardstick_app.py").write_text(YARDSTICK_APP % {"mmap": SQLITE_MMAP_BYTES})
        log = (folder / "servers.log").open("w")
        ping_port = free_port()
        servers = [subprocess.Popen([sys.executable, "-m", "gunicorn", "--workers", "2", "--worker-class", "sync",
                                     "--bind", f"127.0.0.1:{ping_port}", "--chdir", str(folder), "yardstick_app:app"],
                                    env={**os.environ,
                                         "YARDSTICK_DATABASE_URL": f"sqlite:///{targets[-1].database}"},
                                    stdout=log, stderr=log, start_new_session=True)]
        try:
            for target in targets:
                port = free_port()
                target.url = f"http://127.0.0.1:{port}"
                servers.append(server := subprocess.Popen(
                    target.onsite("serve", "--production", "--workers", "2", "--no-scheduler", "--port", str(port)),
                    cwd=target.root, env={**target.env, "ONSITE_ENV": "production"}, stdout=log, stderr=log,
                    start_new_session=True))
                target.pid = server.pid
            ping_url = f"http://127.0.0.1:{ping_port}"
            wait_until_up(f"{ping_url}/ping")
            for target in targets:
                wait_until_up(f"{target.url}/api/v1/health")
            run(args, targets, ping_url, servers[0].pid)
        finally:
            for server in servers:
                os.killpg(server.pid, signal.SIGTERM)
            for server in servers:
                server.wait(timeout=60)
            log.close()


def make_target(label: str, root: Path, folder: Path) -> Target:
    """The revision at `root` with the demo data, on a database of its own made by its own migrations."""
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("http-benchmark.db*"):
        stale.unlink()
    env = {**os.environ, "ONSITE_DATABASE_URL": f"sqlite:///{folder / 'http-benchmark.db'}",
           "ONSITE_INSTANCE_PATH": str(folder), "ONSITE_SECRET_KEY": secrets.token_urlsafe(48),
           "PYTHONPATH": str(root)}
    env.pop("ONSITE_ENV", None)
    target = Target(label, root, folder, env)
    started = time.perf_counter()
    for command in (("db", "upgrade"), ("demo-data",)):
        subprocess.run(target.onsite(*command), cwd=root, env=env, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    target.ids = demo_ids(target.database)
    print(f"{label}: {root}, demo data in {target.database} ({time.perf_counter() - started:.0f} s)", flush=True)
    return target


def run(args: argparse.Namespace, targets: list[Target], ping_url: str, ping_pid: int) -> None:
    """Each endpoint right after a fresh ping measurement, and its ratio to that one: on a machine shared with other
    work, the load changes from minute to minute, and a ratio means something only between neighbours."""
    duration = args.duration
    print(f"wrk: 1 thread, {CONNECTIONS} connections, {duration} s per endpoint after a 1 s warm-up", flush=True)
    units = targets[-1].ids["units"]
    results: dict[str, dict[str, tuple[Figures, Figures]]] = {"yardstick": {}, **{t.label: {} for t in targets}}

    def measure_all(name: str, endpoint_of: Callable[[Target], Endpoint], connections: int = CONNECTIONS) -> None:
        ping = measure(ping_url, ping_pid, PING, None, duration, units, connections)
        report("GET /ping (bare Flask)", ping, ping)
        for target in targets:
            endpoint = endpoint_of(target)
            token = sign_in(target.url, endpoint.username, PASSWORDS.get(endpoint.username, TECHNICIAN_PASSWORD)) \
                if endpoint.username else None
            figures = measure(target.url, target.pid, endpoint, token, duration, units, connections)
            results[target.label][name] = (figures, ping)
            report(f"{name} [{target.label}]", figures, ping)

    for make_yardstick in YARDSTICKS:
        ping = measure(ping_url, ping_pid, PING, None, duration, units)
        report("GET /ping (bare Flask)", ping, ping)
        yardstick = make_yardstick(targets[-1].ids)
        figures = measure(ping_url, ping_pid, yardstick, None, duration, units)
        results["yardstick"][yardstick.name] = (figures, ping)
        report(yardstick.name, figures, ping)

    for make_endpoint in ENDPOINTS:
        name = make_endpoint(targets[0].ids).name
        measure_all(name, lambda target: make_endpoint(target.ids))

    for target in targets:
        print(f"{target.label}: registering {args.open_requests:,} open requests through the intake service ...",
              flush=True)
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", FILL, str(args.open_requests), json.dumps(units)], cwd=target.root,
                       env=target.env, check=True)
        with sqlite3.connect(target.database) as connection:
            (open_requests,) = connection.execute(
                "SELECT count(*) FROM service_requests WHERE status IN ('registered', 'accepted')").fetchone()
        print(f"  {open_requests:,} open requests ({time.perf_counter() - started:.0f} s)", flush=True)
    board = Endpoint("GET board (page_size=50)", "/api/v1/service-requests?page_size=50", "dispatcher")
    big_board = f"GET board, {args.open_requests:,}+ open"
    measure_all(big_board, lambda _target: board)
    # The first page's latency on its own, without 8 requests queueing for 2 workers.
    measure_all(f"{big_board}, 1 connection", lambda _target: board, connections=1)

    errors = sum(f.errors for figures in results.values() for f, _ping in figures.values())
    parts = []
    for label, figures in results.items():
        parts += [f"{name} [{label}] {f.requests_per_second:,.0f} req/s "
                  f"{f.requests_per_second / ping.requests_per_second:.2f}x ping p50 {f.p50_ms:.1f} ms "
                  f"CPU {f.cpu_ms:.2f} ms/req {ping.cpu_ms / f.cpu_ms:.2f}x ping's"
                  for name, (f, ping) in figures.items()]
    print(f"SUMMARY {duration} s each, wrk {CONNECTIONS} connections, gunicorn 2 sync workers, SQLite: "
          + "; ".join(parts) + f"; errors {errors}")


def report(name: str, figures: Figures, ping: Figures) -> None:
    ratio = figures.requests_per_second / ping.requests_per_second
    errors = f"  ERRORS: {figures.errors}" if figures.errors else ""
    print(f"  {name:<46}{figures.requests_per_second:>7,.0f} req/s  p50 {figures.p50_ms:>7.2f} ms  "
          f"p99 {figures.p99_ms:>7.2f} ms  {ratio:>5.2f}x ping  CPU {figures.cpu_ms:>6.2f} ms/req "
          f"{ping.cpu_ms / figures.cpu_ms:>5.2f}x ping's{errors}", flush=True)


def measure(base_url: str, server_pid: int, endpoint: Endpoint, token: str | None, duration: int,
            units: list[tuple[int, int]], connections: int = CONNECTIONS) -> Figures:
    script = WRK_SCRIPT % {
        "method": lua(endpoint.method), "body": lua(endpoint.body),
        "authorization": lua(f"Bearer {token}" if token else ""),
        "pairs": "{" + ", ".join(f"{{{customer}, {unit}}}" for customer, unit in units) + "}"}
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as file:
        file.write(script)
        file.flush()
        url = base_url + endpoint.path
        wrk = ["wrk", "--threads", "1", "--connections", str(connections), "--script", file.name]
        subprocess.run([*wrk, "--duration", "1s", url], check=True, capture_output=True)  # warm-up
        cpu_before = cpu_seconds(server_pid)
        output = subprocess.run([*wrk, "--duration", f"{duration}s", url], check=True, capture_output=True,
                                text=True).stdout
        cpu = cpu_seconds(server_pid) - cpu_before
    result = json.loads(next(line for line in output.splitlines() if line.startswith("{")))
    return Figures(requests_per_second=result["requests"] / (result["duration_us"] / 1e6),
                   p50_ms=result["p50_us"] / 1000, p99_ms=result["p99_us"] / 1000, errors=result["errors"],
                   cpu_ms=cpu * 1000 / max(result["requests"], 1))


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of process `pid` and its children (gunicorn's workers), from /proc."""
    def times(stat: str) -> tuple[int, float]:
        fields = stat[stat.rindex(")") + 2:].split()  # after "pid (command) "
        return int(fields[1]), (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    total = 0.0
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent, seconds = times(stat_file.read_text())
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
        if parent == pid or stat_file.parent.name == str(pid):
            total += seconds
    return total


def lua(value: str | None) -> str:
    return "nil" if value is None else json.dumps(value)  # a JSON string is a valid Lua string literal here


def sign_in(base_url: str, username: str, password: str) -> str:
    request = urllib.request.Request(f"{base_url}/api/v1/auth/token", method="POST",
                                     data=json.dumps({"username": username, "password": password}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)["access_token"]


def demo_ids(database: Path) -> dict[str, object]:
    """What the demo data holds: a dispatched job (lowest id with a crew), its request, a request still registered,
    the job's lead technician's username, and the customers' units (for intake bodies)."""
    with sqlite3.connect(database) as connection:
        job, request = connection.execute("SELECT id, service_request_id FROM jobs ORDER BY id LIMIT 1").fetchone()
        (registered,) = connection.execute(
            "SELECT id FROM service_requests WHERE status = 'registered' ORDER BY id LIMIT 1").fetchone()
        (technician,) = connection.execute(
            "SELECT users.username FROM job_technicians JOIN technicians ON technicians.id = technician_id "
            "JOIN users ON users.id = technicians.user_id WHERE job_id = ? AND is_lead", (job,)).fetchone()
        units = connection.execute("SELECT customer_id, id FROM units ORDER BY id").fetchall()
    return {"job": job, "request": request, "registered": registered, "technician": technician, "units": units}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_up(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


if __name__ == "__main__":
    main()
