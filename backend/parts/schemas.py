import marshmallow as ma

from backend.http.fields import Money, Name, Text, Timestamp


class PartCreateSchema(ma.Schema):
    part_number = Name(60, required=True)
    name = Name(200, required=True)
    unit_price = Money(required=True, metadata={"description": "Price in the company's currency"})
    serial_tracked = ma.fields.Boolean(load_default=False)
    active = ma.fields.Boolean(load_default=True)


class PartUpdateSchema(PartCreateSchema):
    """Any subset of the fields (loaded with partial=True)."""


class PartSchema(PartCreateSchema):
    id = ma.fields.Integer(dump_only=True)
    version = ma.fields.Integer(dump_only=True)
    created_at = Timestamp(dump_only=True)
    updated_at = Timestamp(dump_only=True)


class PartFilterSchema(ma.Schema):
    serial_tracked = ma.fields.Boolean()
    active = ma.fields.Boolean()
    q = Text(100, min_length=1, metadata={"description": "Text in part number or name"})
