"""Who can take a request, and in what order (DSP-6).

Eligible: the technician is active and on shift, has the required skill when the request names one, and their home
station is active and may receive work (DSP-10). Ranked by: can arrive before the on-site deadline, then distance,
then open jobs, then technician id (so equal candidates always come out in the same order).

Scale: a technician's position is their last known fix, else their home station's position. Both are indexed
(technicians' last lat/lon, stations' lat/lon), so the search asks the index for a bounding box around the site, one
query per source, and measures exact geodesic distances only for the few technicians in the box.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, literal, select, true, union_all
from sqlalchemy.orm import Session

from backend.accounts.models import User
from backend.dispatch.geo import BoundingBox, Found, distance_km, nearest
from backend.dispatch.models import CLOSED_JOB_STATUSES, Job, JobTechnician, ServiceRequest
from backend.dispatch.sla import DeadlineKind, DeadlineStatus
from backend.errors import DomainError
from backend.stations.models import Station
from backend.technicians.models import Technician, TechnicianSkill

LAST_KNOWN_POSITION = "last_known_position"
HOME_STATION = "home_station"
# Most searches find enough technicians within a city's reach; the box widens (x4) from here when they don't.
START_RADIUS_KM = 25.0
DEFAULT_LIMIT = 10
MAX_LIMIT = 50


@dataclass(frozen=True)
class Candidate:
    technician_id: int
    name: str
    home_station_id: int
    position_source: str
    distance_km: float
    eta: datetime
    can_meet_deadline: bool | None  # None: the request has no open on-site deadline to meet (yet)
    open_jobs: int
    rank: int | None = None  # None: picked by the dispatcher from outside the ranked list
    reason: str = "not among the ranked candidates"

    @property
    def sort_key(self) -> tuple[bool, float, int, int]:
        return (self.can_meet_deadline is False, self.distance_km, self.open_jobs, self.technician_id)

    def as_record(self) -> dict[str, Any]:
        """JSON for the dispatch decision (DSP-8)."""
        return {"technician_id": self.technician_id, "name": self.name, "home_station_id": self.home_station_id,
                "position_source": self.position_source, "distance_km": self.distance_km,
                "eta": self.eta.isoformat(), "can_meet_deadline": self.can_meet_deadline,
                "open_jobs": self.open_jobs, "rank": self.rank, "reason": self.reason}


@dataclass(frozen=True)
class _Position:
    technician_id: int
    latitude: float
    longitude: float
    source: str


def _criteria(required_skill: str | None, stations: frozenset[int] | None) -> list[tuple[str, ColumnElement[bool]]]:
    """DSP-6 as SQL, each condition with the words that explain its failure. The search ANDs them; an explicit
    pick selects them one by one to say which failed, so the rule is written once. `stations`: the dispatcher's
    (SCP-1), whose technicians they may send; None for the whole company."""
    criteria = [
        ("is not active", Technician.active.is_(True)),
        ("is not on shift", Technician.on_shift.is_(True)),
        ("has an inactive home station", Station.active.is_(True)),
        # rule DSP-10: a barred station (停止派工) gets no work.
        ("has a home station barred from receiving work", Station.may_receive_work.is_(True)),
    ]
    if required_skill:
        criteria.append((f"lacks the required skill {required_skill!r}",
                         Technician.skill_rows.any(TechnicianSkill.skill == required_skill)))
    if stations is not None:
        criteria.append(("is not based at one of your stations", Technician.home_station_id.in_(sorted(stations))))
    return criteria


def on_site_due(service_request: ServiceRequest) -> datetime | None:
    deadline = service_request.deadline(DeadlineKind.ON_SITE)
    return deadline.due_at if deadline is not None and deadline.status == DeadlineStatus.OPEN else None


def _positions(session: Session, *conditions: ColumnElement[bool], fix_area: ColumnElement[bool],
               home_area: ColumnElement[bool]) -> list[_Position]:
    """Technicians where dispatch reckons them to be: their last known position, else their home station (DSP-6).
    Each branch is narrowed by its own condition, so each can use its own index."""
    with_fix = (select(Technician.id, Technician.last_latitude, Technician.last_longitude,
                       literal(LAST_KNOWN_POSITION))
                .join(Station, Station.id == Technician.home_station_id)
                .where(*conditions, Technician.last_latitude.is_not(None), fix_area))
    at_home = (select(Technician.id, Station.latitude, Station.longitude, literal(HOME_STATION))
               .join(Station, Station.id == Technician.home_station_id)
               .where(*conditions, Technician.last_latitude.is_(None), home_area))
    return [_Position(*row) for row in session.execute(union_all(with_fix, at_home))]


def find_candidates(session: Session, service_request: ServiceRequest, *, now: datetime, travel_speed_kmh: float,
                    limit: int, stations: frozenset[int] | None = None) -> list[Candidate]:
    """The `limit` best eligible technicians, ranked (DSP-6); only those based at `stations` when given (SCP-1)."""
    eligible = and_(*(condition for _words, condition in _criteria(service_request.required_skill, stations)))

    def in_box(box: BoundingBox) -> list[_Position]:
        # Technicians without a fix are found through the stations in the box (their lat/lon index), then the
        # home-station index of dispatch.models: never a scan of everyone who has not reported a position.
        stations_in_box = select(Station.id).where(box.where(Station.latitude, Station.longitude))
        return _positions(session, eligible,
                          fix_area=box.where(Technician.last_latitude, Technician.last_longitude),
                          home_area=Technician.home_station_id.in_(stations_in_box))

    site = (service_request.site_latitude, service_request.site_longitude)
    found = nearest(site, in_box, lambda p: (p.latitude, p.longitude), lambda p: p.technician_id,
                    at_least=limit, start_km=START_RADIUS_KM)
    # Open jobs only break ties in distance, so they are needed for the first `limit` and any tied with the last.
    if len(found) > limit:
        found = [f for f in found if f.distance_km <= found[limit - 1].distance_km]
    candidates = _evaluate(session, service_request, found, now=now, travel_speed_kmh=travel_speed_kmh)
    return rank(candidates)[:limit]


def evaluate_crew(session: Session, service_request: ServiceRequest, technician_ids: Sequence[int], *,
                  now: datetime, travel_speed_kmh: float, stations: frozenset[int] | None = None) -> list[Candidate]:
    """The dispatcher's own pick: every one must exist and be eligible (DSP-6); measured like a candidate."""
    criteria = _criteria(service_request.required_skill, stations)
    verdicts = {row[0]: row[1:] for row in session.execute(
        select(Technician.id, *(condition for _words, condition in criteria))
        .join(Station, Station.id == Technician.home_station_id)
        .where(Technician.id.in_(technician_ids)))}
    problems = []
    for ident in technician_ids:
        if ident not in verdicts:
            problems.append(f"technician {ident} does not exist")
            continue
        failed = [words for (words, _condition), ok in zip(criteria, verdicts[ident], strict=True) if not ok]
        if failed:
            problems.append(f"technician {ident} {' and '.join(failed)}")
    if problems:
        raise DomainError("technician_ids", "not eligible (DSP-6): " + "; ".join(problems))
    site = (service_request.site_latitude, service_request.site_longitude)
    positions = {p.technician_id: p for p in _positions(session, Technician.id.in_(technician_ids),
                                                         fix_area=true(), home_area=true())}
    found = [Found(positions[i], distance_km(site, (positions[i].latitude, positions[i].longitude)))
             for i in technician_ids]
    return _evaluate(session, service_request, found, now=now, travel_speed_kmh=travel_speed_kmh)


def _evaluate(session: Session, service_request: ServiceRequest, found: list[Found[_Position]], *, now: datetime,
              travel_speed_kmh: float) -> list[Candidate]:
    ids = [f.item.technician_id for f in found]
    if not ids:
        return []
    details = {row.id: row for row in session.execute(
        select(Technician.id, Technician.home_station_id, User.full_name)
        .join(User, User.id == Technician.user_id).where(Technician.id.in_(ids)))}
    loads = open_jobs(session, ids)
    due = on_site_due(service_request)
    candidates = []
    for f in found:
        ident = f.item.technician_id
        # rule DSP-6: ETA = now + distance / travel speed.
        eta = now + timedelta(hours=f.distance_km / travel_speed_kmh)
        candidates.append(Candidate(
            technician_id=ident, name=details[ident].full_name, home_station_id=details[ident].home_station_id,
            position_source=f.item.source, distance_km=f.distance_km, eta=eta,
            can_meet_deadline=None if due is None else eta <= due, open_jobs=loads.get(ident, 0)))
    return candidates


def open_jobs(session: Session, technician_ids: Sequence[int]) -> dict[int, int]:
    """Counted from the jobs themselves at query time, so the count is as fresh as the last commit."""
    rows = session.execute(
        select(JobTechnician.technician_id, func.count())
        .join(Job, Job.id == JobTechnician.job_id)
        .where(JobTechnician.technician_id.in_(technician_ids), Job.status.not_in(CLOSED_JOB_STATUSES))
        .group_by(JobTechnician.technician_id))
    return {ident: count for ident, count in rows}


def rank(candidates: list[Candidate]) -> list[Candidate]:
    ordered = sorted(candidates, key=lambda c: c.sort_key)
    ranked: list[Candidate] = []
    for position, candidate in enumerate(ordered, start=1):
        ranked.append(replace(candidate, rank=position,
                              reason=_reason(candidate, ranked[-1] if ranked else None, position)))
    return ranked


def _reason(candidate: Candidate, above: Candidate | None, position: int) -> str:
    """Says which ranking key put the candidate below the one above it."""
    if candidate.can_meet_deadline is None:
        arrival = "no on-site deadline set yet"
    else:
        arrival = "can" if candidate.can_meet_deadline else "cannot"
        arrival += " arrive before the on-site deadline"
    facts = f"{arrival}; {candidate.distance_km:.3f} km away; {candidate.open_jobs} open job(s)"
    if above is None:
        return f"ranked first: {facts}"
    if candidate.can_meet_deadline != above.can_meet_deadline:
        why = f"unlike #{position - 1}, cannot arrive before the on-site deadline"
    elif candidate.distance_km != above.distance_km:
        why = f"farther than #{position - 1} ({above.distance_km:.3f} km)"
    elif candidate.open_jobs != above.open_jobs:
        why = f"as near as #{position - 1} but with more open jobs ({above.open_jobs})"
    else:
        why = f"tied with #{position - 1} on arrival, distance and open jobs; ordered by technician id"
    return f"ranked #{position}: {why}; {facts}"
