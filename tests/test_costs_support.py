"""Arrangements shared by the cost and failure-analysis tests (no tests in here): requests are registered through
the API; their jobs, approved reports, write-offs, freight, claims and investigations are put straight into the
database with the state a test needs, as their own tests cover how they get there."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.orm import Session

from backend.accounts.models import User
from backend.costs.models import Expense
from backend.dispatch.models import Job, JobTechnician
from backend.parts.models import (FreightCharge, Installation, OldPartObligation, Part, SupplierClaim, WriteOff)
from backend.quality.models import Investigation
from backend.reports.models import SIGNED, CompensationLine, FieldReport, ReportPartLine
from tests import factories
from tests.conftest import Api
from tests.test_dispatch_support import ZHENGZHOU, Desk, desk, quick_passwords, settings  # noqa: F401

GUANGZHOU = (23.1291, 113.2644)
MARCH = {"from": "2026-03-01T00:00:00+00:00", "to": "2026-04-01T00:00:00+00:00"}


def day(d: int, month: int = 3, hour: int = 10) -> datetime:
    return datetime(2026, month, d, hour, 0, tzinfo=UTC)


@dataclass
class Books:
    """Stations at Zhengzhou (the desk's) and Guangzhou, a technician at each, and helpers that put rows in."""

    desk: Desk
    session: Session
    guangzhou: dict[str, Any]
    zz_tech: dict[str, Any]
    gz_tech: dict[str, Any]

    def fresh(self) -> None:
        """Sees what the API committed since, and so may write on top of it (SQLite refuses a write from a stale
        read snapshot)."""
        self.session.rollback()

    def person(self, *roles: str, **details: Any) -> Api:
        return self.desk.login(self.desk.make_user(*roles, **details))

    def technician_and_supervisor(self, name: str) -> dict[str, Any]:
        """A technician who is a supervisor too: to put on a crew and see the four-eyes rule refuse them."""
        technician = self.desk.technician(name=name)
        self.fresh()
        self.session.get_one(User, technician["user"].id).roles = ["technician", "supervisor"]
        self.session.commit()
        return technician

    def give_stations(self, api: Api, *stations: dict[str, Any]) -> None:
        """The user behind `api` acts for these stations only (SCP-1)."""
        self.fresh()
        user = self.session.get_one(User, api.get("/api/v1/me").get_json()["id"])
        user.station_ids = [station["id"] for station in stations]
        self.session.commit()

    def unit(self, model: str, delivered: date | None) -> dict[str, Any]:
        delivery = {"delivery_date": delivered.isoformat()} if delivered else {}
        return factories.unit(self.desk.admin, self.desk.customer["id"], model=model, **delivery)

    def part(self, number: str, price: str, supplier: str) -> Part:
        self.fresh()
        made = factories.part(self.desk.admin, part_number=number, name=number.title(), unit_price=price,
                              supplier=supplier)
        return self.session.get_one(Part, made["id"])

    def request(self, unit: dict[str, Any] | None = None, *, at_guangzhou: bool = False, **overrides: Any) -> int:
        origin = GUANGZHOU if at_guangzhou else ZHENGZHOU
        body = {"unit_id": unit["id"]} if unit else {}
        response = self.desk.agent.post("/api/v1/service-requests",
                                        json=self.desk.intake_body(20, origin=origin, **body, **overrides))
        assert response.status_code == 201, response.get_json()
        return response.get_json()["id"]

    def job(self, request_id: int, *technicians: dict[str, Any], status: str = "approved") -> Job:
        self.fresh()
        job = Job(service_request_id=request_id, status=status, assigned_at=day(1, hour=8), work_done_at=day(2),
                  crew=[JobTechnician(technician_id=t["id"], is_lead=n == 0) for n, t in enumerate(technicians)])
        self.session.add(job)
        self.session.commit()
        return job

    def report(self, job: Job, *, approved_at: datetime | None, lines: tuple[tuple[Part, int, bool], ...] = (),
               compensation: tuple[str, ...] = (), cash: str | None = None) -> FieldReport:
        """The job's signed report, approved at `approved_at` (None: submitted, not approved); lines are
        (part, quantity, covered by warranty)."""
        self.fresh()
        report = FieldReport(
            job_id=job.id, version_no=1, status=SIGNED, signed_at=day(2), submitted_at=day(2),
            review_outcome="approved" if approved_at else None, reviewed_at=approved_at,
            cash_collected=Decimal(cash) if cash else None, cash_receipt_number="R-CASH-1" if cash else None,
            part_lines=[ReportPartLine(line_no=n, part_id=part.id, part_number=part.part_number, part_name=part.name,
                                       quantity=quantity, reason="failed", covered_by_warranty=covered)
                        for n, (part, quantity, covered) in enumerate(lines, start=1)],
            compensation_lines=[CompensationLine(line_no=n, reason="off the road a day", amount=Decimal(amount))
                                for n, amount in enumerate(compensation, start=1)])
        self.session.add(report)
        self.session.commit()
        return report

    def write_off(self, job: Job, report: FieldReport, part: Part, quantity: int, *, covered: bool, at: datetime,
                  unit_price: str) -> WriteOff:
        self.fresh()
        installation = Installation(job_id=job.id, report_id=report.id, technician_id=job.lead_technician_id,
                                    part_id=part.id, quantity=quantity, covered_by_warranty=covered,
                                    installed_at=day(2), approved_at=at)
        write_off = WriteOff(installation=installation, job_id=job.id, part_id=part.id, quantity=quantity,
                             written_off_at=at, unit_price=Decimal(unit_price))
        self.session.add(write_off)
        self.session.commit()
        return write_off

    def old_part(self, job: Job, write_off: WriteOff, station: dict[str, Any]) -> OldPartObligation:
        self.fresh()
        old_part = OldPartObligation(installation_id=write_off.installation_id, job_id=job.id,
                                     technician_id=job.lead_technician_id, station_id=station["id"],
                                     part_id=write_off.part_id, quantity=write_off.quantity, due_at=day(9),
                                     status="received", received_at=day(3))
        self.session.add(old_part)
        self.session.commit()
        return old_part

    def claim(self, supplier: str, old_parts: list[OldPartObligation], *, claimed: str, recovered: str,
              settled_at: datetime) -> SupplierClaim:
        self.fresh()
        claim = SupplierClaim(supplier=supplier, status="accepted", amount_claimed=Decimal(claimed),
                              amount_recovered=Decimal(recovered), sent_at=settled_at - timedelta(days=1),
                              settled_at=settled_at)
        self.session.add(claim)
        self.session.flush()
        for old_part in old_parts:
            old_part.disposition, old_part.supplier_claim_id = "supplier_claim", claim.id
        self.session.commit()
        return claim

    def freight(self, amount: str, old_parts: list[OldPartObligation], *, at: datetime,
                status: str = "approved") -> FreightCharge:
        self.fresh()
        charge = FreightCharge(amount=Decimal(amount), handler_user_id=self.zz_tech["user"].id,
                               description="old parts by post", old_part_ids=[o.id for o in old_parts],
                               status=status, recorded_at=at)
        self.session.add(charge)
        self.session.commit()
        return charge

    def investigation(self, request_id: int, responsible: str, cause: str, supplier: str | None = None) -> None:
        self.fresh()
        self.session.add(Investigation(service_request_id=request_id, root_cause=cause, root_cause_text=cause,
                                       countermeasure="tighten incoming inspection", responsible_kind=responsible,
                                       responsible_supplier=supplier, reason="as found", decided_at=day(5)))
        self.session.commit()

    def expense(self, job: Job, kind: str, amount: str, on: date, status: str = "approved") -> Expense:
        self.fresh()
        tech = self.session.get_one(JobTechnician, (job.id, job.lead_technician_id)).technician
        expense = Expense(job_id=job.id, technician_id=tech.id, kind=kind, amount=Decimal(amount), incurred_on=on,
                          receipt_number=f"RC-{kind}-{amount}", status=status, raised_by_user_id=tech.user_id,
                          raised_at=day(4))
        self.session.add(expense)
        self.session.commit()
        return expense


@pytest.fixture
def books(desk: Desk, session: Session) -> Books:  # noqa: F811
    guangzhou = factories.station(desk.admin, code="GZ", latitude=GUANGZHOU[0], longitude=GUANGZHOU[1])
    return Books(desk=desk, session=session, guangzhou=guangzhou, zz_tech=desk.technician(name="Wang Wei"),
                 gz_tech=desk.technician(station=guangzhou, name="Chen Jie"))
