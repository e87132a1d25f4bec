"""The intake form: an agent or dispatcher registers a service request (INT-1..3) with the API's own schema
(ServiceRequestCreateSchema) and service function (register_request), as the API's INTAKE roles, so the console gets
the same refusals and audit records. After saving, the tier, distance, nearest station and frozen deadlines (DSP-4)
are shown: in the success banner, and on the request's page."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from zoneinfo import ZoneInfo

import babel.dates
import babel.lists
import marshmallow as ma
from flask import flash, g, jsonify, redirect, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from backend.accounts.scope import in_scope
from backend.console import bp
from backend.console.forms import ConsoleForm, datetime_local_value
from backend.console.i18n import current_language, local_time, number, station_zone
from backend.console.i18n import gettext as _
from backend.console.i18n import lazy_gettext as _l
from backend.console.labels import label, zip_labels
from backend.console.pages import console_page
from backend.console.render import render_page
from backend.customers.models import Customer, Unit
from backend.customers.service import customer_search
from backend.dispatch import service
from backend.dispatch.models import ServiceRequest
from backend.dispatch.schemas import CHANNELS, COMPLAINT_CLASSES, ServiceRequestCreateSchema
from backend.dispatch.sla import FaultCategory
from backend.dispatch.views import INTAKE
from backend.http.api import _unstorable_field
from backend.http.crud import apply_filters
from backend.http.context import db, onsite
from backend.http.fields import Id, Text
from backend.http.problems import problem
from backend.stations.models import Station
from backend.technicians.models import TechnicianSkill

FORM = "intake"
FIELDS = tuple(ServiceRequestCreateSchema().load_fields)
# Results offered by a picker as the person types; enough to choose from, few enough to read.
SEARCH_LIMIT = 20
# Without JavaScript the pickers are plain selects holding this many customers (or units) by name.
FALLBACK_LIMIT = 200


_ID = Id(in_query=True)


class SearchSchema(ma.Schema):
    q = Text(100, load_default="")
    customer_id = Id(in_query=True, load_default=None)


def office_zone() -> ZoneInfo:
    """The zone the person types times in: their (first) station's, or the company's default for head office."""
    station_ids = g.user.station_ids
    station = db().get(Station, min(station_ids)) if station_ids else None
    return station_zone(station)


def _zone_name(zone: ZoneInfo) -> str:
    """"China Standard Time (Asia/Shanghai)": the zone as local_time names it (at this moment), and its id."""
    now = onsite().clock.now().astimezone(zone)
    return f"{babel.dates.get_timezone_name(now, locale=current_language())} ({zone.key})"


def _customer_label(customer: Customer) -> str:
    return " · ".join(part for part in (customer.name, customer.contact_person, ", ".join(customer.phones or []))
                      if part)


def _unit_label(unit: Unit, customer_name: str | None = None) -> str:
    return " · ".join(part for part in (unit.serial_number, unit.model, customer_name) if part)


def _picker_options(form: ConsoleForm) -> dict[str, list[tuple[str, str]]]:
    """The pickers' <option>s: what works without JavaScript, and the chosen values when the form comes back."""
    session = db()
    customers = session.scalars(select(Customer).order_by(Customer.name, Customer.id).limit(FALLBACK_LIMIT)).all()
    chosen_customer = _chosen(form, "customer_id", Customer)
    if chosen_customer is not None and chosen_customer not in customers:
        customers = [chosen_customer, *customers]
    units_query = select(Unit, Customer.name).join(Customer, Customer.id == Unit.customer_id)
    if chosen_customer is not None:
        units_query = units_query.where(Unit.customer_id == chosen_customer.id)
    units = session.execute(units_query.order_by(Unit.serial_number).limit(FALLBACK_LIMIT)).all()
    chosen_unit = _chosen(form, "unit_id", Unit)
    if chosen_unit is not None and chosen_unit.id not in {unit.id for unit, _name in units}:
        units = [(chosen_unit, session.get(Customer, chosen_unit.customer_id).name), *units]
    return {
        "customers": [("", _("Choose a customer"))] + [(str(c.id), _customer_label(c)) for c in customers],
        "units": [("", _("Choose a unit"))] + [(str(u.id), _unit_label(u, name if chosen_customer is None else None))
                                                for u, name in units],
    }


def _chosen(form: ConsoleForm, name: str, model: type[Any]) -> Any:
    """The record a submitted picker names, if it names one (the schema judges the value itself)."""
    try:
        return db().get(model, _ID.deserialize(form.value(name)))
    except ma.ValidationError:
        return None


def _render(form: ConsoleForm, zone: ZoneInfo) -> ResponseReturnValue:
    skills = db().scalars(select(TechnicianSkill.skill).distinct().order_by(TechnicianSkill.skill)).all()
    return render_page(
        "console/intake/form.html", status=form.status, form=form, zone_name=_zone_name(zone),
        reported_default=datetime_local_value(onsite().clock.now(), zone), skills=skills,
        fault_categories=zip_labels(FaultCategory, "fault_category"), channels=zip_labels(CHANNELS, "channel"),
        complaint_classes=zip_labels(COMPLAINT_CLASSES, "complaint_class"),
        **_picker_options(form))


def registered_summary(service_request: ServiceRequest) -> str:
    """What intake computed and froze (DSP-4), in one sentence for the success banner."""
    station = service_request.nearest_station
    deadlines = babel.lists.format_list([_("%(kind)s by %(time)s", kind=label(d.kind, "deadline_kind"),
                                           time=local_time(d.due_at, station)) for d in service_request.deadlines],
                                        locale=current_language())
    return _("Registered %(number)s. Tier: %(tier)s. Nearest station: %(station)s, %(km)s km away. Deadlines: "
             "%(deadlines)s.", number=service_request.number, tier=label(service_request.tier, "tier"),
             station=station.name, km=number(service_request.distance_km, 1), deadlines=deadlines)


@bp.route("/intake", methods=["GET", "POST"])
@console_page(*INTAKE, nav=_l("New request"), order=12)
def intake() -> ResponseReturnValue:
    zone = office_zone()
    if request.method == "GET":
        return _render(ConsoleForm(FORM, fields=FIELDS), zone)
    form = ConsoleForm(FORM, request.form, fields=FIELDS)
    app = onsite()
    created = form.submit(lambda: service.register_request(
        db(), form.load(ServiceRequestCreateSchema(), zone=zone), actor_id=g.user.id, now=app.clock.now(),
        settings=app.settings))
    if created is None:
        return _render(form, zone)
    flash(registered_summary(created), "success")
    # A request whose nearest station is outside the person's stations (SCP-1) is registered all the same, but its
    # page is not theirs to open: the banner above the next, empty form says what was computed.
    if in_scope(created.nearest_station_id, g.user):
        return redirect(url_for("console.request_detail", service_request_id=created.id))
    return redirect(url_for("console.intake"))


def _searching(view: Callable[[dict[str, Any]], ResponseReturnValue]) -> Callable[[], ResponseReturnValue]:
    """Reads a picker's query string (`q`, `customer_id`); one that does not parse is a 422 problem naming it."""
    @wraps(view)
    def searching() -> ResponseReturnValue:
        try:
            found = _unstorable_field(request.args.to_dict())
            if found is not None:  # as the API's parser refuses it (a NUL)
                raise ma.ValidationError({found[0]: [found[1]]})
            arguments = SearchSchema().load(request.args, unknown=ma.EXCLUDE)
        except ma.ValidationError as refusal:
            return problem(422, "the search is not valid", errors=[
                {"field": name, "in": "query", "detail": " ".join(map(str, texts))}
                for name, texts in refusal.messages.items()])
        return view({**arguments, "q": arguments["q"].strip()})
    return searching


@bp.route("/intake/customers.json")
@console_page(*INTAKE)
@_searching
def intake_customers(arguments: dict[str, Any]) -> ResponseReturnValue:
    """Customers whose name, contact person, address or phone contains `q` (the API's customer search)."""
    stmt = select(Customer)
    if arguments["q"]:
        stmt = apply_filters(Customer, stmt, {"q": arguments["q"]}, custom={"q": customer_search})
    customers = db().scalars(stmt.order_by(Customer.name, Customer.id).limit(SEARCH_LIMIT)).all()
    return jsonify({"results": [{"id": c.id, "label": _customer_label(c), "name": c.name,
                                 "address": c.address or ""} for c in customers]})


@bp.route("/intake/units.json")
@console_page(*INTAKE)
@_searching
def intake_units(arguments: dict[str, Any]) -> ResponseReturnValue:
    """Units whose serial number or model contains `q`, of the chosen customer (`customer_id`) or of any."""
    filters = {name: arguments[name] for name in ("customer_id", "q") if arguments[name]}
    stmt = apply_filters(Unit, select(Unit, Customer).join(Customer, Customer.id == Unit.customer_id), filters,
                         ("serial_number", "model"))
    rows = db().execute(stmt.order_by(Unit.serial_number).limit(SEARCH_LIMIT)).all()
    return jsonify({"results": [{"id": u.id, "label": _unit_label(u), "customer_id": c.id, "customer_name": c.name,
                                 "customer_label": _customer_label(c), "customer_address": c.address or ""}
                                for u, c in rows]})
