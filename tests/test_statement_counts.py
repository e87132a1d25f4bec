"""SQL statements per request on the hot paths (issue 13): each response is loaded in one or two statements after
the signed-in user, whatever the number of rows, crew members or deadlines it shows, so a lazy load per row cannot
creep back unnoticed. Transaction control (SQLite's explicit BEGIN, savepoints, COMMIT) is not counted: PostgreSQL
begins implicitly, and the request's own counts must be the same on both databases (the KPI facts lock their
sources on PostgreSQL only).

Work another part owns runs inside some of these requests: the candidate search (backend.dispatch.candidates), the
technician's day route in the sync (backend.planning.routes) and the KPI facts of a write (backend.kpis.facts). Their
statements are counted apart from the request's own, so each count says whose it is.

If a change adds a statement on purpose, update the count and the comment that says what each statement is."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event

from backend.dispatch import service as dispatch_service
from backend.kpis import facts as kpi_facts
from backend.planning.routes import service as routes
from tests import factories
from tests.test_dispatch_support import Desk, desk, quick_passwords, settings  # noqa: F401

URL = "/api/v1/service-requests"
BEIJING = (39.8585, 116.2870)
_TRANSACTION_CONTROL = re.compile(r"\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)\b", re.IGNORECASE)


@contextmanager
def counted(app: Flask) -> Iterator[list[str]]:
    """The statements sent to the database while the block runs."""
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not _TRANSACTION_CONTROL.match(statement):
            statements.append(statement)

    engine = app.extensions["onsite"].engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def counted_apart(app: Flask, monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[str]:
    """The statements `module.name` sends, from now on, however it is reached."""
    inside: list[str] = []
    function = getattr(module, name)

    def counting(*args: Any, **kwargs: Any) -> Any:
        with counted(app) as statements:
            try:
                return function(*args, **kwargs)
            finally:
                inside.extend(statements)

    monkeypatch.setattr(module, name, counting)
    return inside


def listing(statements: list[str]) -> str:
    return "statements:\n" + "\n".join(" ".join(statement.split())[:160] for statement in statements)


def requested(app: Flask, call: Callable[[], Any], status: int = 200) -> tuple[Any, list[str]]:
    with counted(app) as statements:
        response = call()
    assert response.status_code == status, response.get_json()
    return response, statements


@pytest.fixture
def floor(desk: Desk) -> dict[str, Any]:
    """Requests at two stations (a chassis/engine one with two deadlines), one of them dispatched to a crew of two,
    and a dispatcher whose scope (SCP-1) is both stations: enough rows that a statement per row or per member would
    show."""
    beijing = factories.station(desk.admin, code="BJ", latitude=BEIJING[0], longitude=BEIJING[1])
    crew = [desk.technician(position=(34.75, 113.70), name=f"Crew member {n}") for n in (1, 2)]
    dispatched = desk.register(50)
    desk.register(30, fault_category="chassis_engine")
    desk.register(20, origin=BEIJING)
    desk.register(40, origin=BEIJING, fault_category="chassis_engine")
    job = desk.dispatch(dispatched["id"], technician_ids=[t["id"] for t in crew], lead_id=crew[0]["id"])
    assert job.status_code == 201, job.get_json()
    scoped = desk.make_user("dispatcher")
    scoping = desk.admin.patch(f"/api/v1/users/{scoped.id}", json={"station_ids": [desk.station["id"], beijing["id"]]},
                               headers={"If-Match": desk.admin.get(f"/api/v1/users/{scoped.id}").headers["ETag"]})
    assert scoping.status_code == 200, scoping.get_json()
    return {"job": job.get_json(), "request": dispatched, "crew": crew, "scoped": desk.login(scoped),
            "registered": desk.register(60)}


def test_a_job_is_read_in_one_statement_after_the_user(app: Flask, desk: Desk, floor: dict[str, Any]) -> None:
    job = floor["job"]
    for reader in (floor["scoped"], desk.as_technician(floor["crew"][1])):
        response, statements = requested(app, lambda: reader.get(f"/api/v1/jobs/{job['id']}"))
        # 1. the signed-in user with roles, stations and technician record (active, session, scope, own jobs);
        # 2. the job with its request, unit, customer and crew with their names joined.
        assert len(statements) == 2, listing(statements)
        shown = response.get_json()
        assert [m["name"] for m in shown["crew"]] == ["Crew member 1", "Crew member 2"]
        assert shown["customer_name"] == desk.customer["name"] and shown["unit_model"] == desk.unit["model"]
        assert response.headers["ETag"] == f'"{shown["version"]}"'


def test_a_service_request_is_read_in_one_statement_after_the_user(app: Flask, floor: dict[str, Any]) -> None:
    request = floor["request"]
    response, statements = requested(app, lambda: floor["scoped"].get(f"{URL}/{request['id']}"))
    # 1. the signed-in user; 2. the request with its station and deadlines joined.
    assert len(statements) == 2, listing(statements)
    shown = response.get_json()
    assert shown["nearest_station"]["code"] == "ZZ" and [d["kind"] for d in shown["deadlines"]] == ["on_site"]


def test_the_board_is_read_in_three_statements_after_the_user(app: Flask, desk: Desk, floor: dict[str, Any]) -> None:
    response, statements = requested(app, lambda: floor["scoped"].get(URL, query_string={"page_size": 50}))
    # 1. the signed-in user; 2. the count for X-Pagination; 3. the page with each request's station joined;
    # 4. the page's deadlines, all in one.
    assert len(statements) == 4, listing(statements)
    shown = response.get_json()
    assert len(shown) == 5 and {r["nearest_station"]["code"] for r in shown} == {"ZZ", "BJ"}
    assert sorted(len(r["deadlines"]) for r in shown) == [1, 1, 1, 2, 2]


def test_candidates_cost_one_statement_beside_the_search(app: Flask, desk: Desk, floor: dict[str, Any],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The search's own statements belong to backend.dispatch.candidates (its index has its own tests and
    benchmark)."""
    searching = counted_apart(app, monkeypatch, dispatch_service, "find_candidates")
    registered = floor["registered"]
    response, statements = requested(app, lambda: desk.dispatcher.get(f"{URL}/{registered['id']}/candidates"))
    # 1. the signed-in user; 2. the request with its deadlines (the on-site deadline each candidate is measured
    # against); then the search.
    assert len(statements) - len(searching) == 2, listing(statements)
    assert {c["name"] for c in response.get_json()["candidates"]} == {"Crew member 1", "Crew member 2"}


def test_a_technicians_sync_is_read_in_two_statements_after_the_user(app: Flask, desk: Desk, floor: dict[str, Any],
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    technician = desk.as_technician(floor["crew"][0])
    routing = counted_apart(app, monkeypatch, routes, "day_route")
    second = desk.register(70)
    assert desk.dispatch(second["id"], technician_ids=[floor["crew"][0]["id"]]).status_code == 201
    response, statements = requested(app, lambda: technician.get("/api/v1/me/jobs"))
    # 1. the signed-in user with their technician record; 2. their jobs with request, unit and customer joined;
    # 3. the crews of all those jobs with their names.
    assert len(statements) - len(routing) == 3, listing(statements)
    assert len(response.get_json()["jobs"]) == 2
    # The day route beside them: the technician's home station; their jobs of the day; the jobs' crews (ids only) and
    # their requests' deadlines. Not the crew accounts' roles and stations or the technicians' skills.
    assert len(routing) == 4, listing(routing)


def test_intake_statements(app: Flask, desk: Desk, floor: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    body = desk.intake_body(45)
    facts = counted_apart(app, monkeypatch, kpi_facts, "refresh")
    response, statements = requested(app, lambda: desk.agent.post(URL, json=body), status=201)
    # 1. the signed-in user; 2. the customer; 3. the unit; 4. the SLA policy in force; 5. the active stations in a
    # box around the site (one box suffices here); 6. the year's request number (UPDATE ... RETURNING);
    # 7. the request; 8. its on-site deadline (SQLite inserts several deadlines one by one, PostgreSQL in one
    # statement, so this one has a single deadline); 9. the audit entries of both, in one. The answer's station is
    # the one the nearest-station search found, not read again.
    assert len(statements) - len(facts) == 9, listing(statements)
    assert response.get_json()["nearest_station"]["code"] == "ZZ"
    # The new request's KPI facts, derived in the same transaction: the jobs its facts could feed (the unit's earlier
    # job: a new request ends its first-time fix); the first-time-fix window the job rollups count with; for each of
    # the four fact tables (jobs, ratings, requests, deadlines) a DELETE ... RETURNING and an INSERT ... SELECT ...
    # RETURNING; then one upsert into the rollups of each table whose rollups moved (the new request and its
    # deadline; the earlier job's facts came out the same). On PostgreSQL one more comes first: the requests of
    # those jobs and of the new request locked (FOR UPDATE), so that two transactions never derive the same facts at
    # once.
    locks = 1 if app.extensions["onsite"].engine.dialect.name == "postgresql" else 0
    assert len(facts) == 12 + locks, listing(facts)
