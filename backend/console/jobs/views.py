"""Jobs: the list, and a job's page with its event timeline (server and device time, position), escalations
(DSP-9) highlighted, and the dispatcher's cancel with a reason."""

from __future__ import annotations

from datetime import timedelta

from flask import flash, g, redirect, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from backend.console import bp
from backend.console.forms import ConsoleForm
from backend.console.i18n import gettext as _
from backend.console.i18n import lazy_gettext as _l
from backend.console.labels import LABELS
from backend.console.pages import console_page
from backend.console.people import user_names
from backend.console.render import render_page
from backend.dispatch import service as dispatch
from backend.dispatch.models import DispatchDecision, Job
from backend.dispatch.schemas import JobFilterSchema
from backend.fieldwork import service as fieldwork
from backend.fieldwork.lifecycle import CANCELLABLE, OPEN as OPEN_JOB_STATUSES, JobStatus
from backend.fieldwork.models import JobEvent
from backend.fieldwork.schemas import ReasonedActionSchema
from backend.http.context import db, onsite

OFFICE_READERS = tuple(sorted(dispatch.JOB_OFFICE_ROLES))
LIST_LIMIT = 300


@bp.route("/jobs")
@console_page(*OFFICE_READERS, nav=_l("Jobs"), order=40)
def jobs() -> ResponseReturnValue:
    wanted = request.args.get("status", "open")
    filters = {"status": wanted} if wanted in set(JobStatus) else {}
    stmt = dispatch.visible_jobs(db(), g.user, JobFilterSchema().load(filters))
    if wanted == "open":
        stmt = stmt.where(Job.status.in_(OPEN_JOB_STATUSES))
    listed = db().scalars(stmt.limit(LIST_LIMIT)).all()
    escalated = set(db().scalars(select(JobEvent.job_id).where(
        JobEvent.job_id.in_([j.id for j in listed]), JobEvent.action == "escalate")))
    return render_page("console/jobs/jobs.html", jobs=listed, escalated=escalated, wanted=wanted,
                       statuses=[s.value for s in JobStatus])


def render_job(job: Job, cancel_form: ConsoleForm | None = None, status: int = 200) -> ResponseReturnValue:
    events = db().scalars(fieldwork.job_events(job.id)).all()
    decision = db().scalar(select(DispatchDecision).where(DispatchDecision.job_id == job.id))
    actors = {e.actor_user_id for e in events} | {job.assigned_by_user_id}
    people = user_names(actors)
    return render_page("console/jobs/job.html", status=status, job=job, sr=job.service_request,
                       station=job.service_request.nearest_station, events=events, decision=decision, people=people,
                       may_cancel=(g.user.has_any_role(frozenset(fieldwork.CANCELLERS))
                                   and job.status in CANCELLABLE),
                       cancel=cancel_form or ConsoleForm("cancel", fields=("reason",)), detail_labels=LABELS["detail"])


@bp.route("/jobs/<id:job_id>")
@console_page(*OFFICE_READERS)
def job_detail(job_id: int) -> ResponseReturnValue:
    return render_job(dispatch.get_visible_job(db(), job_id, g.user))


@bp.route("/jobs/<id:job_id>/cancel", methods=["POST"])
@console_page(*fieldwork.CANCELLERS)
def cancel_job(job_id: int) -> ResponseReturnValue:
    job = dispatch.get_visible_job(db(), job_id, g.user, for_update=True)
    form = ConsoleForm("cancel", request.form, fields=("reason",))
    app = onsite()

    def cancel() -> None:
        form.check_version(job.version)
        data = form.load(ReasonedActionSchema())
        fieldwork.act(db(), job, "cancel", g.user, fieldwork.Report(details={"reason": data["reason"]}),
                      now=app.clock.now(), arrival_skew=timedelta(seconds=app.settings.arrival_clock_skew_seconds))

    form.submit(cancel)
    if form.failed:
        db().expire_all()
        return render_job(dispatch.get_visible_job(db(), job_id, g.user), form, form.status)
    flash(_("The job was cancelled; the request is back on the board."), "success")
    return redirect(url_for("console.job_detail", job_id=job_id))
