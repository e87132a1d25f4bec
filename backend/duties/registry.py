"""Scheduled duties: plain functions `(session, now, settings) -> summary`, registered by name with a schedule.

Each one processes everything due up to `now`, not what happened since its last run, so a run after downtime
catches up, and each one is idempotent, so running it twice (or by hand while the scheduler runs) does nothing
twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from backend.audit.recorder import AuditContext, set_audit_context
from backend.config import Settings
from backend.observability.metrics import duty_run

if TYPE_CHECKING:
    from backend.http.context import Onsite

Summary = dict[str, int]
DutyFunction = Callable[[Session, datetime, Settings], Summary]
Fence = Callable[[Connection], None]


@dataclass(frozen=True)
class Duty:
    name: str
    run: DutyFunction
    trigger: BaseTrigger
    description: str


def registered() -> dict[str, Duty]:
    from backend.accounts.service import purge_login_throttle
    from backend.duties.callbacks import callbacks
    from backend.duties.old_parts import mark_overdue, monthly_list
    from backend.duties.sla_watch import sla_watch
    from backend.idempotency import purge_duty
    from backend.webhooks.delivery import deliver_due

    duties = [
        Duty("sla-watch", sla_watch, IntervalTrigger(minutes=1, timezone=UTC),
             "Marks passed SLA deadlines missed (managers are told); warns dispatchers of deadlines due soon"),
        Duty("webhooks", deliver_due, IntervalTrigger(minutes=1, timezone=UTC),
             "Sends due webhook deliveries, signed; retries failures with backoff"),
        Duty("callbacks", callbacks, IntervalTrigger(minutes=15, timezone=UTC),
             "Creates the service-quality callback owed for each job done (CB-1) and follow-ups for flagged "
             "requests (CB-2)"),
        Duty("old-parts", mark_overdue, CronTrigger(hour=1, minute=0, timezone=UTC),
             "Marks old parts not back by their due time overdue; tells the technician and the warehouse (PRT-5)"),
        Duty("monthly-old-parts", monthly_list, CronTrigger(day=1, hour=2, minute=0, timezone=UTC),
             "Sends each station's supervisors and warehouse the received old parts awaiting disposition (PRT-7)"),
        Duty("idempotency-keys", purge_duty, CronTrigger(hour=3, minute=0, timezone=UTC),
             "Forgets Idempotency-Keys older than the retention (7 days by default)"),
        Duty("login-throttle", purge_login_throttle, IntervalTrigger(hours=1, timezone=UTC),
             "Forgets failed sign-in counts that have decayed and whose lock is over"),
    ]
    return {duty.name: duty for duty in duties}


def run_duty(onsite: Onsite, duty: Duty, fence: Fence | None = None) -> Summary:
    """One run as of the clock's now, in a writer session audited as the duty. A duty may commit as it goes, to
    keep write transactions short; what is left is committed at the end.

    With a fence (the scheduler's lock, see backend.duties.lock), every transaction the duty starts, the first one
    right away, checks that the scheduler still holds the lock, and the run ends with LeadershipLost if not."""
    session = onsite.new_session(writer=True)
    set_audit_context(session, AuditContext(actor_user_id=None, actor_name=f"duty:{duty.name}",
                                            action=f"duty {duty.name}"))
    try:
        with duty_run(duty.name):
            if fence is not None:
                event.listen(session, "after_begin", lambda _session, _transaction, connection: fence(connection))
                session.connection()  # begins the first transaction, so a deposed leader does not even start
            summary = duty.run(session, onsite.clock.now(), onsite.settings)
            session.commit()
    finally:
        session.close()
    return summary


def describe(name: str, summary: Summary) -> str:
    return f"{name}: " + ", ".join(f"{count} {what.replace('_', ' ')}" for what, count in summary.items())
