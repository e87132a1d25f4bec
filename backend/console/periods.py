"""Reports by period in the console (KPIs, costs, failures): whole months on the user's own calendar (their first
station's time zone; the company's default for head office), turned into the `from` and `to` the API's
PeriodQuerySchema takes; rows per local month; and the names of the groups the reports come back in."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar
from zoneinfo import ZoneInfo

import marshmallow as ma
from flask import g, request
from sqlalchemy import select

from backend.accounts.models import User
from backend.clock import next_month
from backend.console.forms import ConsoleForm
from backend.console.i18n import lazy_gettext as _l
from backend.console.i18n import station_zone
from backend.console.people import technician_names
from backend.http.context import db, onsite
from backend.parts.models import Part
from backend.stations.models import Station

T = TypeVar("T")
# Named as the API's query (from, to), so its refusals land beside the same fields; in the form they hold months.
FIELDS = ("from", "to", "group_by")
MONTH = "month"
# One row per month is one report per month: a few years at most.
MAX_MONTH_ROWS = 36


@dataclass(frozen=True)
class Report(Generic[T]):
    """A report page's form, the query it made (the API's, loaded by its schema) and what came back; no query and
    no result when the form was refused."""

    form: ConsoleForm
    query: dict[str, Any] | None
    result: T | None
    zone: ZoneInfo

    @property
    def group_by(self) -> str | None:
        return self.query["group_by"] if self.query else None

    @property
    def csv_arguments(self) -> dict[str, str]:
        """The form's own fields, for the CSV link (never the request's other arguments)."""
        return {name: self.form.value(name) for name in FIELDS if self.form.value(name)}


def run_report(name: str, schema: ma.Schema, make: Callable[[dict[str, Any], ZoneInfo], T]) -> Report[T]:
    """The report the request's months and rows ask for, as the signed-in user may see it (this month by default);
    a refusal is kept on the form, beside its field."""
    zone = user_zone(g.user)
    this_month = onsite().clock.now().astimezone(zone).strftime("%Y-%m")
    form = ConsoleForm(name, {"from": this_month, "to": this_month, **request.args}, fields=FIELDS)

    def made() -> tuple[dict[str, Any], T]:
        start = _month_start(form, "from", zone)
        end = next_month(_month_start(form, "to", zone))
        if end is None:
            raise ma.ValidationError({"to": [_l("Choose an earlier month.")]})
        query = schema.load({"from": start.isoformat(), "to": end.isoformat(),
                             **({"group_by": form.value("group_by")} if form.value("group_by") else {})})
        return query, make(query, zone)

    found = form.submit(made)
    return Report(form, found[0] if found else None, found[1] if found else None, zone)


def local_months(start: datetime, end: datetime, zone: ZoneInfo) -> Iterator[tuple[str, datetime, datetime]]:
    """Each month of [start, end) on the local calendar, as (YYYY-MM, its first moment, the next month's)."""
    months = []
    cursor: datetime | None = start.astimezone(zone)
    while cursor is not None and cursor < end:
        following = next_month(cursor)
        months.append((cursor.strftime("%Y-%m"), cursor, following or end))
        cursor = following
    if len(months) > MAX_MONTH_ROWS:
        raise ma.ValidationError({"to": [_l("At most %(count)s months one row each: choose fewer months or other "
                                            "rows.", count=MAX_MONTH_ROWS)]})
    return iter(months)


def user_zone(user: User) -> ZoneInfo:
    station = db().get(Station, min(user.station_ids)) if user.station_ids else None
    return station_zone(station)


def _month_start(form: ConsoleForm, name: str, zone: ZoneInfo) -> datetime:
    """The first moment of the month named in the form (YYYY-MM, <input type="month">)."""
    try:
        return datetime.strptime(form.value(name), "%Y-%m").replace(tzinfo=zone)
    except ValueError:
        raise ma.ValidationError({name: [_l("Enter a month.")]}) from None


def group_labels(group_by: str | None, groups: list[str | None]) -> dict[str, str]:
    """What each group is called, where the report gives an id: a station's or technician's name, a part's number
    and name. Other groups (a model, a supplier, a month) are their own names."""
    ids = sorted(int(group) for group in groups if group is not None and group.isdigit())
    if not ids:
        return {}
    statements = {"station": select(Station.id, Station.name),
                  "part": select(Part.id, Part.part_number + " " + Part.name)}
    if group_by == "technician":
        names = technician_names(ids)
    elif group_by in statements:
        statement = statements[group_by]
        names = dict(db().execute(statement.where(statement.selected_columns[0].in_(ids))).all())
    else:
        return {}
    return {str(ident): name for ident, name in names.items()}
