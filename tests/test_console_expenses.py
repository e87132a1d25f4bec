"""Technicians' expenses waiting for approval in the console (CST-1): a supervisor off the crew approves or rejects
with a reason; on the crew, the page says why there is no button (four eyes); another station's are not listed
(SCP-1); finance and managers read the queue."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from backend.accounts.models import User
from backend.costs.models import Expense
from tests.console_support import console_as
from tests.test_costs import EXPENSES, _raise
from tests.test_costs_support import Books, books  # noqa: F401  (fixture)
from tests.test_dispatch_support import desk, quick_passwords, settings  # noqa: F401  (fixtures)

PAGE = "/approvals/expenses"


def _pending(books: Books) -> tuple[dict[str, Any], dict[str, Any]]:  # noqa: F811
    job = books.job(books.request(), books.zz_tech, status="work_done")
    tech = books.desk.as_technician(books.zz_tech)
    travel = _raise(tech, job.id).get_json()
    allowance = _raise(tech, job.id, kind="allowance", amount="60.00", receipt_number=None).get_json()
    return travel, allowance


def _status(session: Session, expense: dict[str, Any]) -> tuple[str, str | None]:
    session.rollback()  # a fresh snapshot: what the console committed
    stored = session.get_one(Expense, expense["id"])
    return stored.status, stored.reject_reason


def test_cst1_a_supervisor_approves_one_and_rejects_one_with_a_reason(
        client: FlaskClient, make_user: Callable[..., User], books: Books, session: Session) -> None:  # noqa: F811
    travel, allowance = _pending(books)
    console = console_as(client, make_user("supervisor"))
    page = console.text(PAGE)
    assert f'data-testid="expense-{travel["number"]}"' in page and "Wang Wei" in page
    assert f'<h2>Expense {travel["number"]} · Travel · 230.00</h2>' in page
    assert console.post(f"{PAGE}/{travel['id']}/approve").status_code == 302
    assert f"Expense {travel['number']} approved: it now counts as a cost." in console.text(PAGE)
    assert _status(session, travel) == ("approved", None)
    # Rejecting needs the reason, shown beside the field when missing; nothing changes meanwhile.
    blank = console.post(f"{PAGE}/{allowance['id']}/reject", {"reason": " "})
    assert blank.status_code == 422
    assert f'id="expense-{allowance["id"]}-reason-error"' in blank.get_data(as_text=True)
    assert _status(session, allowance) == ("pending", None)
    assert console.post(f"{PAGE}/{allowance['id']}/reject", {"reason": "No allowance on a same-day job"}
                        ).status_code == 302
    assert _status(session, allowance) == ("rejected", "No allowance on a same-day job")
    assert "No expenses are waiting for approval." in console.text(PAGE)
    # Decided once: a second decision is refused as the API refuses it.
    again = console.post(f"{PAGE}/{travel['id']}/approve")
    assert again.status_code == 409 and "already approved" in again.get_data(as_text=True)
    # Rejected without a reason after someone decided it: the reason for the refusal is that, not the blank field.
    late = console.post(f"{PAGE}/{allowance['id']}/reject", {"reason": ""})
    assert "no longer waiting for a decision" in late.get_data(as_text=True)


def test_cst1_four_eyes_and_station_scope(client: FlaskClient, make_user: Callable[..., User],
                                          books: Books) -> None:  # noqa: F811
    working_supervisor = books.technician_and_supervisor("Li Ming")
    job = books.job(books.request(), books.zz_tech, working_supervisor, status="work_done")
    expense = _raise(books.desk.as_technician(books.zz_tech), job.id).get_json()
    crew_console = console_as(client, working_supervisor["user"])
    page = crew_console.text(PAGE)
    card = page[page.index(f'data-testid="expense-{expense["number"]}"'):]
    assert 'data-testid="four-eyes"' in card and f"{PAGE}/{expense['id']}/approve" not in card
    assert crew_console.post(f"{PAGE}/{expense['id']}/approve").status_code == 403
    elsewhere = books.person("supervisor")
    books.give_stations(elsewhere, books.guangzhou)
    scoped_user = books.session.get_one(User, elsewhere.get("/api/v1/me").get_json()["id"])
    elsewhere_console = console_as(client, scoped_user)
    assert f'expense-{expense["number"]}' not in elsewhere_console.text(PAGE)
    assert elsewhere_console.post(f"{PAGE}/{expense['id']}/approve").status_code == 404
    finance = console_as(client, make_user("finance"))
    read_only = finance.text(PAGE)
    assert f'data-testid="expense-{expense["number"]}"' in read_only and "/approve" not in read_only
    assert books.desk.as_technician(books.zz_tech).get(f"{EXPENSES}/{expense['id']}").get_json()["status"] == \
        "pending"
