"""What the console map shows a signed-in user: their stations with the SLA radius, the open requests' sites with
the board's urgency, their technicians at the last known position, and for a focused request its ranked
candidates. Read through the dispatch services, so the station scope (SCP-1) is the board's. No Flask here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.accounts.models import User
from backend.accounts.scope import within_scope
from backend.config import Settings
from backend.console.urgency import Urgency, open_requests, urgency
from backend.dispatch import service as dispatch
from backend.dispatch.candidates import DEFAULT_LIMIT, LAST_KNOWN_POSITION, Candidate
from backend.dispatch.models import ServiceRequest
from backend.dispatch.policy import current_policy
from backend.stations.models import Station
from backend.technicians.models import Technician

@dataclass(frozen=True)
class MapStation:
    id: int
    code: str
    name: str
    latitude: float
    longitude: float
    receives_work: bool  # DSP-10: false while barred (停止派工)
    timezone: str  # its people's times are shown in this zone


@dataclass(frozen=True)
class MapRequest:
    id: int
    number: str
    customer: str
    site_address: str
    latitude: float
    longitude: float
    tier: str
    status: str
    station_id: int
    next_due_at: datetime | None
    urgency: Urgency


@dataclass(frozen=True)
class MapTechnician:
    id: int
    name: str
    latitude: float
    longitude: float
    seen_at: datetime | None
    stale: bool
    on_shift: bool
    home_station_id: int


@dataclass(frozen=True)
class MapCandidate:
    """A ranked candidate of the focused request (DSP-6), at the position its distance was measured from."""
    candidate: Candidate
    latitude: float
    longitude: float


@dataclass(frozen=True)
class MapFeatures:
    radius_km: float
    stations: list[MapStation]
    requests: list[MapRequest]
    technicians: list[MapTechnician]
    focus: MapRequest | None
    candidates: list[MapCandidate]


def map_features(session: Session, user: User, now: datetime, settings: Settings, *,
                 focus_request_id: int | None = None) -> MapFeatures:
    """The map of `user`'s stations as of `now`. A focus request outside them raises NotFound, like the API."""
    stations = [MapStation(s.id, s.code, s.name, s.latitude, s.longitude, s.may_receive_work, s.timezone)
                for s in session.scalars(select(Station).where(Station.active.is_(True),
                                                               within_scope(Station.id, user)).order_by(Station.id))]
    requests = [_request(r, now, settings) for r in session.scalars(open_requests({}, now, user))]
    technicians = [_technician(t, now, settings) for t in session.scalars(
        select(Technician).where(Technician.active.is_(True), Technician.last_latitude.is_not(None),
                                 Technician.last_longitude.is_not(None),
                                 within_scope(Technician.home_station_id, user)).order_by(Technician.id))]
    focus, candidates = None, []
    if focus_request_id is not None:
        focused, ranked = dispatch.candidates_for(session, focus_request_id, user, now=now,
                                                  travel_speed_kmh=settings.travel_speed_kmh, limit=DEFAULT_LIMIT)
        focus = _request(focused, now, settings)
        candidates = _placed(session, ranked)
    return MapFeatures(radius_km=current_policy(session, settings, now).radius_km, stations=stations,
                       requests=requests, technicians=technicians, focus=focus, candidates=candidates)


def _request(r: ServiceRequest, now: datetime, settings: Settings) -> MapRequest:
    deadline = r.next_deadline
    return MapRequest(r.id, r.number, r.customer.name, r.site_address, r.site_latitude, r.site_longitude, r.tier,
                      r.status, r.nearest_station_id, deadline.due_at if deadline else None,
                      urgency(deadline, now, settings.console_urgent_hours))


def _technician(t: Technician, now: datetime, settings: Settings) -> MapTechnician:
    seen_at = t.last_position_at
    stale = seen_at is None or now - seen_at > timedelta(hours=settings.map_stale_position_hours)
    return MapTechnician(t.id, t.name, t.last_latitude, t.last_longitude, seen_at, stale,  # type: ignore[arg-type]
                         t.on_shift, t.home_station_id)


def _placed(session: Session, ranked: list[Candidate]) -> list[MapCandidate]:
    """Where each candidate was measured from: their last fix, else their home station (as the ranking did)."""
    placed = []
    for candidate in ranked:
        if candidate.position_source == LAST_KNOWN_POSITION:
            technician = session.get(Technician, candidate.technician_id)
            position = (technician.last_latitude, technician.last_longitude)  # type: ignore[union-attr]
        else:
            station = session.get(Station, candidate.home_station_id)
            position = (station.latitude, station.longitude)  # type: ignore[union-attr]
        placed.append(MapCandidate(candidate, *position))  # type: ignore[arg-type]
    return placed
