"""Schemas of the parts flow on jobs: requisitions, old parts, write-offs, supplier claims, freight (PRT-3..8)."""

import marshmallow as ma
from marshmallow import validate

from backend.http.fields import Flag, Id, Money, Name, OneOf, Text, Timestamp
from backend.parts.models import (ClaimStatus, Disposition, ExcuseReason, FreightStatus, ObligationStatus,
                                  RequisitionStatus)
from backend.parts.old_parts import OVERDUE
from backend.parts.requisitions import (OLD_PART_BACK, REPORT_APPROVED, REPORT_SIGNED, installed_quantity,
                                        open_conditions, written_off_quantity)
from backend.parts.stock_schemas import MAX_LINES, MAX_QUANTITY, LocationRefSchema, PartRefSchema, Serial

CONDITIONS = (REPORT_SIGNED, REPORT_APPROVED, OLD_PART_BACK)


def _lines(item: type[ma.Schema], *, minimum: int = 0, **kwargs: object) -> ma.fields.List:
    return ma.fields.List(ma.fields.Nested(item), validate=validate.Length(min=minimum, max=MAX_LINES), **kwargs)


def _quantity(**kwargs: object) -> ma.fields.Integer:
    return ma.fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_QUANTITY), **kwargs)


def _serials(**kwargs: object) -> ma.fields.List:
    return ma.fields.List(Serial(), load_default=list, validate=validate.Length(max=MAX_QUANTITY), **kwargs)


# --- requisitions (PRT-3, PRT-6) ---------------------------------------------------------------------------------

class RequisitionLineCreateSchema(ma.Schema):
    part_id = Id(required=True)
    quantity = _quantity(required=True)
    reason = Name(1000, required=True, metadata={"description": "Why the part is needed (REP-1)"})


class RequisitionCreateSchema(ma.Schema):
    job_id = Id(required=True)
    lines = _lines(RequisitionLineCreateSchema, required=True, minimum=1)


class RequisitionLineSchema(ma.Schema):
    line_no = ma.fields.Integer()
    part = ma.fields.Nested(PartRefSchema)
    quantity = ma.fields.Integer()
    reason = ma.fields.String()
    issued_serials = ma.fields.List(ma.fields.String())
    returned_quantity = ma.fields.Integer()
    returned_serials = ma.fields.List(ma.fields.String())
    installed_quantity = ma.fields.Function(installed_quantity, metadata={
        "type": "integer", "description": "On the job's current signed report"})
    written_off_quantity = ma.fields.Function(written_off_quantity, metadata={"type": "integer"})
    open_conditions = ma.fields.Function(open_conditions, metadata={
        "type": "array", "items": {"type": "string", "enum": list(CONDITIONS)},
        "description": "What is still missing before the line's parts are written off (PRT-6); empty when none"})


class RequisitionSchema(ma.Schema):
    id = ma.fields.Integer()
    number = ma.fields.String(metadata={"description": "RQ-<6 digits>"})
    job_id = ma.fields.Integer()
    technician_id = ma.fields.Integer()
    status = OneOf(RequisitionStatus)
    lines = ma.fields.List(ma.fields.Nested(RequisitionLineSchema))
    requested_by_user_id = ma.fields.Integer(allow_none=True)
    decided_at = Timestamp(allow_none=True)
    decided_by_user_id = ma.fields.Integer(allow_none=True)
    reject_reason = ma.fields.String(allow_none=True)
    issued_at = Timestamp(allow_none=True)
    issued_by_user_id = ma.fields.Integer(allow_none=True)
    source = ma.fields.Nested(LocationRefSchema, allow_none=True)
    version = ma.fields.Integer()
    created_at = Timestamp()
    updated_at = Timestamp()


class RequisitionFilterSchema(ma.Schema):
    status = OneOf(RequisitionStatus)
    job_id = Id(in_query=True)
    technician_id = Id(in_query=True)


class RejectSchema(ma.Schema):
    reason = Name(1000, required=True)


class LineSerialsSchema(ma.Schema):
    line_no = ma.fields.Integer(strict=True, required=True, validate=validate.Range(min=1, max=MAX_LINES))
    serials = _serials(metadata={"description": "One per unit of a serial-tracked part"})


class IssueSchema(ma.Schema):
    source_location_id = Id(required=True, metadata={"description": "The central store or a station"})
    lines = _lines(LineSerialsSchema, load_default=list, metadata={
        "description": "The serials for each line of a serial-tracked part; every line is issued in full"})


class ReturnLineSchema(LineSerialsSchema):
    quantity = _quantity(required=True)


class ReturnSchema(ma.Schema):
    destination_location_id = Id(required=True, metadata={"description": "The central store or a station"})
    lines = _lines(ReturnLineSchema, required=True, minimum=1)


# --- old parts (PRT-5, PRT-7) ------------------------------------------------------------------------------------

class OldPartRefSchema(ma.Schema):
    id = ma.fields.Integer()
    number = ma.fields.String(metadata={"description": "OP-<6 digits>"})
    job_id = ma.fields.Integer()
    part = ma.fields.Nested(PartRefSchema)
    serial = ma.fields.String(allow_none=True, metadata={"description": "The old part's serial"})
    quantity = ma.fields.Integer()


class OldPartSchema(OldPartRefSchema):
    technician_id = ma.fields.Integer()
    station_id = ma.fields.Integer()
    due_at = Timestamp()
    status = OneOf(ObligationStatus)
    overdue = ma.fields.Boolean(metadata={"description": "Outstanding past its due time"})
    marked_overdue_at = Timestamp(allow_none=True)
    received_at = Timestamp(allow_none=True)
    received_by_user_id = ma.fields.Integer(allow_none=True)
    condition = ma.fields.String(allow_none=True)
    excused_reason = OneOf(ExcuseReason, allow_none=True)
    excuse_note = ma.fields.String(allow_none=True)
    excused_at = Timestamp(allow_none=True)
    excused_by_user_id = ma.fields.Integer(allow_none=True)
    disposition = OneOf(Disposition, allow_none=True)
    disposed_at = Timestamp(allow_none=True)
    supplier_claim_id = ma.fields.Integer(allow_none=True)
    repaired_into_location_id = ma.fields.Integer(allow_none=True)
    version = ma.fields.Integer()


class OldPartFilterSchema(ma.Schema):
    status = OneOf([*ObligationStatus, OVERDUE], metadata={"description": "overdue: outstanding past due"})
    technician_id = Id(in_query=True)
    station_id = Id(in_query=True)
    job_id = Id(in_query=True)
    part_id = Id(in_query=True)
    supplier_claim_id = Id(in_query=True)
    awaiting_disposition = Flag(in_query=True, metadata={"description": "Received, not yet disposed of (PRT-7)"})


class ReceiveOldPartSchema(ma.Schema):
    condition = Name(1000, required=True, metadata={"description": "The state it came back in"})


class ExcuseSchema(ma.Schema):
    reason = OneOf(ExcuseReason, required=True)
    note = Text(1000, allow_none=True, metadata={"description": "Required when the reason is other"})


class DisposeSchema(ma.Schema):
    disposition = OneOf([Disposition.REPAIRED, Disposition.SCRAPPED], required=True, metadata={
        "description": "Supplier claims go through /supplier-claims"})
    location_id = Id(allow_none=True, metadata={"description": "Where a repaired part goes into stock"})


# --- write-offs (PRT-6) ------------------------------------------------------------------------------------------

class WriteOffSchema(ma.Schema):
    id = ma.fields.Integer()
    job_id = ma.fields.Integer()
    part = ma.fields.Nested(PartRefSchema)
    quantity = ma.fields.Integer()
    serial = ma.fields.String(allow_none=True)
    requisition_line_id = ma.fields.Integer(allow_none=True)
    written_off_at = Timestamp()


class WriteOffFilterSchema(ma.Schema):
    job_id = Id(in_query=True)
    part_id = Id(in_query=True)
    since = Timestamp(metadata={"description": "Written off at or after"})


# --- supplier claims (PRT-7) -------------------------------------------------------------------------------------

class SupplierClaimCreateSchema(ma.Schema):
    old_part_ids = ma.fields.List(Id(), required=True, validate=validate.Length(min=1, max=MAX_LINES))
    amount_claimed = Money(required=True, metadata={"description": "More than zero"})
    note = Text(1000, allow_none=True)


class SupplierClaimSchema(ma.Schema):
    id = ma.fields.Integer()
    number = ma.fields.String(metadata={"description": "SC-<6 digits>"})
    supplier = ma.fields.String()
    status = OneOf(ClaimStatus)
    amount_claimed = Money()
    amount_recovered = Money(allow_none=True)
    note = ma.fields.String(allow_none=True)
    old_parts = ma.fields.List(ma.fields.Nested(OldPartRefSchema))
    created_by_user_id = ma.fields.Integer(allow_none=True)
    sent_at = Timestamp(allow_none=True)
    settled_at = Timestamp(allow_none=True)
    settled_by_user_id = ma.fields.Integer(allow_none=True)
    version = ma.fields.Integer()
    created_at = Timestamp()
    updated_at = Timestamp()


class SupplierClaimFilterSchema(ma.Schema):
    status = OneOf(ClaimStatus)
    supplier = Text(200, min_length=1)


class SettleClaimSchema(ma.Schema):
    outcome = OneOf([ClaimStatus.ACCEPTED, ClaimStatus.REJECTED], required=True)
    amount_recovered = Money(allow_none=True, metadata={"description": "Required when accepted"})


# --- freight (PRT-8) ---------------------------------------------------------------------------------------------

class FreightCreateSchema(ma.Schema):
    amount = Money(required=True, metadata={"description": "More than zero"})
    description = Name(1000, required=True, metadata={"description": "What was mailed, how, and to whom"})
    requisition_id = Id(allow_none=True)
    old_part_ids = ma.fields.List(Id(), load_default=list, validate=validate.Length(max=MAX_LINES))


class FreightSchema(ma.Schema):
    id = ma.fields.Integer()
    number = ma.fields.String(metadata={"description": "FR-<6 digits>"})
    amount = Money()
    description = ma.fields.String()
    handler_user_id = ma.fields.Integer()
    requisition_id = ma.fields.Integer(allow_none=True)
    old_part_ids = ma.fields.List(ma.fields.Integer())
    status = OneOf(FreightStatus)
    recorded_at = Timestamp()
    decided_at = Timestamp(allow_none=True)
    decided_by_user_id = ma.fields.Integer(allow_none=True)
    reject_reason = ma.fields.String(allow_none=True)
    version = ma.fields.Integer()


class FreightFilterSchema(ma.Schema):
    status = OneOf(FreightStatus)
