"""The console's foundation (issue 11): sign-in and sessions, the role guard, CSRF, CSP and languages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from backend.accounts.models import LoginThrottle, User
from tests.console_support import Console, console_as

OFFICE = ("dispatcher", "agent", "supervisor", "manager", "admin", "warehouse")


def test_root_sends_a_signed_out_visitor_to_the_sign_in_page(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].endswith("/sign-in")
    page = client.get("/sign-in").get_data(as_text=True)
    assert 'for="sign_in-username"' in page and 'for="sign_in-password"' in page


def test_a_page_asks_a_signed_out_visitor_to_sign_in_and_returns_there(client: FlaskClient,
                                                                        make_user: Callable[..., User]) -> None:
    response = client.get("/board?tier=reply")
    assert response.status_code == 302 and "/sign-in?next=" in response.headers["Location"]
    user = make_user("dispatcher")
    response = Console(client).sign_in(user, next="/board?tier=reply")
    assert response.headers["Location"] == "/board?tier=reply"


def test_sign_in_with_a_wrong_password_is_refused_on_the_form(client: FlaskClient,
                                                              make_user: Callable[..., User]) -> None:
    user = make_user("dispatcher")
    response = Console(client).sign_in(user, password="wrong-password-here")
    assert response.status_code == 401
    page = response.get_data(as_text=True)
    assert "Wrong username or password" in page and f'value="{user.username}"' in page
    assert client.get("/board").status_code == 302


@pytest.mark.parametrize("username", ["dispatcher\x00", "x" * 300])
def test_a_sign_in_the_api_would_refuse_as_invalid_gets_the_form_back_and_stores_nothing(
        client: FlaskClient, session: Session, username: str) -> None:
    response = Console(client).sign_in(username)
    assert response.status_code == 422 and response.mimetype == "text/html"
    assert "Wrong username or password" in response.get_data(as_text=True)
    # Like the API's 422: nothing names an account, so nothing is counted (PostgreSQL stores no NUL, no long key).
    assert session.scalars(select(LoginThrottle)).all() == []


def test_the_sign_in_never_sends_a_signed_in_person_elsewhere(client: FlaskClient,
                                                              make_user: Callable[..., User]) -> None:
    user = make_user("dispatcher")
    response = Console(client).sign_in(user, next="//evil.example/board")
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize("role", OFFICE)
def test_root_leads_each_office_role_to_their_console_home(client: FlaskClient, make_user: Callable[..., User],
                                                           role: str) -> None:
    console = console_as(client, make_user(role))
    response = console.get("/", follow_redirects=True)
    assert response.status_code == 200 and 'class="topbar"' in response.get_data(as_text=True)
    if role == "dispatcher":
        assert response.request.path == "/board"


def test_a_technician_is_told_to_use_the_app(client: FlaskClient, make_user: Callable[..., User]) -> None:
    console = console_as(client, make_user("technician"))
    for url in ("/", "/board", "/inbox"):
        response = console.get(url)
        assert response.status_code == 403, url
        page = response.get_data(as_text=True)
        assert "Technicians use the mobile app" in page
        assert 'class="mainnav"' not in page and 'class="inbox-link"' not in page  # nothing offered


def test_a_role_that_may_not_see_a_page_gets_a_readable_403(client: FlaskClient,
                                                             make_user: Callable[..., User]) -> None:
    console = console_as(client, make_user("warehouse"))
    response = console.get("/board")
    assert response.status_code == 403
    page = response.get_data(as_text=True)
    assert "Not available to you" in page and "<html" in page
    assert 'href="/board"' not in page  # and the navigation does not offer it


def test_the_navigation_offers_the_board_only_to_its_readers(client: FlaskClient,
                                                             make_user: Callable[..., User]) -> None:
    page = console_as(client, make_user("agent")).text("/inbox")
    assert 'href="/board"' in page


def test_sign_out_ends_the_session(client: FlaskClient, make_user: Callable[..., User]) -> None:
    console = console_as(client, make_user("dispatcher"))
    assert console.get("/board").status_code == 200
    response = console.post("/sign-out")
    assert response.status_code == 302
    assert console.get("/board").status_code == 302


def test_a_copy_of_the_cookie_taken_before_sign_out_no_longer_signs_in(app: Any,
                                                                       make_user: Callable[..., User]) -> None:
    user = make_user("dispatcher")
    laptop, thief = app.test_client(), app.test_client()
    console = console_as(laptop, user)
    copied = laptop.get_cookie("onsite_console").value
    other_desk = console_as(app.test_client(), user)
    console.post("/sign-out")
    thief.set_cookie("onsite_console", copied)
    response = thief.get("/board")
    assert response.status_code == 302 and "/sign-in" in response.headers["Location"]
    assert other_desk.get("/board").status_code == 200  # signing out ends that sign-in only


def test_a_console_sign_in_ends_after_the_sign_in_lifetime(client: FlaskClient, make_user: Callable[..., User],
                                                           clock: Any, settings: Any) -> None:
    console = console_as(client, make_user("dispatcher"))
    clock.advance(days=settings.refresh_family_days, hours=-1)
    assert console.get("/board").status_code == 200
    clock.advance(hours=2)
    assert console.get("/board").status_code == 302


def test_sign_out_is_a_post(client: FlaskClient, make_user: Callable[..., User]) -> None:
    console = console_as(client, make_user("dispatcher"))
    assert console.get("/sign-out").status_code == 405
    assert console.get("/board").status_code == 200


def test_disabling_the_account_ends_its_session(client: FlaskClient, make_user: Callable[..., User],
                                                session: Session) -> None:
    user = make_user("dispatcher")
    console = console_as(client, user)
    assert console.get("/board").status_code == 200
    session.execute(update(User).where(User.id == user.id).values(active=False))
    session.commit()
    response = console.get("/board")
    assert response.status_code == 302 and "/sign-in" in response.headers["Location"]
    session.execute(update(User).where(User.id == user.id).values(active=True))
    session.commit()
    assert console.get("/board").status_code == 302  # the session stays ended: sign in again


def test_a_password_change_elsewhere_ends_the_console_session(client: FlaskClient,
                                                              make_user: Callable[..., User],
                                                              session: Session) -> None:
    user = make_user("dispatcher")
    console = console_as(client, user)
    assert console.get("/board").status_code == 200
    session.execute(update(User).where(User.id == user.id).values(session_epoch=User.session_epoch + 1))
    session.commit()
    assert console.get("/board").status_code == 302


def test_the_session_cookie_is_httponly_and_samesite(client: FlaskClient, make_user: Callable[..., User]) -> None:
    response = Console(client).sign_in(make_user("dispatcher"))
    cookie = next(v for k, v in response.headers.items() if k == "Set-Cookie" and v.startswith("onsite_console="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_a_form_without_its_csrf_token_is_refused_readably(client: FlaskClient,
                                                           make_user: Callable[..., User]) -> None:
    user = make_user("dispatcher")
    console = Console(client)
    response = console.post("/sign-in", {"username": user.username, "password": "x"}, csrf=False)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "did not come from this site" in page and "<html" in page
    console = console_as(client, user)
    response = console.post("/sign-out", {"csrf_token": "forged"})
    assert response.status_code == 400
    assert console.get("/board").status_code == 200  # still signed in: the forged sign-out did nothing


def test_the_api_needs_no_csrf_token(as_role: Callable[..., Any]) -> None:
    admin = as_role("admin")
    response = admin.post("/api/v1/stations", json={"code": "C1", "name": "One", "address": "Road 1",
                                                    "latitude": 34.7, "longitude": 113.6})
    assert response.status_code == 201


@pytest.mark.parametrize("url", ["/sign-in", "/board", "/inbox"])
def test_every_page_has_a_csp_without_inline_scripts(client: FlaskClient, make_user: Callable[..., User],
                                                     url: str) -> None:
    console = console_as(client, make_user("dispatcher"))
    response = console.get(url)
    policy = response.headers["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert "'unsafe-inline'" not in directives["script-src"] and "'unsafe-eval'" not in directives["script-src"]
    assert directives["default-src"] == "'self'" and directives["frame-ancestors"] == "'none'"
    page = response.get_data(as_text=True)
    assert "<script>" not in page and " onclick=" not in page and " onload=" not in page


def test_the_language_follows_the_browser_and_the_switch(client: FlaskClient,
                                                         make_user: Callable[..., User]) -> None:
    page = client.get("/sign-in", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).get_data(as_text=True)
    assert "登录" in page and 'lang="zh-CN"' in page
    console = console_as(client, make_user("dispatcher"))
    assert "Dispatch board" in console.text("/board")
    response = console.post("/language", {"language": "zh_CN", "next": "/board"})
    assert response.headers["Location"] == "/board"
    page = console.text("/board")
    assert "调度台" in page and "截止时间" in page and "Dispatch board" not in page
    console.post("/language", {"language": "en", "next": "/board"})
    assert "Dispatch board" in console.text("/board")


def test_the_language_switch_stays_on_this_site(client: FlaskClient) -> None:
    response = Console(client).post("/language", {"language": "zh_CN", "next": "https://evil.example/"})
    assert response.headers["Location"] == "/"


# Browsers drop tabs and line breaks inside a URL and read "\" as "/": each of these is //evil.example to them.
DISGUISED_ELSEWHERE = ("/\t/evil.example/board", "/\n/evil.example", "\t//evil.example", "/\\evil.example",
                       "/ /evil.example")


@pytest.mark.parametrize("target", DISGUISED_ELSEWHERE)
def test_neither_the_sign_in_nor_the_language_switch_bounces_to_a_disguised_other_site(
        client: FlaskClient, make_user: Callable[..., User], target: str) -> None:
    console = Console(client)
    assert console.post("/language", {"language": "en", "next": target}).headers["Location"] == "/"
    assert console.sign_in(make_user("dispatcher"), next=target).headers["Location"] == "/"


def test_the_api_explorer_stays_at_docs(client: FlaskClient) -> None:
    assert client.get("/docs").status_code == 200


def test_a_station_has_a_validated_time_zone_the_console_shows_times_in(as_role: Callable[..., Any]) -> None:
    admin = as_role("admin")
    body = {"code": "TK", "name": "Tokyo", "address": "Road 1", "latitude": 35.6, "longitude": 139.7}
    response = admin.post("/api/v1/stations", json=body | {"timezone": "Mars/Olympus_Mons"})
    assert response.status_code == 422 and response.get_json()["errors"][0]["field"] == "timezone"
    assert admin.post("/api/v1/stations", json=body).get_json()["timezone"] == "Asia/Shanghai"
    created = admin.post("/api/v1/stations", json=body | {"code": "TK2", "timezone": "Asia/Tokyo"}).get_json()
    assert created["timezone"] == "Asia/Tokyo"


def test_local_time_names_the_station_zone_in_the_page_language(app: Any) -> None:
    from datetime import UTC, datetime
    from types import SimpleNamespace

    from backend.console.i18n import local_time

    moment = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert local_time(moment, SimpleNamespace(timezone="Asia/Shanghai")) == "Mar 2, 2026 16:00 China Standard Time"
        assert local_time(moment, SimpleNamespace(timezone="Asia/Tokyo")).startswith("Mar 2, 2026 17:00")
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        assert local_time(moment, SimpleNamespace(timezone="Asia/Shanghai")) == "2026年3月2日 16:00 中国标准时间"
