"""The dispatcher's board: every open request, the most urgent deadline first, with a live countdown."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import marshmallow as ma
from flask import g, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from backend.console import bp
from backend.console.i18n import lazy_gettext as _l
from backend.console.pages import console_page
from backend.console.render import render_page
from backend.console.urgency import Urgency, open_requests, urgency
from backend.dispatch import service
from backend.dispatch.models import Deadline, Job, ServiceRequest
from backend.dispatch.schemas import ServiceRequestFilterSchema
from backend.fieldwork.lifecycle import OPEN as OPEN_JOB_STATUSES
from backend.fieldwork.models import JobEvent
from backend.http.context import db, onsite
from backend.stations.models import Station

BOARD_LIMIT = 500
_FILTERS = ("station", "tier", "overdue")


@dataclass(frozen=True)
class BoardRow:
    request: ServiceRequest
    deadline: Deadline | None  # the next one still to be done (open, or missed and not yet done)
    urgency: Urgency
    job: Job | None
    escalated: bool


def countdown(deadline: Deadline | None, now: datetime) -> str:
    """The countdown as the page first shows it; static/console.js keeps it ticking in the same format."""
    if deadline is None:
        return "—"
    seconds = int((deadline.due_at - now).total_seconds())
    hours, rest = divmod(abs(seconds), 3600)
    text = f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"
    return f"−{text}" if seconds < 0 else text


def read_filters(args: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The board's filters from the query string, read by the API's own filter schema; bad ones are dropped."""
    raw = {name: args[name] for name in _FILTERS if args.get(name)}
    try:
        return ServiceRequestFilterSchema().load(raw), {}
    except ma.ValidationError as refusal:
        valid = {k: v for k, v in raw.items() if k not in refusal.messages}
        return ServiceRequestFilterSchema().load(valid), refusal.messages


def board_rows(filters: dict[str, Any], now: datetime) -> list[BoardRow]:
    stmt = open_requests(filters, now, g.user).limit(BOARD_LIMIT)
    requests = db().scalars(stmt).all()
    ids = [r.id for r in requests]
    jobs = {job.service_request_id: job for job in db().scalars(
        select(Job).where(Job.service_request_id.in_(ids), Job.status.in_(OPEN_JOB_STATUSES)))}
    escalated = set(db().scalars(select(Job.service_request_id).join(JobEvent, JobEvent.job_id == Job.id).where(
        Job.service_request_id.in_(ids), Job.status.in_(OPEN_JOB_STATUSES), JobEvent.action == "escalate")))
    urgent_hours = onsite().settings.console_urgent_hours
    rows = []
    for r in requests:
        deadline = r.next_deadline
        rows.append(BoardRow(r, deadline, urgency(deadline, now, urgent_hours), jobs.get(r.id), r.id in escalated))
    return rows


def _context() -> dict[str, Any]:
    now = onsite().clock.now()
    filters, problems = read_filters(request.args)
    return {"rows": board_rows(filters, now), "filters": filters, "filter_problems": problems, "now": now,
            "countdown": countdown}


@bp.route("/board")
@console_page(*service.READERS, nav=_l("Board"), order=10)
def board() -> ResponseReturnValue:
    stations = db().scalars(select(Station).where(Station.active.is_(True)).order_by(Station.name)).all()
    return render_page("console/board/board.html", stations=stations, **_context())


@bp.route("/board/rows")
@console_page(*service.READERS)
def board_rows_fragment() -> ResponseReturnValue:
    """The table body alone, for the page's own refresh (static/console.js), filters taken from the same query."""
    return render_page("console/board/_rows.html", **_context())
