import marshmallow as ma

from backend.callbacks.models import CallbackKind, CallbackStatus, ContactMethod
from backend.dispatch.schemas import COMPLAINT_CLASSES
from backend.http.fields import Flag, Id, OneOf, Text, Timestamp

LIST_STATUSES = ("due", *CallbackStatus)


def _rating(what: str) -> ma.fields.Integer:
    return ma.fields.Integer(strict=True, validate=ma.validate.Range(min=1, max=5), load_default=None,
                             allow_none=True, metadata={"description": f"1-5: {what}; required when reached"})


class CallbackFilterSchema(ma.Schema):
    status = OneOf(LIST_STATUSES, metadata={"description": "`due`: open and ready to be tried now (an unreached "
                                                           "customer's retry waits until its time)"})
    due_before = Timestamp(metadata={"description": "Due before this time"})
    kind = OneOf(CallbackKind)
    service_request_id = Id(in_query=True)


class CallbackResultSchema(ma.Schema):
    reached = Flag(required=True, metadata={"description": "Whether the customer was reached"})
    method = OneOf(ContactMethod, required=True)
    attitude = _rating("the technician's attitude")
    skill = _rating("the technician's skill")
    arrival_time = _rating("arrival time")
    promise_kept = _rating("promises kept")
    comments = Text(4000, load_default=None, allow_none=True, metadata={
        "description": "What the customer said; with reopen_as_complaint, the complaint's fault description"})
    reopen_as_complaint = Flag(load_default=False, metadata={
        "description": "Open a new service request for the same customer, unit and site, linked here (CB-3)"})
    complaint_class = OneOf(COMPLAINT_CLASSES, load_default=None, allow_none=True, metadata={
        "description": "Required with reopen_as_complaint (INT-3)"})


class CallbackAttemptSchema(ma.Schema):
    number = ma.fields.Integer()
    attempted_at = Timestamp()
    agent_user_id = ma.fields.Integer(allow_none=True)
    reached = ma.fields.Boolean()
    method = OneOf(ContactMethod)
    attitude = ma.fields.Integer(allow_none=True)
    skill = ma.fields.Integer(allow_none=True)
    arrival_time = ma.fields.Integer(allow_none=True)
    promise_kept = ma.fields.Integer(allow_none=True)
    comments = ma.fields.String(allow_none=True)
    complaint_request_id = ma.fields.Integer(allow_none=True, metadata={
        "description": "The service request this answer reopened as a complaint"})


class CallbackSchema(ma.Schema):
    id = ma.fields.Integer()
    kind = OneOf(CallbackKind, metadata={"description": "service_quality: after a job's work (CB-1); follow_up: "
                                                        "for a request flagged for follow-up (CB-2)"})
    sequence = ma.fields.Integer(metadata={"description": "The follow-up's number for its request (1 for CB-1)"})
    service_request_id = ma.fields.Integer()
    request_number = ma.fields.String()
    customer_id = ma.fields.Integer()
    job_id = ma.fields.Integer(allow_none=True)
    status = OneOf(CallbackStatus)
    due_at = Timestamp()
    next_attempt_at = Timestamp(metadata={"description": "Not to be tried before this (a retry waits)"})
    attempts_made = ma.fields.Integer()
    completed_at = Timestamp(allow_none=True)
    attempts = ma.fields.List(ma.fields.Nested(CallbackAttemptSchema))
    version = ma.fields.Integer()
    created_at = Timestamp()
    updated_at = Timestamp()


class FollowUpSchema(ma.Schema):
    follow_up = Flag(required=True, metadata={"description": "true flags the request for follow-up (CB-2), false "
                                                             "clears the flag"})
