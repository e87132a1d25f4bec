"""Service costs (CST-1, CST-2) for finance, managers and quality: whole months in the user's local time, per
allocation (who bears each cost), optionally one row per station, model, part, supplier, cause or local month, with
the expenses still awaiting approval apart; the same figures as CSV. The API's schema, service and roles
(backend.costs.ledger)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from zoneinfo import ZoneInfo

from flask import g
from flask.typing import ResponseReturnValue

from backend.console import bp
from backend.console.i18n import lazy_gettext as _l
from backend.console.pages import console_page
from backend.console.periods import MONTH, group_labels, local_months, run_report
from backend.console.render import render_page
from backend.costs.ledger import service as costs
from backend.costs.ledger.schemas import COLUMNS, CostQuerySchema, CostTotalsSchema
from backend.http.context import db
from backend.http.csv import csv_response


def _report(query: dict[str, Any], zone: ZoneInfo) -> costs.CostReport:
    """The cost report the query asks for; by month, each month of the user's calendar on its own (the API's months
    are UTC months)."""
    def report(start: Any, end: Any, group_by: Any) -> costs.CostReport:
        return costs.cost_report(db(), g.user, start=start, end=end, group_by=group_by)

    if query["group_by"] != MONTH:
        return report(query["start"], query["end"], query["group_by"])
    months = [replace(report(start, end, None).totals, group=label)
              for label, start, end in local_months(query["start"], query["end"], zone)]
    return costs.CostReport(months, report(query["start"], query["end"], None).totals)


@bp.route("/costs")
@console_page(*costs.READERS, nav=_l("Costs"), order=55)
def cost_report() -> ResponseReturnValue:
    found = run_report("costs", CostQuerySchema(), _report)
    groups = [row.group for row in found.result.rows] if found.result else []
    return render_page("console/costs/costs.html", status=found.form.status, report=found,
                       group_values=[g_.value for g_ in costs.CostGroupBy],
                       labels=group_labels(found.group_by, groups))


@bp.route("/costs.csv")
@console_page(*costs.READERS)
def cost_report_csv() -> ResponseReturnValue:
    """The same figures as the page, as the API's CSV (one row per group)."""
    found = run_report("costs", CostQuerySchema(), _report)
    if found.result is None:
        return cost_report()
    return csv_response(CostTotalsSchema(many=True).dump(found.result.rows), COLUMNS, "costs.csv")
