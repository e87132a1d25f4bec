import marshmallow as ma
from marshmallow import validate

from backend.accounts.models import ROLE_VALUES
from backend.http.fields import Flag, Id, Name, Text, Timestamp

RoleField = ma.fields.String(validate=validate.OneOf(ROLE_VALUES))


class TokenRequestSchema(ma.Schema):
    username = Name(80, required=True)
    password = ma.fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=200))


class RefreshRequestSchema(ma.Schema):
    refresh_token = ma.fields.String(required=True, validate=validate.Length(min=1, max=200))


class TokenResponseSchema(ma.Schema):
    access_token = ma.fields.String(required=True)
    token_type = ma.fields.String(required=True, metadata={"example": "Bearer"})
    expires_in = ma.fields.Integer(required=True, metadata={"description": "Access token lifetime in seconds"})
    refresh_token = ma.fields.String(required=True, metadata={"description": "Single use; rotated on refresh"})
    user_id = ma.fields.Integer(required=True)
    roles = ma.fields.List(ma.fields.String(), required=True)


class UserCreateSchema(ma.Schema):
    username = ma.fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9_.\-@]{3,80}$"))
    # The minimum length (ONSITE_PASSWORD_MIN_LENGTH) and the other rules are the service's, for every path alike.
    password = ma.fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=200), metadata={
        "description": "At least ONSITE_PASSWORD_MIN_LENGTH (default 8) characters; not the username, not one of "
                       "the 10,000 most common passwords"})
    full_name = Name(120)
    email = ma.fields.Email(allow_none=True, validate=validate.Length(max=254))
    phone = Text(40, allow_none=True)
    roles = ma.fields.List(RoleField, required=True, validate=validate.Length(min=1, max=len(ROLE_VALUES)))
    station_id = Id(allow_none=True, metadata={
        "description": "The station whose escalations and notifications the user receives"})
    station_ids = ma.fields.List(Id(), validate=validate.Length(max=1000), metadata={
        "description": "The stations the user acts for (SCP-1): with any, an office user sees and acts on those "
                       "stations' requests, jobs, reports, parts, stock and KPIs only; empty: the whole company"})


class UserUpdateSchema(UserCreateSchema):
    """Any subset of the fields (loaded with partial=True); username is fixed."""

    active = Flag()

    class Meta:
        exclude = ("username",)


class UserSchema(UserCreateSchema):
    id = ma.fields.Integer(dump_only=True)
    active = ma.fields.Boolean(dump_only=True)
    version = ma.fields.Integer(dump_only=True)
    created_at = Timestamp(dump_only=True)
    updated_at = Timestamp(dump_only=True)


class UserFilterSchema(ma.Schema):
    role = RoleField
    active = ma.fields.Boolean()
    station_id = Id(in_query=True)
    q = Text(100, min_length=1, metadata={"description": "Text in username or full name"})


class MeSchema(UserSchema):
    technician_id = ma.fields.Integer(dump_only=True, allow_none=True,
                                      metadata={"description": "Set when the user is a technician"})
