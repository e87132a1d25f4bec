import marshmallow as ma
from marshmallow import validate

from backend.http.fields import OneOf, Flag, Id, Name, Text, Timestamp
from backend.parts.models import LocationKind, TransferStatus
from backend.parts.stock.ledger import Reason
from backend.parts.stock.service import SerialStatus

SERIAL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
MAX_LINES = 200
MAX_QUANTITY = 100_000


def Serial(**kwargs: object) -> ma.fields.String:
    """A unit's serial as printed on it: letters, digits, dot, dash, underscore; it also appears in URLs."""
    return ma.fields.String(validate=[validate.Length(min=1, max=80), validate.Regexp(
        SERIAL_PATTERN, error="letters, digits, '.', '-' and '_', starting with a letter or digit")], **kwargs)


class LocationRefSchema(ma.Schema):
    id = ma.fields.Integer()
    code = ma.fields.String()
    kind = OneOf(LocationKind)
    name = ma.fields.String()


class StockLocationSchema(LocationRefSchema):
    station_id = ma.fields.Integer(allow_none=True)
    technician_id = ma.fields.Integer(allow_none=True)
    created_at = Timestamp()


class LocationFilterSchema(ma.Schema):
    kind = OneOf(LocationKind)
    station = Id(in_query=True, metadata={"description": "The station's own stock and the vans of the technicians "
                                                         "based there"})
    technician = Id(in_query=True, metadata={"description": "The technician's van"})


class PartRefSchema(ma.Schema):
    id = ma.fields.Integer()
    part_number = ma.fields.String()
    name = ma.fields.String()
    serial_tracked = ma.fields.Boolean()


class StockLevelSchema(ma.Schema):
    location = ma.fields.Nested(LocationRefSchema)
    part = ma.fields.Nested(PartRefSchema)
    on_hand = ma.fields.Integer(metadata={"description": "The sum of the ledger"})
    reserved = ma.fields.Integer(metadata={"description": "Set aside for approved requisitions"})
    available = ma.fields.Integer(metadata={"description": "on_hand - reserved"})


class StockFilterSchema(ma.Schema):
    location = Id(in_query=True)
    part = Id(in_query=True)
    in_stock = Flag(in_query=True, metadata={"description": "true: only on_hand > 0; false: only on_hand = 0"})


class LedgerEntrySchema(ma.Schema):
    id = ma.fields.Integer()
    at = Timestamp()
    location = ma.fields.Nested(LocationRefSchema)
    part = ma.fields.Nested(PartRefSchema)
    quantity = ma.fields.Integer(metadata={"description": "Into the location (+) or out of it (-)"})
    serial = ma.fields.String(allow_none=True)
    reason = OneOf(Reason)
    document_type = ma.fields.String()
    document_ref = ma.fields.String()
    actor_user_id = ma.fields.Integer(allow_none=True)


class LedgerFilterSchema(ma.Schema):
    location = Id(in_query=True)
    part = Id(in_query=True)


class SerialSchema(ma.Schema):
    serial = ma.fields.String()
    part = ma.fields.Nested(PartRefSchema)
    status = OneOf(SerialStatus, metadata={"description": "In stock, in transit or out of stock, wherever the unit is "
                                                          "(also when `location` is withheld)"})
    location = ma.fields.Nested(LocationRefSchema, allow_none=True, metadata={
        "description": "Where the unit is now; null once it left stock, and for a user with stations (SCP-1) while it "
                       "is at a location outside them"})
    history = ma.fields.List(ma.fields.Nested(LedgerEntrySchema), metadata={
        "description": "Oldest first; for a user with stations, the movements at their stations' locations only"})


class SerialQuerySchema(ma.Schema):
    part = Id(in_query=True, metadata={"description": "Needed only when several parts use the same serial"})


class LineCreateSchema(ma.Schema):
    part_id = Id(required=True)
    quantity = ma.fields.Integer(strict=True, required=True, validate=validate.Range(min=1, max=MAX_QUANTITY))
    serials = ma.fields.List(Serial(), load_default=list, validate=validate.Length(max=MAX_QUANTITY), metadata={
        "description": "One per unit for a serial-tracked part (as many as the quantity); none otherwise"})


class LineSchema(ma.Schema):
    part = ma.fields.Nested(PartRefSchema)
    quantity = ma.fields.Integer()
    serials = ma.fields.List(ma.fields.String())


def Lines() -> ma.fields.List:
    return ma.fields.List(ma.fields.Nested(LineCreateSchema), required=True,
                          validate=validate.Length(min=1, max=MAX_LINES))


class ReceiptCreateSchema(ma.Schema):
    supplier = Name(200, required=True)
    supplier_reference = Text(100, allow_none=True, metadata={"description": "The supplier's delivery note or "
                                                                             "invoice number"})
    location_id = Id(allow_none=True, metadata={"description": "The central store or a station; default: the "
                                                               "central store"})
    note = Text(1000, allow_none=True)
    lines = Lines()


class ReceiptSchema(ma.Schema):
    id = ma.fields.Integer()
    number = ma.fields.String(metadata={"description": "RN-<6 digits>"})
    supplier = ma.fields.String()
    supplier_reference = ma.fields.String(allow_none=True)
    location = ma.fields.Nested(LocationRefSchema)
    note = ma.fields.String(allow_none=True)
    received_at = Timestamp()
    received_by_user_id = ma.fields.Integer(allow_none=True)
    lines = ma.fields.List(ma.fields.Nested(LineSchema))


class ReceiptFilterSchema(ma.Schema):
    location = Id(in_query=True)
    part = Id(in_query=True)


class TransferCreateSchema(ma.Schema):
    source_location_id = Id(required=True)
    destination_location_id = Id(required=True)
    note = Text(1000, allow_none=True)
    lines = Lines()


class TransferSchema(ma.Schema):
    id = ma.fields.Integer()
    number = ma.fields.String(metadata={"description": "TR-<6 digits>"})
    status = OneOf(TransferStatus)
    source = ma.fields.Nested(LocationRefSchema)
    destination = ma.fields.Nested(LocationRefSchema)
    note = ma.fields.String(allow_none=True)
    lines = ma.fields.List(ma.fields.Nested(LineSchema))
    sent_at = Timestamp()
    sent_by_user_id = ma.fields.Integer(allow_none=True)
    received_at = Timestamp(allow_none=True)
    received_by_user_id = ma.fields.Integer(allow_none=True)
    cancelled_at = Timestamp(allow_none=True)
    cancelled_by_user_id = ma.fields.Integer(allow_none=True)
    cancel_reason = ma.fields.String(allow_none=True)
    version = ma.fields.Integer()
    created_at = Timestamp()
    updated_at = Timestamp()


class TransferFilterSchema(ma.Schema):
    status = OneOf(TransferStatus)
    location = Id(in_query=True, metadata={"description": "Sent from or to this location"})
    part = Id(in_query=True)


class CancelSchema(ma.Schema):
    reason = Name(300, required=True)
