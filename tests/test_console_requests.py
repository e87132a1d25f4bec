"""The board and the request page through the Flask test client: each reader role sees them, refusals re-render
the form with the message and write nothing (DSP-2, DSP-8), and the board's order and filters."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.accounts.models import User
from backend.clock import ManualClock
from backend.dispatch.models import Communication, Job
from tests.console_support import console_as
from tests.test_dispatch_support import ZHENGZHOU, Desk, desk, quick_passwords, settings  # noqa: F401


@pytest.fixture
def board(desk: Desk, clock: ManualClock) -> dict[str, dict]:  # noqa: F811
    desk.technician(name="Wang Wei")
    desk.technician(name="Li Fang")
    made = {}
    for label, hours_ago, km in (("calm", 2, 20.0), ("soon", 23, 40.0), ("missed", 30, 60.0)):
        made[label] = desk.register(km=km, reported_at=(clock.now() - timedelta(hours=hours_ago)).isoformat())
    made["far"] = desk.register(km=150.0)  # beyond 100 km: reply first (DSP-2)
    return made


def _order(page: str, numbers: list[str]) -> list[str]:
    return sorted(numbers, key=page.index)


@pytest.mark.parametrize("role", ["dispatcher", "agent", "supervisor", "manager", "admin"])
def test_each_reader_sees_the_board_and_a_request(client: FlaskClient, make_user: Callable[..., User],
                                                  board: dict[str, dict], role: str) -> None:
    console = console_as(client, make_user(role))
    assert board["calm"]["number"] in console.text("/board")
    page = console.text(f'/requests/{board["calm"]["id"]}')
    assert board["calm"]["number"] in page and "Deadlines" in page
    assert ("Dispatch the top candidate" in page) == (role == "dispatcher")
    assert ('id="decision"' in page) == (role == "manager")


def test_the_warehouse_gets_a_403_page_for_a_request(client: FlaskClient, make_user: Callable[..., User],
                                                     board: dict[str, dict]) -> None:
    response = console_as(client, make_user("warehouse")).get(f'/requests/{board["calm"]["id"]}')
    assert response.status_code == 403 and "Not available to you" in response.get_data(as_text=True)


def test_the_board_puts_the_most_urgent_first_and_colours_it(client: FlaskClient, make_user: Callable[..., User],
                                                            board: dict[str, dict]) -> None:
    page = console_as(client, make_user("dispatcher")).text("/board")
    numbers = [board[k]["number"] for k in ("missed", "soon", "far", "calm")]
    assert _order(page, numbers) == numbers
    for label, urgency in (("missed", "missed"), ("soon", "soon"), ("calm", "ok")):
        assert f'data-request-number="{board[label]["number"]}"\n    data-urgency="{urgency}"' in page


def test_the_board_filters_by_tier_and_overdue(client: FlaskClient, make_user: Callable[..., User],
                                               board: dict[str, dict]) -> None:
    console = console_as(client, make_user("dispatcher"))
    reply_tier = console.text("/board?tier=reply")
    assert board["far"]["number"] in reply_tier and board["calm"]["number"] not in reply_tier
    overdue = console.text("/board?overdue=true")
    assert board["missed"]["number"] in overdue and board["soon"]["number"] not in overdue
    fragment = console.text("/board/rows?overdue=true")
    assert board["missed"]["number"] in fragment and "<html" not in fragment


def test_an_override_without_a_reason_is_refused_beside_the_field_and_nothing_is_written_dsp8(
        client: FlaskClient, make_user: Callable[..., User], board: dict[str, dict], desk: Desk,  # noqa: F811
        session: Session) -> None:
    console = console_as(client, make_user("dispatcher"))
    url = f'/requests/{board["calm"]["id"]}'
    page = console.text(url)
    last = page.rsplit('name="technician_ids" value="', 1)[1].split('"', 1)[0]
    response = console.post(f"{url}/dispatch", {"mode": "crew", "technician_ids": ["", last], "reason": ""})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="dispatch_crew-reason-error"' in page and "needs a reason" in page
    assert f'value="{last}" id="crew-{last}"\n                   checked' in page  # the pick is kept
    assert session.scalar(select(func.count()).select_from(Job)) == 0


def test_a_crew_form_with_nobody_ticked_is_refused(client: FlaskClient, make_user: Callable[..., User],
                                                   board: dict[str, dict], session: Session) -> None:
    console = console_as(client, make_user("dispatcher"))
    response = console.post(f'/requests/{board["calm"]["id"]}/dispatch', {"mode": "crew", "technician_ids": ""})
    assert response.status_code == 422 and "Pick at least one" in response.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(Job)) == 0


def test_dispatching_the_top_candidate_shows_the_stored_decision(client: FlaskClient,
                                                                 make_user: Callable[..., User],
                                                                 board: dict[str, dict]) -> None:
    console = console_as(client, make_user("dispatcher"))
    url = f'/requests/{board["soon"]["id"]}'
    response = console.post(f"{url}/dispatch", {"mode": "top"})
    assert response.status_code == 302
    page = console.text(url)
    assert "Dispatched." in page and "Top candidate" in page and 'class="decision"' in page


def test_a_reply_without_the_agreed_time_is_refused_and_writes_nothing_dsp2(
        client: FlaskClient, make_user: Callable[..., User], board: dict[str, dict], session: Session) -> None:
    console = console_as(client, make_user("dispatcher"))
    url = f'/requests/{board["far"]["id"]}'
    response = console.post(f"{url}/reply", {"content": "We will come on Tuesday", "channel": "phone"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="reply-agreed_on_site_at-error"' in page and "This field is required." in page
    assert "We will come on Tuesday" in page  # the input is kept
    assert session.scalar(select(func.count()).select_from(Communication)) == 0
    # In the station's wall-clock time (Asia/Shanghai), as a datetime-local input sends it.
    response = console.post(f"{url}/reply", {"content": "We will come on Tuesday", "channel": "phone",
                                             "agreed_on_site_at": "2026-03-03T10:00"})
    assert response.status_code == 302
    page = console.text(url)
    assert "Mar 3, 2026 10:00 China Standard Time" in page


@pytest.mark.parametrize("field", ["content", "counterpart"])
def test_a_nul_in_a_form_is_refused_beside_the_field_like_the_api_refuses_it(
        client: FlaskClient, make_user: Callable[..., User], board: dict[str, dict], session: Session,
        field: str) -> None:
    console = console_as(client, make_user("dispatcher"))
    form = {"direction": "inbound", "channel": "phone", "content": "Customer called", "counterpart": "Ms Wang"}
    response = console.post(f'/requests/{board["calm"]["id"]}/communications', {**form, field: "a\x00b"})
    assert response.status_code == 422 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert f'id="log-{field}-error"' in page and "must not contain NUL characters" in page
    assert session.scalar(select(func.count()).select_from(Communication)) == 0


def test_a_manager_decision_from_a_stale_page_is_refused(client: FlaskClient, make_user: Callable[..., User],
                                                         board: dict[str, dict]) -> None:
    console = console_as(client, make_user("manager"))
    url = f'/requests/{board["calm"]["id"]}'
    response = console.post(f"{url}/decision", {"outcome": "accepted", "reason": "Quality fault", "version": "99"})
    assert response.status_code == 412 and "Someone else changed this" in response.get_data(as_text=True)
    response = console.post(f"{url}/decision", {"outcome": "accepted", "reason": "Quality fault",
                                                "version": str(board["calm"]["version"])})
    assert response.status_code == 302


def test_a_device_time_at_the_end_of_the_calendar_does_not_break_the_job_page(
        client: FlaskClient, make_user: Callable[..., User], desk: Desk) -> None:  # noqa: F811
    technician = desk.technician(position=ZHENGZHOU)
    job = desk.dispatch(desk.register()["id"], technician_ids=[technician["id"]]).get_json()
    api = desk.as_technician(technician)
    # A valid UTC time that has no wall-clock form in the station's zone (UTC+8 would be the year 10000).
    response = api.post(f'/api/v1/jobs/{job["id"]}/accept', json={"device_time": "9999-12-31T23:59:00Z"},
                        headers={"If-Match": api.get(f'/api/v1/jobs/{job["id"]}').headers["ETag"]})
    assert response.status_code == 200, response.get_json()
    page = console_as(client, make_user("dispatcher")).text(f'/jobs/{job["id"]}')
    assert "Dec 31, 9999 23:59" in page


def test_jobs_list_and_page(client: FlaskClient, make_user: Callable[..., User], board: dict[str, dict]) -> None:
    console = console_as(client, make_user("dispatcher"))
    console.post(f'/requests/{board["soon"]["id"]}/dispatch', {"mode": "top"})
    assert "Job 1" in console.text("/jobs")
    page = console.text("/jobs/1")
    assert "Cancel the job" in page
    response = console.post("/jobs/1/cancel", {"reason": "", "version": "1"})
    assert response.status_code == 422
    response = console.post("/jobs/1/cancel", {"reason": "Customer fixed it", "version": "1"})
    assert response.status_code == 302 and "Cancelled" in console.text("/jobs/1")
