"""HTTP for the console map: its data as JSON (labels already in the page's language), a full-page map, and the
tile server's origin for the Content-Security-Policy."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import babel.dates
from flask import Flask, Response, g, jsonify, url_for
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue
from flask_babel import get_locale

from backend.config import ConfigurationError, Settings
from backend.console import bp, content_security_policy
from backend.console.i18n import gettext as _
from backend.console.i18n import lazy_gettext as _l
from backend.console.i18n import local_time, number
from backend.console.labels import label
from backend.console.map.service import MapCandidate, MapFeatures, MapRequest, MapStation, MapTechnician, map_features
from backend.console.pages import console_page
from backend.console.render import render_page
from backend.dispatch.views import READERS
from backend.http.context import db, onsite

# The console's request page; a request marker links there.
REQUEST_PAGE = "console.request_detail"


def tile_origin(settings: Settings) -> str | None:
    """The scheme://host[:port] of ONSITE_MAP_TILE_URL for the page's CSP img-src, or None without tiles. A `{s}`
    subdomain placeholder becomes a `*.` wildcard, the only kind a CSP source may have."""
    if not settings.map_tile_url:
        return None
    parts = urlsplit(settings.map_tile_url)
    host = parts.netloc
    if host.startswith("{s}."):
        host = "*." + host[len("{s}."):]
    if parts.scheme not in ("http", "https") or not host or "{" in host or "@" in host:
        raise ConfigurationError(f"ONSITE_MAP_TILE_URL={settings.map_tile_url!r} must be an http(s) URL template "
                                 "such as https://tiles.example.com/{z}/{x}/{y}.png")
    return f"{parts.scheme}://{host}"


@bp.record_once
def _check_tile_url(state: BlueprintSetupState) -> None:
    """A malformed tile URL stops the start, not the first page."""
    app: Flask = state.app
    tile_origin(app.extensions["onsite"].settings)


@bp.after_request
def _allow_tile_server(response: Response) -> Response:
    """With a tile server configured, console pages may load its images. Runs before the console's own
    after_request (registered earlier), which keeps a policy already set."""
    origin = tile_origin(onsite().settings)
    if origin and "Content-Security-Policy" not in response.headers:
        response.headers["Content-Security-Policy"] = content_security_policy({"img-src": [origin]})
    return response


@bp.app_template_global()
def map_data_url_for(focus_request_id: int | None = None) -> str:
    """The map's data: the whole map of the user's stations, or centred on one request with its candidates."""
    if focus_request_id is None:
        return url_for("console.map_data")
    return url_for("console.map_request_data", service_request_id=focus_request_id)


@bp.route("/map")
@console_page(*READERS, nav=_l("Map"), order=15)
def map_page() -> ResponseReturnValue:
    return render_page("console/map/page.html")


@bp.route("/map/data.json")
@console_page(*READERS)
def map_data() -> ResponseReturnValue:
    return _as_json(_features(None))


@bp.route("/map/requests/<id:service_request_id>/data.json")
@console_page(*READERS)
def map_request_data(service_request_id: int) -> ResponseReturnValue:
    """The same map, centred on one request (404 outside the user's stations), with its ranked candidates."""
    return _as_json(_features(service_request_id))


def _features(focus_request_id: int | None) -> MapFeatures:
    app = onsite()
    return map_features(db(), g.user, app.clock.now(), app.settings, focus_request_id=focus_request_id)


def _as_json(features: MapFeatures) -> ResponseReturnValue:
    settings = onsite().settings
    # Times are shown in the zone of the station the request or technician belongs to.
    zone_of = {s.id: s for s in features.stations}.get
    response = jsonify({
        "radius_km": features.radius_km,
        "radius_label": _("%(km)s km service radius", km=number(features.radius_km)),
        "tiles": {"url": settings.map_tile_url, "attribution": settings.map_tile_attribution}
        if settings.map_tile_url else None,
        "stations": [_station(s, features.radius_km) for s in features.stations],
        "requests": [_request(r, zone_of(r.station_id)) for r in features.requests],
        "technicians": [_technician(t, zone_of(t.home_station_id)) for t in features.technicians],
        "focus": _request(features.focus, zone_of(features.focus.station_id)) if features.focus else None,
        "candidates": [_candidate(c, zone_of(c.candidate.home_station_id)) for c in features.candidates],
    })
    response.headers["Cache-Control"] = "no-store"
    return response


def _station(s: MapStation, radius_km: float) -> dict[str, Any]:
    lines = [s.name, _("%(km)s km service radius", km=number(radius_km))]
    if not s.receives_work:
        lines.append(_("Barred from receiving work (DSP-10)"))
    return {"id": s.id, "code": s.code, "name": s.name, "lat": s.latitude, "lon": s.longitude,
            "receives_work": s.receives_work, "label": s.code, "lines": lines}


URGENCY_LABELS = {"ok": _l("Plenty of time"), "soon": _l("Due soon"), "missed": _l("Deadline missed"),
                  "none": _l("No open deadline")}


def _request(r: MapRequest, station: MapStation | None) -> dict[str, Any]:
    due = _("Next deadline: %(time)s", time=local_time(r.next_due_at, station)) if r.next_due_at else None
    return {"id": r.id, "number": r.number, "lat": r.latitude, "lon": r.longitude, "urgency": str(r.urgency),
            "label": r.number, "url": url_for(REQUEST_PAGE, service_request_id=r.id),
            "lines": [line for line in (r.number, r.customer, r.site_address, str(label(r.tier, "tier")),
                                        str(label(r.status, "request_status")), str(URGENCY_LABELS[r.urgency]),
                                        due) if line]}


def _technician(t: MapTechnician, station: MapStation | None) -> dict[str, Any]:
    if t.seen_at is None:
        seen = _("Position time unknown")
    else:
        ago = babel.dates.format_timedelta(t.seen_at - onsite().clock.now(), add_direction=True,
                                           locale=str(get_locale()))
        seen = _("Seen %(time)s (%(ago)s)", time=local_time(t.seen_at, station), ago=ago)
    lines = [t.name, seen]
    if t.stale:
        lines.append(_("Position is out of date"))
    if not t.on_shift:
        lines.append(_("Off shift"))
    return {"id": t.id, "name": t.name, "lat": t.latitude, "lon": t.longitude, "stale": t.stale,
            "on_shift": t.on_shift, "label": t.name, "lines": lines}


def _candidate(placed: MapCandidate, station: MapStation | None) -> dict[str, Any]:
    c = placed.candidate
    meets = {True: _("Can meet the deadline"), False: _("Cannot meet the deadline"), None: None}[c.can_meet_deadline]
    lines = [f"#{c.rank} {c.name}", _("%(km)s km from the site, from the %(source)s", km=number(c.distance_km, 1),
                                       source=label(c.position_source, "position_source")),
             _("Arrives about %(time)s", time=local_time(c.eta, station)), meets,
             _("Open jobs: %(count)s", count=c.open_jobs)]
    return {"technician_id": c.technician_id, "rank": c.rank, "lat": placed.latitude, "lon": placed.longitude,
            "can_meet_deadline": c.can_meet_deadline, "label": f"#{c.rank}", "lines": [x for x in lines if x]}
