"""The KPIs (RULES.md §9) against their targets (DSP-5) for managers and supervisors: whole months in the user's
local time, one row per station, technician or month, and the same figures as CSV. The API's schema, service and
roles (backend.kpis)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import marshmallow as ma
from flask import Response, g, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from backend.accounts.models import Role, User
from backend.console import bp
from backend.console.forms import ConsoleForm
from backend.console.i18n import lazy_gettext as _l
from backend.console.i18n import station_zone
from backend.console.pages import console_page
from backend.console.render import render_page
from backend.http.context import db, onsite
from backend.http.csv import csv_response
from backend.kpis import service
from backend.kpis.schemas import COLUMNS, KpiQuerySchema, KpiRowSchema
from backend.stations.models import Station
from backend.technicians.models import Technician

KPI_READERS = (Role.MANAGER, Role.SUPERVISOR)
# Named as the API's query (from, to), so its refusals land beside the same fields; here they hold months.
FIELDS = ("from", "to", "group_by")
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


def _zone(user: User) -> ZoneInfo:
    """The user's local time: their first station's zone, the company's default for head office."""
    station = db().get(Station, min(user.station_ids)) if user.station_ids else None
    return station_zone(station)


def _month_start(form: ConsoleForm, name: str, zone: ZoneInfo, *, after: bool = False) -> datetime:
    """The first moment of the month named in the form (YYYY-MM, <input type="month">), or of the next one."""
    try:
        moment = datetime.strptime(form.value(name), "%Y-%m").replace(tzinfo=zone)
    except ValueError:
        raise ma.ValidationError({name: [_l("Enter a month.")]}) from None
    if after:
        moment = moment.replace(year=moment.year + moment.month // 12, month=moment.month % 12 + 1)
    return moment


def _query(form: ConsoleForm, zone: ZoneInfo) -> dict[str, Any]:
    """The form as the API's query: whole local months, the last one included."""
    start, end = _month_start(form, "from", zone), _month_start(form, "to", zone, after=True)
    return KpiQuerySchema().load({"from": start.isoformat(), "to": end.isoformat(),
                                  **({"group_by": form.value("group_by")} if form.value("group_by") else {})})


def _labels(group_by: str | None, groups: list[str | None]) -> dict[str | None, str]:
    """What each group is called: a station's or technician's name, or the month itself."""
    ids = sorted(int(g_) for g_ in groups if g_ is not None and g_.isdigit())
    if group_by == service.GroupBy.STATION and ids:
        return {str(i): name for i, name in db().execute(select(Station.id, Station.name).where(Station.id.in_(ids)))}
    if group_by == service.GroupBy.TECHNICIAN and ids:
        return {str(i): name for i, name in db().execute(
            select(Technician.id, User.full_name).join(User, User.id == Technician.user_id)
            .where(Technician.id.in_(ids)))}
    return {}


def _table(rows: list[service.Row], group_by: str | None) -> Table:
    groups = list(dict.fromkeys(row.group for row in rows))
    if group_by is not None:  # the groups in order, with the rows not in any group (no technician yet) last
        groups = sorted(groups, key=lambda g_: (g_ is None, int(g_) if g_ and g_.isdigit() else 0, g_ or ""))
    return Table(groups, {(row.group, row.kpi, row.detail): row for row in rows}, _labels(group_by, groups))


def _form(args: Mapping[str, str], zone: ZoneInfo) -> ConsoleForm:
    this_month = onsite().clock.now().astimezone(zone).strftime("%Y-%m")
    return ConsoleForm("kpis", {"from": this_month, "to": this_month, **args}, fields=FIELDS)


def _compute(form: ConsoleForm, zone: ZoneInfo) -> tuple[dict[str, Any], list[service.Row]] | None:
    def compute() -> tuple[dict[str, Any], list[service.Row]]:
        query = _query(form, zone)
        return query, service.compute(db(), start=query["start"], end=query["end"], group_by=query["group_by"],
                                      now=onsite().clock.now(), settings=onsite().settings, user=g.user)

    return form.submit(compute)


@bp.route("/kpis")
@console_page(*KPI_READERS, nav=_l("KPIs"), order=50)
def kpis() -> ResponseReturnValue:
    zone = _zone(g.user)
    form = _form(request.args, zone)
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
    zone = _zone(g.user)
    form = _form(request.args, zone)
    computed = _compute(form, zone)
    if computed is None:
        return kpis()
    response: Response = csv_response(KpiRowSchema(many=True).dump(computed[1]), COLUMNS, "kpis.csv")
    return response
