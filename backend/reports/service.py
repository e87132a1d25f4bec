"""Field service reports: drafting on site, the customer's sign-off and its seal, corrections, the supervisor's
review (RULES.md §5, JOB-3, WAR-1/2, REP-6). No Flask in here; the caller owns the transaction."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from backend.accounts.models import Role, User
from backend.config import Settings
from backend.dispatch.models import Job
from backend.dispatch.service import RequestStatus, check_may_decide, jobs_within_scope
from backend.errors import Conflict, DomainError, NotFound
from backend.fieldwork.lifecycle import JobStatus, next_status
from backend.media.service import store_image
from backend.media.store import MediaStore
from backend.notifications.models import NotificationKind
from backend.notifications.service import Notice, notify
from backend.parts.field_use import service as field_use
from backend.parts.models import Part
from backend.reports.models import (DRAFT, SIGNED, SUPERSEDED, CompensationLine, FieldReport, JobPhoto,
                                    PaidServiceApproval, ReportPartLine)
from backend.reports.signing import ReportSigner, Seal, Verdict

# Who is answerable for the fault (JOB-3). A cause outside the product's quality is not covered (WAR-1).
RESPONSIBILITIES = ("manufacturer", "supplier", "customer", "third_party", "undetermined")
NON_QUALITY = frozenset({"customer", "third_party"})
SIGNATURE_KINDS = ("signature", "stamp")  # REP-4: 签字 or 盖章
# The report may be written while on site and until the customer signs.
EDITABLE_JOB_STATUSES = frozenset({JobStatus.ON_SITE, JobStatus.WORK_DONE})
CONTENT_FIELDS = ("operating_hours", "mileage_km", "usage_history", "fault_history", "within_warranty",
                  "warranty_reason", "disassembled_before", "root_cause", "responsibility", "work_done",
                  "cash_collected", "cash_receipt_number")
# What the customer signs for must be complete (JOB-3, REP-1).
REQUIRED_AT_SIGN_OFF = ("within_warranty", "disassembled_before", "root_cause", "responsibility", "work_done")
PART_LINE_INPUT = ("part_id", "quantity", "reason", "covered_by_warranty", "new_serial", "old_serial")
PART_LINE_FIELDS = (*PART_LINE_INPUT, "part_number", "part_name")


# --- reading -----------------------------------------------------------------------------------------------------

def current_report(session: Session, job: Job) -> FieldReport:
    report = session.scalar(select(FieldReport).where(FieldReport.job_id == job.id,
                                                      FieldReport.status != SUPERSEDED))
    if report is None:
        raise NotFound("report of job", job.id)
    return report


def report_version(session: Session, job: Job, version_no: int) -> FieldReport:
    report = session.scalar(select(FieldReport).where(FieldReport.job_id == job.id,
                                                      FieldReport.version_no == version_no))
    if report is None:
        raise NotFound(f"version {version_no} of the report of job", job.id)
    return report


def report_versions(job_id: int) -> Select[Any]:
    return select(FieldReport).where(FieldReport.job_id == job_id).order_by(FieldReport.version_no)


def last_signed(session: Session, job: Job) -> FieldReport:
    """The version the customer signed most recently (the current one, or the one a correction replaces)."""
    report = session.scalar(select(FieldReport).where(FieldReport.job_id == job.id,
                                                      FieldReport.signed_at.is_not(None))
                            .order_by(FieldReport.version_no.desc()).limit(1))
    if report is None:
        raise Conflict(f"the report of job {job.id} has not been signed yet", current_status=job.status)
    return report


def review_queue(filters: dict[str, Any], user: User) -> Select[Any]:
    """The supervisor's queue (REP-5): current report versions of the user's stations' jobs (SCP-1) by their job's
    status, oldest submission first."""
    stmt = (select(FieldReport).join(Job, Job.id == FieldReport.job_id)
            .where(FieldReport.status != SUPERSEDED, Job.status == filters["status"], jobs_within_scope(user)))
    if "station_id" in filters:
        stmt = stmt.where(Job.service_request.has(nearest_station_id=filters["station_id"]))
    return stmt.order_by(FieldReport.submitted_at.asc().nulls_last(), FieldReport.updated_at, FieldReport.id)


# --- drafting ----------------------------------------------------------------------------------------------------

def start_report(session: Session, job: Job, *, author_id: int | None) -> FieldReport:
    """Version 1 opens when the technician arrives: the findings are written on site (JOB-3)."""
    report = FieldReport(job_id=job.id, version_no=1, status=DRAFT, author_user_id=author_id)
    session.add(report)
    return report


def update_draft(session: Session, job: Job, report: FieldReport, data: dict[str, Any], *, now: datetime) -> None:
    """Replaces the draft's content (PUT): findings, part lines and compensation lines."""
    if report.status != DRAFT:
        raise Conflict(f"version {report.version_no} of the report is signed and can no longer change (REP-3); "
                       "start a correction for a new version", current_status=job.status)
    if job.status not in EDITABLE_JOB_STATUSES:
        raise Conflict(f"the report can be written on site until the customer signs; the job is {job.status}",
                       current_status=job.status)
    for name in CONTENT_FIELDS:
        setattr(report, name, data.get(name))
    parts = {p.id: p for p in session.scalars(select(Part).where(
        Part.id.in_({line["part_id"] for line in data["part_lines"]})))}
    for index, line in enumerate(data["part_lines"]):
        if line["part_id"] not in parts:
            raise DomainError(f"part_lines.{index}.part_id", f"no part with id {line['part_id']}")
        if parts[line["part_id"]].serial_tracked and line["quantity"] != 1:
            raise DomainError(f"part_lines.{index}.quantity", "a serial-tracked part is one line per unit "
                                                              "(quantity 1, with its serial)")
    # The part's number and name are copied: the report states what was fitted even if the catalogue changes later.
    report.part_lines = [ReportPartLine(line_no=i + 1, **{k: line.get(k) for k in PART_LINE_INPUT},
                                        part_number=parts[line["part_id"]].part_number,
                                        part_name=parts[line["part_id"]].name)
                         for i, line in enumerate(data["part_lines"])]
    report.compensation_lines = [CompensationLine(line_no=i + 1, reason=line["reason"], amount=line["amount"])
                                 for i, line in enumerate(data["compensation_lines"])]
    check_coverage(session, job, report)
    check_paid_service(session, job, report)


def check_coverage(session: Session, job: Job, report: FieldReport) -> None:
    """WAR-1/2: the technician's finding decides coverage, but it cannot contradict itself or the unit's terms."""
    out_because = _out_of_coverage_because(job, report)
    if out_because and report.within_warranty:
        raise DomainError("within_warranty", f"cannot be true: {out_because} (WAR-1)")
    if report.within_warranty is False or out_because:
        for line in report.part_lines:
            if line.covered_by_warranty:
                raise DomainError(f"part_lines.{line.line_no - 1}.covered_by_warranty",
                                  "cannot be true when the repair is not within warranty (WAR-1, WAR-2)")


def _out_of_coverage_because(job: Job, report: FieldReport) -> str | None:
    unit = job.service_request.unit
    if report.disassembled_before:
        return "the part was disassembled before (拆过)"
    if report.responsibility in NON_QUALITY:
        return f"the cause is not a quality fault (responsibility: {report.responsibility})"
    if unit.warranty_end_date is not None and job.service_request.reported_at.date() > unit.warranty_end_date:
        return f"the unit's warranty ended on {unit.warranty_end_date.isoformat()}"
    if unit.warranty_mileage_limit_km is not None and (report.mileage_km or 0) > unit.warranty_mileage_limit_km:
        return f"the mileage is over the warranty limit of {unit.warranty_mileage_limit_km} km"
    if unit.warranty_hours_limit is not None and (report.operating_hours or 0) > unit.warranty_hours_limit:
        return f"the operating hours are over the warranty limit of {unit.warranty_hours_limit} h"
    return None


def check_paid_service(session: Session, job: Job, report: FieldReport) -> None:
    """REP-6: chargeable work needs a supervisor's prior approval; money taken is recorded with its receipt."""
    if _approval_of(session, job) is None:
        chargeable = next((line for line in report.part_lines if not line.covered_by_warranty), None)
        if chargeable is not None:
            raise DomainError(f"part_lines.{chargeable.line_no - 1}.covered_by_warranty",
                              "chargeable work needs a supervisor's prior approval of paid service (REP-6)",
                              status=409)
        if report.cash_collected is not None:
            raise DomainError("cash_collected", "technicians may not collect money without an approved paid "
                                                "service (REP-6)", status=409)
    if (report.cash_collected is None) != (report.cash_receipt_number is None):
        field = "cash_receipt_number" if report.cash_receipt_number is None else "cash_collected"
        raise DomainError(field, "money collected is recorded with its amount and receipt number together "
                                 "(REP-6)")


def approve_paid_service(session: Session, job: Job, *, actor: User, scope: str, estimated_amount: Decimal | None,
                         now: datetime) -> PaidServiceApproval:
    check_may_decide(job, actor)
    if job.status in (JobStatus.APPROVED, JobStatus.DECLINED, JobStatus.CANCELLED):
        raise Conflict(f"the job is {job.status}", current_status=job.status)
    if _approval_of(session, job) is not None:
        raise Conflict(f"paid service on job {job.id} is already approved")
    approval = PaidServiceApproval(job_id=job.id, approved_by_user_id=actor.id, approved_at=now, scope=scope,
                                   estimated_amount=estimated_amount)
    session.add(approval)
    session.flush()
    return approval


def _approval_of(session: Session, job: Job) -> PaidServiceApproval | None:
    return session.scalar(select(PaidServiceApproval).where(PaidServiceApproval.job_id == job.id))


def paid_service_approval(session: Session, job: Job) -> PaidServiceApproval:
    approval = _approval_of(session, job)
    if approval is None:
        raise NotFound("paid service approval of job", job.id)
    return approval


def awaiting_paid_service(user: User) -> Select[Any]:
    """REP-6, the supervisor's side: jobs of the user's stations (SCP-1) still being written on site whose draft
    finds the repair outside warranty (WAR-1) and that have no paid-service approval yet, so no chargeable line can
    go on the report. Longest-waiting first."""
    return (select(Job).join(FieldReport, FieldReport.job_id == Job.id)
            .where(FieldReport.status == DRAFT, FieldReport.within_warranty.is_(False),
                   Job.status.in_(EDITABLE_JOB_STATUSES), jobs_within_scope(user),
                   ~select(PaidServiceApproval.id).where(PaidServiceApproval.job_id == Job.id).exists())
            .order_by(FieldReport.updated_at, Job.id))


# --- sign-off and seal (REP-2..4) --------------------------------------------------------------------------------

@dataclass(frozen=True)
class SignOff:
    signer_name: str
    signature_kind: str
    image: bytes
    customer_comments: str | None
    satisfaction: int
    device_time: datetime | None
    latitude: float | None
    longitude: float | None


def sign_off(session: Session, job: Job, report: FieldReport, signed: SignOff, *, actor_id: int, now: datetime,
             signer: ReportSigner, store: MediaStore, settings: Settings) -> None:
    """REP-2: only once the work is done. REP-3: the content, the signature image's hash, the signer, time and
    place are sealed together; from here on this version is read-only."""
    if (signed.latitude is None) != (signed.longitude is None):
        raise DomainError("longitude" if signed.longitude is None else "latitude",
                          "send the sign-off position's latitude and longitude together")
    if report.status != DRAFT:
        raise Conflict(f"version {report.version_no} is already signed; start a correction for a new version",
                       current_status=job.status)
    job.status = next_status(job.status, "sign-off")
    _check_complete(session, report)
    check_coverage(session, job, report)
    check_paid_service(session, job, report)
    image = store_image(session, store, signed.image, "signature_image", max_bytes=settings.max_image_bytes,
                        now=now)
    report.signer_name, report.signature_kind = signed.signer_name, signed.signature_kind
    report.signature_sha256 = image.sha256
    report.customer_comments, report.satisfaction = signed.customer_comments, signed.satisfaction
    report.signed_at, report.signed_device_time = now, signed.device_time
    report.signed_latitude, report.signed_longitude = signed.latitude, signed.longitude
    report.status = SIGNED
    seal = signer.seal(sealed_content(job, report))
    report.seal_digest, report.seal_signature, report.seal_key_id = seal.digest, seal.signature, seal.key_id
    session.flush()
    field_use.report_signed(session, report, actor_id=actor_id, now=now, settings=settings)


def _check_complete(session: Session, report: FieldReport) -> None:
    for name in REQUIRED_AT_SIGN_OFF:
        if getattr(report, name) in (None, ""):
            raise DomainError(name, "must be filled in before the customer signs (JOB-3, REP-1)", status=409)
    if report.within_warranty is False and not report.warranty_reason:
        raise DomainError("warranty_reason", "say why the repair is not within warranty (WAR-1)", status=409)
    tracked = {p for p in session.scalars(select(Part.id).where(
        Part.id.in_({line.part_id for line in report.part_lines}), Part.serial_tracked.is_(True)))}
    for line in report.part_lines:
        if line.part_id in tracked and not line.new_serial:
            raise DomainError(f"part_lines.{line.line_no - 1}.new_serial",
                              "a serial-tracked part needs the serial of the part installed (PRT-4)", status=409)


def sealed_content(job: Job, report: FieldReport) -> dict[str, Any]:
    """Everything the customer signed for, as plain JSON values (RFC 8785 then fixes the bytes)."""
    def text(value: Any) -> Any:
        if isinstance(value, Decimal):
            return str(value)
        if isinstance(value, datetime):
            return value.isoformat()
        return value

    return {
        "job_id": job.id, "service_request_number": job.service_request.number, "version_no": report.version_no,
        **{name: text(getattr(report, name)) for name in CONTENT_FIELDS},
        "part_lines": [{"line_no": line.line_no, **{name: getattr(line, name) for name in PART_LINE_FIELDS}}
                       for line in report.part_lines],
        "compensation_lines": [{"line_no": line.line_no, "reason": line.reason, "amount": str(line.amount)}
                               for line in report.compensation_lines],
        "sign_off": {"signer_name": report.signer_name, "signature_kind": report.signature_kind,
                     "signature_sha256": report.signature_sha256, "customer_comments": report.customer_comments,
                     "satisfaction": report.satisfaction, "signed_at": text(report.signed_at),
                     "device_time": text(report.signed_device_time), "latitude": report.signed_latitude,
                     "longitude": report.signed_longitude},
    }


def verify(job: Job, report: FieldReport, *, signer: ReportSigner, store: MediaStore) -> Verdict:
    """Recomputes the seal from what the database holds now, and checks the signature image's bytes too."""
    if report.seal_digest is None or report.seal_signature is None or report.seal_key_id is None:
        return Verdict(False, f"version {report.version_no} has not been signed")
    verdict = signer.verify(sealed_content(job, report),
                            Seal(report.seal_digest, report.seal_signature, report.seal_key_id))
    if not verdict.valid:
        return verdict
    try:
        image_hash = hashlib.sha256(store.get(report.signature_sha256 or "")).hexdigest()
    except (OSError, KeyError):
        return Verdict(False, "the signature image is missing from the media store")
    if image_hash != report.signature_sha256:
        return Verdict(False, "the stored signature image no longer matches its hash")
    return verdict


# --- corrections and review (REP-3, REP-5) -----------------------------------------------------------------------

def start_correction(session: Session, job: Job, *, author_id: int) -> FieldReport:
    """REP-3: a signed version is never edited. A correction is version n+1, a draft copied from it, which the
    customer signs again; the signed version stays, superseded."""
    signed = current_report(session, job)
    if signed.status != SIGNED:
        raise Conflict(f"version {signed.version_no} is still a draft: edit it directly", current_status=job.status)
    if job.status == JobStatus.SIGNED:
        job.status = next_status(job.status, "correct")
    elif job.status != JobStatus.WORK_DONE:  # after a rejection the job is back at work_done, signed report kept
        raise Conflict(f"a report cannot be corrected while the job is {job.status}", current_status=job.status)
    signed.status = SUPERSEDED
    session.flush()  # the one-current-version index must see the old one superseded first
    draft = FieldReport(job_id=job.id, version_no=signed.version_no + 1, status=DRAFT, author_user_id=author_id,
                        **{name: getattr(signed, name) for name in CONTENT_FIELDS})
    draft.part_lines = [ReportPartLine(line_no=line.line_no, **{k: getattr(line, k) for k in PART_LINE_FIELDS})
                        for line in signed.part_lines]
    draft.compensation_lines = [CompensationLine(line_no=line.line_no, reason=line.reason, amount=line.amount)
                                for line in signed.compensation_lines]
    session.add(draft)
    session.flush()
    return draft


def submit(session: Session, job: Job, report: FieldReport, *, now: datetime) -> None:
    job.status = next_status(job.status, "submit")
    report.submitted_at = now
    report.review_outcome = report.review_reason = report.reviewed_at = report.reviewed_by_user_id = None
    notify(session, [Notice(kind=NotificationKind.REPORT_SUBMITTED, role=Role.SUPERVISOR,
                            station_id=job.service_request.nearest_station_id,
                            dedupe_key=f"report:{report.id}:submitted:{now.isoformat()}",
                            payload=_about(job, report))], now)


def approve(session: Session, job: Job, report: FieldReport, *, actor: User, now: datetime) -> None:
    """REP-5: approved reports are archived, read-only for everyone."""
    check_may_decide(job, actor)
    job.status = next_status(job.status, "approve")
    job.service_request.status = RequestStatus.RESOLVED
    _reviewed(report, actor.id, "approved", None, now)
    session.flush()
    field_use.report_approved(session, report, actor_id=actor.id, now=now)


def reject(session: Session, job: Job, report: FieldReport, *, actor: User, reason: str, now: datetime) -> None:
    """REP-5: back to the technician, with the reason; they correct the report and the customer signs again."""
    check_may_decide(job, actor)
    job.status = next_status(job.status, "reject")
    _reviewed(report, actor.id, "rejected", reason, now)
    lead = next((member.technician.user_id for member in job.crew if member.is_lead), None)
    if lead is not None:
        notify(session, [Notice(kind=NotificationKind.REPORT_REJECTED, user_id=lead,
                                dedupe_key=f"report:{report.id}:rejected:{now.isoformat()}",
                                payload=_about(job, report, reason=reason))], now)


def _reviewed(report: FieldReport, actor_id: int, outcome: str, reason: str | None, now: datetime) -> None:
    report.reviewed_by_user_id, report.reviewed_at = actor_id, now
    report.review_outcome, report.review_reason = outcome, reason


def _about(job: Job, report: FieldReport, **extra: Any) -> dict[str, Any]:
    return {"job_id": job.id, "service_request_number": job.service_request.number,
            "report_version": report.version_no, **extra}


# --- photos ------------------------------------------------------------------------------------------------------

def add_photo(session: Session, job: Job, data: bytes, *, caption: str | None, taken_at: datetime | None,
              actor_id: int, now: datetime, store: MediaStore, max_bytes: int) -> JobPhoto:
    if job.status in (JobStatus.APPROVED, JobStatus.DECLINED, JobStatus.CANCELLED):
        raise Conflict(f"the job is {job.status}; its record is closed", current_status=job.status)
    media = store_image(session, store, data, "file", max_bytes=max_bytes, now=now)
    photo = JobPhoto(job_id=job.id, media_sha256=media.sha256, caption=caption, taken_at=taken_at,
                     uploaded_at=now, uploaded_by_user_id=actor_id)
    session.add(photo)
    session.flush()
    return photo


def job_photos(job_id: int) -> Select[Any]:
    return select(JobPhoto).where(JobPhoto.job_id == job_id).order_by(JobPhoto.uploaded_at, JobPhoto.id)


def photo_of(session: Session, job: Job, photo_id: int) -> JobPhoto:
    photo = session.get(JobPhoto, photo_id)
    if photo is None or photo.job_id != job.id:
        raise NotFound("photo", photo_id)
    return photo
