"""Callbacks and follow-ups (RULES.md §8): the agents' task list, recording what the customer said, reopening a
complaint, and the follow-up flag. No Flask in here; the caller owns the transaction."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from backend.accounts.models import User
from backend.accounts.scope import require_in_scope, stations_of, within_stations
from backend.callbacks.models import RATINGS, Callback, CallbackAttempt, CallbackKind, CallbackStatus
from backend.config import Settings
from backend.db import locked
from backend.dispatch.models import STOPPED_STATUSES, ServiceRequest
from backend.dispatch.service import RequestStatus, give_feedback, register_request
from backend.errors import Conflict, DomainError

# The register states in which a request needs no more follow-ups (CB-2: "until closed").
FINISHED_REQUEST_STATUSES = STOPPED_STATUSES
# How the complaint reached us, in the register's channels (INT-2): an SMS conversation is by phone.
_CHANNEL_OF_METHOD = {"phone": "phone", "sms": "phone", "email": "email"}


def task_list(filters: dict[str, Any], now: datetime, user: User) -> Select[Any]:
    """Callbacks of the user's stations (SCP-1), the soonest due first. `due`: open and ready to be tried now (a retry
    waits its turn)."""
    stmt = select(Callback)
    stations = stations_of(user)
    if stations is not None:  # a callback belongs to its request's station
        stmt = stmt.where(Callback.service_request_id.in_(
            select(ServiceRequest.id).where(within_stations(ServiceRequest.nearest_station_id, stations))))
    status = filters.get("status")
    if status == "due":
        stmt = stmt.where(Callback.status == CallbackStatus.OPEN, Callback.next_attempt_at <= now)
    elif status is not None:
        stmt = stmt.where(Callback.status == status)
    if "due_before" in filters:
        stmt = stmt.where(Callback.due_at < filters["due_before"])
    for name in ("kind", "service_request_id"):
        if name in filters:
            stmt = stmt.where(getattr(Callback, name) == filters[name])
    return stmt.order_by(Callback.due_at, Callback.id)


def check_visible(callback: Callback, user: User) -> None:
    """A callback belongs to its request's station (SCP-1): one of another station answers as missing."""
    require_in_scope(callback.service_request.nearest_station_id, user, "callback", callback.id)


def record_result(session: Session, callback: Callback, data: dict[str, Any], *, actor_id: int, now: datetime,
                  settings: Settings) -> CallbackAttempt:
    """CB-3: one attempt at reaching the customer. Reached: the ratings are recorded and the callback is done,
    and a complaint may be reopened. Not reached: tried again after the retry hours, until the attempts allowed
    are used up and the callback is closed as unreached."""
    if callback.status != CallbackStatus.OPEN:
        raise Conflict(f"the callback is already {callback.status}")
    ratings = {name: data.get(name) for name in RATINGS}
    if data["reached"]:
        for name, value in ratings.items():
            if value is None:
                raise DomainError(name, "rate 1 to 5 when the customer was reached (CB-3)")
    else:
        for name in (*RATINGS, "complaint_class"):
            if data.get(name) is not None:
                raise DomainError(name, "only when the customer was reached")
        if data["reopen_as_complaint"]:
            raise DomainError("reopen_as_complaint", "only when the customer was reached")
    attempt = CallbackAttempt(number=callback.attempts_made + 1, attempted_at=now, agent_user_id=actor_id,
                              reached=data["reached"], method=data["method"], comments=data.get("comments"),
                              **ratings)
    if data["reopen_as_complaint"]:
        attempt.complaint_request_id = _reopen(session, callback, data, actor_id=actor_id, now=now,
                                               settings=settings).id
    callback.attempts.append(attempt)
    callback.attempts_made += 1
    if data["reached"]:
        _close(callback, CallbackStatus.DONE, now)
        if callback.kind == CallbackKind.SERVICE_QUALITY:
            _tell_outcome(session, callback, data, actor_id=actor_id, now=now)
    elif callback.attempts_made >= settings.callback_max_attempts:
        _close(callback, CallbackStatus.UNREACHED, now)
    else:
        callback.next_attempt_at = now + timedelta(hours=settings.callback_retry_hours)
    session.flush()
    return attempt


def _tell_outcome(session: Session, callback: Callback, data: dict[str, Any], *, actor_id: int,
                  now: datetime) -> None:
    """INV-1: a service-quality callback reaching the customer after the report was approved tells them the
    outcome: the request moves to feedback_given. Reached earlier, the outcome was not final yet (the report could
    still be rejected): an agent records the feedback once it is."""
    service_request = locked(session, ServiceRequest, callback.service_request_id)
    if service_request.status == RequestStatus.RESOLVED:
        give_feedback(service_request, method=data["method"], actor_id=actor_id, given_at=now,
                      text=data.get("comments") or f"service-quality callback {callback.id}: the customer was reached")


def _reopen(session: Session, callback: Callback, data: dict[str, Any], *, actor_id: int, now: datetime,
            settings: Settings) -> ServiceRequest:
    """CB-3: the dissatisfied customer's words become a new request for the same customer, unit and site."""
    if data.get("complaint_class") is None:
        raise DomainError("complaint_class", "say whether the complaint is about quality or not (INT-3)")
    if not (data.get("comments") or "").strip():
        raise DomainError("comments", "the complaint's description: what the customer said")
    original = callback.service_request
    return register_request(session, {
        "customer_id": original.customer_id, "unit_id": original.unit_id, "site_address": original.site_address,
        "site_latitude": original.site_latitude, "site_longitude": original.site_longitude,
        "fault_description": data["comments"], "fault_category": original.fault_category,
        "channel": _CHANNEL_OF_METHOD[data["method"]], "complaint_class": data["complaint_class"],
        "supplier_needed": original.supplier_needed, "required_skill": original.required_skill,
        "reported_at": now, "follows_request_id": original.id}, actor_id=actor_id, now=now, settings=settings)


def _close(callback: Callback, status: CallbackStatus, now: datetime) -> None:
    callback.status = status
    callback.completed_at = now


def set_follow_up(session: Session, service_request: ServiceRequest, flagged: bool, now: datetime) -> None:
    """CB-2: flagging starts the follow-up clock; unflagging stops it and withdraws a follow-up not yet made.
    Flagging an already flagged request changes nothing (the clock keeps its start)."""
    if flagged and service_request.status in FINISHED_REQUEST_STATUSES:
        raise Conflict(f"request {service_request.number} is {service_request.status}; it needs no follow-up")
    if flagged == (service_request.follow_up_since is not None):
        return
    service_request.follow_up_since = now if flagged else None
    if not flagged:
        for callback in session.scalars(select(Callback).where(
                Callback.service_request_id == service_request.id, Callback.kind == CallbackKind.FOLLOW_UP,
                Callback.status == CallbackStatus.OPEN)):
            _close(callback, CallbackStatus.CANCELLED, now)
    session.flush()
