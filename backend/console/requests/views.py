"""A service request's page: deadlines, the communications log (INT-5) with the reply (DSP-2) and written contact
(DSP-3), ranked candidates and dispatch (DSP-6..8), the stored decision, and the manager's waiver and decision
(INT-4). Every action is the API's: same schema, same service function, same role tuple."""

from __future__ import annotations

from typing import Any

from flask import flash, g, redirect, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import or_, select

from backend.accounts.models import User, UserStation
from backend.accounts.scope import stations_of
from backend.console import bp
from backend.console.forms import ConsoleForm, datetime_local_value
from backend.console.i18n import gettext as _
from backend.console.i18n import station_zone
from backend.console.pages import console_page
from backend.console.people import user_names
from backend.console.render import render_page
from backend.dispatch import service
from backend.dispatch.candidates import DEFAULT_LIMIT
from backend.dispatch.models import STOPPED_STATUSES, DispatchDecision, Job, ServiceRequest
from backend.dispatch.schemas import (CHANNELS, DIRECTIONS, ClosureSchema, CommunicationCreateSchema, DecisionSchema,
                                      DispatchSchema, FeedbackSchema, ReplySchema, WaiverSchema, WrittenContactSchema)
from backend.dispatch.sla import DeadlineKind
from backend.dispatch.service import (CLOSERS, CONTACT_LOGGERS, DECIDERS, DISPATCHERS, FEEDBACK_METHODS,
                                      FEEDBACK_RECORDERS, PLANNERS, READERS, SERVICE_GROUP)
from backend.http.context import db, onsite
from backend.quality import service as quality
from backend.quality.models import Investigation, ResponsibleKind
from backend.quality.schemas import InvestigationInputSchema
from backend.technicians.models import Technician

FORM_FIELDS = {
    "log": ("direction", "channel", "counterpart", "content", "occurred_at"),
    "reply": ("content", "channel", "agreed_on_site_at", "replied_at"),
    "written": ("content", "channel", "contacted_at"),
    "dispatch_top": (),
    "dispatch_crew": ("technician_ids", "lead_id", "reason"),
    "waive": ("kind", "reason"),
    "decision": ("outcome", "reason"),
    "feedback": ("method", "text"),
    "closure": ("summary",),
    "investigation": ("root_cause", "root_cause_text", "countermeasure", "responsible_kind", "responsible_department",
                      "responsible_supplier", "responsible_user_id", "reason"),
}
REPLY_CHANNELS = ("phone", "letter", "email", "app")
WRITTEN_CHANNELS = ("letter", "email", "app")


def _now() -> Any:
    return onsite().clock.now()


def _request(service_request_id: int, *, for_update: bool = False) -> ServiceRequest:
    return service.get_request(db(), service_request_id, g.user, for_update=for_update)


def _pending(service_request: ServiceRequest, kind: str) -> bool:
    deadline = service_request.deadline(kind)
    return (deadline is not None and deadline.pending
            and service_request.status not in STOPPED_STATUSES)


def render_request(service_request: ServiceRequest, forms: dict[str, ConsoleForm] | None = None,
                   status: int = 200) -> ResponseReturnValue:
    user: User = g.user
    now = _now()
    forms = {name: ConsoleForm(name, fields=fields) for name, fields in FORM_FIELDS.items()} | (forms or {})
    communications = db().scalars(service.communications(service_request.id)).all()
    jobs = db().scalars(select(Job).where(Job.service_request_id == service_request.id)
                        .order_by(Job.assigned_at.desc(), Job.id.desc())).all()
    decisions = {d.job_id: d for d in db().scalars(
        select(DispatchDecision).where(DispatchDecision.service_request_id == service_request.id))}
    dispatchable = service_request.status in service.DISPATCHABLE
    state = service_request.status
    open_ = state != service.RequestStatus.CLOSED  # INV-1: a closed request offers no action
    investigator = open_ and user.has_any_role(frozenset(quality.INVESTIGATORS))
    on_crew = any(service.is_on_crew(job, user) for job in jobs)
    may = {
        "log": open_ and user.has_any_role(frozenset(CONTACT_LOGGERS)),
        "reply": user.has_any_role(frozenset(DISPATCHERS)) and _pending(service_request, DeadlineKind.REPLY),
        "written": (user.has_any_role(frozenset(SERVICE_GROUP))
                    and _pending(service_request, DeadlineKind.WRITTEN_CONTACT)),
        "candidates": user.has_any_role(frozenset(PLANNERS)) and dispatchable,
        "dispatch": user.has_any_role(frozenset(DISPATCHERS)) and dispatchable,
        "manage": open_ and user.has_any_role(frozenset(DECIDERS)),
        "feedback": state == service.RequestStatus.RESOLVED and user.has_any_role(frozenset(FEEDBACK_RECORDERS)),
        "close": (state in (service.RequestStatus.FEEDBACK_GIVEN, service.RequestStatus.REJECTED)
                  and user.has_any_role(frozenset(CLOSERS))),
        # Four eyes: nobody on a crew of the request decides who is responsible (quality.decide refuses them too).
        "investigate": investigator and not on_crew,
        "investigate_own_work": investigator and on_crew,
    }
    candidates = []
    if may["candidates"]:
        _, candidates = service.candidates_for(db(), service_request.id, user, now=now,
                                               travel_speed_kmh=onsite().settings.travel_speed_kmh,
                                               limit=DEFAULT_LIMIT)
    investigation = quality.investigation_of(db(), service_request.id)
    people = user_names({c.logged_by_user_id for c in communications} | {d.waived_by_user_id for d in
                     service_request.deadlines} | {d.decided_by_user_id for d in decisions.values()}
                    | {service_request.decided_by_user_id, service_request.registered_by_user_id,
                       service_request.feedback_by_user_id, service_request.closed_by_user_id}
                    | ({investigation.decided_by_id, investigation.responsible_user_id} if investigation else set()))
    follows = (db().get(ServiceRequest, service_request.follows_request_id)
               if service_request.follows_request_id else None)
    zone = station_zone(service_request.nearest_station)
    open_deadlines = [d for d in service_request.deadlines if d.current_status == "open"]
    return render_page(
        "console/requests/request.html", status=status, sr=service_request, station=service_request.nearest_station,
        zone=zone, now_local=datetime_local_value(now, zone), communications=communications, jobs=jobs,
        decisions=decisions, candidates=candidates, may=may, forms=forms, people=people,
        open_deadlines=open_deadlines, channels=CHANNELS, directions=DIRECTIONS, reply_channels=REPLY_CHANNELS,
        written_channels=WRITTEN_CHANNELS, feedback_methods=FEEDBACK_METHODS, follows=follows,
        investigation=investigation, **(_investigation_choices(investigation) if may["investigate"] else {}))


def _investigation_choices(investigation: Investigation | None) -> dict[str, Any]:
    """The root-cause codes and the people one may hold responsible: the active ones the investigator's stations
    know (SCP-1: its office and its technicians; everyone for head office), with whatever the investigation
    already names kept on the list (a code taken off the configuration, someone who has left)."""
    codes = list(onsite().settings.root_causes)
    if investigation is not None and investigation.root_cause not in codes:
        codes.append(investigation.root_cause)
    people = select(User.id, User.full_name).where(User.active.is_(True))
    stations = stations_of(g.user)
    if stations is not None:
        people = people.where(or_(
            User.id.in_(select(UserStation.user_id).where(UserStation.station_id.in_(sorted(stations)))),
            User.id.in_(select(Technician.user_id).where(Technician.home_station_id.in_(sorted(stations))))))
    employees = dict(db().execute(people).all())
    if investigation is not None and investigation.responsible_user_id is not None:
        named = db().get_one(User, investigation.responsible_user_id)
        employees.setdefault(named.id, named.full_name)
    return {"root_causes": [(code, code) for code in codes],
            "responsible_kinds": [kind.value for kind in ResponsibleKind],
            "employees": sorted(((str(ident), name) for ident, name in employees.items()), key=lambda e: e[1])}


def _done(service_request: ServiceRequest, form: ConsoleForm, message: str, anchor: str) -> ResponseReturnValue:
    """Success: back to the page (a reload does not post again). Refused: the page again, with the input and why."""
    if form.failed:
        db().expire_all()
        return render_request(service_request, {form.name: form}, status=form.status)
    flash(message, "success")
    return redirect(url_for("console.request_detail", service_request_id=service_request.id, _anchor=anchor))


@bp.route("/requests/<id:service_request_id>")
@console_page(*READERS)
def request_detail(service_request_id: int) -> ResponseReturnValue:
    return render_request(_request(service_request_id))


@bp.route("/requests/<id:service_request_id>/communications", methods=["POST"])
@console_page(*CONTACT_LOGGERS)
def log_communication(service_request_id: int) -> ResponseReturnValue:
    sr = _request(service_request_id)
    form = ConsoleForm("log", request.form, fields=FORM_FIELDS["log"])
    form.submit(lambda: service.log_communication(
        db(), sr, actor_id=g.user.id, kind=service.CommunicationKind.MESSAGE, now=_now(),
        **form.load(CommunicationCreateSchema(), zone=station_zone(sr.nearest_station))))
    return _done(sr, form, _("The call or letter was logged."), "communications")


@bp.route("/requests/<id:service_request_id>/reply", methods=["POST"])
@console_page(*DISPATCHERS)
def record_reply(service_request_id: int) -> ResponseReturnValue:
    sr = _request(service_request_id, for_update=True)
    form = ConsoleForm("reply", request.form, fields=FORM_FIELDS["reply"])
    form.submit(lambda: service.record_reply(db(), sr, actor_id=g.user.id, now=_now(),
                                             **form.load(ReplySchema(), zone=station_zone(sr.nearest_station))))
    return _done(sr, form, _("The reply was recorded; the agreed time is now the on-site deadline."), "deadlines")


@bp.route("/requests/<id:service_request_id>/written-contact", methods=["POST"])
@console_page(*SERVICE_GROUP)
def record_written_contact(service_request_id: int) -> ResponseReturnValue:
    sr = _request(service_request_id, for_update=True)
    form = ConsoleForm("written", request.form, fields=FORM_FIELDS["written"])
    form.submit(lambda: service.record_written_contact(
        db(), sr, actor_id=g.user.id, now=_now(),
        **form.load(WrittenContactSchema(), zone=station_zone(sr.nearest_station))))
    return _done(sr, form, _("The written contact was recorded."), "deadlines")


@bp.route("/requests/<id:service_request_id>/dispatch", methods=["POST"])
@console_page(*DISPATCHERS)
def dispatch(service_request_id: int) -> ResponseReturnValue:
    sr = _request(service_request_id)
    name = "dispatch_crew" if request.form.get("mode") == "crew" else "dispatch_top"
    form = ConsoleForm(name, request.form, fields=FORM_FIELDS[name])
    settings = onsite().settings
    form.submit(lambda: service.dispatch(db(), sr.id, service.DispatchOrder(**form.load(DispatchSchema())),
                                         actor=g.user, now=_now(), travel_speed_kmh=settings.travel_speed_kmh,
                                         candidate_limit=DEFAULT_LIMIT))
    return _done(sr, form, _("Dispatched. The decision and its reasons are stored below."), "jobs")


@bp.route("/requests/<id:service_request_id>/waivers", methods=["POST"])
@console_page(*DECIDERS)
def waive_deadline(service_request_id: int) -> ResponseReturnValue:
    sr = _request(service_request_id, for_update=True)
    form = ConsoleForm("waive", request.form, fields=FORM_FIELDS["waive"])

    def waive() -> None:
        form.check_version(sr.version)
        service.waive_deadline(db(), sr, actor=g.user, now=_now(), **form.load(WaiverSchema()))

    form.submit(waive)
    return _done(sr, form, _("The deadline was waived."), "deadlines")


@bp.route("/requests/<id:service_request_id>/decision", methods=["POST"])
@console_page(*DECIDERS)
def decide(service_request_id: int) -> ResponseReturnValue:
    sr = _request(service_request_id, for_update=True)
    form = ConsoleForm("decision", request.form, fields=FORM_FIELDS["decision"])

    def decide_() -> None:
        form.check_version(sr.version)
        service.decide(sr, actor_id=g.user.id, now=_now(), **form.load(DecisionSchema()))

    form.submit(decide_)
    return _done(sr, form, _("The decision was recorded."), "decision")


@bp.route("/requests/<id:service_request_id>/feedback", methods=["POST"])
@console_page(*FEEDBACK_RECORDERS)
def record_feedback(service_request_id: int) -> ResponseReturnValue:
    sr = _request(service_request_id, for_update=True)
    form = ConsoleForm("feedback", request.form, fields=FORM_FIELDS["feedback"])

    def record() -> None:
        form.check_version(sr.version)
        service.record_feedback(db(), sr, actor_id=g.user.id, now=_now(), **form.load(FeedbackSchema()))

    form.submit(record)
    return _done(sr, form, _("The feedback was recorded."), "feedback")


@bp.route("/requests/<id:service_request_id>/closure", methods=["POST"])
@console_page(*CLOSERS)
def close_request(service_request_id: int) -> ResponseReturnValue:
    sr = _request(service_request_id, for_update=True)
    form = ConsoleForm("closure", request.form, fields=FORM_FIELDS["closure"])

    def close() -> None:
        form.check_version(sr.version)
        service.close_request(db(), sr, actor_id=g.user.id, now=_now(), **form.load(ClosureSchema()))

    form.submit(close)
    return _done(sr, form, _("The request is closed."), "closure")


@bp.route("/requests/<id:service_request_id>/investigation", methods=["POST"])
@console_page(*quality.INVESTIGATORS)
def record_investigation(service_request_id: int) -> ResponseReturnValue:
    sr = _request(service_request_id, for_update=True)
    form = ConsoleForm("investigation", request.form, fields=FORM_FIELDS["investigation"])

    def record() -> None:
        investigation = quality.investigation_of(db(), sr.id)
        if investigation is not None:
            # Revising needs the version the page showed (a page shown before there was one has none: stale).
            form.check_version(investigation.version)
        quality.decide(db(), sr, investigation, form.load(InvestigationInputSchema()), actor=g.user, now=_now(),
                       settings=onsite().settings)

    form.submit(record)
    return _done(sr, form, _("The investigation was recorded."), "investigation")
