import marshmallow as ma
from marshmallow import validate

from backend.http.fields import Count, Id, Name, Text, Timestamp

Phone = ma.fields.String(validate=validate.Regexp(r"^\+?[0-9][0-9 \-()]{2,39}$", error="not a phone number"))


class CustomerCreateSchema(ma.Schema):
    name = Name(200, required=True)
    contact_person = Text(120, allow_none=True)
    phones = ma.fields.List(Phone, load_default=list, validate=validate.Length(max=10))
    email = ma.fields.Email(allow_none=True, validate=validate.Length(max=254))
    address = Text(300, allow_none=True)


class CustomerUpdateSchema(CustomerCreateSchema):
    """Any subset of the fields (loaded with partial=True)."""


class CustomerSchema(CustomerCreateSchema):
    id = ma.fields.Integer(dump_only=True)
    version = ma.fields.Integer(dump_only=True)
    created_at = Timestamp(dump_only=True)
    updated_at = Timestamp(dump_only=True)


class CustomerFilterSchema(ma.Schema):
    q = Text(100, min_length=1, metadata={"description": "Text in name, contact person, address or a phone number"})


class UnitCreateSchema(ma.Schema):
    customer_id = Id(required=True)
    model = Name(80, required=True)
    serial_number = Name(80, required=True)
    delivery_date = ma.fields.Date(allow_none=True)
    warranty_end_date = ma.fields.Date(allow_none=True)
    warranty_mileage_limit_km = Count(allow_none=True)
    warranty_hours_limit = Count(allow_none=True)


class UnitUpdateSchema(UnitCreateSchema):
    """Any subset of the fields (loaded with partial=True)."""


class UnitSchema(UnitCreateSchema):
    id = ma.fields.Integer(dump_only=True)
    version = ma.fields.Integer(dump_only=True)
    created_at = Timestamp(dump_only=True)
    updated_at = Timestamp(dump_only=True)


class UnitFilterSchema(ma.Schema):
    customer_id = Id(in_query=True)
    model = Text(80, min_length=1)
    serial_number = Text(80, min_length=1)
