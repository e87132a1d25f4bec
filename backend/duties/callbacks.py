"""The `callbacks` duty (RULES.md §8): creates the callbacks owed.

- CB-1: every job whose work was done (and that was not cancelled) gets one service-quality callback, ready at
  once and due `callback_due_days` after the work was done.
- CB-2: a request flagged for follow-up gets a follow-up every `follow_up_interval_hours`: the first that long
  after it was flagged, each next one that long after the previous one was closed (so the customer is contacted
  at most that often, and an agent never has two follow-ups of one request open). It stops when the request is
  unflagged or finished.
Both look at everything owed, not at a recent window, so a run after downtime catches up (a callback owed while
the server was off is created already due). Each callback's dedupe key (the job, or the request and the
follow-up's number) is unique, so running again, or by hand beside the scheduler, creates nothing twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.callbacks.models import Callback, CallbackKind, CallbackStatus
from backend.callbacks.service import FINISHED_REQUEST_STATUSES
from backend.config import Settings
from backend.dispatch.models import Job, ServiceRequest

# Rows per transaction: a long catch-up commits as it goes and never holds SQLite's write lock for long.
BATCH = 200


def callbacks(session: Session, now: datetime, settings: Settings) -> dict[str, int]:
    return {"callbacks_created": _service_quality(session, now, settings),
            "follow_ups_created": _follow_ups(session, now, settings)}


def _create(session: Session, callback: Callback) -> bool:
    """False when a concurrent run created the same callback first (it loses on the unique key)."""
    try:
        with session.begin_nested():
            session.add(callback)
    except IntegrityError:
        return False
    return True


def _service_quality(session: Session, now: datetime, settings: Settings) -> int:
    # rule CB-1
    owed = (select(Job.id, Job.service_request_id, Job.work_done_at)
            .where(Job.work_done_at.is_not(None), Job.work_done_at <= now, Job.status != "cancelled",
                   ~exists().where(Callback.job_id == Job.id, Callback.kind == CallbackKind.SERVICE_QUALITY),
                   # INV-1: a closed request changes no more; its customer has been told the outcome already.
                   Job.service_request.has(ServiceRequest.status.not_in(FINISHED_REQUEST_STATUSES)))
            .order_by(Job.id).limit(BATCH))
    due_after = timedelta(days=settings.callback_due_days)
    created = 0
    while batch := session.execute(owed).all():
        made = sum(_create(session, Callback(
            dedupe_key=f"{CallbackKind.SERVICE_QUALITY}:job:{job_id}", kind=CallbackKind.SERVICE_QUALITY, sequence=1,
            service_request_id=request_id, job_id=job_id, status=CallbackStatus.OPEN, due_at=done_at + due_after,
            next_attempt_at=done_at, attempts_made=0)) for job_id, request_id, done_at in batch)
        session.commit()
        if not made:
            break  # a concurrent run created these meanwhile; the query cannot have seen them
        created += made
    return created


def _follow_ups(session: Session, now: datetime, settings: Settings) -> int:
    # rule CB-2: the flagged requests with no follow-up open, with their last follow-up's number and close time.
    mine = (Callback.service_request_id == ServiceRequest.id) & (Callback.kind == CallbackKind.FOLLOW_UP)
    last_number = select(func.coalesce(func.max(Callback.sequence), 0)).where(mine).scalar_subquery()
    last_closed = select(func.max(Callback.completed_at)).where(mine).scalar_subquery()
    flagged = (select(ServiceRequest.id, ServiceRequest.follow_up_since, last_number, last_closed)
               .where(ServiceRequest.follow_up_since.is_not(None),
                      ServiceRequest.status.not_in(FINISHED_REQUEST_STATUSES),
                      ~exists().where(mine, Callback.status == CallbackStatus.OPEN))
               .order_by(ServiceRequest.id).limit(BATCH))
    interval = timedelta(hours=settings.follow_up_interval_hours)
    created, after = 0, 0
    # By id, a batch at a time: most flagged requests are not due yet and would come back in every batch.
    while batch := session.execute(flagged.where(ServiceRequest.id > after)).all():
        for request_id, since, number, closed in batch:
            # A follow-up closed before the request was flagged again does not count: the new flag's clock does.
            due = max(since, closed or since) + interval
            if due <= now:
                created += _create(session, Callback(
                    dedupe_key=f"{CallbackKind.FOLLOW_UP}:request:{request_id}:{number + 1}",
                    kind=CallbackKind.FOLLOW_UP, sequence=number + 1, service_request_id=request_id,
                    status=CallbackStatus.OPEN, due_at=due, next_attempt_at=due, attempts_made=0))
        session.commit()
        after = batch[-1][0]
    return created
