import marshmallow as ma
from marshmallow import validate

from backend.http.fields import Flag, Id, Latitude, LocalTime, Longitude, PositionSchema, Text, Timestamp
from backend.technicians.models import DEFAULT_SHIFT_END, DEFAULT_SHIFT_START

Skill = ma.fields.String(validate=[validate.Length(min=1, max=40), validate.Regexp(r"^[a-z0-9_\-]+$")])


class TechnicianCreateSchema(ma.Schema):
    user_id = Id(required=True)
    home_station_id = Id(required=True)
    skills = ma.fields.List(Skill, load_default=list, validate=validate.Length(max=30))
    active = Flag(load_default=True)
    on_shift = Flag(load_default=False)
    shift_start = LocalTime(load_default=DEFAULT_SHIFT_START, metadata={
        "description": "When the working day starts, in the home station's time zone (e.g. 08:00); a day's route "
                       "(PLN-2) starts no earlier"})
    shift_end = LocalTime(load_default=DEFAULT_SHIFT_END, metadata={
        "description": "When the working day ends, same day, after shift_start (e.g. 18:00): a stop whose work "
                       "would end later is not scheduled that day"})


class TechnicianUpdateSchema(TechnicianCreateSchema):
    """Any subset of the fields except user_id (loaded with partial=True)."""

    class Meta:
        exclude = ("user_id",)


class TechnicianSchema(TechnicianCreateSchema):
    id = ma.fields.Integer(dump_only=True)
    name = ma.fields.String(dump_only=True)
    last_latitude = Latitude(dump_only=True, allow_none=True)
    last_longitude = Longitude(dump_only=True, allow_none=True)
    last_accuracy_m = ma.fields.Float(dump_only=True, allow_none=True)
    last_position_at = Timestamp(dump_only=True, allow_none=True)
    last_position_device_time = Timestamp(dump_only=True, allow_none=True)
    version = ma.fields.Integer(dump_only=True)
    created_at = Timestamp(dump_only=True)
    updated_at = Timestamp(dump_only=True)


class TechnicianFilterSchema(ma.Schema):
    home_station_id = Id(in_query=True)
    active = ma.fields.Boolean()
    on_shift = ma.fields.Boolean()
    skill = Text(40, min_length=1)


class PositionReportSchema(PositionSchema):
    device_time = Timestamp(allow_none=True, metadata={"description": "The device's clock when the fix was taken"})
