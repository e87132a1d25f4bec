"""Schemas of requisitions (PRT-3, PRT-6)."""

import marshmallow as ma
from marshmallow import validate

from backend.http.fields import Id, Name, OneOf, Timestamp
from backend.parts.models import RequisitionStatus
from backend.parts.requisitions.service import (OLD_PART_BACK, REPORT_APPROVED, REPORT_SIGNED, installed_quantity,
                                                open_conditions, written_off_quantity)
from backend.parts.stock.schemas import MAX_LINES, MAX_QUANTITY, LocationRefSchema, PartRefSchema, Serial

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
