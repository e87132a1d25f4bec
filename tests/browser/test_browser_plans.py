"""Dispatch plans in headless Chromium (PLN-1): the dispatcher plans the open requests, leaves one out, confirms,
and the jobs are created for the others; the page then links each job."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.dispatch.models import Job
from tests.browser.conftest import Office, Server, sign_in

pytestmark = pytest.mark.browser


def test_pln1_plan_leave_one_out_and_create_the_jobs(page, server: Server, office: Office, session: Session) -> None:
    sign_in(page, server, office.users["dispatcher"])
    page.click("nav.mainnav >> text=Plans")
    page.click("form[action='/plans'] button[type=submit]")
    page.wait_for_load_state()
    assert "Proposed" in page.locator("h1").inner_text()
    planned = page.locator("tr[data-request]").evaluate_all("rows => rows.map(r => Number(r.dataset.request))")
    assert sorted(planned) == sorted(r["id"] for r in office.requests.values())
    left_out = office.requests["calm"]
    page.check(f"#drop-{left_out['id']}")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#commit button[type=submit]")
    page.wait_for_load_state()
    assert "Jobs created: 2." in page.locator(".flash").inner_text()
    assert "Jobs created" in page.locator("h1").inner_text()
    session.rollback()  # a fresh snapshot: what the browser's requests committed
    dispatched = set(session.scalars(select(Job.service_request_id)))
    assert dispatched == {office.requests["soon"]["id"], office.requests["missed"]["id"]}
    row = page.locator(f'tr[data-request="{left_out["id"]}"]')
    assert "Left out" in row.inner_text()
    for request_id in dispatched:
        assert page.locator(f'tr[data-request="{request_id}"] a[href^="/jobs/"]').count() == 1
