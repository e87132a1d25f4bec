"""Test harness. The suite runs against ONSITE_TEST_DATABASE_URL when set (PostgreSQL in CI), else a SQLite
file. The schema is built once per run by the Alembic migrations, exactly as in production; each test starts
from empty tables."""

from __future__ import annotations

import itertools
import os
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import make_url, text
from sqlalchemy.orm import Session

from backend import migrate
from backend.accounts.models import User
from backend.accounts.service import create_user
from backend.app import create_app
from backend.clock import ManualClock
from backend.config import Settings
from backend.db import make_engine
from backend.models import Base

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
PASSWORD = "correct-horse-battery"
_usernames = itertools.count(1)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory, testrun_uid: str) -> Iterator[str]:
    server_url = os.environ.get("ONSITE_TEST_DATABASE_URL")
    if not server_url:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        migrate.upgrade(url)
        yield url
        return
    # Each xdist worker of each run gets a fresh database of its own, dropped afterwards.
    server = make_url(Settings(database_url=server_url).database_url)
    name = f"onsite_test_{testrun_uid[:10]}_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    admin = make_engine(server.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = server.set(database=name).render_as_string(hide_password=False)
    migrate.upgrade(url)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(autouse=True)
def no_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test asks a DNS server (webhook URLs are resolved, also the fuzz's made-up ones): numeric addresses
    resolve, names do not. tests/test_webhook_ssrf.py answers the names it needs itself."""
    resolve = socket.getaddrinfo

    def numeric_only(host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0,  # noqa: A002
                     flags: int = 0) -> Any:
        return resolve(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)

    monkeypatch.setattr(socket, "getaddrinfo", numeric_only)


@pytest.fixture
def is_postgres(database_url: str) -> bool:
    return database_url.startswith("postgresql")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(env="testing", database_url=database_url, instance_path=tmp_path / "instance")


@pytest.fixture
def app(settings: Settings, clock: ManualClock) -> Iterator[Flask]:
    app = create_app(settings, clock=clock)
    _empty_tables(app)
    yield app
    app.extensions["onsite"].engine.dispose()


def _empty_tables(app: Flask) -> None:
    engine = app.extensions["onsite"].engine
    tables = list(reversed(Base.metadata.sorted_tables))
    with engine.begin() as conn:
        # DELETE, not TRUNCATE: on a few rows per table it is far cheaper than PostgreSQL's TRUNCATE of ~60 tables.
        for table in tables:
            conn.execute(table.delete())
        if engine.dialect.name == "postgresql":
            # Ids start at 1 again in every test, as on SQLite (where an empty table's rowids restart by themselves).
            sequences = conn.scalars(text("SELECT sequence_name FROM information_schema.sequences")).all()
            for sequence in sequences:
                conn.execute(text(f'ALTER SEQUENCE "{sequence}" RESTART'))


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    """A session for arranging and inspecting data directly, bypassing the API. It does not hold SQLite's
    write lock while idle; call session.rollback() to see what the API committed since its last query."""
    session = app.extensions["onsite"].new_session()
    yield session
    session.close()


class Api:
    """Calls the API as a given user; keeps tests about behaviour, not about header plumbing."""

    def __init__(self, client: FlaskClient, token: str | None = None) -> None:
        self.client, self.token = client, token

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return headers | (extra or {})

    def request(self, method: str, url: str, *, json: Any = None, headers: dict[str, str] | None = None,
                **kwargs: Any) -> Any:
        return self.client.open(url, method=method, json=json, headers=self.headers(headers), **kwargs)

    def get(self, url: str, **kw: Any) -> Any:
        return self.request("GET", url, **kw)

    def post(self, url: str, json: Any = None, **kw: Any) -> Any:
        return self.request("POST", url, json=json, **kw)

    def put(self, url: str, json: Any = None, **kw: Any) -> Any:
        return self.request("PUT", url, json=json, **kw)

    def patch(self, url: str, json: Any = None, **kw: Any) -> Any:
        return self.request("PATCH", url, json=json, **kw)

    def delete(self, url: str, **kw: Any) -> Any:
        return self.request("DELETE", url, **kw)


@pytest.fixture
def make_user(app: Flask):  # type: ignore[no-untyped-def]
    def make(*roles: str, username: str | None = None, **details: Any) -> User:
        session = app.extensions["onsite"].new_session(writer=True)
        try:
            user = create_user(session, username=username or f"user{next(_usernames)}", password=PASSWORD,
                               roles=list(roles),
                               min_password_length=app.extensions["onsite"].settings.password_min_length,
                               **details)
            session.commit()
            return user
        finally:
            session.close()

    return make


@pytest.fixture
def login(client: FlaskClient):  # type: ignore[no-untyped-def]
    def login(user: User) -> Api:
        response = client.post("/api/v1/auth/token", json={"username": user.username, "password": PASSWORD})
        assert response.status_code == 200, response.get_json()
        return Api(client, response.get_json()["access_token"])

    return login


@pytest.fixture
def as_role(make_user, login):  # type: ignore[no-untyped-def]
    """as_role("dispatcher") -> an Api signed in as a fresh user holding that role."""

    def as_role(*roles: str) -> Api:
        return login(make_user(*roles))

    return as_role


@pytest.fixture
def anonymous(client: FlaskClient) -> Api:
    return Api(client)
