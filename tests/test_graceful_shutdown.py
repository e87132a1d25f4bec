"""Graceful shutdown (issue 12 item 8): on SIGTERM a server stops taking connections, lets the requests in flight
finish, and its scheduler hands the lock over at once (no stand-by waits out the lease). Real processes on loopback
ports: the development server, gunicorn, and `onsite scheduler`."""

from __future__ import annotations

import http.client
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from backend.accounts.models import User
from backend.clock import SystemClock
from backend.db import make_engine
from backend.duties.lock import lock_for
from tests.conftest import PASSWORD
from tests.test_deployment_safety import _free_port

STRONG_SECRET = secrets.token_urlsafe(48)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def scheduler_lock_is_free(engine: Engine) -> bool:
    """Whether a stand-by scheduler would take the lock right now (it gives it back at once)."""
    probe = lock_for(engine, SystemClock(), "test-stand-by", timedelta(seconds=60))
    taken = probe.try_acquire()
    probe.release()
    return taken


def _eventually(condition: Callable[[], object], seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


@contextmanager
def onsite_process(tmp_path: Path, database_url: str, *args: str, port: int | None = None,
                   **env: str) -> Iterator[subprocess.Popen[bytes]]:
    """`onsite <args>` in its own process on the test database, its output in tmp_path/onsite.log."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("ONSITE_")}
    environ.update(ONSITE_INSTANCE_PATH=str(tmp_path / "instance"), ONSITE_DATABASE_URL=database_url, **env)
    with (tmp_path / "onsite.log").open("wb") as log:
        process = subprocess.Popen([sys.executable, "-c", "from backend.cli import cli; cli()", *args],
                                   env=environ, stdout=log, stderr=subprocess.STDOUT)
        try:
            if port is not None:
                assert _eventually(lambda: process.poll() is None and _accepts(port), 60), _log(tmp_path)
            yield process
        finally:
            if process.poll() is None:
                process.kill()
            process.wait()


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def _log(tmp_path: Path) -> str:
    return (tmp_path / "onsite.log").read_text(errors="replace")


def _sign_in_slowly_across_sigterm(process: subprocess.Popen[bytes], port: int, user: User
                                   ) -> http.client.HTTPResponse:
    """Sends half a sign-in, then SIGTERM to the server, then the other half; returns the answer."""
    body = json.dumps({"username": user.username, "password": PASSWORD}).encode()
    connection = socket.create_connection(("127.0.0.1", port), timeout=30)
    connection.sendall(b"POST /api/v1/auth/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                       b"Content-Length: %d\r\n\r\n" % len(body) + body[:10])
    time.sleep(1.5)  # the server has the request and is reading its body
    process.send_signal(signal.SIGTERM)
    time.sleep(1.5)
    connection.sendall(body[10:])
    response = http.client.HTTPResponse(connection)
    response.begin()
    response.body = response.read()  # type: ignore[attr-defined]
    connection.close()
    return response


@pytest.mark.parametrize("server", [[], ["--production", "--workers", "1"]], ids=["development", "gunicorn"])
def test_sigterm_lets_the_request_in_flight_finish_and_hands_the_scheduler_lock_over(
        server: list[str], tmp_path: Path, database_url: str, engine: Engine, make_user: Callable[..., User]
) -> None:
    user = make_user("dispatcher")
    port = _free_port()
    with onsite_process(tmp_path, database_url, "serve", "--port", str(port), *server, port=port,
                        ONSITE_SECRET_KEY=STRONG_SECRET, ONSITE_REQUEST_TIMEOUT_SECONDS="20") as process:
        assert _eventually(lambda: not scheduler_lock_is_free(engine)), _log(tmp_path)  # its scheduler leads

        response = _sign_in_slowly_across_sigterm(process, port, user)
        assert response.status == 200, response.body  # type: ignore[attr-defined]
        assert "access_token" in json.loads(response.body)  # type: ignore[attr-defined]
        if not server:  # the development server closed its socket at once (gunicorn's worker holds it to the end)
            assert not _accepts(port)
        assert process.wait(30) == 0, _log(tmp_path)
    assert scheduler_lock_is_free(engine), _log(tmp_path)  # released, not left to run out its 60 s lease
    assert "POST /api/v1/auth/token 200" in _log(tmp_path)


def test_onsite_scheduler_hands_the_lock_over_on_sigterm(tmp_path: Path, database_url: str, engine: Engine,
                                                         make_user: Callable[..., User]) -> None:
    make_user("dispatcher")  # the app fixture behind it empties the tables, the lease row included
    with onsite_process(tmp_path, database_url, "scheduler") as process:
        assert _eventually(lambda: not scheduler_lock_is_free(engine)), _log(tmp_path)
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0, _log(tmp_path)
    assert scheduler_lock_is_free(engine), _log(tmp_path)
    assert "scheduler stopped" in _log(tmp_path)


def test_the_development_server_stops_at_once_when_no_request_is_in_flight(
        tmp_path: Path, database_url: str, make_user: Callable[..., User]) -> None:
    """Requests already answered are not waited for: werkzeug skips closing a response when the client has hung up
    by the time it drains the socket, which once left them counted as in flight until the request timeout."""
    user = make_user("dispatcher")
    port = _free_port()
    with onsite_process(tmp_path, database_url, "serve", "--port", str(port), "--no-scheduler", port=port,
                        ONSITE_REQUEST_TIMEOUT_SECONDS="20") as process:
        body = json.dumps({"username": user.username, "password": PASSWORD})
        for _ in range(40):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            connection.request("POST", "/api/v1/auth/token", body, {"Content-Type": "application/json"})
            assert connection.getresponse().status == 200
            connection.close()
        signalled = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0, _log(tmp_path)
        # The last answer's thread may still be finishing as the signal lands; nothing else is waited for.
        assert time.monotonic() - signalled < 5, _log(tmp_path)
    assert "unfinished" not in _log(tmp_path)


def test_gunicorn_opens_no_control_socket_in_the_users_home(tmp_path: Path, database_url: str) -> None:
    """Newer gunicorn listens on ~/.gunicorn/gunicorn.ctl by default: one path for every server of the user, so a
    second Onsite on the host takes it over and the first one's exit deletes it. Onsite is run by its service
    manager's signals, not through that socket."""
    home = tmp_path / "home"
    home.mkdir()
    port = _free_port()
    with onsite_process(tmp_path, database_url, "serve", "--production", "--workers", "1", "--no-scheduler",
                        "--port", str(port), port=port, ONSITE_SECRET_KEY=STRONG_SECRET, HOME=str(home)) as process:
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0, _log(tmp_path)
    assert "Control socket" not in _log(tmp_path)
    assert not (home / ".gunicorn").exists()
