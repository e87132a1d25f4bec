"""Dispatch plans (PLN-1) in the console: plan the open requests jointly, read each assignment's reason beside what
one-by-one dispatch would have done, leave some out, and create the jobs in one go. The API's schemas, service and
role tuples; swaps stay with the API (a request left out here can be dispatched from its own page)."""

from __future__ import annotations

from typing import Any

from flask import flash, g, redirect, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from backend.accounts.scope import stations_of, within_scope
from backend.console import bp
from backend.console.forms import ConsoleForm
from backend.console.i18n import gettext as _
from backend.console.i18n import lazy_gettext as _l
from backend.console.pages import console_page
from backend.console.people import technician_names, user_names
from backend.console.render import render_page
from backend.dispatch.service import DISPATCHERS, PLANNERS
from backend.dispatch.sla import Tier
from backend.http.context import db, onsite
from backend.planning.plans import service
from backend.planning.plans.models import DispatchPlan, PlanStatus
from backend.planning.plans.schemas import PlanCommitSchema, PlanCreateSchema
from backend.stations.models import Station

LIST_LIMIT = 30
CREATE_FIELDS = ("station", "tier", "max_jobs_per_technician")
COMMIT_FIELDS = ("drop",)


def render_plans(form: ConsoleForm | None = None, status: int = 200) -> ResponseReturnValue:
    plans = db().scalars(service.visible_plans(g.user).limit(LIST_LIMIT)).all()
    stations = db().scalars(select(Station).where(Station.active.is_(True), within_scope(Station.id, g.user))
                            .order_by(Station.name)).all()
    return render_page("console/plans/plans.html", status=status, plans=plans,
                       station_options=[("", _("All my stations") if stations_of(g.user) else _("All stations"))]
                       + [(str(s.id), s.name) for s in stations],
                       tiers=[t.value for t in Tier], form=form or ConsoleForm("plan", fields=CREATE_FIELDS),
                       people=user_names(p.created_by_user_id for p in plans),
                       may_plan=g.user.has_any_role(frozenset(DISPATCHERS)),
                       default_limit=onsite().settings.max_jobs_per_technician)


def render_plan(plan: DispatchPlan, form: ConsoleForm | None = None, status: int = 200) -> ResponseReturnValue:
    technicians = technician_names(i for item in plan.items for i in item.greedy_technician_ids)
    return render_page("console/plans/plan.html", status=status, plan=plan, technicians=technicians,
                       people=user_names([plan.created_by_user_id, plan.committed_by_user_id]),
                       form=form or ConsoleForm("commit", fields=COMMIT_FIELDS),
                       may_commit=(plan.status == PlanStatus.PROPOSED
                                   and g.user.has_any_role(frozenset(DISPATCHERS))))


@bp.route("/plans")
@console_page(*PLANNERS, nav=_l("Plans"), order=11)
def plans() -> ResponseReturnValue:
    return render_plans()


@bp.route("/plans", methods=["POST"])
@console_page(*DISPATCHERS)
def create_plan() -> ResponseReturnValue:
    form = ConsoleForm("plan", request.form, fields=CREATE_FIELDS)
    app = onsite()
    plan = form.submit(lambda: service.create_plan(db(), service.PlanOrder(**form.load(PlanCreateSchema())),
                                                    actor=g.user, now=app.clock.now(), settings=app.settings))
    if plan is None:
        return render_plans(form, form.status)
    return redirect(url_for("console.plan_detail", plan_id=plan.id))


@bp.route("/plans/<id:plan_id>")
@console_page(*PLANNERS)
def plan_detail(plan_id: int) -> ResponseReturnValue:
    return render_plan(service.get_plan(db(), plan_id, g.user))


@bp.route("/plans/<id:plan_id>/commit", methods=["POST"])
@console_page(*DISPATCHERS)
def commit_plan(plan_id: int) -> ResponseReturnValue:
    plan = service.get_plan(db(), plan_id, g.user, for_update=True)
    form = ConsoleForm("commit", request.form, fields=COMMIT_FIELDS)
    app = onsite()

    def commit() -> tuple[int, int]:
        form.check_version(plan.version)
        data: dict[str, Any] = form.load(PlanCommitSchema())
        service.commit_plan(db(), plan, service.CommitOrder(drop=data["drop"]), actor=g.user, now=app.clock.now(),
                            settings=app.settings)
        return sum(1 for item in plan.assignments if item.job_id is not None), len(data["drop"])

    done = form.submit(commit)
    if done is None:
        return render_plan(service.get_plan(db(), plan_id, g.user), form, form.status)
    created, left_out = done
    flash(_("Jobs created: %(count)s.", count=created) + (
        " " + _("The requests left out stay on the board.") if left_out else ""), "success")
    return redirect(url_for("console.plan_detail", plan_id=plan_id))
