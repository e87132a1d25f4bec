"""The supervisor's console pages (issue 11): the review queue, a report with its versions, signature and seal,
approve and reject (REP-3, REP-5); requisitions (PRT-3) and paid service (REP-6) waiting for approval, with the
four-eyes rule visible. Decisions go through the API's service functions, so they refuse the same way."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from backend.accounts.models import User
from backend.audit.models import AuditEntry
from backend.reports.models import FieldReport
from tests import factories
from tests.conftest import Api
from tests.console_support import Console, console_as
from tests.test_dispatch_support import ZHENGZHOU, Desk, desk, etag, quick_passwords, settings  # noqa: F401
from tests.test_fieldwork_support import Field, field, png, stock_van, supervisor  # noqa: F401

REVIEWERS = ("supervisor", "manager", "admin")
_VERSION = re.compile(r'name="version" value="(\d+)"')


def _console(app: Flask, user: User) -> Console:
    """Each person in their own browser: the API's Api objects keep using the fixture's client."""
    return console_as(app.test_client(), user)


def _submitted(field: Field) -> str:
    """The job walked to a submitted report, with a photo; returns the report page's address."""
    field.to("work_done")
    photo = field.lead.post(f"{field.url}/photos", data={"file": (io.BytesIO(png(64, 48, "red")), "valve.png"),
                                                         "caption": "Worn valve"},
                            content_type="multipart/form-data")
    assert photo.status_code == 201, photo.get_json()
    for step in (field.write_report, field.sign, lambda: field.lead.post(f"{field.url}/report/submit")):
        response = step()
        assert response.status_code in (200, 201), response.get_json()
    return f"/reviews/{field.job['id']}"


def _job_status(field: Field) -> str:
    return field.desk.admin.get(field.url).get_json()["status"]


def _shown_version(page: str) -> str:
    found = _VERSION.search(page)
    assert found is not None, "the page offers no decision"
    return found.group(1)


@pytest.mark.parametrize("role", REVIEWERS)
def test_rep5_each_reviewer_sees_the_queue_and_the_whole_report(app: Flask, field: Field,
                                                                make_user: Callable[..., User], role: str) -> None:
    page_url = _submitted(field)
    console = _console(app, make_user(role))
    queue = console.text("/reviews")
    assert field.request["number"] in queue and f'href="{page_url}"' in queue
    page = console.text(page_url)
    # JOB-3 findings, the part line (REP-1), the customer's sign-off and signature image (REP-4).
    for shown in ("Door actuator valve worn", "City bus, two shifts a day", "Door stuck twice last week",
                  field.part["name"], "Valve leaks", "OLD-1", "Wang Li", "Fixed quickly", 'src="data:image/png;base64,'):
        assert shown in page, shown
    # REP-3: today's verdict on the seal.
    assert 'class="verdict verdict-valid"' in page
    # The photo is served through the console to the signed-in session, as the API serves it.
    photo_url = re.search(r'<img src="(/reviews/\d+/photos/\d+)"', page)
    assert photo_url is not None
    photo = console.get(photo_url.group(1))
    assert photo.status_code == 200 and photo.mimetype == "image/png" and photo.data.startswith(b"\x89PNG")
    assert "sandbox" in photo.headers["Content-Security-Policy"]  # as the API sends it: an SVG runs nothing
    # Only the API's approvers get the buttons; a manager or an administrator reads.
    assert ("Approve version 1" in page) is (role == "supervisor")


def test_pages_refuse_a_role_the_api_refuses_with_the_403_page(app: Flask, field: Field,
                                                              make_user: Callable[..., User]) -> None:
    page_url = _submitted(field)
    agent = _console(app, make_user("agent"))
    for url in ("/reviews", page_url, "/approvals/requisitions", "/approvals/paid-service"):
        response = agent.get(url)
        assert response.status_code == 403, url
        assert "Not available to you" in response.get_data(as_text=True)
    response = agent.post(f"{page_url}/versions/1/approve", {"version": "1"})
    assert response.status_code == 403
    assert _job_status(field) == "submitted"


def test_nav_shows_the_supervisors_pages_to_reviewers_only(app: Flask, make_user: Callable[..., User]) -> None:
    supervisor_page = _console(app, make_user("supervisor")).text("/reviews")
    for link in ('href="/reviews"', 'href="/approvals/requisitions"', 'href="/approvals/paid-service"'):
        assert link in supervisor_page
    agent_page = _console(app, make_user("agent")).text("/inbox")
    assert 'href="/reviews"' not in agent_page


def test_rep5_a_supervisor_approves_the_version_shown(app: Flask, field: Field, make_user: Callable[..., User],
                                                     session: Any) -> None:
    page_url = _submitted(field)
    reviewer = make_user("supervisor")
    console = _console(app, reviewer)
    version = _shown_version(console.text(page_url))
    response = console.post(f"{page_url}/versions/1/approve", {"version": version})
    assert response.status_code == 302 and response.headers["Location"] == "/reviews"
    assert _job_status(field) == "approved"
    report = field.report(field.supervisor).get_json()
    assert (report["review_outcome"], report["reviewed_by_user_id"]) == ("approved", reviewer.id)
    assert "approved and archived" in console.text("/reviews")  # the flash, once
    assert field.request["number"] not in console.text("/reviews")
    # The same audit trail as the API: the change is recorded against the person who pressed the button.
    entries = session.scalars(select(AuditEntry).where(AuditEntry.actor_user_id == reviewer.id)).all()
    assert any(e.entity_type == "field_reports" and e.after and e.after.get("review_outcome") == "approved"
               for e in entries), [(e.entity_type, e.after) for e in entries]
    assert all(e.action.startswith("POST /reviews/") for e in entries)


def test_a_version_number_in_the_path_takes_ascii_digits_only(app: Flask, field: Field,
                                                              make_user: Callable[..., User]) -> None:
    page_url = _submitted(field)
    console = _console(app, make_user("supervisor"))
    version = _shown_version(console.text(page_url))
    # "١" is ARABIC-INDIC DIGIT ONE: no path names version 1 with it, as no path names job 4 with "٤".
    for action, body in (("approve", {"version": version}), ("reject", {"version": version, "reason": "Blurry"})):
        assert console.post(f"{page_url}/versions/\u0661/{action}", body).status_code == 404
    assert _job_status(field) == "submitted"


def test_rep5_approving_a_stale_page_changes_nothing_and_says_so(app: Flask, field: Field, desk: Desk,
                                                                 make_user: Callable[..., User]) -> None:
    """The page showed version 1; meanwhile another supervisor rejected it and the technician handed in version 2.
    The old page's approve must not approve what the supervisor never read."""
    page_url = _submitted(field)
    console = _console(app, make_user("supervisor"))
    version = _shown_version(console.text(page_url))
    assert field.supervisor.post(f"{field.url}/report/reject", json={"reason": "Photo of the old part"}
                                 ).status_code == 200
    assert field.lead.post(f"{field.url}/report/corrections").status_code == 201
    for step in (field.write_report, field.sign, lambda: field.lead.post(f"{field.url}/report/submit")):
        assert step().status_code == 200
    response = console.post(f"{page_url}/versions/1/approve", {"version": version})
    assert response.status_code == 412
    assert "Someone else changed this since you opened the page" in response.get_data(as_text=True)
    assert _job_status(field) == "submitted"
    assert field.report(field.supervisor).get_json()["review_outcome"] is None
    # The same version with a stale row version is refused the same way (the API's If-Match).
    response = console.post(f"{page_url}/versions/2/approve", {"version": "1"})
    assert response.status_code == 412 and _job_status(field) == "submitted"


def test_rep5_a_reject_without_a_reason_shows_the_message_beside_the_field_and_writes_nothing(
        app: Flask, field: Field, make_user: Callable[..., User], session: Any) -> None:
    page_url = _submitted(field)
    console = _console(app, make_user("supervisor"))
    version = _shown_version(console.text(page_url))
    response = console.post(f"{page_url}/versions/1/reject", {"version": version, "reason": "   "})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert re.search(r'id="reject-reason-error"[^>]*>[^<]*\S', page)
    assert 'aria-describedby="reject-reason-hint reject-reason-error"' in page
    assert _job_status(field) == "submitted"
    report = session.scalars(select(FieldReport).where(FieldReport.job_id == field.job["id"])).one()
    assert report.review_outcome is None


def test_rep5_a_reject_with_a_reason_goes_back_to_the_technician(app: Flask, field: Field,
                                                                 make_user: Callable[..., User]) -> None:
    page_url = _submitted(field)
    console = _console(app, make_user("supervisor"))
    version = _shown_version(console.text(page_url))
    response = console.post(f"{page_url}/versions/1/reject", {"version": version,
                                                             "reason": "Add a photo of the old valve"})
    assert response.status_code == 302
    assert _job_status(field) == "work_done"
    report = field.report().get_json()
    assert (report["review_outcome"], report["review_reason"]) == ("rejected", "Add a photo of the old valve")
    notices = field.lead.get("/api/v1/me/notifications").get_json()
    assert any(n["kind"] == "report.rejected" and n["payload"]["reason"] == "Add a photo of the old valve"
               for n in notices)
    page = console.text(page_url)
    assert "Add a photo of the old valve" in page and "Approve version" not in page


def test_rep3_every_version_can_be_opened_and_the_old_one_is_kept_as_signed(app: Flask, field: Field,
                                                                           make_user: Callable[..., User]) -> None:
    page_url = _submitted(field)
    field.supervisor.post(f"{field.url}/report/reject", json={"reason": "Wrong root cause"})
    field.lead.post(f"{field.url}/report/corrections")
    field.write_report(root_cause="Door actuator seal torn")
    field.sign()
    field.lead.post(f"{field.url}/report/submit")
    console = _console(app, make_user("supervisor"))
    current = console.text(page_url)
    assert "Door actuator seal torn" in current and "Approve version 2" in current
    assert f'href="{page_url}?version=1"' in current
    first = console.text(f"{page_url}?version=1")
    assert "Door actuator valve worn" in first and "Wrong root cause" in first
    assert 'class="verdict verdict-valid"' in first and "Approve version" not in first
    assert console.get(f"{page_url}?version=9").status_code == 404


def test_csrf_a_decision_without_the_forms_token_is_refused(app: Flask, field: Field,
                                                            make_user: Callable[..., User]) -> None:
    page_url = _submitted(field)
    console = _console(app, make_user("supervisor"))
    version = _shown_version(console.text(page_url))
    response = console.post(f"{page_url}/versions/1/approve", {"version": version}, csrf=False)
    assert response.status_code == 400
    assert _job_status(field) == "submitted"


# --- four eyes ---------------------------------------------------------------------------------------------------

@pytest.fixture
def own_job(desk: Desk, make_user: Callable[..., User]) -> tuple[User, dict[str, Any], Api]:
    """A job led by someone who is both a technician and a supervisor (a foreman who also goes out)."""
    foreman = make_user("technician", "supervisor")
    tech = factories.technician(desk.admin, foreman.id, desk.station["id"])
    desk.place(tech["id"], ZHENGZHOU)
    job = desk.dispatch(desk.register(km=30)["id"], technician_ids=[tech["id"]])
    assert job.status_code == 201, job.get_json()
    return foreman, job.get_json(), desk.login(foreman)


def _walk_on_site(api: Api, url: str, *, then_work_done: bool = False) -> None:
    """The crew member takes their own job through accept, depart and arrive (and work done)."""
    steps = [("accept", {}), ("depart", {}),
             ("arrive", {"position": {"latitude": ZHENGZHOU[0], "longitude": ZHENGZHOU[1] + 0.01}})]
    for action, body in steps + ([("work-done", {})] if then_work_done else []):
        assert api.post(f"{url}/{action}", json=body).status_code == 200


def test_four_eyes_no_approve_button_on_your_own_crews_report_and_the_post_is_refused(
        app: Flask, desk: Desk, own_job: tuple[User, dict[str, Any], Api]) -> None:
    foreman, job, api = own_job
    part = factories.part(desk.admin)
    stock_van(desk, job["crew"][0]["technician_id"], part["id"])
    url = f"/api/v1/jobs/{job['id']}"
    _walk_on_site(api, url, then_work_done=True)
    field = Field(desk=desk, supervisor=api, request={}, job=job, lead=api, lead_technician={}, part=part)
    for step in (field.write_report, field.sign, lambda: api.post(f"{url}/report/submit")):
        assert step().status_code == 200
    console = _console(app, foreman)
    page = console.text(f"/reviews/{job['id']}")
    assert 'data-testid="four-eyes"' in page and "Approve version" not in page
    version = str(api.get(f"{url}/report").get_json()["version"])  # the row version the console form carries
    response = console.post(f"/reviews/{job['id']}/versions/1/approve", {"version": version})
    assert response.status_code == 403
    assert "four eyes" in response.get_data(as_text=True)
    assert desk.admin.get(url).get_json()["status"] == "submitted"


def test_prt3_a_supervisor_approves_or_rejects_a_pending_requisition(app: Flask, field: Field,
                                                                    make_user: Callable[..., User]) -> None:
    field.to("on_site")
    raised = [field.lead.post("/api/v1/requisitions", json={"job_id": field.job["id"], "lines": [
        {"part_id": field.part["id"], "quantity": 1, "reason": reason}]}).get_json() for reason in ("Leak", "Spare")]
    console = _console(app, make_user("supervisor"))
    page = console.text("/approvals/requisitions")
    assert all(r["number"] in page for r in raised) and "Leak" in page and field.part["name"] in page
    first, second = raised
    assert console.post(f"/approvals/requisitions/{first['id']}/approve").status_code == 302
    # No reason: the message beside the field, nothing written.
    response = console.post(f"/approvals/requisitions/{second['id']}/reject", {"reason": ""})
    assert response.status_code == 422
    assert f'id="reject-{second["id"]}-reason-error"' in response.get_data(as_text=True)
    assert field.supervisor.get(f"/api/v1/requisitions/{second['id']}").get_json()["status"] == "pending"
    assert console.post(f"/approvals/requisitions/{second['id']}/reject",
                        {"reason": "Take it from the station"}).status_code == 302
    statuses = [field.supervisor.get(f"/api/v1/requisitions/{r['id']}").get_json() for r in raised]
    assert [(s["status"], s["reject_reason"]) for s in statuses] == [("approved", None),
                                                                    ("rejected", "Take it from the station")]
    assert "No requisitions are waiting for approval." in console.text("/approvals/requisitions")
    # Decided meanwhile (another tab, another supervisor): its card is gone, the page still says why.
    again = console.post(f"/approvals/requisitions/{first['id']}/approve")
    assert again.status_code == 409 and f"requisition {first['number']} is approved" in again.get_data(as_text=True)


def test_prt3_four_eyes_no_approve_button_on_your_own_crews_requisition(
        app: Flask, desk: Desk, own_job: tuple[User, dict[str, Any], Api]) -> None:
    foreman, job, api = own_job
    url = f"/api/v1/jobs/{job['id']}"
    _walk_on_site(api, url)
    part = factories.part(desk.admin)
    requisition = api.post("/api/v1/requisitions", json={"job_id": job["id"], "lines": [
        {"part_id": part["id"], "quantity": 1, "reason": "Leak"}]}).get_json()
    console = _console(app, foreman)
    page = console.text("/approvals/requisitions")
    card = page[page.index(f'data-testid="requisition-{requisition["number"]}"'):]
    assert 'data-testid="four-eyes"' in card
    assert f'/approvals/requisitions/{requisition["id"]}/approve' not in page
    response = console.post(f"/approvals/requisitions/{requisition['id']}/approve")
    assert response.status_code == 403
    assert desk.admin.get(f"/api/v1/requisitions/{requisition['id']}").get_json()["status"] == "pending"


def test_rep6_chargeable_work_waits_for_a_paid_service_approval(app: Flask, field: Field,
                                                                make_user: Callable[..., User]) -> None:
    field.to("on_site")
    draft = field.write_report(within_warranty=False, warranty_reason="Hit by a forklift", part_lines=[],
                               responsibility="third_party")
    assert draft.status_code == 200, draft.get_json()
    console = _console(app, make_user("supervisor"))
    page = console.text("/approvals/paid-service")
    assert field.request["number"] in page and "Hit by a forklift" in page
    url = f"/approvals/paid-service/{field.job['id']}/approve"
    response = console.post(url, {"scope": "", "estimated_amount": "abc"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert f'id="paid-{field.job["id"]}-scope-error"' in page
    assert f'id="paid-{field.job["id"]}-estimated_amount-error"' in page
    assert field.lead.get(f"{field.url}/paid-service-approval").status_code == 404
    assert console.post(url, {"scope": "New mirror, chargeable", "estimated_amount": "540.00"}).status_code == 302
    approval = field.lead.get(f"{field.url}/paid-service-approval").get_json()
    assert (approval["scope"], approval["estimated_amount"]) == ("New mirror, chargeable", "540.00")
    assert "No jobs are waiting for a paid-service approval." in console.text("/approvals/paid-service")
    # Now the technician may write the chargeable line (REP-6).
    chargeable = field.write_report(within_warranty=False, warranty_reason="Hit by a forklift",
                                    responsibility="third_party",
                                    part_lines=[{"part_id": field.part["id"], "quantity": 1, "reason": "Broken",
                                                 "covered_by_warranty": False, "new_serial": None,
                                                 "old_serial": None}])
    assert chargeable.status_code == 200, chargeable.get_json()


def test_rep6_four_eyes_no_paid_service_approval_of_your_own_crews_job(
        app: Flask, desk: Desk, own_job: tuple[User, dict[str, Any], Api]) -> None:
    foreman, job, api = own_job
    url = f"/api/v1/jobs/{job['id']}"
    _walk_on_site(api, url)
    current = api.get(f"{url}/report")
    assert api.put(f"{url}/report", json={"within_warranty": False, "warranty_reason": "Impact"},
                   headers=etag(current)).status_code == 200
    console = _console(app, foreman)
    page = console.text("/approvals/paid-service")
    assert 'data-testid="four-eyes"' in page and f"/approvals/paid-service/{job['id']}/approve" not in page
    response = console.post(f"/approvals/paid-service/{job['id']}/approve", {"scope": "Mine"})
    assert response.status_code == 403
    assert api.get(f"{url}/paid-service-approval").status_code == 404


def test_demo_data_gives_the_supervisors_pages_something_to_show(app: Flask, session: Any,
                                                                 settings: Any) -> None:
    """`make demo`: two submitted reports (one corrected, two versions), a pending requisition and a job waiting
    for a paid-service approval, all made through the service functions."""
    from backend.demo import load_demo_data
    services = app.extensions["onsite"]
    load_demo_data(session, settings, signer=services.signer, media=services.media)
    session.commit()
    console = Console(app.test_client())
    assert console.sign_in("supervisor", "supervisor-demo-pass").status_code == 302
    queue = console.text("/reviews")
    pages = re.findall(r'href="(/reviews/\d+)"', queue)
    assert len(pages) == 2
    reports = [console.text(url) for url in pages]
    assert all('class="verdict verdict-valid"' in page and "Approve version" in page for page in reports)
    assert any('href="' + url + '?version=2"' in page for url, page in zip(pages, reports))
    assert "Requisition RQ-" in console.text("/approvals/requisitions")
    assert "Approve paid service" in console.text("/approvals/paid-service")
