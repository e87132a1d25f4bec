"""Reports by period in the console (KPIs, costs): whole months on the user's own calendar (their first station's
time zone; the company's default for head office), turned into the `from` and `to` the API's PeriodQuerySchema
takes, and the names of the groups the reports come back in."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

import marshmallow as ma
from sqlalchemy import select

from backend.accounts.models import User
from backend.console.forms import ConsoleForm
from backend.console.i18n import lazy_gettext as _l
from backend.console.i18n import station_zone
from backend.http.context import db, onsite
from backend.parts.models import Part
from backend.stations.models import Station
from backend.technicians.models import Technician

# Named as the API's query (from, to), so its refusals land beside the same fields; in the form they hold months.
FIELDS = ("from", "to", "group_by")


def user_zone(user: User) -> ZoneInfo:
    station = db().get(Station, min(user.station_ids)) if user.station_ids else None
    return station_zone(station)


def month_form(name: str, args: Mapping[str, str], zone: ZoneInfo) -> ConsoleForm:
    """The form, this month (on the user's calendar) by default."""
    this_month = onsite().clock.now().astimezone(zone).strftime("%Y-%m")
    return ConsoleForm(name, {"from": this_month, "to": this_month, **args}, fields=FIELDS)


def period(form: ConsoleForm, zone: ZoneInfo) -> dict[str, str]:
    """The form's months as the API's query: from the first moment of the first month to the first moment after the
    last one, with the group if one is chosen."""
    start, end = _month_start(form, "from", zone), _month_start(form, "to", zone, after=True)
    return {"from": start.isoformat(), "to": end.isoformat(),
            **({"group_by": form.value("group_by")} if form.value("group_by") else {})}


def _month_start(form: ConsoleForm, name: str, zone: ZoneInfo, *, after: bool = False) -> datetime:
    """The first moment of the month named in the form (YYYY-MM, <input type="month">), or of the next one."""
    try:
        moment = datetime.strptime(form.value(name), "%Y-%m").replace(tzinfo=zone)
    except ValueError:
        raise ma.ValidationError({name: [_l("Enter a month.")]}) from None
    if after:
        moment = moment.replace(year=moment.year + moment.month // 12, month=moment.month % 12 + 1)
    return moment


def group_labels(group_by: str | None, groups: list[str | None]) -> dict[str, str]:
    """What each group is called, where the report gives an id: a station's or technician's name, a part's number
    and name. Other groups (a model, a supplier, a month) are their own names."""
    ids = sorted(int(group) for group in groups if group is not None and group.isdigit())
    names = {"station": select(Station.id, Station.name),
             "technician": select(Technician.id, User.full_name).join(User, User.id == Technician.user_id),
             "part": select(Part.id, Part.part_number + " " + Part.name)}
    if group_by not in names or not ids:
        return {}
    statement = names[group_by]
    key = statement.selected_columns[0]
    return {str(ident): name for ident, name in db().execute(statement.where(key.in_(ids)))}
