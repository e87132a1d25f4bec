"""Requisitions (备用件领料单, rule PRT-3): a technician asks for parts for a job, a supervisor approves, only then
does the store issue them to the technician's van; what was not used goes back (rule PRT-6). Plain functions on a
Session, no Flask; stock moves through backend.parts.stock.service."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from backend.accounts.models import Role, User
from backend.accounts.scope import require_in_scope
from backend.db import locked
from backend.dispatch.models import CLOSED_JOB_STATUSES, Job
from backend.dispatch.service import check_may_decide, job_station, may_see_job, of_jobs_within_scope
from backend.errors import Conflict, DomainError, Forbidden, NotFound
from backend.parts.models import (Installation, ObligationStatus, Part, Requisition, RequisitionLine,
                                  RequisitionStatus)
from backend.parts.stock.ledger import DocumentRef
from backend.parts.stock.service import get_location, issue_to_van, return_to_location, van_of

# Who sees every requisition (of their stations, SCP-1); a technician sees their own.
ALL_REQUISITIONS = frozenset({Role.DISPATCHER, Role.SUPERVISOR, Role.WAREHOUSE, Role.MANAGER, Role.ADMIN})


def document_of(requisition: Requisition) -> DocumentRef:
    return DocumentRef("requisition", requisition.number)


def create(session: Session, data: dict[str, Any], *, actor: User, now: datetime) -> Requisition:
    """rule PRT-3: a technician on the job's crew asks for parts, each line with its reason."""
    job = session.get(Job, data["job_id"])
    if job is None or not may_see_job(job, actor):
        # A job the technician may not see answers like one that does not exist.
        raise DomainError("job_id", f"no job with id {data['job_id']}")
    technician_id = actor.technician_id
    if technician_id is None:
        raise Forbidden("only a technician may raise a requisition")
    if job.status in CLOSED_JOB_STATUSES:
        raise Conflict(f"job {job.id} is {job.status}; no more parts can be requested for it")
    lines = []
    for index, item in enumerate(data["lines"]):
        part = session.get(Part, item["part_id"])
        if part is None:
            raise DomainError(f"lines.{index}.part_id", f"no part with id {item['part_id']}")
        if not part.active:
            raise DomainError(f"lines.{index}.part_id", f"{part.part_number} is no longer active")
        lines.append(RequisitionLine(line_no=index + 1, part=part, quantity=item["quantity"], reason=item["reason"]))
    requisition = Requisition(job_id=job.id, technician_id=technician_id, status=RequisitionStatus.PENDING.value,
                              requested_by_user_id=actor.id, lines=lines)
    session.add(requisition)
    session.flush()
    return requisition


def visible(session: Session, user: User, filters: dict[str, Any]) -> Select[Any]:
    stmt = select(Requisition)
    if user.has_any_role(ALL_REQUISITIONS):
        # Their stations' jobs' requisitions (SCP-1), and their own if they also work in the field.
        of_their_jobs = of_jobs_within_scope(Requisition.job_id, user)
        stmt = stmt.where(or_(of_their_jobs, Requisition.technician_id == user.technician_id)
                          if user.technician_id is not None else of_their_jobs)
    else:
        own = user.technician_id
        if "technician_id" in filters and filters["technician_id"] != own:
            raise Forbidden("a technician sees only their own requisitions")
        filters = {**filters, "technician_id": own}
    for name in ("technician_id", "job_id", "status"):
        if name in filters:
            stmt = stmt.where(getattr(Requisition, name) == filters[name])
    return stmt.order_by(Requisition.id.desc())


def get_visible(session: Session, requisition_id: int, user: User) -> Requisition:
    requisition = session.scalar(visible(session, user, {}).where(Requisition.id == requisition_id))
    if requisition is None:
        raise NotFound("requisition", requisition_id)
    return requisition


def check_decider(session: Session, requisition: Requisition, actor: User) -> None:
    """Four eyes (PRT-3): not by the technician who asked, nor anyone on the job's crew; within the actor's
    stations (SCP-1)."""
    check_may_decide(session.get_one(Job, requisition.job_id), actor, "requisition", requisition.id)
    if actor.technician_id == requisition.technician_id:
        raise Forbidden("this is your own requisition; another supervisor must decide")


def _require_in_scope(session: Session, requisition: Requisition, actor: User) -> None:
    require_in_scope(job_station(session.get_one(Job, requisition.job_id)), actor, "requisition", requisition.id)


def _locked(session: Session, requisition_id: int) -> Requisition:
    # The row lock makes a concurrent decision or issue wait and then see the settled status.
    requisition = locked(session, Requisition, requisition_id)
    if requisition is None:
        raise NotFound("requisition", requisition_id)
    return requisition


def _require_status(requisition: Requisition, status: RequisitionStatus, action: str) -> None:
    if requisition.status != status:
        raise Conflict(f"requisition {requisition.number} is {requisition.status}; only a {status.value} one "
                       f"can be {action}")


def approve(session: Session, requisition_id: int, *, actor: User, now: datetime) -> Requisition:
    requisition = _locked(session, requisition_id)
    check_decider(session, requisition, actor)
    _require_status(requisition, RequisitionStatus.PENDING, "approved")
    requisition.status = RequisitionStatus.APPROVED.value
    requisition.decided_at, requisition.decided_by_user_id = now, actor.id
    session.flush()
    return requisition


def reject(session: Session, requisition_id: int, *, actor: User, reason: str, now: datetime) -> Requisition:
    requisition = _locked(session, requisition_id)
    check_decider(session, requisition, actor)
    _require_status(requisition, RequisitionStatus.PENDING, "rejected")
    requisition.status = RequisitionStatus.REJECTED.value
    requisition.decided_at, requisition.decided_by_user_id, requisition.reject_reason = now, actor.id, reason
    session.flush()
    return requisition


def _serials_by_line(requisition: Requisition, raw: list[dict[str, Any]]) -> dict[int, list[str]]:
    """The serials given per requisition line ({line_no, serials}); errors name the input entry."""
    lines = {line.line_no for line in requisition.lines}
    given: dict[int, list[str]] = {}
    for index, item in enumerate(raw):
        if item["line_no"] not in lines or item["line_no"] in given:
            raise DomainError(f"lines.{index}.line_no", f"requisition {requisition.number} has no line "
                                                        f"{item['line_no']}, or it is given twice")
        given[item["line_no"]] = item["serials"]
    return given


def issue(session: Session, requisition_id: int, data: dict[str, Any], *, actor: User,
          now: datetime) -> Requisition:
    """rule PRT-3: the store issues the approved lines in full, from one location to the technician's van."""
    requisition = _locked(session, requisition_id)
    _require_in_scope(session, requisition, actor)
    if requisition.status in (RequisitionStatus.PENDING, RequisitionStatus.REJECTED):
        raise Conflict(f"requisition {requisition.number} is {requisition.status}: nothing can be issued before a "
                       f"supervisor approves it (rule PRT-3)")
    _require_status(requisition, RequisitionStatus.APPROVED, "issued")
    source = get_location(session, data["source_location_id"], "source_location_id")
    van = van_of(session, requisition.technician_id)
    serials = _serials_by_line(requisition, data["lines"])
    for line in requisition.lines:
        try:
            issue_to_van(session, part=line.part, quantity=line.quantity, source=source, van=van,
                         document=document_of(requisition), actor_id=actor.id, now=now,
                         serials=serials.get(line.line_no, ()))
        except DomainError as error:
            if error.status == 422:
                # The serials of a requisition line are given in `lines`, matched by line_no.
                raise DomainError("lines", f"line {line.line_no}: {error.detail}") from error
            raise
        line.issued_serials = list(serials.get(line.line_no, ()))
    requisition.status = RequisitionStatus.ISSUED.value
    requisition.source_location_id = source.id
    requisition.issued_at, requisition.issued_by_user_id = now, actor.id
    session.flush()
    return requisition


def installed_quantity(line: RequisitionLine) -> int:
    return sum(installation.quantity for installation in line.installations)


def unused_quantity(line: RequisitionLine) -> int:
    """Issued, not installed on the job's signed report, not returned yet."""
    return line.quantity - line.returned_quantity - installed_quantity(line)


def return_unused(session: Session, requisition_id: int, data: dict[str, Any], *, actor: User,
                  now: datetime) -> Requisition:
    """rule PRT-6: parts not used go back from the technician's van into stock."""
    requisition = _locked(session, requisition_id)
    if actor.technician_id != requisition.technician_id:
        if not actor.has_any_role({Role.WAREHOUSE}):
            # Another technician's requisition answers like one that does not exist.
            raise NotFound("requisition", requisition_id)
        _require_in_scope(session, requisition, actor)
    _require_status(requisition, RequisitionStatus.ISSUED, "returned from")
    destination = get_location(session, data["destination_location_id"], "destination_location_id")
    van = van_of(session, requisition.technician_id)
    by_no = {line.line_no: line for line in requisition.lines}
    seen: set[int] = set()
    for index, item in enumerate(data["lines"]):
        line = by_no.get(item["line_no"])
        if line is None or line.line_no in seen:
            raise DomainError(f"lines.{index}.line_no", f"requisition {requisition.number} has no line "
                                                        f"{item['line_no']}, or it is given twice")
        seen.add(line.line_no)
        if item["quantity"] > unused_quantity(line):
            raise Conflict(f"line {line.line_no} ({line.part.part_number}): {item['quantity']} to return, but only "
                           f"{unused_quantity(line)} issued and neither installed nor returned")
        unknown = set(item["serials"]) - set(line.issued_serials) - set(line.returned_serials)
        if unknown:
            raise DomainError(f"lines.{index}.serials", f"{', '.join(sorted(unknown))} was not issued on this line")
        return_to_location(session, part=line.part, quantity=item["quantity"], van=van, destination=destination,
                           document=document_of(requisition), actor_id=actor.id, now=now, serials=item["serials"])
        line.returned_quantity += item["quantity"]
        line.returned_serials = [*line.returned_serials, *item["serials"]]
    session.flush()
    return requisition


# --- what still stands between a line and its write-off (PRT-6) --------------------------------------------------

REPORT_SIGNED, REPORT_APPROVED, OLD_PART_BACK = "report_signed", "report_approved", "old_part_received_or_excused"


def open_conditions(line: RequisitionLine) -> list[str]:
    """rule PRT-6: the conditions still open before every issued, unreturned unit of the line is written off."""
    installations: list[Installation] = line.installations
    conditions = []
    if installed_quantity(line) < line.quantity - line.returned_quantity:
        conditions.append(REPORT_SIGNED)
    if conditions or any(i.approved_at is None for i in installations):
        conditions.append(REPORT_APPROVED)
    if any(i.obligation is not None and i.obligation.status == ObligationStatus.OUTSTANDING for i in installations):
        conditions.append(OLD_PART_BACK)
    return conditions


def written_off_quantity(line: RequisitionLine) -> int:
    return sum(i.quantity for i in line.installations if i.write_off is not None)
