"""Schemas of old parts owed back, received, excused and disposed of (PRT-5, PRT-7)."""

import marshmallow as ma

from backend.http.fields import Flag, Id, Name, OneOf, Text, Timestamp
from backend.parts.models import Disposition, ExcuseReason, ObligationStatus
from backend.parts.old_parts.service import OVERDUE
from backend.parts.stock.schemas import PartRefSchema

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
