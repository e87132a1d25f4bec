"""The supervisor's pages (issue 11; RULES.md REP-3, REP-5, REP-6, PRT-3, CST-1): the review queue, a report with
every version, its seal and today's verdict, approve or reject; requisitions, paid service and technicians' expenses
waiting for approval.

Who may open each page and press each button is read off the API endpoint that does the same thing, and every
decision is taken by the service function that endpoint calls, so both doors admit the same people and refuse the
same way. The four-eyes rule is visible: a decision is offered only where that same function would accept it."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from flask import flash, g, redirect, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from backend.accounts.models import Role
from backend.console import bp
from backend.console.forms import ConsoleForm
from backend.console.labels import LABELS
from backend.console.i18n import gettext as _
from backend.console.i18n import lazy_gettext as _l
from backend.console.pages import console_page
from backend.console.people import user_names
from backend.console.render import render_page
from backend.costs.expenses import service as expenses
from backend.costs.expenses import views as expenses_api
from backend.costs.models import Expense, ExpenseStatus
from backend.dispatch.models import Job
from backend.dispatch.service import check_may_decide, get_visible_job
from backend.errors import DomainError, Forbidden, NotFound
from backend.fieldwork.lifecycle import JobStatus
from backend.http.context import db, onsite
from backend.parts.models import Requisition, RequisitionStatus
from backend.parts.requisitions import service as requisitions
from backend.parts.requisitions import views as parts_api
from backend.parts.requisitions.schemas import RejectSchema
from backend.reports import service as reports
from backend.reports import views as reports_api
from backend.reports.models import SUPERSEDED, FieldReport, PaidServiceApproval
from backend.reports.schemas import PaidServiceApprovalCreateSchema, RejectionSchema
from backend.technicians.models import Technician

# The API's own doors (see backend.http.api.Blueprint.access).
QUEUE_READERS = reports_api.list_reports.access_roles
REPORT_READERS = reports_api.get_report.access_roles
REPORT_DECIDERS = reports_api.post_approve.access_roles | reports_api.post_reject.access_roles
REQUISITION_READERS = parts_api.list_requisitions.access_roles
REQUISITION_DECIDERS = parts_api.approve_requisition.access_roles | parts_api.reject_requisition.access_roles
PAID_SERVICE_DECIDERS = reports_api.post_paid_service_approval.access_roles
# Technicians read their own expenses through the API (the app); in the console, the office roles that see them all.
EXPENSE_READERS = expenses_api.list_expenses.access_roles - {Role.TECHNICIAN}
EXPENSE_DECIDERS = expenses_api.approve_expense.access_roles | expenses_api.reject_expense.access_roles
LIST_LIMIT = 200

LABELS.update({
    "expense_kind": {"travel": _l("Travel"), "lodging": _l("Lodging"), "allowance": _l("Allowance"),
                     "transport": _l("Transport"), "packaging": _l("Packaging")},
    "report_status": {"draft": _l("Draft"), "signed": _l("Signed"), "superseded": _l("Superseded")},
    "review_outcome": {"approved": _l("Approved"), "rejected": _l("Rejected")},
    "signature_kind": {"signature": _l("signature"), "stamp": _l("company stamp")},
    "responsibility": {"manufacturer": _l("Manufacturer"), "supplier": _l("Supplier"), "customer": _l("Customer"),
                       "third_party": _l("Third party"), "undetermined": _l("Undetermined")},
})


@dataclass(frozen=True)
class Decision:
    """Whether the signed-in person is offered a decision, and if not because of the four-eyes rule, so the page
    can say why instead of showing a button the service would refuse."""

    offered: bool
    own_work: bool


def decision(deciders: frozenset[str], gate: Callable[[], object]) -> Decision:
    """Asks the service's own gate (four eyes, station scope) before offering the buttons."""
    if not g.user.has_any_role(deciders):
        return Decision(offered=False, own_work=False)
    try:
        gate()
    except (Forbidden, NotFound):
        return Decision(offered=False, own_work=True)
    return Decision(offered=True, own_work=False)


def _now() -> Any:
    return onsite().clock.now()


def _gone(forms: dict[int, ConsoleForm], waiting: Iterable[Any]) -> list[Any]:
    """Why a decision was refused about an item no longer waiting (decided meanwhile): its card and the fields are
    gone, so the page says it on its own."""
    listed = {item.id for item in waiting}
    return [form.message or _l("This is no longer waiting for a decision: someone decided it meanwhile.")
            for ident, form in forms.items() if ident not in listed and form.failed]


def _lead_name(job: Job) -> str:
    lead = next((member.technician for member in job.crew if member.is_lead), None)
    return lead.user.full_name if lead is not None else "—"


# --- the review queue (REP-5) ------------------------------------------------------------------------------------

@bp.route("/reviews")
@console_page(*QUEUE_READERS, nav=_l("Review queue"), order=40)
def review_queue() -> ResponseReturnValue:
    session = db()
    queue = session.scalars(reports.review_queue({"status": JobStatus.SUBMITTED}, g.user).limit(LIST_LIMIT)).all()
    jobs = {job.id: job for job in session.scalars(select(Job).where(Job.id.in_([r.job_id for r in queue])))}
    return render_page("console/reviews/queue.html", queue=queue, jobs=jobs, lead_name=_lead_name)


# --- one report: every version, findings, lines, photos, signature, seal; approve or reject ----------------------

@bp.route("/reviews/<id:job_id>")
@console_page(*REPORT_READERS)
def report_review(job_id: int) -> ResponseReturnValue:
    return _report_page(job_id, request.args.get("version", type=int))


def _report_page(job_id: int, version_no: int | None, *, forms: dict[str, ConsoleForm] | None = None,
                 status: int = 200) -> ResponseReturnValue:
    session = db()
    job = get_visible_job(session, job_id, g.user)
    versions = session.scalars(reports.report_versions(job.id)).all()
    if not versions:
        raise NotFound("report of job", job.id)
    current = next(v for v in versions if v.status != SUPERSEDED)
    shown = current if version_no is None else next((v for v in versions if v.version_no == version_no), None)
    if shown is None:
        raise NotFound(f"version {version_no} of the report of job", job.id)
    app = onsite()
    verdict = reports.verify(job, shown, signer=app.signer, store=app.media) if shown.seal_digest else None
    signature = reports_api.image_data_uri(shown.signature_sha256) if shown.signature_sha256 else None
    approval = session.scalar(select(PaidServiceApproval).where(PaidServiceApproval.job_id == job.id))
    under_review = shown is current and job.status == JobStatus.SUBMITTED
    forms = {"approve": ConsoleForm("approve"), "reject": ConsoleForm("reject", fields=("reason",)), **(forms or {})}
    return render_page(
        "console/reviews/report.html", status=status, job=job, versions=versions, report=shown, current=current,
        verdict=verdict, signature=signature, approval=approval, photos=session.scalars(reports.job_photos(job.id)).all(),
        under_review=under_review, lead_name=_lead_name(job), forms=forms, checked_at=_now(),
        decision=decision(REPORT_DECIDERS, lambda: check_may_decide(job, g.user)) if under_review else None,
        names=user_names([shown.author_user_id, shown.reviewed_by_user_id, approval and approval.approved_by_user_id]))


def _shown_and_current(job: Job, version_no: int) -> FieldReport:
    """The version the page showed, if it is still the current one; otherwise the page is stale (like a 412)."""
    report = reports.current_report(db(), job)
    if report.version_no != version_no:
        raise DomainError("version", f"the current version is {report.version_no}", status=412)
    return report


@bp.route("/reviews/<id:job_id>/versions/<id:version_no>/approve", methods=["POST"])
@console_page(*reports_api.post_approve.access_roles)
def approve_report(job_id: int, version_no: int) -> ResponseReturnValue:
    """REP-5, the API's approve with If-Match: the form carries the version it showed; a stale page changes nothing."""
    job = get_visible_job(db(), job_id, g.user)
    form = ConsoleForm("approve", request.form, fields=())

    def approve() -> None:
        report = _shown_and_current(job, version_no)
        form.check_version(report.version)
        reports.approve(db(), job, report, actor=g.user, now=_now())

    form.submit(approve)
    if form.failed:
        return _report_page(job_id, version_no, forms={"approve": form}, status=form.status)
    flash(_("Report of %(number)s (version %(version)s) approved and archived.",
            number=job.service_request.number, version=version_no), "success")
    return redirect(url_for("console.review_queue"))


@bp.route("/reviews/<id:job_id>/versions/<id:version_no>/reject", methods=["POST"])
@console_page(*reports_api.post_reject.access_roles)
def reject_report(job_id: int, version_no: int) -> ResponseReturnValue:
    """REP-5: back to the technician with the reason; without one the page comes back with the message, unchanged."""
    job = get_visible_job(db(), job_id, g.user)
    form = ConsoleForm("reject", request.form, fields=("reason",))

    def reject() -> None:
        data = form.load(RejectionSchema())
        report = _shown_and_current(job, version_no)
        form.check_version(report.version)
        reports.reject(db(), job, report, actor=g.user, reason=data["reason"], now=_now())

    form.submit(reject)
    if form.failed:
        return _report_page(job_id, version_no, forms={"reject": form}, status=form.status)
    flash(_("Report of %(number)s sent back to the technician.", number=job.service_request.number), "success")
    return redirect(url_for("console.review_queue"))


@bp.route("/reviews/<id:job_id>/photos/<id:photo_id>")
@console_page(*REPORT_READERS)
def report_photo(job_id: int, photo_id: int) -> ResponseReturnValue:
    """The photo's bytes, for the signed-in console session; the job is checked exactly as the API checks it."""
    return reports_api.photo_response(get_visible_job(db(), job_id, g.user), photo_id)


# --- requisitions waiting for approval (PRT-3) -------------------------------------------------------------------

@bp.route("/approvals/requisitions")
@console_page(*REQUISITION_READERS, nav=_l("Requisitions"), order=41)
def requisition_approvals() -> ResponseReturnValue:
    return _requisitions_page({})


def _requisitions_page(forms: dict[int, ConsoleForm], status: int = 200) -> ResponseReturnValue:
    session = db()
    pending = session.scalars(requisitions.visible(session, g.user, {"status": RequisitionStatus.PENDING})
                              .order_by(None).order_by(Requisition.id).limit(LIST_LIMIT)).all()
    jobs = {job.id: job for job in session.scalars(select(Job).where(Job.id.in_([r.job_id for r in pending])))}
    technicians = {t.id: t for t in session.scalars(select(Technician).where(
        Technician.id.in_([r.technician_id for r in pending])))}
    decisions = {r.id: decision(REQUISITION_DECIDERS,
                                lambda r=r: requisitions.check_decider(session, r, g.user)) for r in pending}
    return render_page("console/reviews/requisitions.html", status=status, pending=pending, jobs=jobs,
                       technicians=technicians, decisions=decisions, gone=_gone(forms, pending),
                       forms={r.id: forms.get(r.id) or ConsoleForm(f"reject-{r.id}", fields=("reason",))
                              for r in pending})


@bp.route("/approvals/requisitions/<id:requisition_id>/approve", methods=["POST"])
@console_page(*parts_api.approve_requisition.access_roles)
def approve_requisition(requisition_id: int) -> ResponseReturnValue:
    form = ConsoleForm(f"reject-{requisition_id}", request.form, fields=())
    done = form.submit(lambda: requisitions.approve(db(), requisition_id, actor=g.user, now=_now()))
    if done is None:
        return _requisitions_page({requisition_id: form}, form.status)
    flash(_("Requisition %(number)s approved: the store may issue the parts.", number=done.number), "success")
    return redirect(url_for("console.requisition_approvals"))


@bp.route("/approvals/requisitions/<id:requisition_id>/reject", methods=["POST"])
@console_page(*parts_api.reject_requisition.access_roles)
def reject_requisition(requisition_id: int) -> ResponseReturnValue:
    form = ConsoleForm(f"reject-{requisition_id}", request.form, fields=("reason",))
    done = form.submit(lambda: requisitions.reject(db(), requisition_id, actor=g.user, now=_now(),
                                                   **form.load(RejectSchema())))
    if done is None:
        return _requisitions_page({requisition_id: form}, form.status)
    flash(_("Requisition %(number)s rejected.", number=done.number), "success")
    return redirect(url_for("console.requisition_approvals"))


# --- paid service waiting for approval (REP-6) -------------------------------------------------------------------

@bp.route("/approvals/paid-service")
@console_page(*QUEUE_READERS, nav=_l("Paid service"), order=42)
def paid_service_approvals() -> ResponseReturnValue:
    return _paid_service_page({})


def _paid_service_page(forms: dict[int, ConsoleForm], status: int = 200) -> ResponseReturnValue:
    session = db()
    waiting = session.scalars(reports.awaiting_paid_service(g.user).limit(LIST_LIMIT)).all()
    drafts = {job.id: reports.current_report(session, job) for job in waiting}
    decisions = {job.id: decision(PAID_SERVICE_DECIDERS, lambda job=job: check_may_decide(job, g.user))
                 for job in waiting}
    return render_page("console/reviews/paid_service.html", status=status, waiting=waiting, drafts=drafts,
                       decisions=decisions, lead_name=_lead_name,
                       forms={job.id: forms.get(job.id) or ConsoleForm(f"paid-{job.id}",
                                                                        fields=("scope", "estimated_amount"))
                              for job in waiting})


@bp.route("/approvals/paid-service/<id:job_id>/approve", methods=["POST"])
@console_page(*PAID_SERVICE_DECIDERS)
def approve_paid_service(job_id: int) -> ResponseReturnValue:
    job = get_visible_job(db(), job_id, g.user)
    form = ConsoleForm(f"paid-{job_id}", request.form, fields=("scope", "estimated_amount"))
    done = form.submit(lambda: reports.approve_paid_service(db(), job, actor=g.user, now=_now(),
                                                            **form.load(PaidServiceApprovalCreateSchema())))
    if done is None:
        return _paid_service_page({job_id: form}, form.status)
    flash(_("Paid service on %(number)s approved: the technician may now record chargeable work.",
            number=job.service_request.number), "success")
    return redirect(url_for("console.paid_service_approvals"))


# --- technicians' expenses waiting for approval (CST-1) ----------------------------------------------------------

@bp.route("/approvals/expenses")
@console_page(*EXPENSE_READERS, nav=_l("Expenses"), order=43)
def expense_approvals() -> ResponseReturnValue:
    return _expenses_page({})


def _expenses_page(forms: dict[int, ConsoleForm], status: int = 200) -> ResponseReturnValue:
    session = db()
    pending = session.scalars(expenses.visible_expenses(g.user, {"status": ExpenseStatus.PENDING})
                              .order_by(None).order_by(Expense.id).limit(LIST_LIMIT)).all()
    jobs = {job.id: job for job in session.scalars(select(Job).where(Job.id.in_([e.job_id for e in pending])))}
    decisions = {e.id: decision(EXPENSE_DECIDERS, lambda e=e: check_may_decide(jobs[e.job_id], g.user))
                 for e in pending}
    return render_page("console/reviews/expenses.html", status=status, pending=pending, jobs=jobs,
                       decisions=decisions, people=user_names(e.raised_by_user_id for e in pending),
                       gone=_gone(forms, pending),
                       forms={e.id: forms.get(e.id) or ConsoleForm(f"expense-{e.id}", fields=("reason",))
                              for e in pending})


@bp.route("/approvals/expenses/<id:expense_id>/approve", methods=["POST"])
@console_page(*expenses_api.approve_expense.access_roles)
def approve_expense(expense_id: int) -> ResponseReturnValue:
    form = ConsoleForm(f"expense-{expense_id}", request.form, fields=())
    done = form.submit(lambda: expenses.decide_expense(db(), expense_id, approve=True, reason=None, actor=g.user,
                                                       now=_now()))
    if done is None:
        return _expenses_page({expense_id: form}, form.status)
    flash(_("Expense %(number)s approved: it now counts as a cost.", number=done.number), "success")
    return redirect(url_for("console.expense_approvals"))


@bp.route("/approvals/expenses/<id:expense_id>/reject", methods=["POST"])
@console_page(*expenses_api.reject_expense.access_roles)
def reject_expense(expense_id: int) -> ResponseReturnValue:
    form = ConsoleForm(f"expense-{expense_id}", request.form, fields=("reason",))
    done = form.submit(lambda: expenses.decide_expense(db(), expense_id, approve=False, actor=g.user, now=_now(),
                                                       **form.load(RejectSchema())))
    if done is None:
        return _expenses_page({expense_id: form}, form.status)
    flash(_("Expense %(number)s rejected.", number=done.number), "success")
    return redirect(url_for("console.expense_approvals"))
