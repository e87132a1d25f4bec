import marshmallow as ma

from backend.http.fields import Flag, Latitude, Longitude, Name, Text, Timestamp


class StationCreateSchema(ma.Schema):
    code = Name(20, required=True)
    name = Name(120, required=True)
    address = Name(300, required=True)
    latitude = Latitude(required=True)
    longitude = Longitude(required=True)
    active = Flag(load_default=True)
    may_receive_work = Flag(load_default=True)
    barred_reason = Text(300, allow_none=True)


class StationUpdateSchema(StationCreateSchema):
    """Any subset of the fields (loaded with partial=True)."""


class StationSchema(StationCreateSchema):
    id = ma.fields.Integer(dump_only=True)
    version = ma.fields.Integer(dump_only=True)
    created_at = Timestamp(dump_only=True)
    updated_at = Timestamp(dump_only=True)


class StationFilterSchema(ma.Schema):
    active = ma.fields.Boolean()
    may_receive_work = ma.fields.Boolean()
    q = Text(100, min_length=1, metadata={"description": "Text in code, name or address"})
