"""Parts used on a job, as the field report records them (PRT-4..6): the hooks the report flow calls.

A signed report's part lines leave the lead technician's van (rule PRT-4) and are recorded as installations; each
warranty line owes its old part back (rule PRT-5). A corrected report signed later is reconciled against what the
previous signed version installed: unchanged lines stay as they are, lines gone go back to the van (their old-part
obligation is cancelled), new lines are consumed. Approval then lets the write-off happen (rule PRT-6)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.config import Settings
from backend.dispatch.models import Job
from backend.errors import Conflict, DomainError
from backend.parts.models import (Installation, ObligationStatus, OldPartObligation, Part, Requisition,
                                  RequisitionLine, RequisitionStatus, StockLocation)
from backend.parts.requisitions.service import installed_quantity
from backend.parts.stock.ledger import DocumentRef, Movement, Reason, make_line, move
from backend.parts.stock.service import consume_from_van, van_of
from backend.parts.write_offs.service import write_off_if_due
from backend.reports.models import FieldReport, ReportPartLine

_Key = tuple[int, int, str | None, str | None, bool]


def _key_of(item: ReportPartLine | Installation) -> _Key:
    return item.part_id, item.quantity, item.new_serial, item.old_serial, item.covered_by_warranty


def _fitted(item: ReportPartLine | Installation) -> tuple[int, int, str | None]:
    """What went into the unit, without what the line says of the old part."""
    return item.part_id, item.quantity, item.new_serial


def _document(report: FieldReport) -> DocumentRef:
    return DocumentRef("field_report", f"JOB-{report.job_id}-v{report.version_no}")


def current_installations(session: Session, job_id: int) -> Sequence[Installation]:
    return session.scalars(select(Installation).where(Installation.job_id == job_id,
                                                      Installation.removed_at.is_(None))
                           .order_by(Installation.id)).all()


def report_signed(session: Session, report: FieldReport, *, actor_id: int, now: datetime, settings: Settings) -> None:
    """Called in the sign-off transaction, after `report` (a new version, status signed) is sealed."""
    job = session.get(Job, report.job_id)
    assert job is not None and job.lead_technician_id is not None  # a report exists only for a crewed job
    # The lead's van first, then the crew mates' (job.crew lists the lead first): a part the warehouse issued to a
    # mate's requisition is fitted on the same job.
    vans = [van_of(session, member.technician_id) for member in job.crew]
    movement = Movement(Reason.RETURN, _document(report), actor_id, now)
    unmatched = list(current_installations(session, job.id))
    changed = []
    for index, line in enumerate(report.part_lines):
        same = next((i for i in unmatched if _key_of(i) == _key_of(line)), None)
        if same is None:
            changed.append((index, line))
        else:
            unmatched.remove(same)
            same.report_id = report.id
    new_lines = []
    for index, line in changed:
        # The same part fitted, only its old-part details corrected: the installation stays, and an old part
        # already handed in stays handed in.
        fitted = next((i for i in unmatched if _fitted(i) == _fitted(line)), None)
        if fitted is None:
            new_lines.append((index, line))
        else:
            unmatched.remove(fitted)
            _amend(session, job, report, fitted, line, settings)
    # Lines the correction dropped first: their parts are back in the van before the new lines take from it.
    for installation in unmatched:
        _undo(session, installation, movement)
    for index, line in new_lines:
        _install(session, job, report, index, line, vans, actor_id=actor_id, now=now, settings=settings)
    session.flush()


def _undo(session: Session, installation: Installation, movement: Movement) -> None:
    """The part goes back into the van it was taken from."""
    if installation.write_off is not None:
        raise Conflict(f"{installation.part.part_number} on this job is already written off; a corrected report "
                       f"cannot take it back")
    serials = [installation.new_serial] if installation.part.serial_tracked else []
    move(session, make_line(installation.part, installation.quantity, serials), source=None,
         destination=van_of(session, installation.technician_id), movement=movement)
    installation.removed_at = movement.now
    obligation = installation.obligation
    if obligation is not None and obligation.status == ObligationStatus.OUTSTANDING:
        obligation.status = ObligationStatus.CANCELLED.value


def _install(session: Session, job: Job, report: FieldReport, index: int, line: ReportPartLine,
             vans: list[StockLocation], *, actor_id: int, now: datetime, settings: Settings) -> None:
    at = f"part_lines.{index}"
    part = session.get(Part, line.part_id)
    assert part is not None  # the report line's foreign key
    if part.serial_tracked and (line.new_serial is None or line.quantity != 1):
        raise DomainError(f"{at}.new_serial", f"{part.part_number} is serial-tracked: one unit per line, with the "
                                              f"serial of the new part")
    source = _take_from_crew(session, part, line, vans, report, at=at, line_no=index + 1, actor_id=actor_id, now=now)
    installation = Installation(job_id=job.id, report_id=report.id, technician_id=source.technician_id,
                                part=part, quantity=line.quantity, new_serial=line.new_serial,
                                old_serial=line.old_serial, covered_by_warranty=line.covered_by_warranty,
                                requisition_line_id=_requisition_line_for(session, job.id, part, line.quantity),
                                installed_at=now)
    session.add(installation)
    if line.covered_by_warranty:
        _owe(session, job, installation, settings, now)
    session.flush()


def _take_from_crew(session: Session, part: Part, line: ReportPartLine, vans: list[StockLocation],
                    report: FieldReport, *, at: str, line_no: int, actor_id: int, now: datetime) -> StockLocation:
    """The first of the crew's vans that holds the line's part (and its serial); each try in a savepoint, so a
    van that falls short leaves nothing behind."""
    shortages = []
    for van in vans:
        try:
            with session.begin_nested():
                consume_from_van(session, part=part, quantity=line.quantity, van=van, document=_document(report),
                                 actor_id=actor_id, now=now, serials=[line.new_serial] if part.serial_tracked else [])
            return van
        except Conflict as short:
            shortages.append(short.detail)
    # The shortage names the report line, so the technician knows which one the crew cannot cover.
    raise DomainError(at, f"line {line_no}: {'; '.join(shortages)}", status=409)


def _owe(session: Session, job: Job, installation: Installation, settings: Settings, now: datetime) -> None:
    """rule PRT-5: the replaced old part is owed back, by default 7 days after the work was done."""
    done = job.work_done_at or now
    session.add(OldPartObligation(
        installation=installation, job_id=job.id, technician_id=job.lead_technician_id,
        station_id=job.service_request.nearest_station_id, part_id=installation.part.id,
        serial=installation.old_serial, quantity=installation.quantity,
        due_at=done + timedelta(days=settings.old_part_due_days), status=ObligationStatus.OUTSTANDING.value))


def _amend(session: Session, job: Job, report: FieldReport, installation: Installation, line: ReportPartLine,
           settings: Settings) -> None:
    installation.report_id = report.id
    installation.old_serial, installation.covered_by_warranty = line.old_serial, line.covered_by_warranty
    obligation = installation.obligation
    if obligation is None:
        if line.covered_by_warranty:
            _owe(session, job, installation, settings, installation.installed_at)
        return
    obligation.serial = line.old_serial
    if line.covered_by_warranty and obligation.status == ObligationStatus.CANCELLED:
        obligation.status = ObligationStatus.OUTSTANDING.value
    elif not line.covered_by_warranty and obligation.status == ObligationStatus.OUTSTANDING:
        obligation.status = ObligationStatus.CANCELLED.value


def _requisition_line_for(session: Session, job_id: int, part: Part, quantity: int) -> int | None:
    """The job's approved requisition line for this part with room left for the quantity, oldest first."""
    candidates = session.scalars(
        select(RequisitionLine).join(RequisitionLine.requisition)
        .where(RequisitionLine.part_id == part.id, Requisition.job_id == job_id,
               Requisition.status.in_((RequisitionStatus.APPROVED, RequisitionStatus.ISSUED)))
        .order_by(RequisitionLine.id).execution_options(populate_existing=True)).all()
    for candidate in candidates:
        if candidate.quantity - candidate.returned_quantity - installed_quantity(candidate) >= quantity:
            return candidate.id
    return None


def report_approved(session: Session, report: FieldReport, *, actor_id: int, now: datetime) -> None:
    """Called in the approval transaction, after the supervisor approved `report` (the job is approved)."""
    installations = current_installations(session, report.job_id)
    # Locking the old parts first: a receive or excuse committing meanwhile is then seen here, and one waiting
    # for this transaction sees the approval, so the write-off cannot fall between the two.
    session.scalars(select(OldPartObligation).where(OldPartObligation.installation_id.in_(
        [i.id for i in installations])).with_for_update().execution_options(populate_existing=True)).all()
    for installation in installations:
        if installation.approved_at is None:
            installation.approved_at = now
        write_off_if_due(session, installation, now)
    session.flush()
