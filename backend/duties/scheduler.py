"""Runs the registered duties on their schedules (APScheduler 3, in background threads), while holding the
scheduler lock; without the lock it stands by and tries again every third of a lease.

Started by `onsite scheduler` (its own process) or `onsite serve` (in-process); never by create_app, so tests and
one-off commands run no background work.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from backend.db import database_busy, database_unavailable
from backend.duties.lock import LeadershipLost, lock_for
from backend.duties.registry import Duty, describe, run_duty
from backend.logs import report_error

if TYPE_CHECKING:
    from backend.http.context import Onsite

KEEPER = "scheduler-lock"
log = logging.getLogger(__name__)
# APScheduler logs every job it adds and every run at INFO (the lock keeper's every few seconds); its warnings
# (a run skipped or missed) and errors still show. Our own log says who leads and what each duty did.
logging.getLogger("apscheduler").setLevel(logging.WARNING)


class DutyScheduler:
    def __init__(self, onsite: Onsite, duties: dict[str, Duty]) -> None:
        self.onsite = onsite
        self.duties = duties
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        settings = onsite.settings
        self.lease = timedelta(seconds=settings.scheduler_lease_seconds)
        self.lock = lock_for(onsite.engine, onsite.clock, self.holder, self.lease,
                             connect_timeout=settings.db_connect_timeout_seconds,
                             statement_timeout=settings.db_statement_timeout_seconds)
        self.leading = False
        # APScheduler's shutdown holds its job store lock while it waits for running jobs, so the keeper must not
        # reschedule jobs once stopping has begun: it would wait for that lock, and shutdown for the keeper.
        self._stopping = False
        self._stopping_guard = threading.Lock()
        # coalesce + no misfire limit: runs missed while busy or asleep collapse into one late run, which is all a
        # catching-up duty needs; max_instances=1: a duty never overlaps itself.
        self._scheduler = BackgroundScheduler(timezone=UTC, job_defaults={
            "coalesce": True, "max_instances": 1, "misfire_grace_time": None})

    def start(self) -> None:
        for duty in self.duties.values():
            self._scheduler.add_job(self.run_if_leading, duty.trigger, args=[duty.name], id=duty.name, name=duty.name)
        self._scheduler.add_job(self.keep_lock, IntervalTrigger(seconds=self.lease.total_seconds() / 3, timezone=UTC),
                                id=KEEPER, name=KEEPER, next_run_time=datetime.now(UTC))
        self._scheduler.start()
        log.info("scheduler %s started with duties: %s", self.holder, ", ".join(self.duties))

    def keep_lock(self) -> None:
        """Takes or renews the lock. On becoming the leader every duty runs at once: whatever came due while no
        scheduler ran (downtime, or the previous leader's death) is caught up now, not at the next tick."""
        was_leading, self.leading = self.leading, self.lock.try_acquire()
        if self.leading and not was_leading:
            log.info("scheduler %s holds the lock and runs the duties", self.holder)
            with self._stopping_guard:
                if not self._stopping:
                    for name in self.duties:
                        self._scheduler.modify_job(name, next_run_time=datetime.now(UTC))
        elif was_leading and not self.leading:
            log.warning("scheduler %s lost the lock and stands by", self.holder)

    def run_if_leading(self, name: str) -> None:
        """Runs the duty fenced by the lock (see backend.duties.lock): once the lock is lost, whether the keeper
        has noticed yet or not, no further transaction of any duty goes ahead, and this scheduler stands by."""
        if not self.leading:
            return
        started = time.perf_counter()
        try:
            summary = run_duty(self.onsite, self.duties[name], fence=self.lock.fence)
        except LeadershipLost as exc:
            self.leading = False  # the keeper takes the lock again, or stands by, at its next round
            log.warning("%s; duty %s stopped, standing by", exc, name)
            return
        except Exception as exc:  # the next run tries again; logged as any unexpected error, repeats summarised
            reason = database_unavailable(exc) or ("the database is busy" if database_busy(exc) else None)
            if reason is not None:  # an outage or a lock wait, not a bug: one line, no traceback
                log.warning("duty %s not run: %s (%s); it runs again at its next time", name, reason,
                            str(getattr(exc, "orig", exc)).partition("\n")[0], extra={"duty": name})
                return
            report_error(log, f"duty {name} failed", exc, duty=name, holder=self.holder,
                         duration_ms=_milliseconds_since(started))
            return
        duration_ms = _milliseconds_since(started)
        log.info("%s (%s ms, scheduler %s)", describe(name, summary), duration_ms, self.holder,
                 extra={"duty": name, "holder": self.holder, "duration_ms": duration_ms, "summary": summary})

    def stop(self) -> None:
        """Waits for running duties, then hands the lock over."""
        with self._stopping_guard:
            self._stopping = True
        self._scheduler.shutdown(wait=True)
        self.leading = False
        self.lock.release()
        log.info("scheduler %s stopped (the lock, if it held it, is released)", self.holder)


def _milliseconds_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
