"""KPIs (RULES.md §9) against their targets (DSP-5), each on a small data set whose figures are worked out here."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from backend.dispatch.models import Deadline, ServiceRequest
from backend.parts.models import Installation, OldPartObligation
from backend.reports.models import FieldReport, ReportPartLine
from tests import factories
from tests.conftest import START, Api
from tests.test_callbacks_support import GUANGZHOU, Field, callbacks, field  # noqa: F401  (fixtures)
from tests.test_duties_support import office, quick_passwords, settings  # noqa: F401  (fixtures)

MARCH = {"from": "2026-03-01T00:00:00+00:00", "to": "2026-04-01T00:00:00+00:00"}
FEBRUARY_DAY = datetime(2026, 2, 20, 9, 0, tzinfo=UTC)


def kpis(api: Api, group_by: str | None = None, **period: str) -> dict[tuple[str, str | None, str | None], Any]:
    query = (period or MARCH) | ({"group_by": group_by} if group_by else {})
    response = api.get("/api/v1/kpis", query_string=query)
    assert response.status_code == 200, response.get_json()
    return {(row["kpi"], row["detail"], row["group"]): row for row in response.get_json()["rows"]}


def figures(row: dict[str, Any]) -> tuple[Any, ...]:
    return row["numerator"], row["denominator"], row["value"], row["target"], row["target_met"]


@pytest.fixture
def manager(field: Field) -> Api:
    return field.office.person("manager")


def _settle(session: Session, request_id: int, kind: str, status: str) -> None:
    session.execute(update(Deadline).where(Deadline.service_request_id == request_id, Deadline.kind == kind)
                    .values(status=status))
    session.commit()


# --- DSP-5 service timeliness ------------------------------------------------------------------------------------

def test_service_timeliness_is_deadlines_met_over_deadlines_due_per_kind(field: Field, manager: Api, clock,
                                                                        session) -> None:
    zz, gz = str(field.office.zhengzhou["id"]), str(field.office.guangzhou["id"])
    # Zhengzhou: on-site deadlines met, missed, left open past due (missed too), and a chassis/engine fault whose
    # on-site and written-contact deadlines were both met. Guangzhou: one met, one waived (left out).
    met, missed, _left_open = field.request(), field.request(), field.request()
    engine = field.request(fault_category="chassis_engine")
    gz_met, gz_waived = field.request(near=GUANGZHOU), field.request(near=GUANGZHOU)
    _settle(session, met["id"], "on_site", "met")
    _settle(session, missed["id"], "on_site", "missed")
    _settle(session, engine["id"], "on_site", "met")
    _settle(session, engine["id"], "written_contact", "met")
    _settle(session, gz_met["id"], "on_site", "met")
    _settle(session, gz_waived["id"], "on_site", "waived")
    clock.advance(days=8)
    field.request()  # due tomorrow: not yet due, so not counted

    rows = kpis(manager)
    # on site: due 5 (met, missed, left open, engine, gz_met), met 3
    assert figures(rows["service_timeliness", "on_site", None]) == (3, 5, 0.6, ">= 90%", False)
    assert figures(rows["service_timeliness", "written_contact", None]) == (1, 1, 1.0, ">= 90%", True)

    by_station = kpis(manager, "station")
    assert figures(by_station["service_timeliness", "on_site", zz]) == (2, 4, 0.5, ">= 90%", False)
    assert figures(by_station["service_timeliness", "on_site", gz]) == (1, 1, 1.0, ">= 90%", True)
    assert figures(by_station["service_timeliness", "written_contact", zz])[:3] == (1, 1, 1.0)
    assert ("service_timeliness", "written_contact", gz) not in by_station

    # A period before any deadline fell due has nothing to count.
    assert not [k for k in kpis(manager, **{"from": "2026-02-01T00:00:00+00:00", "to": MARCH["from"]})
                if k[0] == "service_timeliness"]


# --- satisfaction (CB-3, DSP-5) ----------------------------------------------------------------------------------

def _rate(field: Field, callback_id: int, ratings: tuple[int, ...] | None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"reached": ratings is not None, "method": "phone", **extra}
    if ratings:
        body |= dict(zip(("attitude", "skill", "arrival_time", "promise_kept"), ratings))
    response = field.office.agent.post(f"/api/v1/callbacks/{callback_id}/result", json=body)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _callback_of(field: Field, job_id: int) -> int:
    return next(c["id"] for c in callbacks(field.office.agent, page_size=200) if c["job_id"] == job_id)


def test_satisfaction_is_the_share_of_customers_rating_4_or_more(field: Field, manager: Api, clock) -> None:
    t1, t2 = str(field.zz_tech), str(field.zz_tech + 1)
    assert field.gz_tech == field.zz_tech + 1
    jobs = [field.job(field.request(), technician=field.zz_tech, done_at=START) for _ in range(2)]
    jobs += [field.job(field.request(), technician=field.gz_tech, done_at=START) for _ in range(2)]
    followed = field.request()
    field.office.agent.put(f"/api/v1/service-requests/{followed['id']}/follow-up", json={"follow_up": True})
    clock.advance(days=2)
    field.office.run("callbacks")
    _rate(field, _callback_of(field, jobs[0]), (5, 5, 4, 4))  # mean 4.5: satisfied
    _rate(field, _callback_of(field, jobs[1]), (4, 4, 4, 3))  # mean 3.75: not
    _rate(field, _callback_of(field, jobs[2]), (4, 4, 4, 4))  # mean 4.0: satisfied
    _rate(field, _callback_of(field, jobs[3]), None)  # not reached: no answer to count
    [follow_up] = callbacks(field.office.agent, kind="follow_up")
    _rate(field, follow_up["id"], (1, 1, 1, 1))  # a follow-up is not a rating of a job's service

    rows = kpis(manager)
    assert figures(rows["satisfaction", None, None]) == (2, 3, pytest.approx(2 / 3), ">= 85%", False)
    # mean of the customers' means: (4.5 + 3.75 + 4.0) / 3
    assert rows["satisfaction_mean", None, None]["value"] == pytest.approx(4.083)
    assert rows["satisfaction_mean", None, None]["target"] is None

    by_tech = kpis(manager, "technician")
    assert figures(by_tech["satisfaction", None, t1]) == (1, 2, 0.5, ">= 85%", False)
    assert by_tech["satisfaction_mean", None, t1]["value"] == pytest.approx(4.125)
    assert figures(by_tech["satisfaction", None, t2]) == (1, 1, 1.0, ">= 85%", True)
    assert by_tech["satisfaction_mean", None, t2]["value"] == 4.0


# --- complaint rates (DSP-5) and callback coverage (CB-1) --------------------------------------------------------

def test_complaint_rate_counts_confirmed_non_quality_complaints_from_callbacks(field: Field, manager: Api, clock,
                                                                              session) -> None:
    jobs = [field.job(field.request(), technician=field.zz_tech, done_at=START) for _ in range(4)]
    field.office.run("callbacks")
    clock.advance(days=1)
    words = {"comments": "Still broken and the technician was rude", "reopen_as_complaint": True}
    confirmed = _rate(field, _callback_of(field, jobs[0]), (1, 1, 1, 1), complaint_class="non_quality", **words)
    product = _rate(field, _callback_of(field, jobs[1]), (2, 2, 2, 2), complaint_class="quality", **words)
    clock.advance(days=3)  # past the callbacks' due time (3 days after the work)
    rejected = _rate(field, _callback_of(field, jobs[2]), (2, 2, 2, 2), complaint_class="non_quality", **words)
    for result, outcome in ((confirmed, "accepted"), (product, "accepted"), (rejected, "rejected")):
        session.execute(update(ServiceRequest).where(ServiceRequest.id == result["attempts"][0]["complaint_request_id"])
                        .values(decision=outcome))
    session.commit()

    rows = kpis(manager)
    # rule DSP-5: 1 of 4 jobs led to a complaint confirmed as the service's
    assert figures(rows["service_complaint_rate", None, None]) == (1, 4, 0.25, "< 3%", False)
    # rule CB-1: jobs 0 and 1 were called back within 3 days; job 2 late, job 3 not at all
    assert figures(rows["callback_coverage", None, None]) == (2, 4, 0.5, None, None)


def test_major_complaint_rate_is_complaints_through_a_regulator(field: Field, manager: Api, clock) -> None:
    zz, gz = str(field.office.zhengzhou["id"]), str(field.office.guangzhou["id"])
    field.request(channel="regulator")
    field.request()
    field.request(channel="letter")
    field.request(near=GUANGZHOU)
    rows = kpis(manager)
    assert figures(rows["major_complaint_rate", None, None]) == (1, 4, 0.25, "<= 1%", False)
    by_station = kpis(manager, "station")
    assert figures(by_station["major_complaint_rate", None, zz]) == (1, 3, pytest.approx(1 / 3), "<= 1%", False)
    assert figures(by_station["major_complaint_rate", None, gz]) == (0, 1, 0.0, "<= 1%", True)


# --- first-time fix ----------------------------------------------------------------------------------------------

def test_first_time_fix_means_no_new_request_for_the_unit_within_30_days(field: Field, manager: Api,
                                                                         clock) -> None:
    admin, customer_id = field.office.admin, field.office.unit["customer_id"]
    units = [factories.unit(admin, customer_id)["id"] for _ in range(4)]
    jobs = {}
    for n, unit_id in enumerate(units[:3]):
        jobs[n] = field.job(field.request(unit_id=unit_id), technician=field.zz_tech, done_at=START)
    clock.set(FEBRUARY_DAY)
    field.job(field.request(unit_id=units[3]), technician=field.zz_tech, done_at=FEBRUARY_DAY)
    clock.set(START + timedelta(days=32))
    field.request(unit_id=units[0], reported_at=(START + timedelta(days=29, hours=23)).isoformat())  # a revisit
    field.request(unit_id=units[1], reported_at=(START + timedelta(days=30, hours=1)).isoformat())  # too late

    rows = kpis(manager)
    assert figures(rows["first_time_fix", None, None]) == (2, 3, pytest.approx(2 / 3), None, None)
    # February's job is fixed for good: the request for its unit in March came weeks later
    by_month = kpis(manager, "month", **{"from": "2026-02-01T00:00:00+00:00", "to": MARCH["to"]})
    assert figures(by_month["first_time_fix", None, "2026-02"])[:3] == (1, 1, 1.0)
    assert figures(by_month["first_time_fix", None, "2026-03"])[:3] == (2, 3, pytest.approx(2 / 3))


def test_first_time_fix_window_is_configurable(app, field: Field, manager: Api, clock, settings) -> None:  # noqa: F811
    from dataclasses import replace

    field.job(field.request(), technician=field.zz_tech, done_at=START)
    clock.advance(days=12)
    field.request()  # the same unit again, 12 days after the work
    assert kpis(manager)["first_time_fix", None, None]["value"] == 0.0
    app.extensions["onsite"].settings = replace(settings, first_time_fix_days=10)
    assert kpis(manager)["first_time_fix", None, None]["value"] == 1.0


# --- jobs, parts and old parts -----------------------------------------------------------------------------------

def _signed_report(session: Session, job_id: int, lines: list[tuple[int, int]], status: str = "signed") -> int:
    report = FieldReport(job_id=job_id, version_no=1, status=status, part_lines=[
        ReportPartLine(line_no=n, part_id=part_id, part_number=f"P{part_id}", part_name="a part", quantity=quantity,
                       reason="worn", covered_by_warranty=True)
        for n, (part_id, quantity) in enumerate(lines, start=1)])
    session.add(report)
    session.commit()
    return report.id


def test_jobs_and_parts_per_technician(field: Field, manager: Api, session) -> None:
    t1, t2 = str(field.zz_tech), str(field.gz_tech)
    part_a, part_b = (factories.part(field.office.admin)["id"] for _ in range(2))
    # T1 leads three jobs done in March (T2 helps on the first); T2 leads one, and one in February.
    j1 = field.job(field.request(), technician=field.zz_tech, done_at=START, helpers=(field.gz_tech,))
    j2 = field.job(field.request(), technician=field.zz_tech, done_at=START)
    field.job(field.request(), technician=field.zz_tech, done_at=START + timedelta(hours=3))
    j4 = field.job(field.request(near=GUANGZHOU), technician=field.gz_tech, done_at=START)
    j5 = field.job(field.request(near=GUANGZHOU), technician=field.gz_tech, done_at=FEBRUARY_DAY)
    _signed_report(session, j1, [(part_a, 2), (part_b, 1)])
    _signed_report(session, j2, [(part_a, 5)], status="draft")  # not signed: not consumed
    _signed_report(session, j4, [(part_b, 4)])
    _signed_report(session, j5, [(part_b, 9)])  # February

    rows = kpis(manager)
    assert figures(rows["jobs_per_technician", None, None])[:3] == (4, 2, 2.0)
    assert figures(rows["parts_per_technician", None, None])[:3] == (7, 2, 3.5)
    by_tech = kpis(manager, "technician")
    assert figures(by_tech["jobs_per_technician", None, t1])[:3] == (3, 1, 3.0)
    assert figures(by_tech["jobs_per_technician", None, t2])[:3] == (1, 1, 1.0)
    assert figures(by_tech["parts_per_technician", None, t1])[:3] == (3, 1, 3.0)
    assert figures(by_tech["parts_per_technician", None, t2])[:3] == (4, 1, 4.0)
    by_station = kpis(manager, "station")
    assert by_station["jobs_per_technician", None, str(field.office.guangzhou["id"])]["numerator"] == 1


def test_old_parts_outstanding_and_overdue_as_of_now(field: Field, manager: Api, clock, session) -> None:
    zz, gz = field.office.zhengzhou["id"], field.office.guangzhou["id"]
    part = factories.part(field.office.admin)["id"]

    def old_part(technician: int, station: int, due_in_days: int, status: str = "outstanding") -> None:
        job = field.job(field.request(), technician=technician, done_at=START)
        report = _signed_report(session, job, [(part, 1)])
        installation = Installation(job_id=job, report_id=report, technician_id=technician, part_id=part,
                                    quantity=1, covered_by_warranty=True, installed_at=START)
        session.add(installation)
        session.flush()
        session.add(OldPartObligation(installation_id=installation.id, job_id=job, technician_id=technician,
                                      station_id=station, part_id=part, quantity=1, status=status,
                                      due_at=START + timedelta(days=due_in_days)))
        session.commit()

    old_part(field.zz_tech, zz, 7)
    old_part(field.zz_tech, zz, 1)  # overdue
    old_part(field.gz_tech, gz, 1, status="received")  # back: neither
    old_part(field.gz_tech, gz, 2)  # overdue
    clock.advance(days=3)

    rows = kpis(manager)
    assert rows["old_parts_outstanding", None, None]["value"] == 3
    assert rows["old_parts_overdue", None, None]["value"] == 2
    by_station = kpis(manager, "station")
    assert [by_station[k, None, str(zz)]["value"] for k in ("old_parts_outstanding", "old_parts_overdue")] == [2, 1]
    assert [by_station[k, None, str(gz)]["value"] for k in ("old_parts_outstanding", "old_parts_overdue")] == [1, 1]
    by_tech = kpis(manager, "technician")
    assert by_tech["old_parts_overdue", None, str(field.gz_tech)]["value"] == 1


# --- the endpoint ------------------------------------------------------------------------------------------------

def test_the_same_table_comes_as_csv(field: Field, manager: Api, clock, session) -> None:
    met, missed = field.request(), field.request()
    _settle(session, met["id"], "on_site", "met")
    _settle(session, missed["id"], "on_site", "missed")
    clock.advance(days=2)
    as_json = manager.get("/api/v1/kpis", query_string=MARCH | {"group_by": "station"}).get_json()["rows"]
    response = manager.get("/api/v1/kpis", query_string=MARCH | {"group_by": "station"},
                           headers={"Accept": "text/csv"})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    table = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert list(table[0]) == ["kpi", "detail", "group", "value", "numerator", "denominator", "target", "target_met"]
    assert len(table) == len(as_json)
    [timeliness] = [r for r in table if r["kpi"] == "service_timeliness"]
    assert timeliness == {"kpi": "service_timeliness", "detail": "on_site",
                          "group": str(field.office.zhengzhou["id"]), "value": "0.5", "numerator": "1.0",
                          "denominator": "2", "target": ">= 90%", "target_met": "False"}


def test_json_is_the_default_and_echoes_the_period(manager: Api, clock) -> None:
    body = manager.get("/api/v1/kpis", query_string=MARCH, headers={"Accept": "*/*"}).get_json()
    assert (body["from"], body["to"], body["group_by"], body["as_of"]) == (
        MARCH["from"], MARCH["to"], None, clock.now().isoformat())
    # ungrouped and empty: every ratio is there with nothing to divide, and no target met or missed
    rows = {row["kpi"]: row for row in body["rows"]}
    assert figures(rows["service_complaint_rate"]) == (0, 0, None, "< 3%", None)
    assert figures(rows["satisfaction"]) == (0, 0, None, ">= 85%", None)
    assert rows["satisfaction_mean"]["value"] is None
    assert rows["old_parts_outstanding"]["value"] == 0


def test_the_period_must_be_given_and_run_forwards(manager: Api) -> None:
    backwards = manager.get("/api/v1/kpis", query_string={"from": MARCH["to"], "to": MARCH["from"]})
    assert backwards.status_code == 422 and backwards.get_json()["errors"][0]["field"] == "to"
    assert manager.get("/api/v1/kpis", query_string={"to": MARCH["to"]}).status_code == 422
    assert manager.get("/api/v1/kpis", query_string=MARCH | {"group_by": "week"}).status_code == 422


@pytest.mark.parametrize("role", ["manager", "supervisor"])
def test_managers_and_supervisors_see_kpis(field: Field, role: str) -> None:
    assert field.office.person(role).get("/api/v1/kpis", query_string=MARCH).status_code == 200


@pytest.mark.parametrize("role", ["agent", "dispatcher", "technician", "warehouse", "admin"])
def test_other_roles_do_not(field: Field, role: str) -> None:
    assert field.office.person(role).get("/api/v1/kpis", query_string=MARCH).status_code == 403
