import marshmallow as ma
from marshmallow import validate

from backend.dispatch.candidates import DEFAULT_LIMIT, HOME_STATION, LAST_KNOWN_POSITION, MAX_LIMIT
from backend.dispatch.service import FEEDBACK_METHODS, CommunicationKind, Decision, RequestStatus
from backend.dispatch.sla import DeadlineKind, DeadlineStatus, FaultCategory, Tier
from backend.http.fields import OneOf, Flag, Id, Latitude, Longitude, Name, Text, Timestamp
from backend.technicians.schemas import Skill


CHANNELS = ("phone", "letter", "email", "walk_in", "app", "regulator")  # INT-2
COMPLAINT_CLASSES = ("quality", "non_quality")  # INT-3
DIRECTIONS = ("incoming", "outgoing")
MAX_CREW = 10


class ServiceRequestCreateSchema(ma.Schema):
    customer_id = Id(required=True)
    unit_id = Id(required=True)
    site_address = Name(300, required=True)
    site_latitude = Latitude(required=True)
    site_longitude = Longitude(required=True)
    fault_description = Name(4000, required=True)
    fault_category = OneOf(FaultCategory, required=True)
    channel = OneOf(CHANNELS, required=True)
    complaint_class = OneOf(COMPLAINT_CLASSES, required=True)
    supplier_needed = Flag(load_default=False, metadata={
        "description": "The component supplier must be involved (需要与配套厂家联系); puts the request in the "
                       "reply tier (DSP-2)"})
    required_skill = ma.fields.String(validate=Skill.validators, allow_none=True, load_default=None, metadata={
        "description": "Only technicians with this skill are candidates (DSP-6)"})
    reported_at = Timestamp(load_default=None, allow_none=True, metadata={
        "description": "When the customer reported; defaults to now, may be in the past, never in the future. "
                       "The SLA clocks run from here."})
    follows_request_id = Id(load_default=None, allow_none=True, metadata={
        "description": "The earlier request of the same customer this complaint is about (INV-1: a closed request "
                       "does not change; a new complaint about it is a new request linked to it)"})


class NearestStationSchema(ma.Schema):
    id = ma.fields.Integer()
    code = ma.fields.String()
    name = ma.fields.String()


class DeadlineSchema(ma.Schema):
    kind = OneOf(DeadlineKind)
    due_at = Timestamp()
    status = OneOf(DeadlineStatus, attribute="current_status",
                     metadata={"description": "An open deadline past due reads as missed"})
    met_at = Timestamp(allow_none=True, metadata={"description": "When it was fulfilled (late if missed)"})
    waived_reason = ma.fields.String(allow_none=True)
    waived_by_user_id = ma.fields.Integer(allow_none=True)
    waived_at = Timestamp(allow_none=True)


class ServiceRequestSchema(ServiceRequestCreateSchema):
    class Meta:
        dump_only = ("id", "number", "status", "registered_by_user_id", "policy_version", "tier", "distance_km",
                     "nearest_station", "deadlines", "next_due_at", "decision", "decision_reason",
                     "decided_by_user_id", "decided_at", "follow_up_since", "feedback_given_at", "feedback_method",
                     "feedback_text", "feedback_by_user_id", "closed_at", "closing_summary", "closed_by_user_id",
                     "version", "created_at", "updated_at")

    id = ma.fields.Integer()
    number = ma.fields.String(metadata={"description": "SR-<year>-<6 digits> (INT-1)"})
    status = OneOf(RequestStatus)
    reported_at = Timestamp()
    registered_by_user_id = ma.fields.Integer(allow_none=True)
    policy_version = ma.fields.Integer(metadata={"description": "The SLA policy version the tier and deadlines "
                                                                "were computed with, frozen (DSP-4)"})
    tier = OneOf(Tier)
    distance_km = ma.fields.Float(metadata={"description": "Geodesic (WGS-84) distance to the nearest active "
                                                           "station at intake, to the metre"})
    nearest_station = ma.fields.Nested(NearestStationSchema)
    deadlines = ma.fields.List(ma.fields.Nested(DeadlineSchema))
    next_due_at = Timestamp(allow_none=True, metadata={"description": "The earliest open deadline"})
    decision = OneOf(Decision, allow_none=True)
    decision_reason = ma.fields.String(allow_none=True)
    decided_by_user_id = ma.fields.Integer(allow_none=True)
    decided_at = Timestamp(allow_none=True)
    follow_up_since = Timestamp(allow_none=True, metadata={
        "description": "Flagged for follow-up since (CB-2); null when not flagged"})
    follows_request_id = ma.fields.Integer(allow_none=True, metadata={
        "description": "The earlier request this complaint is about (INV-1)"})
    feedback_given_at = Timestamp(allow_none=True, metadata={"description": "When the customer was told the outcome"})
    feedback_method = ma.fields.String(allow_none=True, metadata={
        "description": "How: a channel an agent recorded, or the method of the service-quality callback that reached "
                       "the customer"})
    feedback_text = ma.fields.String(allow_none=True, metadata={"description": "What the customer was told"})
    feedback_by_user_id = ma.fields.Integer(allow_none=True)
    closed_at = Timestamp(allow_none=True)
    closing_summary = ma.fields.String(allow_none=True)
    closed_by_user_id = ma.fields.Integer(allow_none=True)
    version = ma.fields.Integer()
    created_at = Timestamp()
    updated_at = Timestamp()


class ServiceRequestFilterSchema(ma.Schema):
    status = OneOf(RequestStatus, metadata={"description": "The register's state (INT-1, INV-1)"})
    tier = OneOf(Tier)
    station = Id(in_query=True, metadata={"description": "The nearest station frozen at intake"})
    customer_id = Id(in_query=True)
    complaint_class = OneOf(COMPLAINT_CLASSES)
    follows_request_id = Id(in_query=True, metadata={"description": "The complaints that followed this request"})
    overdue = Flag(in_query=True, metadata={"description": "Has an open deadline already past due"})
    due_before = Timestamp(metadata={"description": "Has an open deadline due before this time"})


class FeedbackSchema(ma.Schema):
    method = OneOf(FEEDBACK_METHODS, required=True, metadata={"description": "How the customer was told"})
    text = Name(4000, required=True, metadata={"description": "What the customer was told"})
    given_at = Timestamp(load_default=None, allow_none=True, metadata={"description": "Defaults to now"})


class ClosureSchema(ma.Schema):
    summary = Name(4000, required=True, metadata={"description": "The closing summary: the final result"})


class DecisionSchema(ma.Schema):
    outcome = OneOf(Decision, required=True)
    reason = Name(1000, required=True)


class ReplySchema(ma.Schema):
    content = Name(4000, required=True, metadata={"description": "What the customer was told"})
    channel = OneOf(("phone", "letter", "email", "app"), load_default="phone")
    agreed_on_site_at = Timestamp(required=True, metadata={"description": "Becomes the on-site deadline (DSP-2)"})
    replied_at = Timestamp(load_default=None, allow_none=True, metadata={"description": "Defaults to now"})


class WrittenContactSchema(ma.Schema):
    content = Name(4000, required=True, metadata={"description": "The text of the written contact"})
    channel = OneOf(("letter", "email", "app"), load_default="letter")
    contacted_at = Timestamp(load_default=None, allow_none=True, metadata={"description": "Defaults to now"})


class CommunicationCreateSchema(ma.Schema):
    direction = OneOf(DIRECTIONS, required=True)
    channel = OneOf(CHANNELS, required=True)
    content = Name(4000, required=True)
    counterpart = Text(120, allow_none=True, load_default=None, metadata={"description": "Who called or wrote"})
    occurred_at = Timestamp(load_default=None, allow_none=True, metadata={"description": "Defaults to now"})


class CommunicationSchema(CommunicationCreateSchema):
    class Meta:
        dump_only = ("id", "service_request_id", "kind", "logged_by_user_id", "created_at")

    id = ma.fields.Integer()
    service_request_id = ma.fields.Integer()
    kind = OneOf(CommunicationKind)
    occurred_at = Timestamp()
    logged_by_user_id = ma.fields.Integer(allow_none=True)
    created_at = Timestamp()


class WaiverSchema(ma.Schema):
    kind = OneOf(DeadlineKind, required=True)
    reason = Name(1000, required=True)


class CandidateQuerySchema(ma.Schema):
    limit = ma.fields.Integer(load_default=DEFAULT_LIMIT, validate=validate.Range(min=1, max=MAX_LIMIT))


class CandidateSchema(ma.Schema):
    technician_id = ma.fields.Integer()
    name = ma.fields.String()
    home_station_id = ma.fields.Integer()
    position_source = OneOf((LAST_KNOWN_POSITION, HOME_STATION))
    distance_km = ma.fields.Float()
    eta = Timestamp()
    can_meet_deadline = ma.fields.Boolean(allow_none=True, metadata={
        "description": "Null while the request has no open on-site deadline (a reply-tier request before its reply)"})
    open_jobs = ma.fields.Integer()
    rank = ma.fields.Integer(allow_none=True)
    reason = ma.fields.String(metadata={"description": "Why the candidate is ranked here"})


class CandidateListSchema(ma.Schema):
    service_request_id = ma.fields.Integer()
    on_site_due_at = Timestamp(allow_none=True)
    travel_speed_kmh = ma.fields.Float()
    candidates = ma.fields.List(ma.fields.Nested(CandidateSchema))


class DispatchSchema(ma.Schema):
    technician_ids = ma.fields.List(Id(), validate=validate.Length(min=1, max=MAX_CREW), load_default=None,
                                    allow_none=True, metadata={"description": "The crew; without it the top "
                                                                              "candidate is chosen"})
    lead_id = Id(load_default=None, allow_none=True, metadata={"description": "Required for a crew of two or more "
                                                                               "(DSP-7)"})
    reason = Name(1000, load_default=None, allow_none=True, metadata={
        "description": "Required when the top candidate is not in the crew (DSP-8)"})


class CrewMemberSchema(ma.Schema):
    technician_id = ma.fields.Integer()
    name = ma.fields.String()
    is_lead = ma.fields.Boolean()


class JobSchema(ma.Schema):
    id = ma.fields.Integer()
    service_request_id = ma.fields.Integer()
    service_request_number = ma.fields.String(attribute="service_request.number")
    site_address = ma.fields.String(attribute="service_request.site_address")
    site_latitude = ma.fields.Float(attribute="service_request.site_latitude")
    site_longitude = ma.fields.Float(attribute="service_request.site_longitude")
    # JOB-1: what the technician needs before leaving.
    fault_description = ma.fields.String(attribute="service_request.fault_description")
    fault_category = ma.fields.String(attribute="service_request.fault_category")
    unit_model = ma.fields.String(attribute="service_request.unit.model")
    unit_serial_number = ma.fields.String(attribute="service_request.unit.serial_number")
    customer_name = ma.fields.String(attribute="service_request.customer.name")
    contact_person = ma.fields.String(attribute="service_request.customer.contact_person", allow_none=True)
    phones = ma.fields.List(ma.fields.String(), attribute="service_request.customer.phones")
    status = ma.fields.String()
    work_done_at = Timestamp(allow_none=True)
    assigned_at = Timestamp()
    assigned_by_user_id = ma.fields.Integer(allow_none=True)
    lead_technician_id = ma.fields.Integer(allow_none=True)
    crew = ma.fields.List(ma.fields.Nested(CrewMemberSchema))
    version = ma.fields.Integer()
    created_at = Timestamp()
    updated_at = Timestamp()


class JobFilterSchema(ma.Schema):
    status = Text(30, min_length=1)
    technician_id = Id(in_query=True)
    service_request_id = Id(in_query=True)


class RecordedCandidateSchema(CandidateSchema):
    """A candidate as it stood at the decision (stored as JSON, so times come back as ISO text)."""

    eta = ma.fields.String(metadata={"format": "date-time"})


class RecordedCrewMemberSchema(RecordedCandidateSchema):
    is_lead = ma.fields.Boolean()


class DispatchDecisionSchema(ma.Schema):
    id = ma.fields.Integer()
    job_id = ma.fields.Integer()
    service_request_id = ma.fields.Integer()
    decided_by_user_id = ma.fields.Integer(allow_none=True)
    decided_at = Timestamp()
    mode = OneOf(("automatic", "manual"))
    suggested_technician_id = ma.fields.Integer(allow_none=True)
    overrode_suggestion = ma.fields.Boolean()
    reason = ma.fields.String(allow_none=True)
    travel_speed_kmh = ma.fields.Float()
    on_site_due_at = Timestamp(allow_none=True)
    candidates = ma.fields.List(ma.fields.Nested(RecordedCandidateSchema))
    crew = ma.fields.List(ma.fields.Nested(RecordedCrewMemberSchema))
