"""Arrangements shared by the parts-flow tests (no tests in here): a dispatched job with its technician, a
warehouse holding stock, a supervisor, and signed reports built directly in the database (the report API is the
reports issue's; here its hooks in backend.parts.field_use.service are called as the report service calls them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from backend.clock import ManualClock
from backend.config import Settings
from backend.dispatch.models import Job
from backend.duties.registry import Summary, registered, run_duty
from backend.parts.field_use import service as field_use
from backend.parts.models import LocationKind
from backend.parts.stock.service import fixed_location
from backend.reports.models import SIGNED, SUPERSEDED, FieldReport, ReportPartLine
from tests import factories
from tests.conftest import Api
from tests.test_dispatch_support import ZHENGZHOU, Desk, desk, quick_passwords, settings  # noqa: F401

REQUISITIONS = "/api/v1/requisitions"
OLD_PARTS = "/api/v1/old-parts"
WRITE_OFFS = "/api/v1/write-offs"
LINE_DEFAULTS = {"quantity": 1, "reason": "worn", "covered_by_warranty": True, "new_serial": None, "old_serial": None}


@dataclass
class Yard:
    """A job dispatched to a technician at the Zhengzhou station, the store stocked with a counted part (oil
    filters) and a serial-tracked one (alternators from Bosch), a warehouse keeper and a supervisor."""

    app: Any
    desk: Desk
    session: Session
    clock: ManualClock
    settings: Settings
    warehouse: Api
    supervisor: Api
    tech: dict[str, Any]
    tech_api: Api
    job_id: int
    filter_part: dict[str, Any]
    alternator: dict[str, Any]
    store: int
    van: int

    def requisition(self, *lines: dict[str, Any], api: Api | None = None, **headers: str) -> Any:
        return (api or self.tech_api).post(REQUISITIONS, json={"job_id": self.job_id, "lines": list(lines)},
                                           headers=headers or None)

    def approved(self, *lines: dict[str, Any]) -> dict[str, Any]:
        response = self.requisition(*lines)
        assert response.status_code == 201, response.get_json()
        approved = self.supervisor.post(f"{REQUISITIONS}/{response.get_json()['id']}/approve")
        assert approved.status_code == 200, approved.get_json()
        return approved.get_json()

    def issue(self, requisition_id: int, *serials: dict[str, Any]) -> Any:
        return self.warehouse.post(f"{REQUISITIONS}/{requisition_id}/issue",
                                   json={"source_location_id": self.store, "lines": list(serials)})

    def issued(self, *lines: dict[str, Any], serials: tuple[dict[str, Any], ...] = ()) -> dict[str, Any]:
        requisition = self.approved(*lines)
        response = self.issue(requisition["id"], *serials)
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    def get(self, requisition_id: int) -> dict[str, Any]:
        response = self.tech_api.get(f"{REQUISITIONS}/{requisition_id}")
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    def work_done(self) -> None:
        self.session.execute(update(Job).where(Job.id == self.job_id).values(work_done_at=self.clock.now(),
                                                                             status="work_done"))
        self.session.commit()

    def sign(self, *lines: dict[str, Any]) -> FieldReport:
        """A new signed version of the job's report with these part lines, then the sign-off hook."""
        self.session.rollback()
        previous = self.session.query(FieldReport).filter(FieldReport.job_id == self.job_id,
                                                          FieldReport.status != SUPERSEDED).one_or_none()
        if previous is not None:
            previous.status = SUPERSEDED
            self.session.flush()
        report = FieldReport(job_id=self.job_id, version_no=(previous.version_no + 1) if previous else 1,
                             status=SIGNED, signed_at=self.clock.now(), part_lines=[
                                 ReportPartLine(line_no=n, part_number="-", part_name="-", **(LINE_DEFAULTS | line))
                                 for n, line in enumerate(lines, start=1)])
        self.session.add(report)
        self.session.flush()
        try:
            field_use.report_signed(self.session, report, actor_id=self.tech["user"].id, now=self.clock.now(),
                                    settings=self.settings)
        except Exception:
            self.session.rollback()
            raise
        self.session.commit()
        return report

    def approve_report(self, report: FieldReport) -> None:
        self.session.rollback()
        field_use.report_approved(self.session, self.session.get(FieldReport, report.id), actor_id=1,
                                  now=self.clock.now())
        self.session.commit()

    def old_parts(self, query: str = "", api: Api | None = None) -> list[dict[str, Any]]:
        response = (api or self.warehouse).get(f"{OLD_PARTS}?{query}")
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    def write_offs(self) -> list[dict[str, Any]]:
        response = self.supervisor.get(WRITE_OFFS)
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    def level(self, location: int, part: dict[str, Any]) -> int:
        rows = self.warehouse.get(f"/api/v1/stock?location={location}&part={part['id']}").get_json()
        return rows[0]["on_hand"] if rows else 0

    def run(self, duty: str) -> Summary:
        return run_duty(self.app.extensions["onsite"], registered()[duty])

    def later(self, **delta: float) -> None:
        self.clock.advance(**delta)


@pytest.fixture
def yard(app: Any, desk: Desk, session: Session, clock: ManualClock, settings: Settings, as_role: Any) -> Yard:  # noqa: F811
    tech = desk.technician(position=ZHENGZHOU, name="Wang Wei")
    request = desk.register()
    dispatched = desk.dispatch(request["id"], technician_ids=[tech["id"]])
    assert dispatched.status_code == 201, dispatched.get_json()
    store = fixed_location(session, LocationKind.STORE).id
    session.commit()
    warehouse = as_role("warehouse")
    filter_part = factories.part(desk.admin, part_number="FLT-OIL-D6", name="Oil filter", supplier="Mann")
    alternator = factories.part(desk.admin, part_number="ALT-24V", name="Alternator 24 V", serial_tracked=True,
                                supplier="Bosch")
    received = warehouse.post("/api/v1/stock/receipts", json={"supplier": "Bosch", "lines": [
        {"part_id": filter_part["id"], "quantity": 10},
        {"part_id": alternator["id"], "quantity": 2, "serials": ["ALT-1", "ALT-2"]}]})
    assert received.status_code == 201, received.get_json()
    van = warehouse.get(f"/api/v1/stock-locations?technician={tech['id']}").get_json()[0]["id"]
    return Yard(app=app, desk=desk, session=session, clock=clock, settings=settings, warehouse=warehouse,
                supervisor=as_role("supervisor"), tech=tech, tech_api=desk.as_technician(tech),
                job_id=dispatched.get_json()["id"], filter_part=filter_part, alternator=alternator, store=store,
                van=van)

