import marshmallow as ma

from backend.http.fields import Flag, Latitude, Longitude, Name, Text, Timestamp
from backend.stations.models import DEFAULT_TIMEZONE

class StationCreateSchema(ma.Schema):
    code = Name(20, required=True)
    name = Name(120, required=True)
    address = Name(300, required=True)
    latitude = Latitude(required=True)
    longitude = Longitude(required=True)
    active = Flag(load_default=True)
    may_receive_work = Flag(load_default=True)
    barred_reason = Text(300, allow_none=True)
    # Which names exist depends on the time zone database, not the schema: the service checks it (422).
    timezone = Text(64, min_length=1, load_default=DEFAULT_TIMEZONE, metadata={
        "description": "IANA time zone the station works in; the console shows its times in it",
        "example": DEFAULT_TIMEZONE})


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
