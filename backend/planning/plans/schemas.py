import marshmallow as ma
from marshmallow import validate

from backend.dispatch.candidates import HOME_STATION, LAST_KNOWN_POSITION
from backend.dispatch.schemas import MAX_CREW
from backend.dispatch.sla import Tier
from backend.http.fields import Id, Name, OneOf, Timestamp
from backend.planning.plans.models import ItemOutcome, PlanStatus

# A day's plan for a large region; more than this is several plans.
MAX_PLANNED_REQUESTS = 10_000
MAX_JOBS_LIMIT = 50


class PlanCreateSchema(ma.Schema):
    station = Id(load_default=None, allow_none=True, metadata={
        "description": "Only requests of this station (their nearest, frozen at intake, DSP-4)"})
    tier = OneOf(Tier, load_default=None, allow_none=True)
    service_request_ids = ma.fields.List(Id(), load_default=None, allow_none=True,
                                         validate=validate.Length(min=1, max=MAX_PLANNED_REQUESTS), metadata={
        "description": "Only these requests; each must be registered or accepted and of your stations"})
    crews_of_two = ma.fields.List(Id(), load_default=list, validate=validate.Length(max=MAX_PLANNED_REQUESTS),
                                  metadata={"description": "Requests that need two technicians; the nearer leads "
                                                           "(DSP-7)"})
    max_jobs_per_technician = ma.fields.Integer(
        strict=True, load_default=None, allow_none=True, validate=validate.Range(min=1, max=MAX_JOBS_LIMIT),
        metadata={"description": "No technician ends with more open jobs than this, counting those they already "
                                 "have; default ONSITE_MAX_JOBS_PER_TECHNICIAN (3)"})


class SwapSchema(ma.Schema):
    service_request_id = Id(required=True)
    technician_ids = ma.fields.List(Id(), required=True, validate=validate.Length(min=1, max=MAX_CREW))
    lead_id = Id(load_default=None, allow_none=True, metadata={"description": "Required for a crew of two or more "
                                                                               "(DSP-7)"})
    reason = Name(1000, required=True, metadata={"description": "Why not the plan's crew (DSP-8)"})


class PlanCommitSchema(ma.Schema):
    drop = ma.fields.List(Id(), load_default=list, validate=validate.Length(max=MAX_PLANNED_REQUESTS), metadata={
        "description": "Requests to leave out of the commit (they stay on the board)"})
    swaps = ma.fields.List(ma.fields.Nested(SwapSchema), load_default=list,
                           validate=validate.Length(max=MAX_PLANNED_REQUESTS), metadata={
        "description": "Requests to dispatch to another crew than planned, each with a reason"})


class ObjectiveSchema(ma.Schema):
    missed_deadlines = ma.fields.Integer(metadata={
        "description": "Requests that would arrive after their on-site deadline, plus requests left unassigned"})
    total_lateness_minutes = ma.fields.Float(metadata={"description": "Summed over the late assignments"})
    total_travel_km = ma.fields.Float(metadata={"description": "Summed over every crew member's trip"})
    assigned = ma.fields.Integer()
    unassigned = ma.fields.Integer()


class ObjectivesSchema(ma.Schema):
    plan = ma.fields.Nested(ObjectiveSchema)
    greedy = ma.fields.Nested(ObjectiveSchema, metadata={
        "description": "One-by-one dispatch on the same data: board order, each request taking its top candidate "
                       "under the same job limit"})


class PlannedMemberSchema(ma.Schema):
    technician_id = ma.fields.Integer()
    name = ma.fields.String()
    position_source = OneOf((LAST_KNOWN_POSITION, HOME_STATION))
    distance_km = ma.fields.Float()
    eta = ma.fields.String(metadata={"format": "date-time"})
    open_jobs = ma.fields.Integer(metadata={"description": "Open jobs when planned"})
    is_lead = ma.fields.Boolean()


class _ItemSchema(ma.Schema):
    service_request_id = ma.fields.Integer()
    service_request_number = ma.fields.String()
    position = ma.fields.Integer(metadata={"description": "Place in board order"})
    on_site_due_at = Timestamp(allow_none=True)
    greedy_technician_ids = ma.fields.List(ma.fields.Integer(), metadata={
        "description": "Whom one-by-one dispatch would send"})
    outcome = OneOf((ItemOutcome.COMMITTED, ItemOutcome.SWAPPED, ItemOutcome.DROPPED), allow_none=True, metadata={
        "description": "What the commit did; null before it"})


class AssignmentSchema(_ItemSchema):
    crew = ma.fields.List(ma.fields.Nested(PlannedMemberSchema), metadata={"description": "The lead first"})
    lead_technician_id = ma.fields.Integer()
    distance_km = ma.fields.Float()
    eta = Timestamp(metadata={"description": "When the whole crew is on site"})
    deadline_met = ma.fields.Boolean(allow_none=True, metadata={
        "description": "Null when the request has no open on-site deadline"})
    lateness_minutes = ma.fields.Float()
    reason = ma.fields.String(metadata={"description": "Why these technicians"})
    swap_reason = ma.fields.String(allow_none=True)
    job_id = ma.fields.Integer(allow_none=True, metadata={"description": "The job the commit created"})


class UnassignedSchema(_ItemSchema):
    reason = ma.fields.String(metadata={"description": "Why no technician"})


class DispatchPlanSummarySchema(ma.Schema):
    """A plan without its requests: what the list shows."""

    id = ma.fields.Integer()
    status = OneOf((PlanStatus.PROPOSED, PlanStatus.COMMITTED))
    created_by_user_id = ma.fields.Integer()
    planned_at = Timestamp(metadata={"description": "Arrival estimates are reckoned from here"})
    max_jobs_per_technician = ma.fields.Integer()
    travel_speed_kmh = ma.fields.Float()
    filters = ma.fields.Dict()
    objective = ma.fields.Nested(ObjectivesSchema)
    committed_at = Timestamp(allow_none=True)
    committed_by_user_id = ma.fields.Integer(allow_none=True)
    version = ma.fields.Integer()
    created_at = Timestamp()


class DispatchPlanSchema(DispatchPlanSummarySchema):
    solver = ma.fields.Dict(metadata={"description": "The solver, its time in seconds and its model size"})
    assignments = ma.fields.List(ma.fields.Nested(AssignmentSchema))
    unassigned = ma.fields.List(ma.fields.Nested(UnassignedSchema))
