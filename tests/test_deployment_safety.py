"""Deployment safety (issue 10): what `onsite serve` refuses, the secret's strength, the headers every response
carries, the servers' banners and limits, who may read the files Onsite creates, and the client address behind a
proxy."""

from __future__ import annotations

import http.client
import os
import re
import secrets
import socket
import stat
import string
import subprocess
import sys
import time
from base64 import b64encode
from collections.abc import Iterator
from contextlib import contextmanager
from hashlib import sha256
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask, request
from sqlalchemy import func, select, text

from backend.app import create_app
from backend.cli import cli
from backend.config import DEFAULT_SECRET_KEY, ConfigurationError, Settings
from backend.media.store import FileMediaStore
from backend.stations.models import Station

STRONG_SECRET = secrets.token_urlsafe(48)


def _invoke(*args: str, **env: str | None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args), env={"ONSITE_ENV": None, "ONSITE_SECRET_KEY": None, **env})


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    return {"ONSITE_INSTANCE_PATH": str(tmp_path / "instance"),
            "ONSITE_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}"}


@pytest.fixture
def servers_started(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, object]]:
    """Records the servers `onsite serve` would start, instead of starting them."""
    started: list[tuple[str, object]] = []
    monkeypatch.setattr("backend.cli._serve_gunicorn",
                        lambda settings, host, port, workers, **_: started.append(("gunicorn", settings)))
    monkeypatch.setattr(Flask, "run", lambda app, host, **_: started.append(("werkzeug", host)))
    return started


# --- Must fix 1: `serve --production` means production; nothing networked runs on the default secret -----------

@pytest.mark.parametrize("onsite_env", [None, "development", "testing"])
def test_serve_production_uses_production_settings_and_refuses_the_default_secret(cli_env, servers_started,
                                                                                  onsite_env):
    result = _invoke("serve", "--production", **cli_env, ONSITE_ENV=onsite_env)
    assert result.exit_code != 0
    assert "refusing to start in production with the default ONSITE_SECRET_KEY" in result.output
    assert servers_started == []


def test_serve_production_with_a_strong_secret_runs_gunicorn_in_production(cli_env, servers_started):
    result = _invoke("serve", "--production", **cli_env, ONSITE_ENV="development", ONSITE_SECRET_KEY=STRONG_SECRET)
    assert result.exit_code == 0, result.output
    [(server, settings)] = servers_started
    assert server == "gunicorn" and settings.env == "production"  # type: ignore[attr-defined]


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "10.0.0.5", "onsite.example.com", ""])
@pytest.mark.parametrize("production", [False, True])
def test_no_mode_serves_beyond_loopback_with_the_default_secret(cli_env, servers_started, host, production):
    result = _invoke("serve", "--host", host, *(["--production"] if production else []), "--no-scheduler",
                     **cli_env)
    assert result.exit_code != 0
    assert "default ONSITE_SECRET_KEY" in result.output
    assert servers_started == []


def test_the_development_server_beyond_loopback_needs_a_secret_nobody_can_guess(cli_env, servers_started):
    refused = _invoke("serve", "--host", "0.0.0.0", "--no-scheduler", **cli_env, ONSITE_SECRET_KEY="a" * 40)
    assert refused.exit_code != 0 and "refusing to serve on 0.0.0.0" in refused.output
    assert "too easy to guess" in refused.output and servers_started == []

    allowed = _invoke("serve", "--host", "0.0.0.0", "--no-scheduler", **cli_env, ONSITE_SECRET_KEY=STRONG_SECRET)
    assert allowed.exit_code == 0, allowed.output
    assert servers_started == [("werkzeug", "0.0.0.0")]


@pytest.mark.parametrize("host", ["127.0.0.1", "127.1.2.3", "::1", "localhost"])
def test_the_development_server_on_loopback_keeps_the_development_secret(cli_env, servers_started, host):
    result = _invoke("serve", "--host", host, "--no-scheduler", **cli_env)
    assert result.exit_code == 0, result.output
    assert servers_started == [("werkzeug", host)]


def test_demo_data_refuses_to_run_in_production(app, session, database_url, tmp_path):
    result = _invoke("demo-data", ONSITE_ENV="production", ONSITE_SECRET_KEY=STRONG_SECRET,
                     ONSITE_DATABASE_URL=database_url, ONSITE_INSTANCE_PATH=str(tmp_path / "instance"))
    assert result.exit_code != 0
    assert "refusing to load demo data in production" in result.output
    assert "demo-pass" not in result.output
    assert session.scalar(select(func.count()).select_from(Station)) == 0


# --- Must fix 1 / Also: production refuses a guessable secret ---------------------------------------------------

@pytest.mark.parametrize("secret", [
    "a" * 32, "x" * 40, "aaaabbbb" * 8, "ab" * 32, "Xy7!" * 10, "0123456789" * 4, string.ascii_lowercase * 2,
    string.digits + string.ascii_letters, "Tr0ub4dor&3" * 4 + "Tr0", "a" * 63 + "Q",
])
def test_production_refuses_secrets_with_too_little_entropy(tmp_path, secret):
    with pytest.raises(ConfigurationError, match="ONSITE_SECRET_KEY that is too easy to guess"):
        Settings(env="production", secret_key=secret, instance_path=tmp_path)
    # Outside production (tests, a developer's loopback server) a made-up key is still fine.
    assert Settings(env="testing", secret_key=secret, instance_path=tmp_path).secret_key == secret


def test_production_accepts_the_secrets_the_readme_suggests(tmp_path):
    for _ in range(500):  # random keys: no unlucky draw may be refused
        Settings(env="production", secret_key=secrets.token_urlsafe(48), instance_path=tmp_path)
        Settings(env="production", secret_key=secrets.token_hex(32), instance_path=tmp_path)


def test_tests_and_development_keep_the_default_secret(tmp_path):
    assert Settings(env="testing", instance_path=tmp_path).secret_key == DEFAULT_SECRET_KEY
    assert Settings(env="development", instance_path=tmp_path).secret_key == DEFAULT_SECRET_KEY


# --- Also: security headers ------------------------------------------------------------------------------------

def test_docs_page_allows_only_its_own_scripts_and_cannot_be_framed(client):
    response = client.get("/docs")
    assert response.status_code == 200
    policy = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy and response.headers["X-Frame-Options"] == "DENY"
    [script_src] = [d.split()[1:] for d in policy.split(";") if d.split()[0] == "script-src"]
    inline = re.findall(r"<script>(.*?)</script>", response.get_data(as_text=True), re.DOTALL)
    assert inline, "the Swagger UI page is expected to start itself with an inline script"
    assert sorted(script_src) == sorted(["'self'", *(f"'sha256-{b64encode(sha256(s.encode()).digest()).decode()}'"
                                                      for s in inline)])
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
    assert "default-src 'none'" in policy


def test_swagger_static_files_carry_the_docs_policy(client):
    response = client.get("/docs/static/swagger-ui-bundle.js")
    assert response.status_code == 200
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("path", ["/api/v1/health", "/openapi.json", "/api/v1/stations", "/api/v1/nothing-here",
                                  "/docs", "/docs/static/swagger-ui.css"])
def test_every_response_forbids_sniffing_and_leaks_no_referrer(client, path):
    response = client.get(path)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_api_responses_get_no_page_policy_and_a_page_keeps_its_own(app, client):
    @app.get("/own-policy")
    def own_policy():  # type: ignore[no-untyped-def]
        return "ok", 200, {"Content-Security-Policy": "default-src 'self'", "Referrer-Policy": "same-origin"}

    own = client.get("/own-policy")
    assert own.headers["Content-Security-Policy"] == "default-src 'self'"
    assert own.headers["Referrer-Policy"] == "same-origin"
    assert "Content-Security-Policy" not in client.get("/api/v1/health").headers


# --- Also: no server banner, and a stalled client does not hold a worker for long --------------------------------

def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def _onsite_serving(tmp_path: Path, *args: str, **env: str) -> Iterator[int]:
    """A real `onsite serve` on a loopback port, in its own process."""
    port = _free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("ONSITE_")}
    environ.update({"ONSITE_INSTANCE_PATH": str(tmp_path / "instance"), "ONSITE_DATABASE_URL": "sqlite://"} | env)
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen([sys.executable, "-c", "from backend.cli import cli; cli()", "serve", "--host",
                                "127.0.0.1", "--port", str(port), "--no-scheduler", *args],
                               env=environ, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _get(port: int, path: str, timeout: float = 30) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    connection.request("GET", path)
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def test_the_development_server_sends_no_version_banner(tmp_path):
    with _onsite_serving(tmp_path) as port:
        response = _get(port, "/api/v1/health")
    assert response.status == 200
    assert response.getheader("Server") is None
    assert response.getheader("X-Content-Type-Options") == "nosniff"


def test_gunicorn_sends_no_banner_and_frees_a_worker_a_stalled_client_holds(tmp_path):
    with _onsite_serving(tmp_path, "--production", "--workers", "1", ONSITE_SECRET_KEY=STRONG_SECRET,
                         ONSITE_REQUEST_TIMEOUT_SECONDS="8") as port:
        response = _get(port, "/api/v1/health")
        assert response.status == 200
        assert response.getheader("Server") is None
        assert response.getheader("X-Content-Type-Options") == "nosniff"

        # A client that promises a body and never sends it holds the only sync worker ...
        stalled = socket.create_connection(("127.0.0.1", port))
        stalled.sendall(b"POST /api/v1/auth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        b"Content-Length: 1000\r\n\r\n{")
        try:
            # ... only until the request timeout (8 s) restarts it, not gunicorn's default 30 s.
            started = time.monotonic()
            assert _get(port, "/api/v1/health", timeout=25).status == 200
            assert time.monotonic() - started < 25
        finally:
            stalled.close()


# --- Also: files are readable by their owner only -----------------------------------------------------------------

@pytest.fixture
def loose_umask() -> Iterator[None]:
    previous = os.umask(0o022)  # the usual default, which would leave files world-readable
    yield
    os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_instance_folder_and_sqlite_database_are_private(tmp_path, loose_umask):
    instance = tmp_path / "instance"
    app = create_app(Settings(env="testing", instance_path=instance,
                              database_url=f"sqlite:///{instance / 'onsite.db'}"))
    engine = app.extensions["onsite"].engine
    with engine.connect() as connection:  # WAL mode: the -wal and -shm files exist while a connection is open
        connection.execute(text("CREATE TABLE probe (x INTEGER)"))
        connection.execute(text("INSERT INTO probe VALUES (1)"))
        connection.commit()
        assert _mode(instance) == 0o700
        for name in ("onsite.db", "onsite.db-wal", "onsite.db-shm"):
            assert _mode(instance / name) == 0o600, name
    engine.dispose()


def test_db_upgrade_creates_a_private_instance_folder_and_database(tmp_path, loose_umask):
    instance = tmp_path / "fresh" / "instance"
    result = _invoke("db", "upgrade", ONSITE_INSTANCE_PATH=str(instance), ONSITE_DATABASE_URL=None)
    assert result.exit_code == 0, result.output
    assert _mode(instance) == 0o700
    assert _mode(instance / "onsite.db") == 0o600


def test_media_folders_and_files_are_private(tmp_path, loose_umask):
    root = tmp_path / "instance" / "media"
    store = FileMediaStore(root)
    digest = store.put(b"a customer's signature")
    stored = root / digest[:2] / digest[2:4] / digest
    assert store.get(digest) == b"a customer's signature"
    for folder in (root, stored.parent.parent, stored.parent):
        assert _mode(folder) == 0o700, folder
    assert _mode(stored) == 0o600


# --- Slow clients / brute force: the client address behind a reverse proxy ---------------------------------------

def _client_address_app(tmp_path: Path, trusted_proxies: int) -> Flask:
    app = create_app(Settings(env="testing", instance_path=tmp_path / "instance", database_url="sqlite://",
                              trusted_proxies=trusted_proxies))
    app.add_url_rule("/client-address", "client_address", lambda: request.remote_addr or "")
    return app


def test_x_forwarded_for_is_ignored_unless_a_proxy_is_trusted(tmp_path):
    client = _client_address_app(tmp_path, 0).test_client()
    forged = client.get("/client-address", headers={"X-Forwarded-For": "203.0.113.9"},
                        environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert forged.get_data(as_text=True) == "198.51.100.7"


def test_a_trusted_proxy_names_the_client_and_a_client_cannot_forge_past_it(tmp_path):
    client = _client_address_app(tmp_path, 1).test_client()
    # The client sent its own X-Forwarded-For; the proxy appended the address it saw.
    response = client.get("/client-address", headers={"X-Forwarded-For": "203.0.113.9, 198.51.100.7"},
                          environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert response.get_data(as_text=True) == "198.51.100.7"


def test_trusted_proxies_cannot_be_negative(tmp_path):
    with pytest.raises(ConfigurationError, match="ONSITE_TRUSTED_PROXIES"):
        Settings(instance_path=tmp_path, trusted_proxies=-1)
