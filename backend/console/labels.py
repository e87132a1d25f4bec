"""Names of stored values (roles, tiers, statuses, channels ...) in the page's language.

In templates: `{{ value|label("tier") }}`; an unknown value is shown as stored.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from backend.console.i18n import lazy_gettext as _l

ROLE_LABELS = {
    "technician": _l("Technician"), "dispatcher": _l("Dispatcher"), "supervisor": _l("Supervisor"),
    "warehouse": _l("Warehouse keeper"), "agent": _l("Service agent"), "manager": _l("Manager"),
    "admin": _l("Administrator"), "quality": _l("Quality engineer"), "finance": _l("Finance controller"),
}

LABELS: dict[str, dict[str, Any]] = {
    "role": ROLE_LABELS,
    "tier": {"on_site": _l("On site (DSP-1)"), "reply": _l("Reply first (DSP-2)")},
    "deadline_kind": {"on_site": _l("On site"), "reply": _l("Reply to customer"),
                      "written_contact": _l("Written contact")},
    "deadline_status": {"open": _l("Not yet due"), "met": _l("Met"), "missed": _l("Missed"), "waived": _l("Waived")},
    "request_status": {"registered": _l("Registered"), "accepted": _l("Accepted"), "rejected": _l("Rejected"),
                       "in_progress": _l("In progress"), "resolved": _l("Resolved"),
                       "feedback_given": _l("Feedback given"), "closed": _l("Closed")},
    "job_status": {"assigned": _l("Assigned"), "accepted": _l("Accepted by the technician"), "en_route": _l("En route"),
                   "on_site": _l("On site"), "work_done": _l("Work done"), "signed": _l("Signed by customer"),
                   "submitted": _l("Report submitted"), "approved": _l("Approved"), "declined": _l("Declined"),
                   "cancelled": _l("Cancelled")},
    "job_action": {"accept": _l("Accepted by the technician"), "decline": _l("Declined"), "depart": _l("Departed"),
                   "arrive": _l("Arrived"), "work-done": _l("Work done"), "sign-off": _l("Customer signed"),
                   "correct": _l("Correction started"), "submit": _l("Report submitted"), "approve": _l("Approved"),
                   "reject": _l("Rejected"), "cancel": _l("Cancelled"), "escalate": _l("Escalated")},
    "fault_category": {"body": _l("Body"), "chassis_engine": _l("Chassis / engine"), "other": _l("Other")},
    "channel": {"phone": _l("Phone"), "letter": _l("Letter"), "email": _l("Email"), "walk_in": _l("Walk-in"),
                "app": _l("App"), "regulator": _l("Regulator")},
    "direction": {"incoming": _l("Incoming"), "outgoing": _l("Outgoing")},
    "communication_kind": {"message": _l("Message"), "reply": _l("Reply (DSP-2)"),
                           "written_contact": _l("Written contact (DSP-3)"), "feedback": _l("Outcome told")},
    # How the customer was told the outcome: an agent's channel, or the callback's method.
    "feedback_method": {"phone": _l("Phone"), "letter": _l("Letter"), "email": _l("Email"), "walk_in": _l("Walk-in"),
                        "app": _l("App"), "sms": _l("SMS")},
    "complaint_class": {"quality": _l("Quality"), "non_quality": _l("Non-quality")},
    "decision": {"accepted": _l("Accepted"), "rejected": _l("Rejected")},
    "dispatch_mode": {"automatic": _l("Top candidate"), "manual": _l("Chosen by the dispatcher")},
    "plan_status": {"proposed": _l("Proposed"), "committed": _l("Jobs created")},
    "kpi": {"service_timeliness": _l("Timeliness"), "satisfaction": _l("Satisfied customers"),
            "satisfaction_mean": _l("Mean rating"), "service_complaint_rate": _l("Complaints due to service"),
            "major_complaint_rate": _l("Major complaints"), "first_time_fix": _l("First-time fix"),
            "callback_coverage": _l("Callbacks in time"), "jobs_per_technician": _l("Jobs per technician"),
            "parts_per_technician": _l("Parts per technician"), "old_parts_outstanding": _l("Old parts outstanding"),
            "old_parts_overdue": _l("Old parts overdue")},
    "kpi_group": {"station": _l("By station"), "technician": _l("By technician"), "month": _l("By month")},
    "cost_group": {"station": _l("By station"), "model": _l("By model"), "part": _l("By part"),
                   "supplier": _l("By supplier"), "cause": _l("By root cause"), "month": _l("By month")},
    "responsible_kind": {"department": _l("A department"), "supplier": _l("A supplier"), "customer": _l("The customer"),
                         "third_party": _l("A third party"), "employee": _l("An employee")},
    "failure_group": {"model": _l("By model"), "part": _l("By part"), "supplier": _l("By supplier"),
                      "cause": _l("By root cause")},
    "failure_group_none": {"model": _l("No model"), "supplier": _l("No supplier"), "cause": _l("Not investigated")},
    # The row of costs that have no group of that kind.
    "cost_group_none": {"part": _l("No part"), "supplier": _l("No supplier"), "cause": _l("Not investigated"),
                        "model": _l("No model")},
    "plan_outcome": {"committed": _l("Dispatched as planned"), "swapped": _l("Dispatched to another crew"),
                     "dropped": _l("Left out")},
    "position_source": {"last_known_position": _l("last known position"), "home_station": _l("home station")},
    "detail": {"reason": _l("Reason"), "problem": _l("Problem"), "proposal": _l("Technician's proposal"),
               "customer_demand": _l("Customer's demand")},
    "notification_kind": {
        "sla.deadline_due_soon": _l("Deadline due soon"), "sla.deadline_missed": _l("Deadline missed"),
        "job.declined": _l("Job declined"), "job.escalated": _l("Job escalated (DSP-9)"),
        "report.submitted": _l("Report submitted"), "report.rejected": _l("Report rejected"),
        "old_part.overdue": _l("Old part overdue"), "old_parts.awaiting_disposition": _l("Old parts to process")},
}


def label(value: Any, kind: str) -> Any:
    if value is None:
        return "—"
    return LABELS.get(kind, {}).get(str(value), value)


def zip_labels(values: Any, kind: str) -> list[tuple[str, Any]]:
    """(value, label) pairs for a select's options."""
    return [(str(v), label(v, kind)) for v in values]


def init_labels(app: Flask) -> None:
    app.jinja_env.filters["label"] = label
    app.jinja_env.filters["zip_labels"] = zip_labels
