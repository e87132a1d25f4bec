"""HTTP for the service request register, dispatch and jobs; the rules live in backend.dispatch.service."""

from datetime import datetime
from typing import Any

from sqlalchemy import select

from backend.accounts.models import Role
from backend.callbacks.schemas import FollowUpSchema
from backend.callbacks.service import set_follow_up
from backend.dispatch import register, service
from backend.dispatch.candidates import DEFAULT_LIMIT, on_site_due
from backend.dispatch.models import DispatchDecision, Job, ServiceRequest
from backend.dispatch.schemas import (CandidateListSchema, CandidateQuerySchema, ClosureSchema,
                                      CommunicationCreateSchema, CommunicationSchema, DecisionSchema,
                                      DispatchDecisionSchema, DispatchSchema, FeedbackSchema, JobFilterSchema,
                                      JobSchema, ReplySchema, ServiceRequestCreateSchema, ServiceRequestFilterSchema,
                                      ServiceRequestSchema, WaiverSchema, WrittenContactSchema)
from backend.errors import NotFound
from backend.http.api import Blueprint, created, require_if_match, tagged
from backend.http.context import current_user, db, now, onsite
from backend.http.crud import paginate
from backend.http.csv import CSV_DOC, csv_response

requests_blp = Blueprint("service_requests", __name__, url_prefix="/api/v1/service-requests",
                         description="Service request register, SLA clocks and dispatch")
jobs_blp = Blueprint("jobs", __name__, url_prefix="/api/v1/jobs", description="Jobs (field visits)")
# The register's export sits beside the collection (/api/v1/service-requests.csv), outside its URL prefix.
register_blp = Blueprint("register", __name__, url_prefix="/api/v1", description="The service request register")

# The role tuples live in the service so the console admits exactly the same people.
INTAKE, READERS, CONTACT_LOGGERS = service.INTAKE, service.READERS, service.CONTACT_LOGGERS
SERVICE_GROUP, PLANNERS, DISPATCHERS, DECIDERS = (service.SERVICE_GROUP, service.PLANNERS, service.DISPATCHERS,
                                                  service.DECIDERS)
FEEDBACK_RECORDERS, CLOSERS = service.FEEDBACK_RECORDERS, service.CLOSERS
JOB_READERS = (Role.TECHNICIAN, *service.JOB_OFFICE_ROLES)
ITEM = "/<id:service_request_id>"


def _request(service_request_id: int, *, for_update: bool = False) -> ServiceRequest:
    return service.get_request(db(), service_request_id, current_user(), for_update=for_update)


@requests_blp.endpoint("POST", roles=INTAKE, writes=True, takes=ServiceRequestCreateSchema,
                       answers=ServiceRequestSchema, status=201, etag=True, location=True, refuses=(409,),
                       summary="Register a service request; its tier, distance and deadlines are computed and frozen")
def create_service_request(data: dict[str, Any]) -> Any:
    registered = service.register_request(db(), data, actor_id=current_user().id, now=now(),
                                          settings=onsite().settings)
    return created(registered, "service_requests.get_service_request", service_request_id=registered.id)


@requests_blp.endpoint("GET", roles=READERS, takes=ServiceRequestFilterSchema, as_kwargs=True,
                       answers=ServiceRequestSchema(many=True), paginated=True,
                       summary="The register and the dispatcher's board: requests in any state, by their earliest open "
                               "deadline")
def list_service_requests(pagination_parameters: Any, **filters: Any) -> Any:
    return paginate(db(), service.request_board(filters, now(), current_user()), pagination_parameters)


@register_blp.endpoint("GET", "/service-requests.csv", roles=READERS, takes=ServiceRequestFilterSchema,
                       as_kwargs=True, doc=CSV_DOC,
                       summary="The register (INT-1) as CSV, filtered like the list but all of it: one row per request "
                               "with its reported, accepted, on-site, resolved, feedback and closed dates")
def export_register(**filters: Any) -> Any:
    # Within the caller's stations (SCP-1), in register order.
    rows = [{name: value.isoformat() if isinstance(value, datetime) else value for name, value in row.items()}
            for row in register.register_rows(db(), filters, now(), current_user())]
    return csv_response(rows, register.COLUMNS, "service-requests.csv")


@requests_blp.endpoint("GET", ITEM, roles=READERS, answers=ServiceRequestSchema, etag=True, refuses=(404,),
                       summary="Get a service request")
def get_service_request(service_request_id: int) -> Any:
    return tagged(_request(service_request_id))


@requests_blp.endpoint("POST", f"{ITEM}/decision", roles=DECIDERS, writes=True, if_match=True, takes=DecisionSchema,
                       answers=ServiceRequestSchema, etag=True, refuses=(404, 409),
                       summary="Accept or reject the request, with a reason (INT-4; If-Match required)")
def post_decision(data: dict[str, Any], service_request_id: int) -> Any:
    service_request = _request(service_request_id, for_update=True)
    require_if_match(service_request.version)
    service.decide(service_request, actor_id=current_user().id, now=now(), **data)
    return tagged(service_request)


@requests_blp.endpoint("POST", f"{ITEM}/replies", roles=DISPATCHERS, writes=True, takes=ReplySchema,
                       answers=ServiceRequestSchema, etag=True, refuses=(404, 409),
                       summary="Record the reply to the customer and the agreed on-site time (DSP-2)")
def post_reply(data: dict[str, Any], service_request_id: int) -> Any:
    service_request = _request(service_request_id, for_update=True)
    service.record_reply(db(), service_request, actor_id=current_user().id, now=now(), **data)
    return tagged(service_request)


@requests_blp.endpoint("POST", f"{ITEM}/written-contacts", roles=SERVICE_GROUP, writes=True, takes=WrittenContactSchema,
                       answers=ServiceRequestSchema, etag=True, refuses=(404, 409),
                       summary="Record the written contact for a chassis/engine fault (DSP-3)")
def post_written_contact(data: dict[str, Any], service_request_id: int) -> Any:
    service_request = _request(service_request_id, for_update=True)
    service.record_written_contact(db(), service_request, actor_id=current_user().id, now=now(), **data)
    return tagged(service_request)


@requests_blp.endpoint("POST", f"{ITEM}/communications", roles=CONTACT_LOGGERS, writes=True,
                       takes=CommunicationCreateSchema, answers=CommunicationSchema, status=201, refuses=(404, 409),
                       summary="Log a call, letter or message to or from the customer (INT-5)")
def post_communication(data: dict[str, Any], service_request_id: int) -> Any:
    # Under the request's lock, so it waits for a closing in progress and then sees the request closed (INV-1).
    return service.log_communication(db(), _request(service_request_id, for_update=True), actor_id=current_user().id,
                                     kind=service.CommunicationKind.MESSAGE, now=now(), **data)


@requests_blp.endpoint("GET", f"{ITEM}/communications", roles=READERS, answers=CommunicationSchema(many=True),
                       paginated=True, refuses=(404,),
                       summary="The request's calls, letters and replies in time order (INT-5)")
def list_communications(pagination_parameters: Any, service_request_id: int) -> Any:
    _request(service_request_id)
    return paginate(db(), service.communications(service_request_id), pagination_parameters)


@requests_blp.endpoint("POST", f"{ITEM}/deadline-waivers", roles=DECIDERS, writes=True, if_match=True,
                       takes=WaiverSchema, answers=ServiceRequestSchema, etag=True, refuses=(404, 409),
                       summary="Waive an open deadline, with a reason (DSP-4; If-Match required)")
def post_deadline_waiver(data: dict[str, Any], service_request_id: int) -> Any:
    service_request = _request(service_request_id, for_update=True)
    require_if_match(service_request.version)
    service.waive_deadline(db(), service_request, actor=current_user(), now=now(), **data)
    return tagged(service_request)


@requests_blp.endpoint("POST", f"{ITEM}/feedback", roles=FEEDBACK_RECORDERS, writes=True, if_match=True,
                       takes=FeedbackSchema, answers=ServiceRequestSchema, etag=True, refuses=(404, 409),
                       summary="Record that the customer was told the outcome of the resolved request, how and what "
                               "(INV-1; If-Match required): resolved -> feedback_given. A service-quality callback "
                               "that reaches the customer does the same by itself")
def post_feedback(data: dict[str, Any], service_request_id: int) -> Any:
    service_request = _request(service_request_id, for_update=True)
    require_if_match(service_request.version)
    service.record_feedback(db(), service_request, actor_id=current_user().id, now=now(), **data)
    return tagged(service_request)


@requests_blp.endpoint("POST", f"{ITEM}/closure", roles=CLOSERS, writes=True, if_match=True, takes=ClosureSchema,
                       answers=ServiceRequestSchema, etag=True, refuses=(404, 409),
                       summary="Close the request with a closing summary (INV-1; If-Match required): from "
                               "feedback_given, or after a rejection. A quality complaint needs its investigation "
                               "first (INV-2). A closed request refuses every change (409)")
def post_closure(data: dict[str, Any], service_request_id: int) -> Any:
    service_request = _request(service_request_id, for_update=True)
    require_if_match(service_request.version)
    service.close_request(db(), service_request, actor_id=current_user().id, now=now(), **data)
    return tagged(service_request)


@requests_blp.endpoint("PUT", f"{ITEM}/follow-up", roles=CONTACT_LOGGERS, writes=True, takes=FollowUpSchema,
                       answers=ServiceRequestSchema, etag=True, refuses=(404, 409),
                       summary="Flag the request for follow-up, or clear the flag (CB-2): the callbacks duty then "
                               "creates a follow-up callback every 48 h (default) until cleared or closed")
def put_follow_up(data: dict[str, Any], service_request_id: int) -> Any:
    service_request = _request(service_request_id, for_update=True)
    set_follow_up(db(), service_request, data["follow_up"], now())
    return tagged(service_request)


@requests_blp.endpoint("GET", f"{ITEM}/candidates", roles=PLANNERS, takes=CandidateQuerySchema,
                       answers=CandidateListSchema, refuses=(404,), summary="Eligible technicians, best first (DSP-6)")
def get_candidates(query: dict[str, Any], service_request_id: int) -> Any:
    speed = onsite().settings.travel_speed_kmh
    service_request, candidates = service.candidates_for(db(), service_request_id, current_user(), now=now(),
                                                         travel_speed_kmh=speed, limit=query["limit"])
    return {"service_request_id": service_request.id, "on_site_due_at": on_site_due(service_request),
            "travel_speed_kmh": speed, "candidates": candidates}


@requests_blp.endpoint("POST", f"{ITEM}/dispatch", roles=DISPATCHERS, writes=True, takes=DispatchSchema,
                       answers=JobSchema, status=201, etag=True, location=True, refuses=(404, 409),
                       summary="Create the job: the top candidate, or the crew and lead the dispatcher names "
                               "(DSP-6..8)")
def post_dispatch(data: dict[str, Any], service_request_id: int) -> Any:
    job = service.dispatch(db(), service_request_id, service.DispatchOrder(**data), actor=current_user(),
                           now=now(), travel_speed_kmh=onsite().settings.travel_speed_kmh,
                           candidate_limit=DEFAULT_LIMIT)
    return created(job, "jobs.get_job", job_id=job.id)


@jobs_blp.endpoint("GET", roles=JOB_READERS, takes=JobFilterSchema, as_kwargs=True, answers=JobSchema(many=True),
                   paginated=True, summary="Jobs, newest first; a technician sees only their own")
def list_jobs(pagination_parameters: Any, **filters: Any) -> Any:
    return paginate(db(), service.visible_jobs(db(), current_user(), filters), pagination_parameters)


def visible_job(job_id: int, *, for_update: bool = False) -> Job:
    """The job, if the caller may see it: the office, its stations' jobs (SCP-1); a technician, those they are on.
    A write about the job asks `for_update`: it then waits for any other writer of the job and reads what that one
    committed, so a write without If-Match is never refused by a version check (service.lock_job)."""
    return service.get_visible_job(db(), job_id, current_user(), for_update=for_update)


@jobs_blp.endpoint("GET", "/<id:job_id>", roles=JOB_READERS, answers=JobSchema, etag=True, refuses=(404,),
                   summary="Get a job (a technician: only one they are on)")
def get_job(job_id: int) -> Any:
    job = visible_job(job_id)
    return tagged(job)


@jobs_blp.endpoint("GET", "/<id:job_id>/dispatch-decision", roles=service.JOB_OFFICE_ROLES,
                   answers=DispatchDecisionSchema, refuses=(404,),
                   summary="Who assigned the job, to whom, and why: the candidates as they stood (DSP-8)")
def get_dispatch_decision(job_id: int) -> Any:
    visible_job(job_id)
    decision = db().scalar(select(DispatchDecision).where(DispatchDecision.job_id == job_id))
    if decision is None:
        raise NotFound("job", job_id)
    return decision
