"""Failure analysis (002: 物料不良汇总报表, 故障不良分析报告; CST-3): the parts replaced on approved reports in a
period, by model, part, supplier or root cause, against the units in service, in Pareto order. Plain functions, no
Flask.

What counts, where the issue leaves it open:
- a failure is a part line of an approved report (REP-5; the current signed version), counted by its quantity, in
  the period of the report's approval; its cause is the investigation's root cause (INV-2), null until there is one;
- units in service are those delivered before the period's end (a unit without a delivery date is not counted):
  of the group's model when grouped by model, else the whole fleet, as the catalogue does not say which models a
  part is fitted to. Units belong to no station, so a user with stations sees their stations' failures against the
  whole fleet;
- the failure rate is failures per 100 units in service; the share is of all failures in the period, and the
  cumulative share runs down the Pareto order (most failures first);
- the warranty cost is the value of the parts replaced under warranty (WAR-2): at the price they were written off at
  (PRT-6), the catalogue price while not yet written off. The full cost of those requests, travel and freight
  included, is /api/v1/costs grouped the same way."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.accounts.models import Role, User
from backend.accounts.scope import within_scope
from backend.costs.ledger.lines import APPROVED, first_day_from
from backend.customers.models import Unit
from backend.dispatch.models import Job, ServiceRequest
from backend.parts.models import Part, WriteOff
from backend.quality.models import Investigation
from backend.reports.models import SIGNED, FieldReport, ReportPartLine

READERS = (Role.MANAGER, Role.QUALITY, Role.FINANCE)
ZERO = Decimal("0.00")


class FailureGroupBy(StrEnum):
    MODEL = "model"
    PART = "part"
    SUPPLIER = "supplier"
    CAUSE = "cause"


@dataclass
class FailureRow:
    group: str | None
    label: str | None = None
    failures: int = 0
    warranty_cost: Decimal = ZERO
    units_in_service: int = 0
    share: float | None = None
    cumulative_share: float | None = None
    causes: dict[str | None, int] = field(default_factory=lambda: defaultdict(int))

    @property
    def failure_rate_per_100(self) -> float | None:
        return _rounded(Decimal(self.failures * 100) / self.units_in_service, "0.01") if self.units_in_service \
            else None

    @property
    def root_causes(self) -> list[dict[str, object]]:
        ranked = sorted(self.causes.items(), key=lambda item: (-item[1], item[0] is None, item[0] or ""))
        return [{"cause": cause, "failures": count} for cause, count in ranked]


@dataclass
class FailureAnalysis:
    rows: list[FailureRow]
    totals: FailureRow


def _rounded(value: Decimal, places: str) -> float:
    return float(value.quantize(Decimal(places), rounding=ROUND_HALF_UP))


def analyse(session: Session, user: User, *, start: datetime, end: datetime,
            group_by: FailureGroupBy) -> FailureAnalysis:
    # A part is valued at its write-off price for the job when written off, else at the catalogue price.
    written_off_price = (select(func.max(WriteOff.unit_price))
                         .where(WriteOff.job_id == Job.id, WriteOff.part_id == ReportPartLine.part_id)
                         .scalar_subquery())
    failures = session.execute(
        select(ReportPartLine.quantity, ReportPartLine.covered_by_warranty, Part.id, Part.part_number, Part.name,
               Part.supplier, Unit.model, Investigation.root_cause,
               func.coalesce(written_off_price, Part.unit_price))
        .join(FieldReport, FieldReport.id == ReportPartLine.report_id)
        .join(Job, Job.id == FieldReport.job_id)
        .join(ServiceRequest, ServiceRequest.id == Job.service_request_id)
        .join(Unit, Unit.id == ServiceRequest.unit_id)
        .join(Part, Part.id == ReportPartLine.part_id)
        .outerjoin(Investigation, Investigation.service_request_id == ServiceRequest.id)
        .where(FieldReport.status == SIGNED, FieldReport.review_outcome == APPROVED,
               FieldReport.reviewed_at >= start, FieldReport.reviewed_at < end,
               within_scope(ServiceRequest.nearest_station_id, user)))
    rows: dict[str | None, FailureRow] = {}
    totals = FailureRow(group=None)
    for quantity, covered, part_id, part_number, part_name, supplier, model, cause, price in failures:
        group, label = {FailureGroupBy.MODEL: (model, None),
                        FailureGroupBy.PART: (str(part_id), f"{part_number} {part_name}"),
                        FailureGroupBy.SUPPLIER: (supplier, None),
                        FailureGroupBy.CAUSE: (cause, None)}[group_by]
        cost = price * quantity if covered else ZERO
        for row in (rows.setdefault(group, FailureRow(group=group, label=label)), totals):
            row.failures += quantity
            row.warranty_cost += cost
            row.causes[cause] += quantity
    fleet = _units_in_service(session, end)
    totals.units_in_service = sum(fleet.values())
    ordered = sorted(rows.values(), key=lambda row: (-row.failures, -row.warranty_cost, row.group is None,
                                                     row.group or ""))
    running = 0
    for row in ordered:
        row.units_in_service = fleet.get(row.group, 0) if group_by == FailureGroupBy.MODEL else totals.units_in_service
        running += row.failures
        row.share = _rounded(Decimal(row.failures) / totals.failures, "0.0001")
        row.cumulative_share = _rounded(Decimal(running) / totals.failures, "0.0001")
    if totals.failures:
        totals.share = totals.cumulative_share = 1.0
    return FailureAnalysis(ordered, totals)


def _units_in_service(session: Session, end: datetime) -> dict[str, int]:
    """Units delivered before `end` (on a day whose 00:00 UTC is before it), per model."""
    return dict(session.execute(select(Unit.model, func.count()).where(Unit.delivery_date < first_day_from(end))
                                .group_by(Unit.model)).all())
