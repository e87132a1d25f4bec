"""The register (客户投诉登记追踪表, INT-1) as a table: one row per request with the dates of its steps, for the CSV
export. One query: each date is a correlated subquery on indexed columns, no row is loaded as an object."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, aliased

from backend.accounts.models import User
from backend.customers.models import Customer, Unit
from backend.dispatch.models import Deadline, Job, ServiceRequest
from backend.dispatch.service import Decision, request_board
from backend.dispatch.sla import DeadlineKind
from backend.fieldwork.models import JobEvent
from backend.quality.models import Investigation
from backend.reports.models import FieldReport
from backend.stations.models import Station

COLUMNS = ("number", "status", "complaint_class", "fault_category", "channel", "tier", "station", "customer",
           "unit_model", "unit_serial_number", "follows_request", "reported_at", "accepted_at", "on_site_at",
           "resolved_at", "feedback_given_at", "closed_at", "decision", "feedback_method", "root_cause",
           "responsible_kind", "closing_summary")

_of_request = Job.service_request_id == ServiceRequest.id
# On site: the on-site deadline's fulfilment (the arrival as counted, JOB-2), else the first arrival of any of its
# jobs (a request in the written-contact tier has no on-site deadline).
_ON_SITE = func.coalesce(
    select(Deadline.met_at).where(Deadline.service_request_id == ServiceRequest.id,
                                  Deadline.kind == DeadlineKind.ON_SITE).scalar_subquery(),
    select(func.min(JobEvent.server_time)).join(Job, Job.id == JobEvent.job_id)
    .where(_of_request, JobEvent.action == "arrive").scalar_subquery())
# Resolved: when the report that resolved it was approved (REP-5).
_RESOLVED = (select(func.max(FieldReport.reviewed_at)).join(Job, Job.id == FieldReport.job_id)
             .where(_of_request, FieldReport.review_outcome == "approved").scalar_subquery())
_followed = aliased(ServiceRequest)


def register_rows(session: Session, filters: dict[str, Any], now: datetime, user: User) -> Iterator[dict[str, Any]]:
    """The requests the board shows for `filters` within the user's stations (SCP-1), in register order."""
    columns = {
        "number": ServiceRequest.number, "status": ServiceRequest.status,
        "complaint_class": ServiceRequest.complaint_class, "fault_category": ServiceRequest.fault_category,
        "channel": ServiceRequest.channel, "tier": ServiceRequest.tier, "station": Station.code,
        "customer": Customer.name, "unit_model": Unit.model, "unit_serial_number": Unit.serial_number,
        "follows_request": _followed.number, "reported_at": ServiceRequest.reported_at,
        "accepted_at": case((ServiceRequest.decision == Decision.ACCEPTED, ServiceRequest.decided_at)),
        "on_site_at": _ON_SITE, "resolved_at": _RESOLVED, "feedback_given_at": ServiceRequest.feedback_given_at,
        "closed_at": ServiceRequest.closed_at, "decision": ServiceRequest.decision,
        "feedback_method": ServiceRequest.feedback_method, "root_cause": Investigation.root_cause,
        "responsible_kind": Investigation.responsible_kind, "closing_summary": ServiceRequest.closing_summary,
    }
    stmt = (request_board(filters, now, user).with_only_columns(*(c.label(n) for n, c in columns.items()))
            .select_from(ServiceRequest)
            .join(Customer, Customer.id == ServiceRequest.customer_id)
            .join(Unit, Unit.id == ServiceRequest.unit_id)
            .join(Station, Station.id == ServiceRequest.nearest_station_id)
            .outerjoin(_followed, _followed.id == ServiceRequest.follows_request_id)
            .outerjoin(Investigation, Investigation.service_request_id == ServiceRequest.id)
            .order_by(None).order_by(ServiceRequest.id))
    for row in session.execute(stmt.execution_options(yield_per=1000)):
        yield row._asdict()
