"""`GET /metrics` in the Prometheus text format, for an admin or the holder of ONSITE_METRICS_TOKEN.

Two kinds of series:
- Counted by the process that saw the event: HTTP requests (by URL rule, method, status), duty runs, DB pool use.
  Under `onsite serve --production` every gunicorn worker counts its own, in files under PROMETHEUS_MULTIPROC_DIR
  (prometheus-client's multiprocess mode), and whichever worker answers the scrape adds them all up.
- Read from the database at scrape time, by whichever process answers: the webhook backlog and the SLA deadlines.
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, g, request
from sqlalchemy import and_, case, event, func, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from sqlalchemy.pool import QueuePool

from backend.accounts.models import Role
from backend.dispatch.models import Deadline
from backend.dispatch.sla import DeadlineStatus
from backend.duties.lock import LeadershipLost
from backend.errors import Forbidden
from backend.http.api import authenticate_request
from backend.http.context import db, onsite
from backend.webhooks.models import DeliveryStatus, WebhookDelivery

if TYPE_CHECKING:
    from prometheus_client.core import GaugeMetricFamily

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"
UNMATCHED_ROUTE = "<unmatched>"  # one label for every unknown path, so scanners cannot blow up the series count


class _Instruments:
    """The process's own series. prometheus-client chooses multiprocess mode on import, by PROMETHEUS_MULTIPROC_DIR,
    which `onsite serve --production` sets after Onsite's modules are loaded (and before its workers start): so it
    is imported here, on first use, and nowhere at module level."""

    def __init__(self) -> None:
        from prometheus_client import Counter, Gauge, Histogram

        labels = ["method", "route", "status"]
        self.http_requests = Counter("onsite_http_requests", "HTTP requests answered", labels)
        self.http_seconds = Histogram("onsite_http_request_duration_seconds", "Time to answer an HTTP request", labels)
        self.duty_runs = Counter("onsite_duty_runs", "Scheduled duty runs finished, failed ones included", ["duty"])
        self.duty_failures = Counter("onsite_duty_failures", "Scheduled duty runs that ended with an error", ["duty"])
        self.duty_seconds = Histogram("onsite_duty_duration_seconds", "Time a scheduled duty run took", ["duty"],
                                      buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, float("inf")))
        # livesum: with several workers, the sum over the live ones (each has its own pool).
        self.pool_checked_out = Gauge("onsite_db_pool_checked_out", "Database connections in use",
                                      multiprocess_mode="livesum")
        self.pool_size = Gauge("onsite_db_pool_size", "Connections the pool keeps open; connections in use beyond "
                               "it are overflow, opened and closed as needed", multiprocess_mode="livesum")


@cache
def instruments() -> _Instruments:
    return _Instruments()


def init_metrics(app: Flask) -> None:
    """The /metrics endpoint, request timing and the pool gauges of the app's engine."""
    _instrument_pool(app.extensions["onsite"].engine)
    app.before_request(_start_timer)
    app.after_request(_count_request)
    app.add_url_rule("/metrics", "metrics", _metrics)


def _start_timer() -> None:
    g.metrics_started = time.perf_counter()


def _count_request(response: Response) -> Response:
    started = g.get("metrics_started")
    if started is not None:  # None: a before_request hook ahead of ours answered
        labels = (request.method, request.url_rule.rule if request.url_rule else UNMATCHED_ROUTE,
                  str(response.status_code))
        instruments().http_requests.labels(*labels).inc()
        instruments().http_seconds.labels(*labels).observe(time.perf_counter() - started)
    return response


def _instrument_pool(engine: Engine) -> None:
    pool, checked_out = engine.pool, instruments().pool_checked_out
    instruments().pool_size.set(pool.size() if isinstance(pool, QueuePool) else 0)  # one app (engine) a process

    # A connection whose check-out ping gets no answer is checked in without having been checked out, so only the
    # check-ins of counted check-outs count (record_info outlives the connection's invalidation).
    @event.listens_for(engine, "checkout")
    def _checked_out(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        record.record_info["onsite_checked_out"] = True
        checked_out.inc()

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        if record.record_info.pop("onsite_checked_out", False):
            checked_out.dec()


@contextmanager
def duty_run(name: str) -> Iterator[None]:
    """Counts and times one run of a duty; one refused because the scheduler lost the lock is not a run."""
    started = time.perf_counter()
    try:
        yield
    except LeadershipLost:
        raise
    except Exception:
        instruments().duty_failures.labels(name).inc()
        _finish_duty(name, started)
        raise
    _finish_duty(name, started)


def _finish_duty(name: str, started: float) -> None:
    instruments().duty_runs.labels(name).inc()
    instruments().duty_seconds.labels(name).observe(time.perf_counter() - started)


def _metrics() -> Response:
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    _authorize()
    app = onsite()
    if os.environ.get(MULTIPROC_DIR):
        counted = CollectorRegistry()
        MultiProcessCollector(counted)
    else:
        counted = REGISTRY
    scraped = CollectorRegistry()
    scraped.register(DatabaseCollector(db(), app.clock.now(), app.settings.sla_escalation_lead_hours))
    return Response(generate_latest(counted) + generate_latest(scraped), mimetype=CONTENT_TYPE_LATEST)


def _authorize() -> None:
    """The metrics token (compared in constant time), else an admin's access token."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    expected = onsite().settings.metrics_token
    if expected and scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), expected.encode()):
        return
    g.user = authenticate_request()  # named in the access line, as the API's own endpoints do
    if not g.user.has_any_role({Role.ADMIN}):
        raise Forbidden("metrics need the admin role or the metrics token")


class DatabaseCollector:
    """Counts taken at scrape time in one query per table, so they are right whichever process answers."""

    def __init__(self, session: Session, now: datetime, due_soon_hours: float) -> None:
        self._session, self._now, self._due_soon_hours = session, now, due_soon_hours

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield from (self._webhooks(), self._deadlines())

    def _webhooks(self) -> GaugeMetricFamily:
        from prometheus_client.core import GaugeMetricFamily

        pending = WebhookDelivery.status == DeliveryStatus.PENDING
        row = self._session.execute(select(
            _count(pending), _count(and_(pending, WebhookDelivery.next_attempt_at <= self._now)),
            _count(WebhookDelivery.status == DeliveryStatus.FAILED))).one()
        family = GaugeMetricFamily("onsite_webhook_deliveries", "Webhook deliveries not delivered: pending (still "
                                   "to be tried), due (pending, whose next attempt is due now: the backlog), failed "
                                   "(given up)", labels=["state"])
        for state, count in zip(("pending", "due", "failed"), row, strict=True):
            family.add_metric([state], count)
        return family

    def _deadlines(self) -> GaugeMetricFamily:
        from prometheus_client.core import GaugeMetricFamily

        still_open = Deadline.status == DeadlineStatus.OPEN
        soon = self._now + timedelta(hours=self._due_soon_hours)
        row = self._session.execute(select(
            _count(and_(still_open, Deadline.due_at >= self._now)),
            _count(and_(still_open, Deadline.due_at >= self._now, Deadline.due_at <= soon)),
            # An open deadline past due is missed even before the sla-watch duty marks it (DSP-4).
            _count(or_(Deadline.status == DeadlineStatus.MISSED, and_(still_open, Deadline.due_at < self._now)))
        )).one()
        family = GaugeMetricFamily("onsite_sla_deadlines", "SLA deadlines: open (not yet due), due_soon (open and "
                                   "due within ONSITE_SLA_ESCALATION_LEAD_HOURS), missed", labels=["state"])
        for state, count in zip(("open", "due_soon", "missed"), row, strict=True):
            family.add_metric([state], count)
        return family


def _count(condition: Any) -> Any:
    return func.count(case((condition, 1)))
