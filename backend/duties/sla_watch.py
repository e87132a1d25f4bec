"""The `sla-watch` duty (DSP-4): settles the SLA clocks nobody else settles, and escalates.

- An open deadline whose time has passed is marked missed, and the managers are told (the request's station's,
  and those with no station).
- An open deadline due within the lead time (ONSITE_SLA_ESCALATION_LEAD_HOURS) is escalated to the dispatchers of
  the request's nearest station, once.
Both look at every open deadline, not at a recent window, so a run after downtime catches up; dedupe keys (request
number and deadline kind) make each notification happen once however often it runs.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Select, exists, literal, select
from sqlalchemy.orm import Session, contains_eager

from backend.accounts.models import Role
from backend.config import Settings
from backend.dispatch.models import Deadline, ServiceRequest
from backend.dispatch.sla import DeadlineStatus
from backend.notifications.models import Notification, NotificationKind
from backend.notifications.service import Notice, notify

# Rows per transaction: a long catch-up commits as it goes and never holds SQLite's write lock for long.
BATCH = 200


def sla_watch(session: Session, now: datetime, settings: Settings) -> dict[str, int]:
    return {"deadlines_marked_missed": _mark_missed(session, now),
            "due_soon_escalations": _escalate_due_soon(session, now, settings.sla_escalation_lead_hours)}


def _dedupe_key(kind: NotificationKind) -> ColumnElement[str]:
    """Built in SQL, so that a query can leave out the deadlines already notified about."""
    return literal(f"{kind}:") + ServiceRequest.number + literal(":") + Deadline.kind


def _open_deadlines(key: ColumnElement[str]) -> Select[tuple[Deadline, str]]:
    return (select(Deadline, key).join(Deadline.service_request).options(contains_eager(Deadline.service_request))
            .where(Deadline.status == DeadlineStatus.OPEN).order_by(Deadline.due_at, Deadline.id).limit(BATCH))


def _mark_missed(session: Session, now: datetime) -> int:
    # rule DSP-4: past due and still open is missed (the same test as backend.dispatch.sla.effective_status).
    kind = NotificationKind.SLA_DEADLINE_MISSED
    # Rows another transaction is changing (a concurrent run, a dispatcher's reply) are left for the next run
    # rather than waited for or overwritten. SQLite's writer lock serialises anyway.
    stmt = (_open_deadlines(_dedupe_key(kind)).where(Deadline.due_at < now)
            .with_for_update(of=(Deadline, ServiceRequest), skip_locked=True))
    marked = 0
    while batch := session.execute(stmt).all():
        for deadline, _key in batch:
            deadline.status = DeadlineStatus.MISSED
        for service_request in {deadline.service_request for deadline, _key in batch}:
            service_request.deadlines_changed()
        notify(session, [_notice(kind, Role.MANAGER, deadline, key) for deadline, key in batch], now)
        session.commit()
        marked += len(batch)
    return marked


def _escalate_due_soon(session: Session, now: datetime, lead_hours: float) -> int:
    kind = NotificationKind.SLA_DEADLINE_DUE_SOON
    key = _dedupe_key(kind)
    stmt = _open_deadlines(key).where(Deadline.due_at >= now, Deadline.due_at <= now + timedelta(hours=lead_hours),
                                      ~exists().where(Notification.dedupe_key == key))
    escalated = 0
    while batch := session.execute(stmt).all():
        created = notify(session, [_notice(kind, Role.DISPATCHER, deadline, key) for deadline, key in batch], now)
        session.commit()
        if not created:
            break  # a concurrent run raised these meanwhile; the query cannot have seen them
        escalated += len(created)
    return escalated


def _notice(kind: NotificationKind, role: Role, deadline: Deadline, key: str) -> Notice:
    request = deadline.service_request
    return Notice(kind=kind, dedupe_key=key, role=role, station_id=request.nearest_station_id, payload={
        "service_request_id": request.id, "number": request.number, "deadline_kind": deadline.kind,
        "due_at": deadline.due_at.isoformat(), "station_id": request.nearest_station_id})
