"""The job state machine (RULES.md §4, 001 §3.4). Pure rules: no database, no Flask.

assigned → accepted → en_route → on_site → work_done → signed → submitted → approved (archived);
submitted → rejected goes back to work_done for a correction; signed → work_done when a correction starts;
assigned → declined (the request goes back to the board); any state before the customer's signature → cancelled
(dispatcher, with reason). Once signed, the parts are installed and the report is the customer's: it is approved or
rejected, not cancelled.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from backend.errors import Conflict


class JobStatus(StrEnum):
    ASSIGNED = "assigned"
    ACCEPTED = "accepted"
    EN_ROUTE = "en_route"
    ON_SITE = "on_site"
    WORK_DONE = "work_done"
    SIGNED = "signed"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    DECLINED = "declined"
    CANCELLED = "cancelled"


S = JobStatus
FINAL = frozenset({S.APPROVED, S.DECLINED, S.CANCELLED})
OPEN = frozenset(S) - FINAL
CANCELLABLE = OPEN - {S.SIGNED, S.SUBMITTED}

# action -> (states it may start from, state it leads to)
TRANSITIONS: dict[str, tuple[frozenset[JobStatus], JobStatus]] = {
    "accept": (frozenset({S.ASSIGNED}), S.ACCEPTED),
    "decline": (frozenset({S.ASSIGNED}), S.DECLINED),
    "depart": (frozenset({S.ACCEPTED}), S.EN_ROUTE),
    # An app that never sent `depart` (no signal on leaving) may still report arrival.
    "arrive": (frozenset({S.ACCEPTED, S.EN_ROUTE}), S.ON_SITE),
    "work-done": (frozenset({S.ON_SITE}), S.WORK_DONE),
    "sign-off": (frozenset({S.WORK_DONE}), S.SIGNED),
    "correct": (frozenset({S.SIGNED}), S.WORK_DONE),
    "submit": (frozenset({S.SIGNED}), S.SUBMITTED),
    "approve": (frozenset({S.SUBMITTED}), S.APPROVED),
    "reject": (frozenset({S.SUBMITTED}), S.WORK_DONE),
    "cancel": (CANCELLABLE, S.CANCELLED),
}


def next_status(current: str, action: str) -> JobStatus:
    allowed_from, target = TRANSITIONS[action]
    if current not in allowed_from:
        raise Conflict(f"cannot {action.replace('-', ' ')} a job that is {current}", current_status=current,
                       allowed_from=sorted(allowed_from))
    return target


def arrival_time(server_time: datetime, device_time: datetime | None, max_skew: timedelta) -> datetime:
    """When the technician arrived, for the on-site deadline (JOB-2, DSP-1). The server's receipt time decides,
    unless the device's clock agrees with it to within `max_skew` — then the device's (earlier) reading counts,
    so a slow network does not turn an arrival in time into a miss. A device clock far off is not trusted."""
    if device_time is not None and abs(server_time - device_time) <= max_skew:
        return min(device_time, server_time)
    return server_time
