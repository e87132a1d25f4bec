"""Job actions from the technician's app (RULES.md §4) and the dispatcher's cancel. No Flask in here."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from geopy.distance import geodesic
from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session

from backend.accounts.models import Role, User
from backend.clock import ensure_utc
from backend.dispatch.models import Job, JobTechnician, ServiceRequest
from backend.dispatch.service import JOB_VIEW, RequestStatus, fulfil_deadline
from backend.dispatch.sla import DeadlineKind
from backend.errors import DomainError, Forbidden
from backend.fieldwork.lifecycle import JobStatus, arrival_time, next_status
from backend.fieldwork.models import JobEvent
from backend.http.fields import MAX_ID
from backend.notifications.models import NotificationKind
from backend.notifications.service import Notice, notify
from backend.reports.service import start_report

# JOB-4 / DSP-9: a problem can be raised from the moment the job is taken until the work is reported done.
ESCALATABLE = frozenset({JobStatus.ACCEPTED, JobStatus.EN_ROUTE, JobStatus.ON_SITE, JobStatus.WORK_DONE})
# Who may cancel a job (with a reason), through the API or the console.
CANCELLERS = (Role.DISPATCHER,)


@dataclass(frozen=True)
class Fix:
    latitude: float
    longitude: float
    accuracy_m: float | None = None


@dataclass(frozen=True)
class Report:
    """What the app sends with an action: its own clock, where it was, and any words (reason, proposal...)."""

    device_time: datetime | None = None
    position: Fix | None = None
    details: dict[str, Any] = field(default_factory=dict)


def require_lead(job: Job, user: User) -> None:
    """Writing the report, signing off and submitting are the crew lead's (DSP-7)."""
    if user.technician_id is None or user.technician_id != job.lead_technician_id:
        raise Forbidden("only the lead technician of the job's crew may do this (DSP-7)")


def act(session: Session, job: Job, action: str, actor: User, report: Report, *, now: datetime,
        arrival_skew: timedelta) -> JobEvent:
    """Moves the job on (409 when the action is not allowed from its state) and records the step."""
    from_status = job.status
    job.status = next_status(job.status, action)
    event = record_event(session, job, action, from_status, actor, report, now=now)
    if action == "arrive":
        _arrived(job, event, arrival_skew)
        start_report(session, job, author_id=actor.id)
    elif action == "work-done" and job.work_done_at is None:
        job.work_done_at = now
    elif action in ("decline", "cancel"):
        _back_to_board(session, job, action, event, now)
    session.flush()
    return event


def record_event(session: Session, job: Job, action: str, from_status: str, actor: User, report: Report, *,
                 now: datetime) -> JobEvent:
    event = JobEvent(job_id=job.id, action=action, from_status=from_status, to_status=job.status,
                     actor_user_id=actor.id, server_time=now, device_time=report.device_time,
                     details=dict(report.details))
    if report.position is not None:
        event.latitude, event.longitude = report.position.latitude, report.position.longitude
        event.accuracy_m = report.position.accuracy_m
        request = job.service_request
        # rule JOB-2: how far from the site the device said it was.
        event.distance_to_site_km = round(geodesic((report.position.latitude, report.position.longitude),
                                                   (request.site_latitude, request.site_longitude)).km, 3)
    session.add(event)
    return event


def _arrived(job: Job, event: JobEvent, skew: timedelta) -> None:
    """rule JOB-2 / DSP-1: arrival meets the on-site clock if in time (decided as in lifecycle.arrival_time)."""
    if event.latitude is None:
        raise DomainError("position", "arrival must carry the device's position (JOB-2)")
    request = job.service_request
    deadline = request.deadline(DeadlineKind.ON_SITE)
    arrived_at = arrival_time(event.server_time, event.device_time, skew)
    event.details = {**event.details, "arrival_counted_at": arrived_at.isoformat()}
    if deadline is not None and deadline.pending:
        fulfil_deadline(request, DeadlineKind.ON_SITE, arrived_at, field="device_time")
        event.details["on_site_deadline"] = deadline.status
        request.deadlines_changed()


def _back_to_board(session: Session, job: Job, action: str, event: JobEvent, now: datetime) -> None:
    """The request can be dispatched again; its frozen clocks keep running (DSP-4). Its station's dispatchers
    are told at once, since the clock does not wait for them to look at the board."""
    request: ServiceRequest = job.service_request
    if request.status == RequestStatus.IN_PROGRESS:
        request.status = RequestStatus.ACCEPTED if request.decision == "accepted" else RequestStatus.REGISTERED
    if action == "decline":
        notify(session, [Notice(kind=NotificationKind.JOB_DECLINED, dedupe_key=f"job:{job.id}:declined",
                                role=Role.DISPATCHER, station_id=request.nearest_station_id,
                                payload=_about(job, reason=event.details.get("reason")))], now)


def escalate(session: Session, job: Job, actor: User, report: Report, *, now: datetime) -> JobEvent:
    """JOB-4 / DSP-9: a problem the technician cannot solve goes to the station's dispatchers and supervisors at
    once, with the technician's proposal and the customer's demand. The job's state does not change."""
    if job.status not in ESCALATABLE:
        raise DomainError(None, f"cannot escalate a job that is {job.status}", status=409,
                          current_status=job.status, allowed_from=sorted(ESCALATABLE))
    event = record_event(session, job, "escalate", job.status, actor, report, now=now)
    session.flush()
    payload = _about(job, escalation_id=event.id, **report.details)
    notify(session, [Notice(kind=NotificationKind.JOB_ESCALATED, dedupe_key=f"escalation:{event.id}:{role}",
                            role=role, station_id=job.service_request.nearest_station_id, payload=payload)
                     for role in (Role.DISPATCHER, Role.SUPERVISOR)], now)
    return event


def _about(job: Job, **extra: Any) -> dict[str, Any]:
    request = job.service_request
    return {"job_id": job.id, "service_request_id": request.id, "service_request_number": request.number,
            "status": job.status, **extra}


def job_events(job_id: int) -> Select[Any]:
    return select(JobEvent).where(JobEvent.job_id == job_id).order_by(JobEvent.server_time, JobEvent.id)


@dataclass(frozen=True)
class SyncCursor:
    """Keyset position in a technician's change feed: (updated_at, id) of the last job seen."""

    updated_at: datetime
    job_id: int


def encode_cursor(cursor: SyncCursor) -> str:
    raw = json.dumps([cursor.updated_at.isoformat(), cursor.job_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str) -> SyncCursor:
    """A cursor this server handed out; anything else is a 422 naming `since`."""
    try:
        moment, job_id = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        # Naive (ValueError) or with no UTC form (OverflowError, e.g. 0001-01-01T00:00+01:00): not one of ours.
        updated_at = ensure_utc(datetime.fromisoformat(moment))
        if not isinstance(job_id, int) or isinstance(job_id, bool) or not 0 <= job_id <= MAX_ID:
            raise ValueError(moment)
    except (binascii.Error, ValueError, TypeError, OverflowError) as exc:
        raise DomainError("since", "not a cursor this server handed out; sync again without one",
                          location="query") from exc
    return SyncCursor(updated_at, job_id)


def own_jobs_changed_since(session: Session, user: User, cursor: SyncCursor | None, limit: int) -> list[Job]:
    """Jobs of this technician's crews changed after `cursor` (all of them when None), oldest change first;
    one more than `limit` is read so the caller knows whether more follow."""
    if user.technician_id is None:
        return []
    stmt = select(Job).where(Job.crew.any(JobTechnician.technician_id == user.technician_id))
    if cursor is not None:
        stmt = stmt.where(or_(Job.updated_at > cursor.updated_at,
                              and_(Job.updated_at == cursor.updated_at, Job.id > cursor.job_id)))
    return list(session.scalars(stmt.order_by(Job.updated_at, Job.id).limit(limit + 1).options(*JOB_VIEW)))


def next_cursor(jobs: list[Job], has_more: bool, cursor: SyncCursor | None, *, now: datetime,
                overlap: timedelta) -> SyncCursor:
    """Where the app continues. Mid-feed: right after the last job returned. Caught up: `overlap` before now (but
    never behind where it already was), because a change stamped a moment ago may still be committing."""
    if has_more:
        return SyncCursor(jobs[-1].updated_at, jobs[-1].id)
    caught_up = SyncCursor(now - overlap, 0)
    if cursor is not None and (cursor.updated_at, cursor.job_id) > (caught_up.updated_at, 0):
        return cursor
    return caught_up
