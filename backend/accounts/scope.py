"""Station scope (SCP-1): an office user assigned stations sees and acts on those stations' requests, jobs,
reports, parts and KPIs only; a user with none acts for the whole company (head office). A request belongs to its
nearest station, frozen at intake (DSP-4); a job, an old part and a requisition to their request's station.

Every service that lists or fetches something station-bound narrows it here, so the API and any other front end
get the same answer. Outside the scope a single object answers as missing (404), so ids cannot be probed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, select, true
from sqlalchemy.orm import Session

from backend.accounts.models import User
from backend.errors import DomainError, NotFound
from backend.stations.models import Station


def stations_of(user: User) -> frozenset[int] | None:
    """The stations the user acts for, or None for the whole company."""
    return frozenset(user.station_ids) or None


def within_scope(station_column: Any, user: User) -> ColumnElement[bool]:
    """A WHERE condition keeping the rows whose station (`station_column`) the user acts for."""
    return within_stations(station_column, stations_of(user))


def within_stations(station_column: Any, stations: frozenset[int] | None) -> ColumnElement[bool]:
    return true() if stations is None else station_column.in_(sorted(stations))


def in_scope(station_id: int | None, user: User) -> bool:
    stations = stations_of(user)
    return stations is None or station_id in stations


def require_in_scope(station_id: int | None, user: User, what: str, ident: object) -> None:
    """A single object outside the user's stations answers exactly like one that does not exist."""
    if not in_scope(station_id, user):
        raise NotFound(what, ident)


def assign_stations(session: Session, user: User, station_ids: list[int]) -> None:
    """An admin sets the user's stations; an empty list makes them head office again."""
    known = set(session.scalars(select(Station.id).where(Station.id.in_(station_ids))))
    unknown = sorted(set(station_ids) - known)
    if unknown:
        raise DomainError("station_ids", f"no station with id {', '.join(map(str, unknown))}")
    user.station_ids = station_ids
