"""The technician's app: job actions and offline sync. Thin: the rules are in backend.fieldwork.service."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from backend.accounts.models import Role
from backend.dispatch.models import Job
from backend.dispatch.service import JOB_OFFICE_ROLES
from backend.dispatch.views import visible_job
from backend.fieldwork import service
from backend.fieldwork.schemas import (ActionSchema, EscalationSchema, JobActionResultSchema, JobEventSchema,
                                       ReasonedActionSchema, SyncQuerySchema, SyncSchema)
from backend.http.api import Blueprint, tagged
from backend.http.context import current_user, db, now, onsite
from backend.http.crud import paginate
from backend.planning.routes import service as routes

blp = Blueprint("fieldwork", __name__, url_prefix="/api/v1", description="The technician's job flow and sync")

JOB = "/jobs/<id:job_id>"


def _report(data: dict[str, Any]) -> service.Report:
    position = data.pop("position", None)
    return service.Report(device_time=data.pop("device_time", None),
                          position=service.Fix(**position) if position else None,
                          details={k: v for k, v in data.items() if v is not None})


def _result(job: Job, event: Any) -> Any:
    _, headers = tagged(job)
    return {"job": job, "event": event}, headers


def _action_view(action: str, schema: type[ActionSchema], roles: tuple[str, ...], summary: str) -> None:
    def view(data: dict[str, Any], job_id: int) -> Any:
        job = visible_job(job_id, for_update=True)
        app = onsite()
        event = service.act(db(), job, action, current_user(), _report(data), now=app.clock.now(),
                            arrival_skew=timedelta(seconds=app.settings.arrival_clock_skew_seconds))
        return _result(job, event)

    view.__name__ = f"post_{action.replace('-', '_')}"
    blp.endpoint("POST", f"{JOB}/{action}", roles=roles, writes=True, takes=schema, answers=JobActionResultSchema,
                 etag=True, refuses=(404, 409), summary=summary)(view)


CREW = (Role.TECHNICIAN,)
for _action, _schema, _roles, _summary in (
        ("accept", ActionSchema, CREW, "Take the job"),
        ("decline", ReasonedActionSchema, CREW, "Turn the job down, with a reason: the request goes back to the "
                                                "board and its dispatchers are told"),
        ("depart", ActionSchema, CREW, "Leave for the site"),
        ("arrive", ActionSchema, CREW, "Arrive on site, with the device's position (JOB-2); meets the on-site "
                                       "deadline if in time"),
        ("work-done", ActionSchema, CREW, "Report the work done (before the customer signs, REP-2)"),
        ("cancel", ReasonedActionSchema, service.CANCELLERS, "Cancel the job, with a reason (dispatcher); the "
                                                             "request goes back to the board")):
    _action_view(_action, _schema, _roles, _summary)


@blp.endpoint("POST", f"{JOB}/escalate", roles=CREW, writes=True, takes=EscalationSchema, answers=JobEventSchema,
              status=201, refuses=(404, 409), summary="Escalate a problem to the station's dispatchers and "
                                                      "supervisors at once, with the proposal and the customer's "
                                                      "demand (JOB-4, DSP-9)")
def post_escalate(data: dict[str, Any], job_id: int) -> Any:
    return service.escalate(db(), visible_job(job_id, for_update=True), current_user(), _report(data),
                            now=now())


@blp.endpoint("GET", f"{JOB}/events", roles=(Role.TECHNICIAN, *JOB_OFFICE_ROLES), answers=JobEventSchema(many=True),
              paginated=True, refuses=(404,),
              summary="The job's steps in time order, each with server and device time and position")
def list_job_events(pagination_parameters: Any, job_id: int) -> Any:
    visible_job(job_id)
    return paginate(db(), service.job_events(job_id), pagination_parameters)


@blp.endpoint("GET", "/me/jobs", roles=(Role.TECHNICIAN,), takes=SyncQuerySchema, answers=SyncSchema,
              summary="Your jobs changed since a cursor, oldest change first: how the app catches up after being "
                      "offline")
def sync_my_jobs(query: dict[str, Any]) -> Any:
    app = onsite()
    user = current_user()
    cursor = service.decode_cursor(query["since"]) if "since" in query else None
    jobs = service.own_jobs_changed_since(db(), user, cursor, query["limit"])
    has_more = len(jobs) > query["limit"]
    jobs = jobs[:query["limit"]]
    answer = {"jobs": jobs, "has_more": has_more,
              "next_cursor": service.encode_cursor(service.next_cursor(
                  jobs, has_more, cursor, now=app.clock.now(),
                  overlap=timedelta(seconds=app.settings.sync_overlap_seconds)))}
    if user.technician_id is not None:
        answer["route"], _jobs = routes.day_route(db(), routes.own_technician(db(), user), None, now=app.clock.now(),
                                                  terms=routes.RouteTerms.from_settings(app.settings))
    return answer
