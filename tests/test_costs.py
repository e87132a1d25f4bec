"""Service costs (CST-1, CST-2; 001 §售后规章制度1 §9): technicians' expenses and their four-eyes approval, the cost
ledger of a request with its default allocation, finance's override, and the cost report on a data set whose
figures are worked out by hand in the comments."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from backend.audit.models import AuditEntry
from backend.dispatch.models import Job
from backend.parts.models import Part
from tests.conftest import Api
from tests.test_costs_support import MARCH, Books, books, day  # noqa: F401  (fixture)
from tests.test_dispatch_support import desk, quick_passwords, settings  # noqa: F401  (fixtures)
from tests.test_parts_flow_support import OLD_PARTS, yard  # noqa: F401  (fixture)

COSTS = "/api/v1/costs"
EXPENSES = "/api/v1/expenses"
FIGURES = ("service_branch", "manufacturing", "supplier", "customer", "total", "supplier_recovered", "supplier_net",
           "income", "pending", "pending_count")


def ledger_url(request_id: int) -> str:
    return f"/api/v1/service-requests/{request_id}/costs"


@dataclass
class March:
    """Three requests with costs in March 2026 (and a few outside it), as worked out below."""

    books: Books
    finance: Api
    r1: int
    r2: int
    r3: int
    j2: Job
    alternator: Part
    pads: Part


@pytest.fixture
def march(books: Books) -> March:
    alternator = books.part("ALT-24V", "2500.00", "Bosch")  # catalogue price now; written off at 2380.00
    pads = books.part("BRK-PAD", "420.00", "Knorr-Bremse")
    m8 = books.unit("M8 minibus", date(2025, 6, 1))
    # R1 (Zhengzhou, C12): the investigation holds Bosch responsible, so every line is Bosch's.
    r1 = books.request()
    books.investigation(r1, "supplier", "supplier_part", supplier="Bosch")
    j1 = books.job(r1, books.zz_tech)
    report1 = books.report(j1, approved_at=day(4), lines=((alternator, 1, True),))
    books.expense(j1, "travel", "350.00", date(2026, 3, 3))  # supplier 350.00
    alternator_off = books.write_off(j1, report1, alternator, 1, covered=True, at=day(6),
                                     unit_price="2380.00")  # supplier 2380.00
    old_alternator = books.old_part(j1, alternator_off, books.desk.station)
    books.freight("120.00", [old_alternator], at=day(7))  # supplier 120.00
    books.claim("Bosch", [old_alternator], claimed="2380.00", recovered="2000.00", settled_at=day(20))
    # R2 (Zhengzhou, C12, quality, not investigated): the defaults of §9.
    r2 = books.request()
    j2 = books.job(r2, books.zz_tech)
    books.expense(j2, "travel", "200.00", date(2026, 3, 5))  # service branch
    books.expense(j2, "lodging", "180.00", date(2026, 3, 5))  # service branch
    books.expense(j2, "allowance", "60.00", date(2026, 3, 6), status="pending")  # pending, apart
    books.expense(j2, "packaging", "45.50", date(2026, 3, 6))  # manufacturing
    books.expense(j2, "travel", "99.00", date(2026, 3, 6), status="rejected")  # no cost at all
    books.expense(j2, "travel", "1000.00", date(2026, 2, 27))  # February: outside the period
    report2 = books.report(j2, approved_at=day(8), lines=((pads, 2, True),),
                           compensation=("300.00",))  # manufacturing 300.00
    pads_off = books.write_off(j2, report2, pads, 2, covered=True, at=day(9),
                               unit_price="420.00")  # manufacturing 2 × 420.00 = 840.00
    books.freight("75.00", [books.old_part(j2, pads_off, books.desk.station)], at=day(2, month=4))  # April
    # R3 (Guangzhou, M8, non-quality): the investigation holds the customer responsible.
    r3 = books.request(m8, at_guangzhou=True, complaint_class="non_quality")
    books.investigation(r3, "customer", "misuse")
    j3 = books.job(r3, books.gz_tech)
    books.expense(j3, "travel", "500.00", date(2026, 3, 10))  # customer
    report3 = books.report(j3, approved_at=day(11), lines=((pads, 1, False),), cash="420.00")  # income 420.00
    books.write_off(j3, report3, pads, 1, covered=False, at=day(12), unit_price="420.00")  # customer 420.00
    return March(books=books, finance=books.person("finance"), r1=r1, r2=r2, r3=r3, j2=j2, alternator=alternator,
                 pads=pads)


def report(api: Api, group_by: str | None = None, **period: str) -> dict[str, Any]:
    query = (period or MARCH) | ({"group_by": group_by} if group_by else {})
    response = api.get(COSTS, query_string=query)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def figures(row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(row[name] for name in FIGURES)


def money(*amounts: str | int) -> tuple[Any, ...]:
    """Expected figures in FIGURES order: the amounts as the API spells money, the pending count as a number."""
    *cash, count = amounts
    return (*(f"{Decimal(a):.2f}" for a in cash), count)


# --- the cost report (CST-1) on the hand-checked set ------------------------------------------------------------

# service branch   200.00 + 180.00                      =  380.00
# manufacturing     45.50 + 840.00 + 300.00             = 1185.50
# supplier         350.00 + 2380.00 + 120.00            = 2850.00, recovered 2000.00, net 850.00
# customer         500.00 + 420.00                      =  920.00
# total                                                  = 5335.50; income 420.00; pending 60.00 (one expense)
MARCH_TOTALS = money("380.00", "1185.50", "2850.00", "920.00", "5335.50", "2000.00", "850.00", "420.00", "60.00", 1)


def test_the_cost_report_totals_each_allocation_with_pending_expenses_apart(march: March) -> None:
    answer = report(march.finance)
    assert figures(answer["totals"]) == MARCH_TOTALS
    assert [figures(row) for row in answer["rows"]] == [MARCH_TOTALS]
    assert answer["rows"][0]["group"] is None and answer["group_by"] is None
    # February holds only R2's 1000.00 travel: the service branch's.
    february = report(march.finance, **{"from": "2026-02-01T00:00:00+00:00", "to": MARCH["from"]})
    assert figures(february["totals"]) == money("1000", 0, 0, 0, "1000", 0, 0, 0, 0, 0)


@pytest.mark.parametrize(("group_by", "expected"), [
    ("station", {"ZZ": money("380.00", "1185.50", "2850.00", 0, "4415.50", "2000.00", "850.00", 0, "60.00", 1),
                 "GZ": money(0, 0, 0, "920.00", "920.00", 0, 0, "420.00", 0, 0)}),
    ("model", {"C12 coach": money("380.00", "1185.50", "2850.00", 0, "4415.50", "2000.00", "850.00", 0, "60.00", 1),
               "M8 minibus": money(0, 0, 0, "920.00", "920.00", 0, 0, "420.00", 0, 0)}),
    # The part lines by part; every other line (expenses, freight, compensation, income) has none.
    ("part", {"ALT": money(0, 0, "2380.00", 0, "2380.00", "2000.00", "380.00", 0, 0, 0),
              "PAD": money(0, "840.00", 0, "420.00", "1260.00", 0, 0, 0, 0, 0),
              None: money("380.00", "345.50", "470.00", "500.00", "1695.50", 0, "470.00", "420.00", "60.00", 1)}),
    # Bosch bears all of R1; the pads are Knorr-Bremse's make, borne by manufacturing (R2) and the customer (R3).
    ("supplier", {"Bosch": money(0, 0, "2850.00", 0, "2850.00", "2000.00", "850.00", 0, 0, 0),
                  "Knorr-Bremse": money(0, "840.00", 0, "420.00", "1260.00", 0, 0, 0, 0, 0),
                  None: money("380.00", "345.50", 0, "500.00", "1225.50", 0, 0, "420.00", "60.00", 1)}),
    ("cause", {"supplier_part": money(0, 0, "2850.00", 0, "2850.00", "2000.00", "850.00", 0, 0, 0),
               "misuse": money(0, 0, 0, "920.00", "920.00", 0, 0, "420.00", 0, 0),
               None: money("380.00", "1185.50", 0, 0, "1565.50", 0, 0, 0, "60.00", 1)}),
    ("month", {"2026-03": MARCH_TOTALS}),
])
def test_the_cost_report_by_group(march: March, group_by: str, expected: dict[str | None, tuple[Any, ...]]) -> None:
    names = {"station": {str(march.books.desk.station["id"]): "ZZ", str(march.books.guangzhou["id"]): "GZ"},
             "part": {str(march.alternator.id): "ALT", str(march.pads.id): "PAD"}}.get(group_by, {})
    answer = report(march.finance, group_by)
    assert {names.get(row["group"], row["group"]): figures(row) for row in answer["rows"]} == expected
    assert figures(answer["totals"]) == MARCH_TOTALS  # the groups add up to the whole


def test_the_cost_report_as_csv(march: March) -> None:
    response = march.finance.get(COSTS, query_string=MARCH | {"group_by": "cause"}, headers={"Accept": "text/csv"})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [(row["group"], row["supplier"], row["supplier_net"], row["pending"]) for row in rows] == [
        ("misuse", "0.00", "0.00", "0.00"), ("supplier_part", "2850.00", "850.00", "0.00"),
        ("", "0.00", "0.00", "60.00")]


def test_the_cost_report_refuses_a_bad_period_naming_the_field(march: March) -> None:
    for query, field in (({"from": MARCH["to"], "to": MARCH["from"]}, "to"),
                         ({"from": "2026-03-01T00:00:00", "to": MARCH["to"]}, "from"),
                         (MARCH | {"group_by": "technician"}, "group_by"), ({"to": MARCH["to"]}, "from")):
        response = march.finance.get(COSTS, query_string=query)
        assert response.status_code == 422, (query, response.get_json())
        assert response.mimetype == "application/problem+json"
        assert [e["field"] for e in response.get_json()["errors"]] == [field]


# --- the ledger and its default allocation (CST-2, §9) ----------------------------------------------------------

def _ledger(api: Api, request_id: int) -> dict[str, Any]:
    response = api.get(ledger_url(request_id))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_defaults_follow_section_9_and_the_investigation(march: March) -> None:
    r2 = _ledger(march.finance, march.r2)
    assert [(line["kind"], line["amount"], line["status"], line["borne_by"]) for line in r2["lines"]] == [
        ("travel", "1000.00", "approved", "service_branch"),
        ("travel", "200.00", "approved", "service_branch"),
        ("lodging", "180.00", "approved", "service_branch"),
        ("allowance", "60.00", "pending", "service_branch"),
        ("packaging", "45.50", "approved", "manufacturing"),
        ("travel", "99.00", "rejected", "service_branch"),
        ("compensation", "300.00", "approved", "manufacturing"),
        ("part", "840.00", "approved", "manufacturing"),
        ("freight", "75.00", "approved", "manufacturing")]
    assert "001 §9.1" in r2["lines"][0]["default_basis"] and "001 §9.2" in r2["lines"][4]["default_basis"]
    assert all(line["allocation"] is None and line["version"] == 0 for line in r2["lines"])
    # 1000 + 200 + 180; 45.50 + 300 + 840 + 75
    assert figures(r2["totals"]) == money("1380.00", "1260.50", 0, 0, "2640.50", 0, 0, 0, "60.00", 1)

    r1 = _ledger(march.finance, march.r1)
    assert {(line["kind"], line["borne_by"], line["supplier"]) for line in r1["lines"]} == {
        ("travel", "supplier", "Bosch"), ("part", "supplier", "Bosch"), ("freight", "supplier", "Bosch")}
    r3 = _ledger(march.finance, march.r3)
    assert [(line["source"], line["kind"], line["borne_by"]) for line in r3["lines"]] == [
        ("expense", "travel", "customer"), ("income", "collected", None), ("part", "part", "customer")]


def test_a_part_outside_warranty_is_the_customers_and_a_shared_freight_is_split(books: Books) -> None:
    pads = books.part("BRK-PAD", "420.00", "Knorr-Bremse")
    first, second = books.request(), books.request()
    old_parts = []
    for request_id, covered in ((first, False), (second, True)):
        job = books.job(request_id, books.zz_tech)
        report = books.report(job, approved_at=day(4), lines=((pads, 1, covered),))
        old_parts.append(books.old_part(job, books.write_off(job, report, pads, 1, covered=covered, at=day(5),
                                                             unit_price="420.00"), books.desk.station))
    books.freight("100.01", old_parts, at=day(6))  # 50.01 + 50.00: the odd cent to the first request
    finance = books.person("finance")
    assert [(line["kind"], line["amount"], line["borne_by"]) for line in _ledger(finance, first)["lines"]] == [
        ("part", "420.00", "customer"), ("freight", "50.01", "manufacturing")]
    assert [(line["kind"], line["amount"], line["borne_by"]) for line in _ledger(finance, second)["lines"]] == [
        ("part", "420.00", "manufacturing"), ("freight", "50.00", "manufacturing")]


# --- finance's allocation (CST-2) -------------------------------------------------------------------------------

def test_finance_overrides_the_default_with_if_match_and_the_decision_is_recorded(march: March) -> None:
    compensation = next(line for line in _ledger(march.finance, march.r2)["lines"] if line["kind"] == "compensation")
    url = f"{ledger_url(march.r2)}/compensation/{compensation['source_id']}"
    line = march.finance.get(url)
    assert line.status_code == 200 and line.headers["ETag"] == '"0"'
    body = {"borne_by": "service_branch", "reason": "The branch promised the day's compensation itself"}

    assert march.finance.put(f"{url}/allocation", json=body).status_code == 428
    decided = march.finance.put(f"{url}/allocation", json=body, headers={"If-Match": '"0"'})
    assert decided.status_code == 200, decided.get_json()
    assert decided.headers["ETag"] == '"1"'
    allocation = decided.get_json()["allocation"]
    assert decided.get_json()["borne_by"] == "service_branch"
    assert decided.get_json()["default_borne_by"] == "manufacturing"  # the default is still shown beside it
    assert allocation["reason"] == body["reason"] and allocation["decided_at"] == "2026-03-02T08:00:00+00:00"
    stale = march.finance.put(f"{url}/allocation", json=body | {"borne_by": "customer"}, headers={"If-Match": '"0"'})
    assert stale.status_code == 412

    # 300.00 moved from manufacturing (1185.50 → 885.50) to the service branch (380.00 → 680.00).
    assert figures(report(march.finance)["totals"]) == money("680.00", "885.50", "2850.00", "920.00", "5335.50",
                                                             "2000.00", "850.00", "420.00", "60.00", 1)
    supplier = march.finance.put(f"{url}/allocation", json={"borne_by": "supplier", "supplier": "Hella",
                                                            "reason": "Their door seal let the rain in"},
                                 headers={"If-Match": '"1"'})
    assert supplier.status_code == 200 and supplier.headers["ETag"] == '"2"'
    assert (supplier.get_json()["borne_by"], supplier.get_json()["supplier"]) == ("supplier", "Hella")

    march.books.session.rollback()
    trail = march.books.session.scalars(select(AuditEntry).where(AuditEntry.entity_type == "cost_allocations")
                                        .order_by(AuditEntry.id)).all()
    finance_id = _me(march.finance)["id"]
    assert [(entry.change, entry.after["borne_by"], entry.actor_user_id) for entry in trail] == [
        ("create", "service_branch", finance_id), ("update", "supplier", finance_id)]
    assert trail[0].after["decided_by_user_id"] == finance_id and trail[1].after["supplier"] == "Hella"


def test_allocation_refusals_name_the_field(march: March) -> None:
    lines = _ledger(march.finance, march.r2)["lines"]
    compensation = next(line for line in lines if line["kind"] == "compensation")
    url = f"{ledger_url(march.r2)}/compensation/{compensation['source_id']}/allocation"
    zero = {"If-Match": '"0"'}
    for body, field in (({"borne_by": "supplier", "reason": "?"}, "supplier"),  # nobody to name by default
                        ({"borne_by": "customer", "supplier": "Bosch", "reason": "?"}, "supplier"),
                        ({"borne_by": "the_branch", "reason": "?"}, "borne_by"),
                        ({"borne_by": "customer", "reason": " "}, "reason")):
        refused = march.finance.put(url, json=body, headers=zero)
        assert refused.status_code == 422 and refused.mimetype == "application/problem+json", refused.get_json()
        assert [e["field"] for e in refused.get_json()["errors"]] == [field]
    # A part line borne by a supplier defaults to its maker.
    part = next(line for line in lines if line["kind"] == "part")
    decided = march.finance.put(f"{ledger_url(march.r2)}/part/{part['source_id']}/allocation", headers=zero,
                                json={"borne_by": "supplier", "reason": "Pads glazed: a batch fault"})
    assert decided.status_code == 200 and decided.get_json()["supplier"] == "Knorr-Bremse"
    # A rejected expense is no cost; an unknown source or a line of another request is no line at all.
    rejected = next(line for line in lines if line["status"] == "rejected")
    refused = march.finance.put(f"{ledger_url(march.r2)}/expense/{rejected['source_id']}/allocation", headers=zero,
                                json={"borne_by": "customer", "reason": "?"})
    assert refused.status_code == 409
    for path in (f"{ledger_url(march.r2)}/income/1", f"{ledger_url(march.r2)}/bananas/1",
                 f"{ledger_url(march.r1)}/compensation/{compensation['source_id']}"):
        assert march.finance.get(path).status_code == 404
    # Only finance allocates.
    for role in ("manager", "quality", "supervisor"):
        assert march.books.person(role).put(url, json={"borne_by": "customer", "reason": "?"},
                                            headers=zero).status_code == 403


def test_station_scope_narrows_the_costs(march: March) -> None:
    guangzhou_finance = march.books.person("finance")
    march.books.give_stations(guangzhou_finance, march.books.guangzhou)
    assert figures(report(guangzhou_finance)["totals"]) == money(0, 0, 0, "920.00", "920.00", 0, 0, "420.00", 0, 0)
    assert guangzhou_finance.get(ledger_url(march.r1)).status_code == 404
    assert guangzhou_finance.get(ledger_url(march.r3)).status_code == 200


def _me(api: Api) -> dict[str, Any]:
    return api.get("/api/v1/me").get_json()


# --- technicians' expenses and their four-eyes approval ---------------------------------------------------------

def _raise(api: Api, for_job: int, **overrides: Any) -> Any:
    return api.post(EXPENSES, json={"job_id": for_job, "kind": "travel", "amount": "230.00",
                                    "incurred_on": "2026-03-02", "receipt_number": "TK-88120"} | overrides)


def test_a_technician_raises_expenses_for_their_own_jobs_only(books: Books, clock) -> None:
    job = books.job(books.request(), books.zz_tech, status="work_done")
    tech = books.desk.as_technician(books.zz_tech)
    raised = _raise(tech, job.id)
    assert raised.status_code == 201, raised.get_json()
    assert raised.get_json()["status"] == "pending" and raised.get_json()["service_request_id"] == \
        job.service_request_id
    assert raised.headers["Location"].endswith(f"/api/v1/expenses/{raised.get_json()['id']}")
    # An allowance needs no receipt; every other kind does.
    assert _raise(tech, job.id, kind="allowance", receipt_number=None).status_code == 201
    for overrides, field in (({"kind": "lodging", "receipt_number": None}, "receipt_number"),
                             ({"receipt_number": "   "}, "receipt_number"),  # a blank receipt is no receipt
                             ({"amount": "0.00"}, "amount"), ({"amount": 230}, "amount"),
                             ({"incurred_on": "2026-03-03"}, "incurred_on"),  # tomorrow
                             ({"incurred_on": "2026-02-28"}, "incurred_on"),  # before the job was assigned
                             ({"kind": "dinner"}, "kind"), ({"job_id": job.id + 1}, "job_id")):
        refused = _raise(tech, job.id, **overrides)
        assert refused.status_code == 422, (overrides, refused.get_json())
        assert [e["field"] for e in refused.get_json()["errors"]] == [field]
    # Not on the crew: the job reads as missing.
    other = books.desk.as_technician(books.gz_tech)
    assert [e["field"] for e in _raise(other, job.id).get_json()["errors"]] == ["job_id"]
    # Each technician sees their own.
    assert len(tech.get(EXPENSES).get_json()) == 2 and other.get(EXPENSES).get_json() == []
    assert other.get(f"{EXPENSES}/{raised.get_json()['id']}").status_code == 404


def test_four_eyes_on_expense_approval(books: Books) -> None:
    # A supervisor who is also a technician on the crew: raises for the job, cannot approve it.
    working_supervisor = books.technician_and_supervisor("Li Ming")
    job = books.job(books.request(), books.zz_tech, working_supervisor, status="work_done")
    crew_api = books.desk.login(working_supervisor["user"])
    expense = _raise(books.desk.as_technician(books.zz_tech), job.id).get_json()
    own = _raise(crew_api, job.id, amount="99.00").get_json()

    for expense_id in (expense["id"], own["id"]):
        refused = crew_api.post(f"{EXPENSES}/{expense_id}/approve")
        assert refused.status_code == 403, refused.get_json()
        assert "four eyes" in refused.get_json()["detail"]
    # A supervisor of another station does not even see it (SCP-1).
    elsewhere = books.person("supervisor")
    books.give_stations(elsewhere, books.guangzhou)
    assert elsewhere.post(f"{EXPENSES}/{expense['id']}/approve").status_code == 404

    supervisor = books.person("supervisor")
    approved = supervisor.post(f"{EXPENSES}/{expense['id']}/approve")
    assert approved.status_code == 200, approved.get_json()
    assert approved.get_json()["status"] == "approved" and approved.get_json()["decided_at"] is not None
    again = supervisor.post(f"{EXPENSES}/{expense['id']}/reject", json={"reason": "changed my mind"})
    assert again.status_code == 409 and again.get_json()["current_status"] == "approved"
    rejected = supervisor.post(f"{EXPENSES}/{own['id']}/reject", json={"reason": "no receipt attached"})
    assert rejected.status_code == 200 and rejected.get_json()["reject_reason"] == "no receipt attached"


def test_pending_expenses_are_shown_apart_until_approved(books: Books) -> None:
    job = books.job(books.request(), books.zz_tech, status="work_done")
    expense = _raise(books.desk.as_technician(books.zz_tech), job.id, kind="lodging", amount="180.00").get_json()
    finance = books.person("finance")
    assert figures(report(finance)["totals"]) == money(0, 0, 0, 0, 0, 0, 0, 0, "180.00", 1)
    assert books.person("supervisor").post(f"{EXPENSES}/{expense['id']}/approve").status_code == 200
    assert figures(report(finance)["totals"]) == money("180.00", 0, 0, 0, "180.00", 0, 0, 0, 0, 0)


# --- parts at their price when written off (PRT-6) --------------------------------------------------------------

def test_a_part_costs_its_price_when_written_off_not_todays(yard, make_user, login) -> None:  # noqa: F811
    yard.issued({"part_id": yard.filter_part["id"], "quantity": 2, "reason": "leaking"})
    yard.work_done()
    yard.approve_report(yard.sign({"part_id": yard.filter_part["id"], "quantity": 2}))
    (owed,) = yard.old_parts()
    assert yard.warehouse.post(f"{OLD_PARTS}/{owed['id']}/receive", json={"condition": "split seam"}).status_code \
        == 200
    part = yard.desk.admin.get(f"/api/v1/parts/{yard.filter_part['id']}")
    assert yard.desk.admin.patch(f"/api/v1/parts/{yard.filter_part['id']}", json={"unit_price": "99.00"},
                                 headers={"If-Match": part.headers["ETag"]}).status_code == 200
    request_id = yard.session.get_one(Job, yard.job_id).service_request_id
    finance = login(make_user("finance"))
    (line,) = _ledger(finance, request_id)["lines"]
    assert (line["kind"], line["amount"], line["borne_by"]) == ("part", "25.00", "manufacturing")  # 2 × 12.50


def test_the_demo_data_has_costs_for_finance_and_the_supervisor(app, session, settings, client) -> None:  # noqa: F811
    from backend.demo import load_demo_data
    services = app.extensions["onsite"]
    load_demo_data(session, settings, signer=services.signer, media=services.media)
    session.commit()
    token = client.post("/api/v1/auth/token", json={"username": "finance", "password": "finance-demo-pass"})
    finance = Api(client, token.get_json()["access_token"])
    by_receipt = {expense["receipt_number"]: expense for expense in finance.get(EXPENSES).get_json()}
    assert by_receipt["HTL-88213"]["status"] == "pending" and by_receipt["TKT-2026-0413"]["status"] == "approved"
    travel = by_receipt["TKT-2026-0413"]
    (line,) = [line for line in _ledger(finance, travel["service_request_id"])["lines"]
               if line["source"] == "expense" and line["source_id"] == travel["id"]]
    assert (line["borne_by"], line["default_borne_by"], line["version"]) == ("customer", "service_branch", 1)
    assert "三包" in line["allocation"]["reason"]
    # The closed requests' trips are borne as their investigations decided.
    for receipt, borne_by, supplier in (("TKT-2026-0501", "supplier", "Cooper Standard"),
                                        ("TKT-2026-0502", "service_branch", None),
                                        ("TKT-2026-0503", "customer", None)):
        trip = by_receipt[receipt]
        (line,) = [line for line in _ledger(finance, trip["service_request_id"])["lines"]
                   if line["source"] == "expense" and line["source_id"] == trip["id"]]
        assert (line["borne_by"], line["supplier"]) == (borne_by, supplier)
