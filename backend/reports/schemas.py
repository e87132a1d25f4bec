from __future__ import annotations

import base64
import binascii
from typing import Any

import marshmallow as ma
from marshmallow import validate

from backend.http.fields import Count, Flag, Id, Latitude, Longitude, Money, Name, OneOf, Text, Timestamp
from backend.reports.service import RESPONSIBILITIES, SIGNATURE_KINDS

MAX_LINES = 200
REVIEW_STATUSES = ("on_site", "work_done", "signed", "submitted", "approved")


class PartLineSchema(ma.Schema):
    """REP-1, WAR-2, PRT-4: which part, how many, why, covered or chargeable, and the serials in and out."""

    part_id = Id(required=True)
    part_number = ma.fields.String(dump_only=True)
    part_name = ma.fields.String(dump_only=True)
    quantity = ma.fields.Integer(strict=True, required=True, validate=validate.Range(min=1, max=10_000))
    reason = Name(2000, required=True)
    covered_by_warranty = Flag(required=True)
    new_serial = Text(80, min_length=1, load_default=None, allow_none=True,
                      metadata={"description": "Serial of the part installed (required for serial-tracked parts)"})
    old_serial = Text(80, min_length=1, load_default=None, allow_none=True,
                      metadata={"description": "Serial of the faulty part removed"})


class CompensationLineSchema(ma.Schema):
    reason = Name(2000, required=True)
    amount = Money(required=True)


class ReportContentSchema(ma.Schema):
    """What the technician records on site (JOB-3). A PUT replaces all of it; absent fields become empty."""

    operating_hours = Count(load_default=None, allow_none=True)
    mileage_km = Count(load_default=None, allow_none=True)
    usage_history = Text(4000, load_default=None, allow_none=True)
    fault_history = Text(4000, load_default=None, allow_none=True,
                         metadata={"description": "What happened before the fault"})
    within_warranty = Flag(load_default=None, allow_none=True, metadata={"description": "Within 三包 (WAR-1)"})
    warranty_reason = Text(2000, load_default=None, allow_none=True, metadata={
        "description": "Why it is or is not within warranty (required at sign-off when not)"})
    disassembled_before = Flag(load_default=None, allow_none=True,
                               metadata={"description": "The faulty part was taken apart before (拆过)"})
    root_cause = Text(4000, load_default=None, allow_none=True)
    responsibility = OneOf(RESPONSIBILITIES, load_default=None, allow_none=True)
    work_done = Text(8000, load_default=None, allow_none=True)
    cash_collected = Money(load_default=None, allow_none=True,
                           metadata={"description": "Only with an approved paid service (REP-6)"})
    cash_receipt_number = Text(60, min_length=1, load_default=None, allow_none=True)
    part_lines = ma.fields.List(ma.fields.Nested(PartLineSchema), load_default=list,
                                validate=validate.Length(max=MAX_LINES))
    compensation_lines = ma.fields.List(ma.fields.Nested(CompensationLineSchema), load_default=list,
                                        validate=validate.Length(max=MAX_LINES))


class ReportSchema(ReportContentSchema):
    id = ma.fields.Integer(dump_only=True)
    job_id = ma.fields.Integer(dump_only=True)
    version_no = ma.fields.Integer(dump_only=True)
    status = OneOf(("draft", "signed", "superseded"), dump_only=True)
    author_user_id = ma.fields.Integer(dump_only=True, allow_none=True)
    signer_name = ma.fields.String(dump_only=True, allow_none=True)
    signature_kind = ma.fields.String(dump_only=True, allow_none=True)
    signature_sha256 = ma.fields.String(dump_only=True, allow_none=True)
    customer_comments = ma.fields.String(dump_only=True, allow_none=True)
    satisfaction = ma.fields.Integer(dump_only=True, allow_none=True)
    signed_at = Timestamp(dump_only=True, allow_none=True)
    signed_device_time = Timestamp(dump_only=True, allow_none=True)
    signed_latitude = ma.fields.Float(dump_only=True, allow_none=True)
    signed_longitude = ma.fields.Float(dump_only=True, allow_none=True)
    seal_digest = ma.fields.String(dump_only=True, allow_none=True)
    seal_signature = ma.fields.String(dump_only=True, allow_none=True)
    seal_key_id = ma.fields.String(dump_only=True, allow_none=True)
    submitted_at = Timestamp(dump_only=True, allow_none=True)
    reviewed_by_user_id = ma.fields.Integer(dump_only=True, allow_none=True)
    reviewed_at = Timestamp(dump_only=True, allow_none=True)
    review_outcome = ma.fields.String(dump_only=True, allow_none=True)
    review_reason = ma.fields.String(dump_only=True, allow_none=True)
    version = ma.fields.Integer(dump_only=True)
    created_at = Timestamp(dump_only=True)
    updated_at = Timestamp(dump_only=True)


class Base64Image(ma.fields.String):
    """An image as base64 text; what it really is is decided from its bytes later, not from any label."""

    default_error_messages = {"invalid_base64": "not valid base64"}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bytes:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise self.make_error("invalid_base64") from exc


class SignOffSchema(ma.Schema):
    """REP-4: who signed, the signature or stamp image, the customer's comments and rating."""

    signer_name = Name(120, required=True)
    signature_kind = OneOf(SIGNATURE_KINDS, load_default="signature")
    signature_image = Base64Image(required=True, metadata={
        "format": "byte", "description": "PNG, JPEG or SVG, base64; the content is checked, not the label"})
    customer_comments = Text(4000, load_default=None, allow_none=True)
    satisfaction = ma.fields.Integer(strict=True, required=True, validate=validate.Range(min=1, max=5))
    device_time = Timestamp(load_default=None, allow_none=True)
    latitude = Latitude(load_default=None, allow_none=True)
    longitude = Longitude(load_default=None, allow_none=True)


class VersionQuerySchema(ma.Schema):
    version = ma.fields.Integer(validate=validate.Range(min=1, max=10_000), metadata={
        "description": "A version number; without it, the last signed version"})


class VerdictSchema(ma.Schema):
    """The seal (REP-3) and what it covers; which bytes are signed is in the verify endpoint's description."""

    job_id = ma.fields.Integer()
    version_no = ma.fields.Integer()
    valid = ma.fields.Boolean(metadata={"description": "The server's check now: the content still hashes to the "
                                                       "digest, the signature verifies, the signature image is intact"})
    reason = ma.fields.String()
    digest = ma.fields.String(allow_none=True, metadata={
        "description": "SHA-256 of the RFC 8785 canonical JSON bytes of the content as signed, 64 hex characters"})
    signature = ma.fields.String(allow_none=True, metadata={
        "description": "Ed25519 signature, standard base64, over the 32 raw bytes of the digest (not over the JSON, "
                       "not over the hex text)"})
    key_id = ma.fields.String(allow_none=True, metadata={
        "description": "The signing key: first 16 hex characters of SHA-256 of the raw 32-byte Ed25519 public key, "
                       "as `key_id` of GET /api/v1/signing-key"})
    content = ma.fields.Dict(metadata={"description": "The content as the database holds it now; its RFC 8785 "
                                                      "serialisation hashes to `digest` when valid. "
                                                      "`sign_off.signature_sha256` is the SHA-256 of the signature "
                                                      "image's bytes"})


class SigningKeySchema(ma.Schema):
    algorithm = ma.fields.String()
    canonicalization = ma.fields.String()
    key_id = ma.fields.String()
    public_key_pem = ma.fields.String()
    jwk = ma.fields.Dict()


class RejectionSchema(ma.Schema):
    reason = Name(2000, required=True)


class ReviewQuerySchema(ma.Schema):
    status = OneOf(REVIEW_STATUSES, load_default="submitted")
    station_id = Id(in_query=True)


class PaidServiceApprovalCreateSchema(ma.Schema):
    scope = Name(2000, required=True, metadata={"description": "The chargeable work approved"})
    estimated_amount = Money(load_default=None, allow_none=True)


class PaidServiceApprovalSchema(PaidServiceApprovalCreateSchema):
    id = ma.fields.Integer()
    job_id = ma.fields.Integer()
    approved_by_user_id = ma.fields.Integer()
    approved_at = Timestamp()


class PhotoUploadSchema(ma.Schema):
    file = ma.fields.Raw(required=True, metadata={"type": "string", "format": "binary",
                                                  "description": "PNG, JPEG or SVG; the content is checked"})
    # Form fields are text: leave them out rather than null.
    caption = Text(300, min_length=1)
    taken_at = Timestamp()


class PhotoSchema(ma.Schema):
    id = ma.fields.Integer()
    job_id = ma.fields.Integer()
    media_sha256 = ma.fields.String()
    media_type = ma.fields.String(attribute="media.media_type")
    size = ma.fields.Integer(attribute="media.size")
    width = ma.fields.Integer(attribute="media.width", allow_none=True)
    height = ma.fields.Integer(attribute="media.height", allow_none=True)
    caption = ma.fields.String(allow_none=True)
    taken_at = Timestamp(allow_none=True)
    uploaded_at = Timestamp()
    uploaded_by_user_id = ma.fields.Integer()
