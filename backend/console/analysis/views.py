"""The failure analysis (CST-3) for quality, managers and finance: parts replaced on approved reports in whole local
months, by model, part, supplier or root cause in Pareto order, per 100 units in service, with the warranty cost
behind them; the same figures as CSV. The API's schema, service and roles (backend.analysis)."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from flask import g
from flask.typing import ResponseReturnValue

from backend.analysis import service
from backend.analysis.schemas import COLUMNS, FailureQuerySchema, csv_rows
from backend.console import bp
from backend.console.i18n import lazy_gettext as _l
from backend.console.pages import console_page
from backend.console.periods import run_report
from backend.console.render import render_page
from backend.http.context import db
from backend.http.csv import csv_response


def _analysis(query: dict[str, Any], _zone: ZoneInfo) -> service.FailureAnalysis:
    return service.analyse(db(), g.user, start=query["start"], end=query["end"], group_by=query["group_by"])


@bp.route("/failure-analysis")
@console_page(*service.READERS, nav=_l("Failure analysis"), order=56)
def failure_analysis() -> ResponseReturnValue:
    report = run_report("failures", FailureQuerySchema(), _analysis)
    return render_page("console/analysis/failures.html", status=report.form.status, report=report,
                       group_values=[g_.value for g_ in service.FailureGroupBy])


@bp.route("/failure-analysis.csv")
@console_page(*service.READERS)
def failure_analysis_csv() -> ResponseReturnValue:
    """The same figures as the page, as the API's CSV."""
    report = run_report("failures", FailureQuerySchema(), _analysis)
    if report.result is None:
        return failure_analysis()
    return csv_response(csv_rows(report.result.rows), COLUMNS, "failure-analysis.csv")
