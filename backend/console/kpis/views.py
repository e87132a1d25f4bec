"""The KPIs (RULES.md §9) against their targets (DSP-5) for managers and supervisors: whole months in the user's
local time, one row per station, technician or local month, and the same figures as CSV. The API's schema, service
and roles (backend.kpis)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from flask import g
from flask.typing import ResponseReturnValue

from backend.console import bp
from backend.console.i18n import lazy_gettext as _l
from backend.console.pages import console_page
from backend.console.periods import MONTH, group_labels, local_months, run_report
from backend.console.render import render_page
from backend.http.context import db, onsite
from backend.http.csv import csv_response
from backend.kpis import service
from backend.kpis import views as kpis_api
from backend.kpis.schemas import COLUMNS, KpiQuerySchema, KpiRowSchema

KPI_READERS = kpis_api.get_kpis.access_roles
# The columns of the table, in the service's order: a KPI, or service timeliness of one deadline kind.
COLUMNS_SHOWN = (("service_timeliness", "on_site"), ("service_timeliness", "reply"),
                 ("service_timeliness", "written_contact"), ("satisfaction", None), ("satisfaction_mean", None),
                 ("service_complaint_rate", None), ("major_complaint_rate", None), ("first_time_fix", None),
                 ("callback_coverage", None), ("jobs_per_technician", None), ("parts_per_technician", None),
                 ("old_parts_outstanding", None), ("old_parts_overdue", None))
SHARES = frozenset({"service_timeliness", "satisfaction", "service_complaint_rate", "major_complaint_rate",
                    "first_time_fix", "callback_coverage"})


@dataclass(frozen=True)
class Table:
    groups: list[str | None]
    cells: dict[tuple[str | None, str, str | None], service.Row]
    labels: dict[str, str]


def _rows(query: dict[str, Any], zone: ZoneInfo) -> list[service.Row]:
    """The KPIs the query asks for; by month, each month of the user's calendar on its own (the API's months are
    UTC months)."""
    def compute(start: Any, end: Any, group_by: Any) -> list[service.Row]:
        return service.compute(db(), start=start, end=end, group_by=group_by, now=onsite().clock.now(),
                               settings=onsite().settings, user=g.user)

    if query["group_by"] != MONTH:
        return compute(query["start"], query["end"], query["group_by"])
    rows = []
    for label, start, end in local_months(query["start"], query["end"], zone):
        for row in compute(start, end, None):
            row.group = label
            rows.append(row)
    return rows


def _table(rows: list[service.Row], group_by: str | None) -> Table:
    groups = list(dict.fromkeys(row.group for row in rows))
    if group_by is not None:  # the groups in order, with the rows not in any group (no technician yet) last
        groups = sorted(groups, key=lambda g_: (g_ is None, int(g_) if g_ and g_.isdigit() else 0, g_ or ""))
    return Table(groups, {(row.group, row.kpi, row.detail): row for row in rows}, group_labels(group_by, groups))


@bp.route("/kpis")
@console_page(*KPI_READERS, nav=_l("KPIs"), order=50)
def kpis() -> ResponseReturnValue:
    report = run_report("kpis", KpiQuerySchema(), _rows)
    return render_page("console/kpis/kpis.html", status=report.form.status, report=report,
                       table=_table(report.result, report.group_by) if report.result is not None else None,
                       columns=COLUMNS_SHOWN, shares=SHARES, group_values=[g_.value for g_ in service.GroupBy],
                       targets={kpi: str(target) for kpi, target in service.TARGETS.items()},
                       as_of=onsite().clock.now())


@bp.route("/kpis.csv")
@console_page(*KPI_READERS)
def kpis_csv() -> ResponseReturnValue:
    """The same figures as the page, as the API's CSV (one row per KPI and group)."""
    report = run_report("kpis", KpiQuerySchema(), _rows)
    if report.result is None:
        return kpis()
    return csv_response(KpiRowSchema(many=True).dump(report.result), COLUMNS, "kpis.csv")
