"""How urgent a request looks in the console: one rule for the board's row colour and the map's site marker.

The request's next deadline is ServiceRequest.next_deadline, the board's sort key. Missed:
it is past due (as effective_status and the board's "overdue" filter say); soon: due within
ONSITE_CONSOLE_URGENT_HOURS; ok: more time than that; none: nothing left to meet. No Flask here."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from enum import StrEnum

from sqlalchemy import Select
from sqlalchemy.orm import selectinload

from backend.accounts.models import User
from backend.dispatch.models import Deadline, ServiceRequest
from backend.dispatch.service import RequestStatus, request_board

# The open work the board and the map show: requests not yet resolved or rejected.
OPEN_REQUESTS = (RequestStatus.REGISTERED, RequestStatus.ACCEPTED, RequestStatus.IN_PROGRESS)


def open_requests(filters: dict[str, Any], now: datetime, user: User) -> Select[Any]:
    """The board's requests still open, with their customers (every row shows one)."""
    return (request_board(filters, now, user).where(ServiceRequest.status.in_(OPEN_REQUESTS))
            .options(selectinload(ServiceRequest.customer)))


class Urgency(StrEnum):
    OK = "ok"
    SOON = "soon"
    MISSED = "missed"
    NONE = "none"


def urgency(deadline: Deadline | None, now: datetime, urgent_hours: float) -> Urgency:
    if deadline is None:
        return Urgency.NONE
    if deadline.due_at < now:
        return Urgency.MISSED
    if deadline.due_at - now <= timedelta(hours=urgent_hours):
        return Urgency.SOON
    return Urgency.OK
