"""Service costs (CST-1, CST-2) for finance, managers and quality: whole months in the user's local time, per
allocation (who bears each cost), optionally one row per station, model, part, supplier, cause or month, with the
expenses still awaiting approval apart; the same figures as CSV. The API's schema, service and roles
(backend.costs.ledger)."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from flask import g, request
from flask.typing import ResponseReturnValue

from backend.console import bp
from backend.console.forms import ConsoleForm
from backend.console.i18n import lazy_gettext as _l
from backend.console.pages import console_page
from backend.console.periods import group_labels, month_form, period, user_zone
from backend.console.render import render_page
from backend.costs.ledger import service as costs
from backend.costs.ledger.schemas import COLUMNS, CostQuerySchema, CostTotalsSchema
from backend.http.context import db
from backend.http.csv import csv_response


def _report(form: ConsoleForm, zone: ZoneInfo) -> tuple[dict[str, Any], costs.CostReport] | None:
    def report() -> tuple[dict[str, Any], costs.CostReport]:
        query = CostQuerySchema().load(period(form, zone))
        return query, costs.cost_report(db(), g.user, start=query["start"], end=query["end"],
                                        group_by=query["group_by"])

    return form.submit(report)


@bp.route("/costs")
@console_page(*costs.READERS, nav=_l("Costs"), order=55)
def cost_report() -> ResponseReturnValue:
    zone = user_zone(g.user)
    form = month_form("costs", request.args, zone)
    found = _report(form, zone)
    query, report = found if found else ({"group_by": None}, None)
    return render_page("console/costs/costs.html", status=form.status, form=form, report=report,
                       group_by=query["group_by"], group_values=[g_.value for g_ in costs.CostGroupBy],
                       labels=group_labels(query["group_by"], [row.group for row in report.rows] if report else []))


@bp.route("/costs.csv")
@console_page(*costs.READERS)
def cost_report_csv() -> ResponseReturnValue:
    """The same figures as the page, as the API's CSV (one row per group)."""
    zone = user_zone(g.user)
    found = _report(month_form("costs", request.args, zone), zone)
    if found is None:
        return cost_report()
    return csv_response(CostTotalsSchema(many=True).dump(found[1].rows), COLUMNS, "costs.csv")
