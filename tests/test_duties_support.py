"""Arrangements shared by the duty, notification and webhook tests (no tests in here)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from geopy.distance import geodesic
from werkzeug.security import generate_password_hash

from backend.accounts import service as accounts_service
from backend.config import Settings
from backend.duties.registry import Summary, registered, run_duty
from tests import factories
from tests.conftest import Api

ZHENGZHOU = (34.7466, 113.6254)
GUANGZHOU = (23.1291, 113.2644)


@pytest.fixture(autouse=True)
def quick_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    """Many sign-ins per test; scrypt's deliberate slowness is not what is under test here."""
    monkeypatch.setattr(accounts_service, "generate_password_hash",
                        partial(generate_password_hash, method="pbkdf2:sha256:1"))


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Sign-ins outlive the days the clock is moved by; webhook retries are quick to count; webhooks may reach the
    test receiver, which listens on loopback (refused unless allowed, see tests/test_webhook_ssrf.py)."""
    return Settings(env="testing", database_url=database_url, instance_path=tmp_path / "instance",
                    access_token_minutes=400 * 24 * 60, webhook_max_attempts=3, webhook_retry_base_seconds=60,
                    webhook_timeout_seconds=2, webhook_allowed_networks="127.0.0.1/32")


@dataclass
class Office:
    """Two stations far apart (Zhengzhou, Guangzhou), a customer with a unit, and an agent to register requests."""

    app: Any
    admin: Api
    agent: Api
    zhengzhou: dict[str, Any]
    guangzhou: dict[str, Any]
    unit: dict[str, Any]
    make_user: Any
    login: Any

    def register(self, km: float = 50.0, **overrides: Any) -> dict[str, Any]:
        """A request whose site is `km` east of Zhengzhou: within 100 km it gets one on-site deadline, 24 h after
        the report (DSP-1)."""
        site = geodesic(kilometers=km).destination(ZHENGZHOU, 90.0)
        body = {"customer_id": self.unit["customer_id"], "unit_id": self.unit["id"], "site_address": "Depot 3",
                "site_latitude": site.latitude, "site_longitude": site.longitude,
                "fault_description": "Rear door will not close", "fault_category": "body", "channel": "phone",
                "complaint_class": "quality", "supplier_needed": False} | overrides
        response = self.agent.post("/api/v1/service-requests", json=body)
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    def person(self, *roles: str, station: dict[str, Any] | None = None) -> Api:
        return self.login(self.make_user(*roles, station_id=station["id"] if station else None))

    def run(self, name: str) -> Summary:
        return run_duty(self.app.extensions["onsite"], registered()[name])


@pytest.fixture
def office(app, as_role, make_user, login) -> Office:  # type: ignore[no-untyped-def]
    admin = as_role("admin")
    zhengzhou = factories.station(admin, latitude=ZHENGZHOU[0], longitude=ZHENGZHOU[1])
    guangzhou = factories.station(admin, latitude=GUANGZHOU[0], longitude=GUANGZHOU[1])
    unit = factories.unit(admin, factories.customer(admin)["id"])
    return Office(app=app, admin=admin, agent=as_role("agent"), zhengzhou=zhengzhou, guangzhou=guangzhou, unit=unit,
                  make_user=make_user, login=login)


def inbox(api: Api, **query: Any) -> list[dict[str, Any]]:
    response = api.get("/api/v1/me/notifications", query_string=query)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1: records every request and answers with the statuses queued (200 after)."""

    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    delay_seconds: float = 0.0


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802  (http.server's naming)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.requests.append({"path": self.path, "headers": dict(self.headers), "body": body,
                                   "json": json.loads(body)})
            threading.Event().wait(state.delay_seconds)
            status = state.statuses.pop(0) if state.statuses else 200
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", "http://127.0.0.1:9/elsewhere")
            reply = b"" if status < 300 else f"status {status} from the receiver".encode()
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            with suppress(ConnectionError):  # a sender that timed out has hung up
                self.wfile.write(reply)

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_port}/hooks/onsite"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
