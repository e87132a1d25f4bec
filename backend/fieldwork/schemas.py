from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from backend.dispatch.schemas import JobSchema
from backend.http.fields import Name, PositionSchema, Text, Timestamp
from backend.planning.routes.schemas import RouteSchema

MAX_SYNC_PAGE = 500
MAX_CURSOR_LENGTH = 200


class ActionSchema(ma.Schema):
    """What every action may carry from the app: its own clock and where it was (JOB-2)."""

    device_time = Timestamp(load_default=None, allow_none=True, metadata={
        "description": "The device's clock when the technician acted (the app may send the action much later, "
                       "from its offline queue)"})
    # Optional but not nullable (no load_default=None): OpenAPI 3.0 can only say "or null" for a nested object
    # with an anyOf that would also let `{}` through.
    position = ma.fields.Nested(PositionSchema,
                                metadata={"description": "Where the device was; required for arrive (JOB-2)"})


class ReasonedActionSchema(ActionSchema):
    reason = Name(1000, required=True)


class EscalationSchema(ActionSchema):
    """JOB-4: the problem, what the technician proposes, and what the customer demands."""

    problem = Name(4000, required=True)
    proposal = Text(4000, load_default=None, allow_none=True)
    customer_demand = Text(4000, load_default=None, allow_none=True)


class JobEventSchema(ma.Schema):
    id = ma.fields.Integer()
    job_id = ma.fields.Integer()
    action = ma.fields.String()
    from_status = ma.fields.String()
    to_status = ma.fields.String()
    actor_user_id = ma.fields.Integer(allow_none=True)
    server_time = Timestamp()
    device_time = Timestamp(allow_none=True)
    latitude = ma.fields.Float(allow_none=True)
    longitude = ma.fields.Float(allow_none=True)
    accuracy_m = ma.fields.Float(allow_none=True)
    distance_to_site_km = ma.fields.Float(allow_none=True, metadata={"description": "From the site (JOB-2)"})
    details = ma.fields.Dict()


class JobActionResultSchema(ma.Schema):
    job = ma.fields.Nested(JobSchema)
    event = ma.fields.Nested(JobEventSchema)


class SyncQuerySchema(ma.Schema):
    since = Text(MAX_CURSOR_LENGTH, min_length=1, metadata={
        "description": "`next_cursor` of the previous sync; without it, every job of yours"})
    limit = ma.fields.Integer(load_default=100, validate=validate.Range(min=1, max=MAX_SYNC_PAGE))


class SyncSchema(ma.Schema):
    jobs = ma.fields.List(ma.fields.Nested(JobSchema))
    next_cursor = ma.fields.String(metadata={"description": "Pass as `since` next time. Changes are delivered at least "
                                                       "once: keep the job with the highest version"})
    has_more = ma.fields.Boolean(metadata={"description": "More changes wait: sync again at once"})
    route = ma.fields.Nested(RouteSchema, metadata={
        "description": "Your working day's route as of this sync (PLN-2), re-sequenced whenever a job is added, "
                       "cancelled or declined: keep the latest for offline use. Absent for an account with no "
                       "technician profile"})
