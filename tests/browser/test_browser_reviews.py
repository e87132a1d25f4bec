"""The supervisor's review in headless Chromium (issue 11, Supervisor; REP-5): two submitted reports wait in the
queue oldest first; one is approved as shown, the other rejected with a reason after a reject without one is
refused beside the field."""

from __future__ import annotations

from typing import Any

from tests import factories
from tests.browser.conftest import Server, sign_in
from tests.conftest import Api
from tests.test_dispatch_support import ZHENGZHOU, Desk
from tests.test_fieldwork_support import Field, stock_van, supervisor  # noqa: F401


def _submitted(desk: Desk, supervisor: Api, km: float) -> Field:
    request = desk.register(km=km)
    lead = desk.technician(position=ZHENGZHOU)
    job = desk.dispatch(request["id"], technician_ids=[lead["id"]])
    assert job.status_code == 201, job.get_json()
    part = factories.part(desk.admin)
    stock_van(desk, lead["id"], part["id"])
    field = Field(desk=desk, supervisor=supervisor, request=request, job=job.get_json(),
                  lead=desk.as_technician(lead), lead_technician=lead, part=part)
    field.to("submitted")
    return field


def test_a_supervisor_approves_one_report_and_rejects_another_with_a_reason(page: Any, server: Server, desk: Desk,
                                                                            supervisor: Api, make_user: Any,
                                                                            clock: Any) -> None:
    first = _submitted(desk, supervisor, km=20)
    clock.advance(minutes=30)
    second = _submitted(desk, supervisor, km=40)
    sign_in(page, server, make_user("supervisor", full_name="Console supervisor"))
    page.get_by_role("link", name="Review queue").click()
    rows = page.locator("[data-testid=review-queue] tbody th a")
    assert rows.all_inner_texts() == [first.request["number"], second.request["number"]]  # oldest first

    rows.first.click()
    assert page.locator("[data-testid=verdict]").get_attribute("class") == "verdict verdict-valid"
    assert page.get_by_role("img", name="Signature of Wang Li").is_visible()
    page.get_by_role("button", name="Approve version 1").click()
    page.wait_for_url(f"{server.url}/reviews")
    assert "approved and archived" in page.locator(".flash").inner_text()
    assert page.locator("[data-testid=review-queue] tbody th a").all_inner_texts() == [second.request["number"]]
    assert first.lead.get(first.url).get_json()["status"] == "approved"

    page.get_by_role("link", name=second.request["number"]).click()
    page.get_by_role("button", name="Reject and send back").click()
    # The browser's own check (required) stops an empty reason before it is sent.
    assert page.locator("#reject-reason").evaluate("el => el.validity.valueMissing")
    page.fill("#reject-reason", "   ")
    page.get_by_role("button", name="Reject and send back").click()
    assert page.locator("#reject-reason-error").is_visible()  # the server's refusal, beside the field
    assert second.lead.get(second.url).get_json()["status"] == "submitted"
    page.fill("#reject-reason", "Photo of the old part is missing")
    page.get_by_role("button", name="Reject and send back").click()
    page.wait_for_url(f"{server.url}/reviews")
    assert page.locator(".empty").inner_text() == "No reports are waiting for review."
    report = second.lead.get(f"{second.url}/report").get_json()
    assert (report["review_outcome"], report["review_reason"]) == ("rejected", "Photo of the old part is missing")
    assert second.lead.get(second.url).get_json()["status"] == "work_done"
