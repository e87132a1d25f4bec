"""Dispatch plans in the console (PLN-1): a dispatcher plans the open requests, reads each assignment's reason
against one-by-one dispatch, leaves some out and creates the jobs in one go; refusals come back beside the field or
as the form's message and write nothing; other stations' plans stay out of sight (SCP-1)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.accounts.models import User
from backend.dispatch.models import Job
from backend.planning.plans.models import DispatchPlan
from tests import factories
from tests.conftest import PASSWORD
from tests.console_support import Console, console_as
from tests.test_dispatch_support import ZHENGZHOU, Desk, desk, quick_passwords, settings  # noqa: F401
from tests.test_planning_plans import _greedy_trap


def _plan_id(response: Any) -> int:
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    found = re.fullmatch(r"/plans/(\d+)", response.headers["Location"])
    assert found is not None, response.headers["Location"]
    return int(found.group(1))


def _version(page: str) -> str:
    found = re.search(r'name="version" value="(\d+)"', page)
    assert found is not None
    return found.group(1)


def _row(page: str, request_id: int) -> str:
    row = page[page.index(f'data-request="{request_id}"'):]
    return row[:row.index("</tr>")]


def _jobs(session: Session) -> int:
    session.rollback()  # a fresh snapshot: what the app has committed by now
    return session.scalar(select(func.count()).select_from(Job)) or 0


def test_pln1_a_dispatcher_plans_leaves_one_out_and_creates_the_jobs(
        client: FlaskClient, make_user: Callable[..., User], desk: Desk, session: Session) -> None:  # noqa: F811
    trap = _greedy_trap(desk)
    console = console_as(client, make_user("dispatcher"))
    assert 'id="new-plan"' in console.text("/plans")
    plan_id = _plan_id(console.post("/plans", {"station": "", "tier": "", "max_jobs_per_technician": "1"}))
    page = console.text(f"/plans/{plan_id}")
    # Jointly, Y takes A and X takes B, both in time; one by one, A would take X (the trap, PLN-1).
    row_a = _row(page, trap["a"]["id"])
    assert "Yang Li" in row_a and "Xu Ming" in row_a and "in time" in row_a
    compared = page[page.index('data-testid="objective"'):]
    assert re.search(r"Missed deadlines</th><td>0</td><td>1</td>", compared)
    assert "Proposed" in page and "Create the jobs" in page

    before = _jobs(session)
    version = _version(page)
    done = console.post(f"/plans/{plan_id}/commit", {"version": version, "drop": str(trap["b"]["id"])})
    assert done.status_code == 302
    page = console.text(f"/plans/{plan_id}")
    assert "Jobs created: 1. The requests left out stay on the board." in page
    assert re.search(r"<h1>Plan \d+ · Jobs created</h1>", page) and "Create the jobs" not in page
    assert "Left out" in _row(page, trap["b"]["id"])
    assert _jobs(session) == before + 1
    (job,) = session.scalars(select(Job).where(Job.service_request_id == trap["a"]["id"])).all()
    assert f"/jobs/{job.id}" in page
    assert desk.dispatcher.get(f'/api/v1/service-requests/{trap["b"]["id"]}').get_json()["status"] == "registered"
    # Sent twice (a double click, or a second dispatcher on the same page): refused with the reason, nothing more.
    again = console.post(f"/plans/{plan_id}/commit", {"version": version})
    assert again.status_code == 412 and "Someone else changed this" in again.get_data(as_text=True)
    assert _jobs(session) == before + 1
    # The list shows it, its status and its missed deadlines against one by one.
    listed = console.text("/plans")
    row = listed[listed.index(f'data-plan="{plan_id}"'):]
    assert re.search(r"Jobs created</td>.*?<td>0 / 1</td>", row[:row.index("</tr>")], re.S)


def test_refusals_are_shown_beside_the_field_or_as_the_forms_message_and_write_nothing(
        client: FlaskClient, make_user: Callable[..., User], desk: Desk, session: Session) -> None:  # noqa: F811
    console = console_as(client, make_user("dispatcher"))
    nothing = console.post("/plans", {"max_jobs_per_technician": "2"})
    assert nothing.status_code == 409
    assert "there is nothing to plan" in nothing.get_data(as_text=True)
    desk.technician(position=ZHENGZHOU, name="Wang Wei")
    request = desk.register(km=20)
    too_many = console.post("/plans", {"max_jobs_per_technician": "99"})
    assert too_many.status_code == 422
    assert re.search(r'id="plan-max_jobs_per_technician-error" role="alert">Enter a number from 1 to 50\.',
                     too_many.get_data(as_text=True))
    assert session.scalar(select(func.count()).select_from(DispatchPlan)) == 0

    plan_id = _plan_id(console.post("/plans", {}))
    page = console.text(f"/plans/{plan_id}")
    stale = console.post(f"/plans/{plan_id}/commit", {"version": str(int(_version(page)) + 1)})
    assert stale.status_code == 412 and "Someone else changed this" in stale.get_data(as_text=True)
    # Dispatched from its own page meanwhile: the commit names it, and creates nothing.
    assert desk.dispatch(request["id"]).status_code == 201
    jobs = _jobs(session)
    changed = console.post(f"/plans/{plan_id}/commit", {"version": _version(page)})
    assert changed.status_code == 409
    assert f'request {request["number"]} is in_progress now' in changed.get_data(as_text=True)
    assert _jobs(session) == jobs
    assert "Proposed" in console.text(f"/plans/{plan_id}")


def test_supervisors_read_plans_and_other_stations_do_not_see_them(
        client: FlaskClient, make_user: Callable[..., User], desk: Desk) -> None:  # noqa: F811
    desk.technician(position=ZHENGZHOU, name="Wang Wei")
    desk.register(km=20)
    plan_id = _plan_id(console_as(client, make_user("dispatcher")).post("/plans", {}))
    supervisor = _signed_in_again(client, make_user("supervisor").username)
    listed = supervisor.text("/plans")
    assert f'data-plan="{plan_id}"' in listed and 'id="new-plan"' not in listed
    page = supervisor.text(f"/plans/{plan_id}")
    assert "Wang Wei" in page and "Create the jobs" not in page
    assert supervisor.post(f"/plans/{plan_id}/commit", {"version": "1"}).status_code == 403

    agent = _signed_in_again(client, make_user("agent").username)
    assert 'href="/plans"' not in agent.text("/intake")
    assert agent.get("/plans").status_code == 403 and agent.get(f"/plans/{plan_id}").status_code == 403

    other = factories.station(desk.admin, latitude=31.2304, longitude=121.4737)
    scoped = desk.admin.post("/api/v1/users", json={"username": "dispatcher-shanghai", "password": PASSWORD,
                                                    "roles": ["dispatcher"], "station_ids": [other["id"]]})
    assert scoped.status_code == 201, scoped.get_json()
    elsewhere = _signed_in_again(client, "dispatcher-shanghai")
    assert f'data-plan="{plan_id}"' not in elsewhere.text("/plans")
    assert elsewhere.get(f"/plans/{plan_id}").status_code == 404


def _signed_in_again(client: FlaskClient, username: str) -> Console:
    console = Console(client)
    console.post("/sign-out")
    assert console.sign_in(username).status_code == 302
    return console
