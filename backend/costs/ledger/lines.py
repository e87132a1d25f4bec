"""The cost lines of service requests (CST-1), read from where each amount already lives, so there is one record of
every amount: technicians' expenses (service_expenses), parts written off at their price then (write_offs, PRT-6),
freight (freight_charges, PRT-8), compensation on the approved report (report_compensation_lines, REP-1), and the
money collected from the customer on it (field_reports.cash_collected, REP-6) as income. Each line is dated by its
own event: the expense's day (00:00 UTC), the write-off, the freight's recording, the report's approval.

A freight charge may cover old parts of several requests: it is shared out evenly between them, in cents.
Finance's allocations (cost_allocations) and the investigation's responsible party are joined on, and every line
carries the default allocation of backend.costs.ledger.rules beside finance's decision, if any."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from backend.accounts.models import User
from backend.accounts.scope import within_scope
from backend.costs.ledger.rules import Allocation, Responsibility, default_allocation, share_out
from backend.costs.models import CostAllocation, CostSource, Expense
from backend.customers.models import Unit
from backend.dispatch.models import Job, ServiceRequest
from backend.parts.models import FreightCharge, Installation, OldPartObligation, Requisition, WriteOff
from backend.quality.models import Investigation
from backend.reports.models import SIGNED, CompensationLine, FieldReport

INCOME = "income"  # money collected from the customer (REP-6): not a cost, never allocated
# A line's status: an expense's or a freight charge's (pending, approved, rejected); lines without one are approved.
APPROVED, PENDING = "approved", "pending"
# Ids per IN list: far below SQLite's and PostgreSQL's limits on bound parameters.
_CHUNK = 500


@dataclass(frozen=True)
class RequestFacts:
    """What the reports group a request's lines by, and what its default allocations follow."""

    id: int
    number: str
    status: str
    station_id: int
    model: str
    complaint_class: str
    cause: str | None
    responsibility: Responsibility | None


@dataclass
class CostLine:
    source: str  # a CostSource, or INCOME
    source_id: int
    kind: str  # an expense kind, part, freight, compensation, collected
    request: RequestFacts
    on: datetime
    amount: Decimal
    status: str  # approved, or an expense's or freight's pending/rejected
    description: str
    part_id: int | None = None
    part_supplier: str | None = None
    covered_by_warranty: bool | None = None
    default: Allocation | None = None
    allocation: CostAllocation | None = None

    @property
    def is_cost(self) -> bool:
        return self.source != INCOME

    @property
    def borne_by(self) -> str | None:
        if self.allocation is not None:
            return self.allocation.borne_by
        return self.default.borne_by.value if self.default else None

    @property
    def supplier(self) -> str | None:
        if self.allocation is not None:
            return self.allocation.supplier
        return self.default.supplier if self.default else None

    @property
    def version(self) -> int:
        """The allocation's version, its ETag: 0 while the default stands."""
        return self.allocation.version if self.allocation is not None else 0


@dataclass(frozen=True)
class Window:
    """The half-open period [start, end) the lines are dated in; None: any time."""

    start: datetime | None = None
    end: datetime | None = None

    def on(self, column: Any) -> list[ColumnElement[bool]]:
        bounds = []
        if self.start is not None:
            bounds.append(column >= self.start)
        if self.end is not None:
            bounds.append(column < self.end)
        return bounds

    def on_days(self, column: Any) -> list[ColumnElement[bool]]:
        """For a day column: the days whose 00:00 UTC falls within the period."""
        bounds = []
        if self.start is not None:
            bounds.append(column >= first_day_from(self.start))
        if self.end is not None:
            bounds.append(column < first_day_from(self.end))
        return bounds


def first_day_from(moment: datetime) -> date:
    """The first day whose 00:00 UTC is at or after `moment` (the last day there is, past 9999-12-31 00:00)."""
    utc = moment.astimezone(UTC)
    day = utc.date()
    return day if utc.time() == time() or day == date.max else day + timedelta(days=1)


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def load_lines(session: Session, user: User, *, window: Window = Window(),
               service_request_id: int | None = None) -> list[CostLine]:
    """Every cost and income line dated within `window` (of one request, if given), of the requests within the
    user's stations (SCP-1), in date order."""
    raw = [*_expenses(session, window, service_request_id), *_parts(session, window, service_request_id),
           *_freight(session, window, service_request_id), *_compensation(session, window, service_request_id),
           *_income(session, window, service_request_id)]
    facts = request_facts(session, user, {request_id for request_id, _line in raw})
    allocations = _allocations(session, facts)
    lines = []
    for request_id, line in raw:
        if request_id not in facts:
            continue
        line.request = facts[request_id]
        if line.is_cost:
            line.default = default_allocation(line.kind, responsibility=line.request.responsibility,
                                              complaint_class=line.request.complaint_class,
                                              covered_by_warranty=line.covered_by_warranty,
                                              part_supplier=line.part_supplier)
            line.allocation = allocations.get((request_id, line.source, line.source_id))
        lines.append(line)
    return sorted(lines, key=lambda line: (line.on, line.source, line.source_id, line.request.id))


def request_facts(session: Session, user: User, request_ids: Iterable[int]) -> dict[int, RequestFacts]:
    facts = {}
    for chunk in _chunks(sorted(request_ids)):
        rows = session.execute(
            select(ServiceRequest.id, ServiceRequest.number, ServiceRequest.status,
                   ServiceRequest.nearest_station_id, ServiceRequest.complaint_class, Unit.model,
                   Investigation.root_cause, Investigation.responsible_kind, Investigation.responsible_supplier)
            .join(Unit, Unit.id == ServiceRequest.unit_id)
            .outerjoin(Investigation, Investigation.service_request_id == ServiceRequest.id)
            .where(ServiceRequest.id.in_(chunk), within_scope(ServiceRequest.nearest_station_id, user)))
        for (request_id, number, status, station_id, complaint_class, model, cause, responsible_kind,
             responsible_supplier) in rows:
            responsibility = (None if responsible_kind is None
                              else Responsibility(responsible_kind, responsible_supplier))
            facts[request_id] = RequestFacts(request_id, number, status, station_id, model, complaint_class, cause,
                                             responsibility)
    return facts


def _allocations(session: Session, facts: dict[int, RequestFacts]) -> dict[tuple[int, str, int], CostAllocation]:
    found = {}
    for chunk in _chunks(sorted(facts)):
        for allocation in session.scalars(select(CostAllocation)
                                          .where(CostAllocation.service_request_id.in_(chunk))):
            found[allocation.service_request_id, allocation.source, allocation.source_id] = allocation
    return found


def _chunks(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start:start + _CHUNK]


def _of_request(service_request_id: int | None) -> list[ColumnElement[bool]]:
    return [] if service_request_id is None else [Job.service_request_id == service_request_id]


def _line(source: str, source_id: int, kind: str, on: datetime, amount: Decimal, description: str,
          status: str = APPROVED, **part: Any) -> CostLine:
    # The request's facts are filled in by load_lines, once for all lines.
    return CostLine(source=source, source_id=source_id, kind=kind, request=None,  # type: ignore[arg-type]
                    on=on, amount=amount, status=status, description=description, **part)


def _expenses(session: Session, window: Window, service_request_id: int | None) -> Iterator[tuple[int, CostLine]]:
    rows = session.execute(select(Expense, Job.service_request_id).join(Job, Job.id == Expense.job_id)
                           .where(*window.on_days(Expense.incurred_on), *_of_request(service_request_id)))
    for expense, request_id in rows:
        receipt = f", receipt {expense.receipt_number}" if expense.receipt_number else ""
        yield request_id, _line(CostSource.EXPENSE, expense.id, expense.kind, midnight(expense.incurred_on),
                                expense.amount, f"{expense.number} {expense.kind}{receipt}", expense.status)


def _parts(session: Session, window: Window, service_request_id: int | None) -> Iterator[tuple[int, CostLine]]:
    rows = session.execute(select(WriteOff, Job.service_request_id, Installation.covered_by_warranty)
                           .join(Job, Job.id == WriteOff.job_id)
                           .join(Installation, Installation.id == WriteOff.installation_id)
                           .where(*window.on(WriteOff.written_off_at), *_of_request(service_request_id)))
    for write_off, request_id, covered in rows:
        part = write_off.part
        yield request_id, _line(CostSource.PART, write_off.id, "part", write_off.written_off_at,
                                write_off.unit_price * write_off.quantity,
                                f"{part.part_number} {part.name}: {write_off.quantity} × {write_off.unit_price}",
                                part_id=part.id, part_supplier=part.supplier, covered_by_warranty=covered)


def _freight(session: Session, window: Window, service_request_id: int | None) -> Iterator[tuple[int, CostLine]]:
    charges = session.scalars(select(FreightCharge).where(*window.on(FreightCharge.recorded_at))
                              .order_by(FreightCharge.id)).all()
    old_part_ids = sorted({old_part for charge in charges for old_part in charge.old_part_ids})
    requisition_ids = sorted({charge.requisition_id for charge in charges if charge.requisition_id is not None})
    request_of_old_part = _requests_of(session, OldPartObligation, old_part_ids)
    request_of_requisition = _requests_of(session, Requisition, requisition_ids)
    for charge in charges:
        requests = sorted({request_of_old_part[i] for i in charge.old_part_ids if i in request_of_old_part}
                          | ({request_of_requisition[charge.requisition_id]}
                             if charge.requisition_id in request_of_requisition else set()))
        shared = f" (shared by {len(requests)} requests)" if len(requests) > 1 else ""
        for request_id, amount in zip(requests, share_out(charge.amount, [Decimal(1)] * len(requests))):
            if service_request_id is not None and request_id != service_request_id:
                continue
            yield request_id, _line(CostSource.FREIGHT, charge.id, "freight", charge.recorded_at, amount,
                                    f"{charge.number} {charge.description}{shared}", charge.status)


def _requests_of(session: Session, model: Any, ids: Sequence[int]) -> dict[int, int]:
    """The request of each row of `model` (old parts, requisitions), through its job."""
    found = {}
    for chunk in _chunks(ids):
        found.update(session.execute(select(model.id, Job.service_request_id).join(Job, Job.id == model.job_id)
                                     .where(model.id.in_(chunk))).all())
    return found


def _approved_reports(window: Window, service_request_id: int | None) -> list[ColumnElement[bool]]:
    return [FieldReport.status == SIGNED, FieldReport.review_outcome == APPROVED,
            *window.on(FieldReport.reviewed_at), *_of_request(service_request_id)]


def _compensation(session: Session, window: Window, service_request_id: int | None
                  ) -> Iterator[tuple[int, CostLine]]:
    rows = session.execute(select(CompensationLine, FieldReport.reviewed_at, Job.service_request_id)
                           .join(FieldReport, FieldReport.id == CompensationLine.report_id)
                           .join(Job, Job.id == FieldReport.job_id)
                           .where(*_approved_reports(window, service_request_id)))
    for line, approved_at, request_id in rows:
        yield request_id, _line(CostSource.COMPENSATION, line.id, "compensation", approved_at, line.amount,
                                line.reason)


def _income(session: Session, window: Window, service_request_id: int | None) -> Iterator[tuple[int, CostLine]]:
    rows = session.execute(select(FieldReport, Job.service_request_id).join(Job, Job.id == FieldReport.job_id)
                           .where(FieldReport.cash_collected.is_not(None),
                                  *_approved_reports(window, service_request_id)))
    for report, request_id in rows:
        yield request_id, _line(INCOME, report.id, "collected", report.reviewed_at, report.cash_collected,
                                f"collected from the customer, receipt {report.cash_receipt_number}")
