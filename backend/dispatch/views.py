"""HTTP for the service request register, dispatch and jobs; the rules live in backend.dispatch.service."""

from typing import Any

from flask import url_for
from sqlalchemy import select

from backend.accounts.models import Role
from backend.callbacks.schemas import FollowUpSchema
from backend.callbacks.service import set_follow_up
from backend.dispatch import service
from backend.dispatch.candidates import DEFAULT_LIMIT, on_site_due
from backend.dispatch.models import DispatchDecision, Job, ServiceRequest
from backend.dispatch.schemas import (CandidateListSchema, CandidateQuerySchema, CommunicationCreateSchema,
                                      CommunicationSchema, DecisionSchema, DispatchDecisionSchema, DispatchSchema,
                                      JobFilterSchema, JobSchema, ReplySchema, ServiceRequestCreateSchema,
                                      ServiceRequestFilterSchema, ServiceRequestSchema, WaiverSchema,
                                      WrittenContactSchema)
from backend.errors import NotFound
from backend.http.api import ETAG_HEADER, Blueprint, require_if_match, tagged
from backend.http.context import current_user, db, onsite
from backend.http.crud import paginate

requests_blp = Blueprint("service_requests", __name__, url_prefix="/api/v1/service-requests",
                         description="Service request register, SLA clocks and dispatch")
jobs_blp = Blueprint("jobs", __name__, url_prefix="/api/v1/jobs", description="Jobs (field visits)")

# The role tuples live in the service so the console admits exactly the same people.
INTAKE, READERS, CONTACT_LOGGERS = service.INTAKE, service.READERS, service.CONTACT_LOGGERS
SERVICE_GROUP, PLANNERS, DISPATCHERS, DECIDERS = (service.SERVICE_GROUP, service.PLANNERS, service.DISPATCHERS,
                                                  service.DECIDERS)
JOB_READERS = (Role.TECHNICIAN, *service.JOB_OFFICE_ROLES)
ITEM = "/<id:service_request_id>"
WITH_ETAG = {"headers": ETAG_HEADER}
CREATED = {"headers": {**ETAG_HEADER, "Location": {"schema": {"type": "string"}, "required": True}}}


def _request(service_request_id: int, *, for_update: bool = False) -> ServiceRequest:
    return service.get_request(db(), service_request_id, current_user(), for_update=for_update)


def _now() -> Any:
    return onsite().clock.now()


@requests_blp.route("", methods=["POST"])
@requests_blp.access(*INTAKE)
@requests_blp.write
@requests_blp.arguments(ServiceRequestCreateSchema)
@requests_blp.response(201, ServiceRequestSchema, **CREATED)
@requests_blp.alt_response(409, response="CONFLICT")
@requests_blp.doc(summary="Register a service request; its tier, distance and deadlines are computed and frozen")
def create_service_request(data: dict[str, Any]) -> Any:
    created = service.register_request(db(), data, actor_id=current_user().id, now=_now(),
                                       settings=onsite().settings)
    location = url_for("service_requests.get_service_request", service_request_id=created.id)
    return tagged(created, Location=location)


@requests_blp.route("", methods=["GET"])
@requests_blp.access(*READERS)
@requests_blp.arguments(ServiceRequestFilterSchema, location="query", as_kwargs=True)
@requests_blp.response(200, ServiceRequestSchema(many=True))
@requests_blp.paginate()
@requests_blp.doc(summary="The dispatcher's board: requests by their earliest open deadline")
def list_service_requests(pagination_parameters: Any, **filters: Any) -> Any:
    return paginate(db(), service.request_board(filters, _now(), current_user()), pagination_parameters)


@requests_blp.route(ITEM, methods=["GET"])
@requests_blp.access(*READERS)
@requests_blp.response(200, ServiceRequestSchema, **WITH_ETAG)
@requests_blp.alt_response(404, response="NOT_FOUND")
@requests_blp.doc(summary="Get a service request")
def get_service_request(service_request_id: int) -> Any:
    return tagged(_request(service_request_id))


@requests_blp.route(f"{ITEM}/decision", methods=["POST"])
@requests_blp.access(*DECIDERS)
@requests_blp.needs_if_match
@requests_blp.write
@requests_blp.arguments(DecisionSchema)
@requests_blp.response(200, ServiceRequestSchema, **WITH_ETAG)
@requests_blp.alt_response(404, response="NOT_FOUND")
@requests_blp.alt_response(409, response="CONFLICT")
@requests_blp.doc(summary="Accept or reject the request, with a reason (INT-4; If-Match required)")
def post_decision(data: dict[str, Any], service_request_id: int) -> Any:
    service_request = _request(service_request_id, for_update=True)
    require_if_match(service_request.version)
    service.decide(service_request, actor_id=current_user().id, now=_now(), **data)
    return tagged(service_request)


@requests_blp.route(f"{ITEM}/replies", methods=["POST"])
@requests_blp.access(*DISPATCHERS)
@requests_blp.write
@requests_blp.arguments(ReplySchema)
@requests_blp.response(200, ServiceRequestSchema, **WITH_ETAG)
@requests_blp.alt_response(404, response="NOT_FOUND")
@requests_blp.alt_response(409, response="CONFLICT")
@requests_blp.doc(summary="Record the reply to the customer and the agreed on-site time (DSP-2)")
def post_reply(data: dict[str, Any], service_request_id: int) -> Any:
    service_request = _request(service_request_id, for_update=True)
    service.record_reply(db(), service_request, actor_id=current_user().id, now=_now(), **data)
    return tagged(service_request)


@requests_blp.route(f"{ITEM}/written-contacts", methods=["POST"])
@requests_blp.access(*SERVICE_GROUP)
@requests_blp.write
@requests_blp.arguments(WrittenContactSchema)
@requests_blp.response(200, ServiceRequestSchema, **WITH_ETAG)
@requests_blp.alt_response(404, response="NOT_FOUND")
@requests_blp.alt_response(409, response="CONFLICT")
@requests_blp.doc(summary="Record the written contact for a chassis/engine fault (DSP-3)")
def post_written_contact(data: dict[str, Any], service_request_id: int) -> Any:
    service_request = _request(service_request_id, for_update=True)
    service.record_written_contact(db(), service_request, actor_id=current_user().id, now=_now(), **data)
    return tagged(service_request)


@requests_blp.route(f"{ITEM}/communications", methods=["POST"])
@requests_blp.access(*CONTACT_LOGGERS)
@requests_blp.write
@requests_blp.arguments(CommunicationCreateSchema)
@requests_blp.response(201, CommunicationSchema)
@requests_blp.alt_response(404, response="NOT_FOUND")
@requests_blp.doc(summary="Log a call, letter or message to or from the customer (INT-5)")
def post_communication(data: dict[str, Any], service_request_id: int) -> Any:
    return service.log_communication(db(), _request(service_request_id), actor_id=current_user().id,
                                     kind=service.CommunicationKind.MESSAGE, now=_now(), **data)


@requests_blp.route(f"{ITEM}/communications", methods=["GET"])
@requests_blp.access(*READERS)
@requests_blp.response(200, CommunicationSchema(many=True))
@requests_blp.alt_response(404, response="NOT_FOUND")
@requests_blp.paginate()
@requests_blp.doc(summary="The request's calls, letters and replies in time order (INT-5)")
def list_communications(pagination_parameters: Any, service_request_id: int) -> Any:
    _request(service_request_id)
    return paginate(db(), service.communications(service_request_id), pagination_parameters)


@requests_blp.route(f"{ITEM}/deadline-waivers", methods=["POST"])
@requests_blp.access(*DECIDERS)
@requests_blp.needs_if_match
@requests_blp.write
@requests_blp.arguments(WaiverSchema)
@requests_blp.response(200, ServiceRequestSchema, **WITH_ETAG)
@requests_blp.alt_response(404, response="NOT_FOUND")
@requests_blp.alt_response(409, response="CONFLICT")
@requests_blp.doc(summary="Waive an open deadline, with a reason (DSP-4; If-Match required)")
def post_deadline_waiver(data: dict[str, Any], service_request_id: int) -> Any:
    service_request = _request(service_request_id, for_update=True)
    require_if_match(service_request.version)
    service.waive_deadline(db(), service_request, actor=current_user(), now=_now(), **data)
    return tagged(service_request)


@requests_blp.route(f"{ITEM}/follow-up", methods=["PUT"])
@requests_blp.access(*CONTACT_LOGGERS)
@requests_blp.write
@requests_blp.arguments(FollowUpSchema)
@requests_blp.response(200, ServiceRequestSchema, **WITH_ETAG)
@requests_blp.alt_response(404, response="NOT_FOUND")
@requests_blp.alt_response(409, response="CONFLICT")
@requests_blp.doc(summary="Flag the request for follow-up, or clear the flag (CB-2): the callbacks duty then "
                          "creates a follow-up callback every 48 h (default) until cleared or closed")
def put_follow_up(data: dict[str, Any], service_request_id: int) -> Any:
    service_request = _request(service_request_id, for_update=True)
    set_follow_up(db(), service_request, data["follow_up"], _now())
    return tagged(service_request)


@requests_blp.route(f"{ITEM}/candidates", methods=["GET"])
@requests_blp.access(*PLANNERS)
@requests_blp.arguments(CandidateQuerySchema, location="query")
@requests_blp.response(200, CandidateListSchema)
@requests_blp.alt_response(404, response="NOT_FOUND")
@requests_blp.doc(summary="Eligible technicians, best first (DSP-6)")
def get_candidates(query: dict[str, Any], service_request_id: int) -> Any:
    speed = onsite().settings.travel_speed_kmh
    service_request, candidates = service.candidates_for(db(), service_request_id, current_user(), now=_now(),
                                                         travel_speed_kmh=speed, limit=query["limit"])
    return {"service_request_id": service_request.id, "on_site_due_at": on_site_due(service_request),
            "travel_speed_kmh": speed, "candidates": candidates}


@requests_blp.route(f"{ITEM}/dispatch", methods=["POST"])
@requests_blp.access(*DISPATCHERS)
@requests_blp.write
@requests_blp.arguments(DispatchSchema)
@requests_blp.response(201, JobSchema, **CREATED)
@requests_blp.alt_response(404, response="NOT_FOUND")
@requests_blp.alt_response(409, response="CONFLICT")
@requests_blp.doc(summary="Create the job: the top candidate, or the crew and lead the dispatcher names "
                          "(DSP-6..8)")
def post_dispatch(data: dict[str, Any], service_request_id: int) -> Any:
    job = service.dispatch(db(), service_request_id, service.DispatchOrder(**data), actor=current_user(),
                           now=_now(), travel_speed_kmh=onsite().settings.travel_speed_kmh,
                           candidate_limit=DEFAULT_LIMIT)
    return tagged(job, Location=url_for("jobs.get_job", job_id=job.id))


@jobs_blp.route("", methods=["GET"])
@jobs_blp.access(*JOB_READERS)
@jobs_blp.arguments(JobFilterSchema, location="query", as_kwargs=True)
@jobs_blp.response(200, JobSchema(many=True))
@jobs_blp.paginate()
@jobs_blp.doc(summary="Jobs, newest first; a technician sees only their own")
def list_jobs(pagination_parameters: Any, **filters: Any) -> Any:
    return paginate(db(), service.visible_jobs(db(), current_user(), filters), pagination_parameters)


def visible_job(job_id: int, *, for_update: bool = False) -> Job:
    """The job, if the caller may see it: the office, its stations' jobs (SCP-1); a technician, those they are on.
    A write about the job asks `for_update`: it then waits for any other writer of the job and reads what that one
    committed, so a write without If-Match is never refused by a version check (service.lock_job)."""
    return service.get_visible_job(db(), job_id, current_user(), for_update=for_update)


@jobs_blp.route("/<id:job_id>", methods=["GET"])
@jobs_blp.access(*JOB_READERS)
@jobs_blp.response(200, JobSchema, **WITH_ETAG)
@jobs_blp.alt_response(404, response="NOT_FOUND")
@jobs_blp.doc(summary="Get a job (a technician: only one they are on)")
def get_job(job_id: int) -> Any:
    job = visible_job(job_id)
    return tagged(job)


@jobs_blp.route("/<id:job_id>/dispatch-decision", methods=["GET"])
@jobs_blp.access(*service.JOB_OFFICE_ROLES)
@jobs_blp.response(200, DispatchDecisionSchema)
@jobs_blp.alt_response(404, response="NOT_FOUND")
@jobs_blp.doc(summary="Who assigned the job, to whom, and why: the candidates as they stood (DSP-8)")
def get_dispatch_decision(job_id: int) -> Any:
    visible_job(job_id)
    decision = db().scalar(select(DispatchDecision).where(DispatchDecision.job_id == job_id))
    if decision is None:
        raise NotFound("job", job_id)
    return decision
