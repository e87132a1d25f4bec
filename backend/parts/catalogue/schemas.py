import marshmallow as ma

from backend.http.fields import Flag, Money, Name, Text, Timestamp


class PartCreateSchema(ma.Schema):
    part_number = Name(60, required=True)
    name = Name(200, required=True)
    unit_price = Money(required=True, metadata={"description": "Price in the company's currency"})
    serial_tracked = Flag(load_default=False)
    active = Flag(load_default=True)
    supplier = Text(200, allow_none=True, load_default=None,
                    metadata={"description": "Who makes it; old parts go back to them as secondary claims (PRT-7)"})


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
