"""A request's cost ledger, finance's allocation of its lines (CST-2), and the cost report by period (CST-1).
Plain functions on a Session, no Flask.

The report counts a line in the period of its own date (backend.costs.ledger.lines). Only approved expenses and
freight are costs; pending ones are totalled apart, rejected ones not at all. The supplier-borne total is shown
gross, recovered (the amounts of accepted secondary claims settled in the period, PRT-7) and net. A claim covers
several old parts: what it recovered is shared out over them by their catalogue value (quantity × unit price), so
each share lands in the group of its old part's request."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.accounts.models import Role, User
from backend.costs.ledger.lines import APPROVED, PENDING, CostLine, RequestFacts, Window, load_lines, request_facts
from backend.costs.ledger.rules import share_out
from backend.costs.models import BorneBy, CostAllocation
from backend.dispatch.models import Job, ServiceRequest
from backend.dispatch.service import get_request
from backend.errors import Conflict, DomainError, NotFound
from backend.parts.models import ClaimStatus, SupplierClaim

# Who reads the costs (001 §1.6, §1.9: quality judges responsibility, finance audits and allocates them).
READERS = (Role.MANAGER, Role.FINANCE, Role.QUALITY)
ALLOCATORS = (Role.FINANCE,)
ZERO = Decimal("0.00")


class CostGroupBy(StrEnum):
    STATION = "station"
    MODEL = "model"
    PART = "part"
    SUPPLIER = "supplier"
    CAUSE = "cause"
    MONTH = "month"


@dataclass
class Totals:
    """Money per allocation, in Decimal (never float)."""

    service_branch: Decimal = ZERO
    manufacturing: Decimal = ZERO
    supplier: Decimal = ZERO
    customer: Decimal = ZERO
    supplier_recovered: Decimal = ZERO
    income: Decimal = ZERO
    pending: Decimal = ZERO
    pending_count: int = 0
    group: str | None = None

    @property
    def total(self) -> Decimal:
        return self.service_branch + self.manufacturing + self.supplier + self.customer

    @property
    def supplier_net(self) -> Decimal:
        return self.supplier - self.supplier_recovered

    def add(self, line: CostLine) -> None:
        if not line.is_cost:
            self.income += line.amount
        elif line.status == PENDING:
            self.pending += line.amount
            self.pending_count += 1
        elif line.status == APPROVED:
            setattr(self, line.borne_by, getattr(self, line.borne_by) + line.amount)  # type: ignore[arg-type]


# --- one request's ledger ----------------------------------------------------------------------------------------

@dataclass
class Ledger:
    service_request: ServiceRequest
    lines: list[CostLine]
    totals: Totals = field(default_factory=Totals)


def ledger(session: Session, service_request_id: int, user: User) -> Ledger:
    service_request = get_request(session, service_request_id, user)
    lines = load_lines(session, user, service_request_id=service_request.id)
    totals = Totals()
    for line in lines:
        totals.add(line)
    return Ledger(service_request, lines, totals)


def cost_line(session: Session, service_request_id: int, source: str, source_id: int, user: User, *,
              for_update: bool = False) -> CostLine:
    """One cost line of a request. `for_update`: the request is locked first, so allocations of its lines are
    decided one after the other (the second is then judged against the first's version)."""
    service_request = get_request(session, service_request_id, user, for_update=for_update)
    found = next((line for line in load_lines(session, user, service_request_id=service_request.id)
                  if line.source == source and line.source_id == source_id and line.is_cost), None)
    if found is None:
        raise NotFound("cost line", f"{source}/{source_id} of service request {service_request_id}")
    return found


def allocate(session: Session, line: CostLine, data: dict[str, Any], *, actor: User, now: datetime) -> CostLine:
    """CST-2: finance decides who bears the line, with the reason; recorded with who decided and when (audited).
    The caller has checked If-Match against line.version."""
    if line.status not in (APPROVED, PENDING):
        raise Conflict(f"{line.description} was {line.status}; it is no cost to allocate", current_status=line.status)
    borne_by, supplier = data["borne_by"], data.get("supplier")
    if borne_by == BorneBy.SUPPLIER:
        supplier = supplier or line.supplier or line.part_supplier
        if supplier is None:
            raise DomainError("supplier", "name the supplier that bears it (it is recovered by a secondary claim)")
    elif supplier is not None:
        raise DomainError("supplier", "only a line borne by a supplier names one")
    allocation = line.allocation
    if allocation is None:
        allocation = CostAllocation(service_request_id=line.request.id, source=line.source, source_id=line.source_id)
        session.add(allocation)
    allocation.borne_by, allocation.supplier, allocation.reason = borne_by, supplier, data["reason"]
    allocation.decided_by_user_id, allocation.decided_at = actor.id, now
    session.flush()
    line.allocation = allocation
    return line


# --- the report --------------------------------------------------------------------------------------------------

@dataclass
class Recovery:
    """A share of what an accepted secondary claim recovered, in the group of one of its old parts."""

    request: RequestFacts
    part_id: int
    supplier: str
    on: datetime
    amount: Decimal


_GROUP_OF: dict[CostGroupBy, Callable[[Any], str | None]] = {
    CostGroupBy.STATION: lambda item: str(item.request.station_id),
    CostGroupBy.MODEL: lambda item: item.request.model,
    CostGroupBy.PART: lambda item: None if item.part_id is None else str(item.part_id),
    # A line borne by a supplier is that supplier's; any other part line is its maker's.
    CostGroupBy.SUPPLIER: lambda item: item.supplier or getattr(item, "part_supplier", None),
    CostGroupBy.CAUSE: lambda item: item.request.cause,
    CostGroupBy.MONTH: lambda item: item.on.strftime("%Y-%m"),
}


@dataclass
class CostReport:
    rows: list[Totals]
    totals: Totals


def cost_report(session: Session, user: User, *, start: datetime, end: datetime,
                group_by: CostGroupBy | None) -> CostReport:
    window = Window(start, end)
    groups: dict[str | None, Totals] = {}
    totals = Totals()

    def rows_of(item: Any) -> list[Totals]:
        """The totals and the item's group (not grouped: the totals are the one row)."""
        if group_by is None:
            return [totals]
        group = _GROUP_OF[group_by](item)
        return [totals, groups.setdefault(group, Totals(group=group))]

    for line in load_lines(session, user, window=window):
        for row in rows_of(line):
            row.add(line)
    for recovery in recoveries(session, user, window):
        for row in rows_of(recovery):
            row.supplier_recovered += recovery.amount
    ordered = sorted(groups.values(), key=lambda row: (row.group is None, row.group or ""))
    return CostReport(ordered if group_by else [totals], totals)


def recoveries(session: Session, user: User, window: Window) -> list[Recovery]:
    claims = session.scalars(select(SupplierClaim).where(SupplierClaim.status == ClaimStatus.ACCEPTED,
                                                         *window.on(SupplierClaim.settled_at))
                             .order_by(SupplierClaim.id)).all()
    old_parts = [old_part for claim in claims for old_part in claim.old_parts]
    request_of_job = dict(session.execute(select(Job.id, Job.service_request_id)
                                          .where(Job.id.in_({old_part.job_id for old_part in old_parts}))).all())
    facts = request_facts(session, user, set(request_of_job.values()))
    found = []
    for claim in claims:
        weights = [old_part.part.unit_price * old_part.quantity for old_part in claim.old_parts]
        for old_part, amount in zip(claim.old_parts, share_out(claim.amount_recovered or ZERO, weights)):
            request = facts.get(request_of_job[old_part.job_id])
            if request is not None:  # outside the user's stations otherwise (SCP-1)
                found.append(Recovery(request, old_part.part_id, claim.supplier, claim.settled_at, amount))
    return found
