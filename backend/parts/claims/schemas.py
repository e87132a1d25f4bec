"""Schemas of secondary claims to suppliers (PRT-7) and freight of mailed warranty parts (PRT-8)."""

import marshmallow as ma
from marshmallow import validate

from backend.http.fields import Id, Money, Name, OneOf, Text, Timestamp
from backend.parts.models import ClaimStatus, FreightStatus
from backend.parts.old_parts.schemas import OldPartRefSchema
from backend.parts.stock.schemas import MAX_LINES

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
