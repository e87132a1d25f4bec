"""The dispatcher's console in headless Chromium (issue 11): board order and the live countdown, dispatch from the
candidates (DSP-6..8), the language switch, and no request to any other host (checked by the `page` fixture)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.dispatch.models import DispatchDecision, Job
from tests.browser.conftest import Office, Server, sign_in

pytestmark = pytest.mark.browser


def test_the_board_lists_requests_in_deadline_order_with_a_ticking_countdown(page, server: Server,
                                                                             office: Office) -> None:
    sign_in(page, server, office.users["dispatcher"])
    assert page.url.endswith("/board")
    rows = page.locator("#board-rows tr[data-request-number]")
    numbers = rows.evaluate_all("rows => rows.map(r => r.dataset.requestNumber)")
    expected = [office.requests[k]["number"] for k in ("missed", "soon", "calm")]
    assert numbers == expected
    assert rows.evaluate_all("rows => rows.map(r => r.dataset.urgency)") == ["missed", "soon", "ok"]
    countdown = page.locator(f'tr[data-request-number="{expected[1]}"] .countdown')
    first = countdown.inner_text()
    page.wait_for_timeout(1300)
    second = countdown.inner_text()
    assert re.fullmatch(r"\d\d:\d\d:\d\d", first) and first != second


def test_dispatch_the_top_candidate_shows_the_stored_decision(page, server: Server, office: Office,
                                                              session: Session) -> None:
    sign_in(page, server, office.users["dispatcher"])
    page.click(f'text={office.requests["soon"]["number"]}')
    page.click('[data-testid="dispatch-top"]')
    page.wait_for_load_state()
    assert "Dispatched" in page.locator(".flash").inner_text()
    decision = page.locator("article.decision")
    assert "Top candidate" in decision.inner_text()
    stored = session.scalar(select(DispatchDecision).join(Job).where(
        Job.service_request_id == office.requests["soon"]["id"]))
    assert stored is not None and stored.mode == "automatic"


def test_an_override_without_a_reason_asks_for_one_dsp8(page, server: Server, office: Office,
                                                        session: Session) -> None:
    sign_in(page, server, office.users["dispatcher"])
    page.goto(f'{server.url}/requests/{office.requests["calm"]["id"]}')
    last = page.locator("table.candidates tbody tr").last
    last.locator('input[name="technician_ids"]').check()
    page.click('[data-testid="dispatch-crew"]')
    page.wait_for_load_state()
    error = page.locator("#dispatch_crew-reason-error")
    assert "reason" in error.inner_text()
    assert page.locator("#dispatch_crew-reason").get_attribute("aria-invalid") == "true"
    assert session.scalar(select(Job).where(Job.service_request_id == office.requests["calm"]["id"])) is None
    # With the reason given, the override goes through and its reason is kept (DSP-8).
    page.locator("table.candidates tbody tr").last.locator('input[name="technician_ids"]').check()
    page.fill("#dispatch_crew-reason", "Customer asked for this technician")
    page.click('[data-testid="dispatch-crew"]')
    page.wait_for_load_state()
    assert "Customer asked for this technician" in page.locator("article.decision").inner_text()


def test_the_language_switch_shows_chinese_labels(page, server: Server, office: Office) -> None:
    sign_in(page, server, office.users["dispatcher"])
    page.click('form.language button[value="zh_CN"]')
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert "调度台" in page.locator("h1").inner_text()
    assert "截止时间" in page.locator("table.board thead").inner_text()
    page.goto(f'{server.url}/requests/{office.requests["soon"]["id"]}')
    assert "服务请求" in page.locator("h1").inner_text()


def test_a_technician_is_sent_to_the_app(page, server: Server, office: Office) -> None:
    sign_in(page, server, office.users["technician"])
    assert "Technicians use the mobile app" in page.locator("h1").inner_text()
