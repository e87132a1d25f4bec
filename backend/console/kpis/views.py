"""The KPIs (RULES.md §9) against their targets (DSP-5) for managers and supervisors: whole months in the user's
local time, one row per station, technician or month, and the same figures as CSV. The API's schema, service and
roles (backend.kpis)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, g, request
from flask.typing import ResponseReturnValue

from backend.accounts.models import Role
from backend.console import bp
from backend.console.forms import ConsoleForm
from backend.console.i18n import lazy_gettext as _l
from backend.console.pages import console_page
from backend.console.periods import group_labels, month_form, period, user_zone
from backend.console.render import render_page
from backend.http.context import db, onsite
from backend.http.csv import csv_response
from backend.kpis import service
from backend.kpis.schemas import COLUMNS, KpiQuerySchema, KpiRowSchema

KPI_READERS = (Role.MANAGER, Role.SUPERVISOR)
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
    labels: dict[str | None, str]


def _table(rows: list[service.Row], group_by: str | None) -> Table:
    groups = list(dict.fromkeys(row.group for row in rows))
    if group_by is not None:  # the groups in order, with the rows not in any group (no technician yet) last
        groups = sorted(groups, key=lambda g_: (g_ is None, int(g_) if g_ and g_.isdigit() else 0, g_ or ""))
    return Table(groups, {(row.group, row.kpi, row.detail): row for row in rows}, group_labels(group_by, groups))


def _compute(form: ConsoleForm, zone: ZoneInfo) -> tuple[dict[str, Any], list[service.Row]] | None:
    def compute() -> tuple[dict[str, Any], list[service.Row]]:
        query = KpiQuerySchema().load(period(form, zone))
        return query, service.compute(db(), start=query["start"], end=query["end"], group_by=query["group_by"],
                                      now=onsite().clock.now(), settings=onsite().settings, user=g.user)

    return form.submit(compute)


@bp.route("/kpis")
@console_page(*KPI_READERS, nav=_l("KPIs"), order=50)
def kpis() -> ResponseReturnValue:
    zone = user_zone(g.user)
    form = month_form("kpis", request.args, zone)
    computed = _compute(form, zone)
    table = _table(computed[1], computed[0]["group_by"]) if computed else None
    return render_page("console/kpis/kpis.html", status=form.status, form=form, table=table,
                       group_by=computed[0]["group_by"] if computed else None, columns=COLUMNS_SHOWN, shares=SHARES,
                       group_values=[g_.value for g_ in service.GroupBy],
                       targets={kpi: str(target) for kpi, target in service.TARGETS.items()},
                       as_of=onsite().clock.now(), zone=zone)


@bp.route("/kpis.csv")
@console_page(*KPI_READERS)
def kpis_csv() -> ResponseReturnValue:
    """The same figures as the page, as the API's CSV (one row per KPI and group)."""
    zone = user_zone(g.user)
    form = month_form("kpis", request.args, zone)
    computed = _compute(form, zone)
    if computed is None:
        return kpis()
    response: Response = csv_response(KpiRowSchema(many=True).dump(computed[1]), COLUMNS, "kpis.csv")
    return response
