"""Field service reports over HTTP. Thin: the rules are in backend.reports.service."""

from __future__ import annotations

import base64
import io
from typing import Any

from flask import Response, render_template, send_file, url_for

from backend.accounts.models import Role
from backend.dispatch.models import Job
from backend.dispatch.service import JOB_OFFICE_ROLES
from backend.dispatch.views import visible_job
from backend.errors import Conflict, NotFound
from backend.fieldwork.service import require_lead
from backend.http.api import PUBLIC, Blueprint, require_if_match, tagged
from backend.http.context import current_user, db, now, onsite
from backend.http.crud import paginate
from backend.media.models import Media
from backend.reports import customer_copy, service
from backend.reports.models import FieldReport
from backend.reports.pdf import SignatureImage, report_pdf
from backend.reports.schemas import (PaidServiceApprovalCreateSchema, PaidServiceApprovalSchema, PhotoSchema,
                                     PhotoUploadSchema, RejectionSchema, ReportContentSchema, ReportSchema,
                                     ReviewQuerySchema, SignOffSchema, SigningKeySchema, VerdictSchema,
                                     VersionQuerySchema)
from backend.reports.signing import ALGORITHM, CANONICALIZATION, canonical_bytes

blp = Blueprint("reports", __name__, url_prefix="/api/v1", template_folder="templates",
                description="Field service reports: sign-off, seal, review; photos")

JOB = "/jobs/<id:job_id>"
REPORT = f"{JOB}/report"
READERS = (Role.TECHNICIAN, *JOB_OFFICE_ROLES)
REVIEWERS = (Role.SUPERVISOR, Role.MANAGER, Role.ADMIN)
IMAGE_TYPES = ("image/png", "image/jpeg", "image/svg+xml")


def _lead_job(job_id: int) -> Job:
    """The job, for a write by its lead: locked, as every write about a job is (visible_job)."""
    job = visible_job(job_id, for_update=True)
    require_lead(job, current_user())
    return job


@blp.endpoint("GET", REPORT, roles=READERS, answers=ReportSchema, etag=True, refuses=(404,),
              summary="The report's current version (opens when the technician arrives)")
def get_report(job_id: int) -> Any:
    return tagged(service.current_report(db(), visible_job(job_id)))


@blp.endpoint("PUT", REPORT, roles=(Role.TECHNICIAN,), writes=True, if_match=True, takes=ReportContentSchema,
              answers=ReportSchema, etag=True, refuses=(404, 409),
              summary="Write the draft: findings, part lines, compensation (lead technician; If-Match required)")
def put_report(data: dict[str, Any], job_id: int) -> Any:
    job = _lead_job(job_id)
    report = service.current_report(db(), job)
    require_if_match(report.entity_version)
    service.update_draft(db(), job, report, data, now=now())
    return tagged(report)


@blp.endpoint("GET", f"{REPORT}/versions", roles=READERS, answers=ReportSchema(many=True), paginated=True,
              refuses=(404,),
              summary="Every version of the report, oldest first; signed ones are kept unchanged (REP-3)")
def list_report_versions(pagination_parameters: Any, job_id: int) -> Any:
    visible_job(job_id)
    return paginate(db(), service.report_versions(job_id), pagination_parameters)


@blp.endpoint("POST", f"{REPORT}/sign-off", roles=(Role.TECHNICIAN,), writes=True, if_match=True, takes=SignOffSchema,
              answers=ReportSchema, etag=True, refuses=(404, 409, 413, 415), summary="The customer signs or stamps "
                                                                                     "the version they were shown "
                                                                                     "(If-Match), after the work "
                                                                                     "(REP-2); the report is sealed "
                                                                                     "(REP-3)")
def post_sign_off(data: dict[str, Any], job_id: int) -> Any:
    job = _lead_job(job_id)
    report = service.current_report(db(), job)
    require_if_match(report.entity_version)
    app = onsite()
    signed = service.SignOff(image=data.pop("signature_image"), **data)
    service.sign_off(db(), job, report, signed, actor_id=current_user().id, now=app.clock.now(), signer=app.signer,
                     store=app.media, settings=app.settings)
    return tagged(report)


@blp.endpoint("POST", f"{REPORT}/corrections", roles=(Role.TECHNICIAN,), writes=True, answers=ReportSchema, status=201,
              etag=True, refuses=(404, 409),
              summary="Start a correction of the signed report: version n+1, a draft the customer signs again (REP-3)")
def post_correction(job_id: int) -> Any:
    draft = service.start_correction(db(), _lead_job(job_id), author_id=current_user().id)
    return tagged(draft)


@blp.endpoint("GET", f"{REPORT}/verify", roles=READERS, takes=VersionQuerySchema, answers=VerdictSchema,
              refuses=(404, 409),
              summary="Recompute the seal of a signed version from what the database holds now: valid or not, and why",
              doc={"description": "What is signed, exactly: `content` serialised by RFC 8785 (JSON Canonicalization "
                                  "Scheme, UTF-8) gives the sealed bytes; `digest` is their SHA-256 (hex); "
                                  "`signature` is Ed25519 over the 32 raw bytes of that digest, not over the JSON "
                                  "and not over the hex text (base64). To verify a copy offline: SHA-256 of "
                                  "RFC 8785(`content`) must equal `digest`, and `signature` must verify over those "
                                  "32 bytes with the public key of GET /api/v1/signing-key whose `key_id` matches. "
                                  "The README's 'Checking a report's seal offline' has a runnable script."})
def verify_report(query: dict[str, Any], job_id: int) -> Any:
    job = visible_job(job_id)
    report = _signed_version(job, query.get("version"))
    app = onsite()
    verdict = service.verify(job, report, signer=app.signer, store=app.media)
    return {"job_id": job.id, "version_no": report.version_no, "valid": verdict.valid, "reason": verdict.reason,
            "digest": report.seal_digest, "signature": report.seal_signature, "key_id": report.seal_key_id,
            "content": service.sealed_content(job, report)}


def _signed_version(job: Job, version_no: int | None) -> FieldReport:
    if version_no is None:
        return service.last_signed(db(), job)
    return service.report_version(db(), job, version_no)


@blp.endpoint("GET", f"{REPORT}.html", roles=READERS, takes=VersionQuerySchema, refuses=(404,),
              content_type="text/html", description="The customer's copy, with the signature and seal",
              summary="The customer's copy of a version (the current one by default) as a printable HTML page")
def get_report_copy(query: dict[str, Any], job_id: int) -> Any:
    job = visible_job(job_id)
    report = (service.current_report(db(), job) if query.get("version") is None
              else service.report_version(db(), job, query["version"]))
    app = onsite()
    signature_uri = verdict = content_json = None
    if report.signature_sha256:
        signature_uri = image_data_uri(report.signature_sha256)
        verdict = service.verify(job, report, signer=app.signer, store=app.media)
        content_json = canonical_bytes(service.sealed_content(job, report)).decode()
    page = render_template("report.html", job=job, report=report, sections=customer_copy.sections(job, report),
                           sign_off_rows=customer_copy.sign_off_rows(report), signature_uri=signature_uri,
                           verdict=verdict, content_json=content_json)
    response = Response(page, mimetype="text/html")
    # Nothing on the page may load or run anything: the only image is the inline signature.
    response.headers["Content-Security-Policy"] = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
    return response


@blp.endpoint("GET", f"{REPORT}.pdf", roles=READERS, takes=VersionQuerySchema, refuses=(404, 409),
              content_type="application/pdf",
              description="What report.html shows, with the seal checked now; Chinese set in an embedded font. "
                          "Attached inside, for checking offline (README, 'Checking a report's seal offline'): "
                          "`sealed-content.json`, the exact RFC 8785 bytes the seal covers; `seal.json`, the digest, "
                          "signature and key id; and the signature image as the customer gave it",
              summary="The customer's copy of a signed version (the last signed by default) as a PDF, for e-mail "
                      "and the archive")
def get_report_pdf(query: dict[str, Any], job_id: int) -> Any:
    job = visible_job(job_id)
    report = _signed_version(job, query.get("version"))
    if report.signed_at is None:
        raise Conflict(f"version {report.version_no} of the report of job {job.id} has not been signed; only a "
                       "signed version has a customer's copy", current_status=job.status)
    app = onsite()
    document = report_pdf(job, report, signature=stored_image(report.signature_sha256),
                          verdict=service.verify(job, report, signer=app.signer, store=app.media), made_at=now())
    return send_file(io.BytesIO(document), mimetype="application/pdf",
                     download_name=f"report-{job.service_request.number}-v{report.version_no}.pdf")


def stored_image(sha256: str | None) -> SignatureImage | None:
    """A stored image's bytes and type; None when its file is gone (the verdict says so)."""
    media = db().get(Media, sha256) if sha256 else None
    if media is None:
        return None
    try:
        return SignatureImage(onsite().media.get(sha256), media.media_type, media.width, media.height)
    except OSError:
        return None


def image_data_uri(sha256: str) -> str | None:
    """The image inline, so the copy is one self-contained file; None when its file is gone (the verdict says so).
    The console shows the signature the same way."""
    image = stored_image(sha256)
    return f"data:{image.media_type};base64,{base64.b64encode(image.data).decode()}" if image else None


@blp.endpoint("POST", f"{REPORT}/submit", roles=(Role.TECHNICIAN,), writes=True, answers=ReportSchema, etag=True,
              refuses=(404, 409), summary="Hand the signed report in for the supervisor's review (REP-5)")
def post_submit(job_id: int) -> Any:
    job = _lead_job(job_id)
    report = service.current_report(db(), job)
    service.submit(db(), job, report, now=now())
    return tagged(report)


@blp.endpoint("POST", f"{REPORT}/approve", roles=(Role.SUPERVISOR,), writes=True, if_match=True, answers=ReportSchema,
              etag=True, refuses=(404, 409),
              summary="Approve the version you read (If-Match): the report is archived, read-only for everyone (REP-5)")
def post_approve(job_id: int) -> Any:
    job = visible_job(job_id, for_update=True)
    report = service.current_report(db(), job)
    require_if_match(report.entity_version)
    service.approve(db(), job, report, actor=current_user(), now=now())
    return tagged(report)


@blp.endpoint("POST", f"{REPORT}/reject", roles=(Role.SUPERVISOR,), writes=True, takes=RejectionSchema,
              answers=ReportSchema, etag=True, refuses=(404, 409),
              summary="Send the report back to the technician with a reason (REP-5)")
def post_reject(data: dict[str, Any], job_id: int) -> Any:
    job = visible_job(job_id, for_update=True)
    report = service.current_report(db(), job)
    service.reject(db(), job, report, actor=current_user(), reason=data["reason"], now=now())
    return tagged(report)


@blp.endpoint("GET", "/reports", roles=REVIEWERS, takes=ReviewQuerySchema, answers=ReportSchema(many=True),
              paginated=True,
              summary="The supervisor's queue: reports by their job's status (submitted by default), oldest first")
def list_reports(query: dict[str, Any], pagination_parameters: Any) -> Any:
    return paginate(db(), service.review_queue(query, current_user()), pagination_parameters)


@blp.endpoint("GET", "/signing-key", roles=PUBLIC, answers=SigningKeySchema,
              summary="The public key that verifies report seals, for checking a report copy offline")
def get_signing_key() -> Any:
    signer = onsite().signer
    return {"algorithm": ALGORITHM, "canonicalization": CANONICALIZATION, "key_id": signer.key_id,
            "public_key_pem": signer.public_key_pem(), "jwk": signer.public_jwk()}


@blp.endpoint("POST", f"{JOB}/paid-service-approval", roles=(Role.SUPERVISOR,), writes=True,
              takes=PaidServiceApprovalCreateSchema, answers=PaidServiceApprovalSchema, status=201, refuses=(404, 409),
              summary="Approve chargeable work on the job beforehand (REP-6)")
def post_paid_service_approval(data: dict[str, Any], job_id: int) -> Any:
    return service.approve_paid_service(db(), visible_job(job_id, for_update=True), actor=current_user(),
                                        now=now(), **data)


@blp.endpoint("GET", f"{JOB}/paid-service-approval", roles=READERS, answers=PaidServiceApprovalSchema, refuses=(404,),
              summary="The job's paid service approval, if there is one (REP-6)")
def get_paid_service_approval(job_id: int) -> Any:
    return service.paid_service_approval(db(), visible_job(job_id))


@blp.endpoint("POST", f"{JOB}/photos", roles=(Role.TECHNICIAN,), writes=True, takes=PhotoUploadSchema,
              takes_from="multipart", answers=PhotoSchema, status=201, refuses=(404, 409, 415),
              summary="Attach a photo to the job (multipart/form-data; PNG, JPEG or SVG, checked by content)")
def post_photo(data: dict[str, Any], job_id: int) -> Any:
    job = visible_job(job_id, for_update=True)
    app = onsite()
    photo = service.add_photo(db(), job, data["file"].read(app.settings.max_image_bytes + 1),
                              caption=data.get("caption"), taken_at=data.get("taken_at"), actor_id=current_user().id,
                              now=app.clock.now(), store=app.media, max_bytes=app.settings.max_image_bytes)
    return photo, {"Location": url_for("reports.get_photo_content", job_id=job.id, photo_id=photo.id)}


@blp.endpoint("GET", f"{JOB}/photos", roles=READERS, answers=PhotoSchema(many=True), paginated=True, refuses=(404,),
              summary="The job's photos, oldest first")
def list_photos(pagination_parameters: Any, job_id: int) -> Any:
    visible_job(job_id)
    return paginate(db(), service.job_photos(job_id), pagination_parameters)


@blp.endpoint("GET", f"{JOB}/photos/<id:photo_id>/content", roles=READERS, refuses=(404,),
              doc={"responses": {"200": {"description": "The image", "content": {
    media_type: {"schema": {"type": "string", "format": "binary"}} for media_type in IMAGE_TYPES}}}},
              summary="The photo's bytes")
def get_photo_content(job_id: int, photo_id: int) -> Any:
    return photo_response(visible_job(job_id), photo_id)


def photo_response(job: Job, photo_id: int) -> Response:
    """The photo's bytes, for the API and the console alike."""
    photo = service.photo_of(db(), job, photo_id)
    try:
        data = onsite().media.get(photo.media_sha256)
    except OSError:
        raise NotFound("file of photo", photo_id) from None
    response = Response(data, mimetype=photo.media.media_type)
    # An SVG opened directly must not run anything, whatever slipped past the intake check.
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
