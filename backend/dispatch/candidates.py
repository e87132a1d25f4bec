"""Who can take a request, and in what order (DSP-6).

Eligible: the technician is active and on shift, has the required skill when the request names one, and their home
station is active and may receive work (DSP-10). Ranked by: can arrive before the on-site deadline, then distance,
then open jobs, then technician id (so equal candidates always come out in the same order).

Scale: a technician's position is their last known fix, else their home station's position. Every process keeps
them all in a k-nearest index (backend.dispatch.nearest), with whether they may be sent and their skills, fresh as
of the last commit; the search takes those who may qualify from it nearest first, has the database confirm the ones
that could make the list (with their names and open jobs: one query in the usual search), and measures exact
geodesic distances only for them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, func, select
from sqlalchemy.orm import Session

from backend.accounts.models import User
from backend.dispatch.eligibility import criteria
from backend.dispatch.geo import Found, distance_km
from backend.dispatch.models import CLOSED_JOB_STATUSES, Job, JobTechnician, ServiceRequest
from backend.dispatch.nearest import HOME_STATION as HOME_STATION
from backend.dispatch.nearest import LAST_KNOWN_POSITION as LAST_KNOWN_POSITION
from backend.dispatch.nearest import Position, index_for, positions
from backend.dispatch.sla import DeadlineKind, DeadlineStatus
from backend.errors import DomainError
from backend.stations.models import Station
from backend.technicians.models import Technician

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
class _Details:
    home_station_id: int
    name: str
    open_jobs: int


def on_site_due(service_request: ServiceRequest) -> datetime | None:
    deadline = service_request.deadline(DeadlineKind.ON_SITE)
    return deadline.due_at if deadline is not None and deadline.status == DeadlineStatus.OPEN else None


def find_candidates(session: Session, service_request: ServiceRequest, *, now: datetime, travel_speed_kmh: float,
                    limit: int, stations: frozenset[int] | None = None) -> list[Candidate]:
    """The `limit` best eligible technicians, ranked (DSP-6); only those based at `stations` when given (SCP-1)."""
    session.flush()  # the search sees the session's own changes, as any query of it would
    eligible_among = _eligible_among(service_request.required_skill, stations)
    details: dict[int, _Details] = {}

    def keep(ids: list[int]) -> list[int]:
        # Core, on the session's connection: the ORM's own work per statement would cost more than the query.
        batch = _details(session.connection().execute(eligible_among, {"ids": ids}))
        details.update(batch)
        return list(batch)

    site = (service_request.site_latitude, service_request.site_longitude)
    # The nearest `limit` and any tied with the last: open jobs, then ids, break ties in distance (rank).
    found = index_for(session).nearest(site, at_least=limit, keep=keep,
                                       qualifies=_may_qualify(service_request.required_skill, stations))
    return rank(_evaluate(service_request, found, details, now=now, travel_speed_kmh=travel_speed_kmh), limit)


def _may_qualify(required_skill: str | None, stations: frozenset[int] | None) -> Callable[[Position], bool]:
    """DSP-6 as the index knows a technician (fresh as of the last commit, and the session's own changes), so that
    the database is asked only about the nearest of those who may qualify; its query (`_eligible_among`) decides."""
    def qualifies(p: Position) -> bool:
        return p.available and (not required_skill or required_skill in p.skills) and \
            (stations is None or p.home_station_id in stations)

    return qualifies


def evaluate_crew(session: Session, service_request: ServiceRequest, technician_ids: Sequence[int], *,
                  now: datetime, travel_speed_kmh: float, stations: frozenset[int] | None = None) -> list[Candidate]:
    """The dispatcher's own pick: every one must exist and be eligible (DSP-6); measured like a candidate."""
    rules = criteria(service_request.required_skill, stations)
    verdicts = {row[0]: row[1:] for row in session.execute(
        select(Technician.id, *(condition for _words, condition in rules))
        .join(Station, Station.id == Technician.home_station_id)
        .where(Technician.id.in_(technician_ids)))}
    problems = []
    for ident in technician_ids:
        if ident not in verdicts:
            problems.append(f"technician {ident} does not exist")
            continue
        failed = [words for (words, _condition), ok in zip(rules, verdicts[ident], strict=True) if not ok]
        if failed:
            problems.append(f"technician {ident} {' and '.join(failed)}")
    if problems:
        raise DomainError("technician_ids", "not eligible (DSP-6): " + "; ".join(problems))
    site = (service_request.site_latitude, service_request.site_longitude)
    where = {p.technician_id: p for p in positions(session, Technician.id.in_(technician_ids))}
    found = [Found(where[i], distance_km(site, (where[i].latitude, where[i].longitude))) for i in technician_ids]
    return _evaluate(service_request, found,
                     _details(session.execute(_details_query(Technician.id.in_(technician_ids)))),
                     now=now, travel_speed_kmh=travel_speed_kmh)


def _details_query(*conditions: ColumnElement[bool]) -> Select[Any]:
    """Home station, name and open jobs of the technicians meeting `conditions` (which may name their station).
    Open jobs are counted from the jobs themselves at query time, so the count is as fresh as the last commit."""
    open_jobs = (select(func.count()).select_from(JobTechnician).join(Job, Job.id == JobTechnician.job_id)
                 .where(JobTechnician.technician_id == Technician.id, Job.status.not_in(CLOSED_JOB_STATUSES))
                 .correlate(Technician).scalar_subquery())
    return (select(Technician.id, Technician.home_station_id, User.full_name, open_jobs)
            .join(Station, Station.id == Technician.home_station_id).join(User, User.id == Technician.user_id)
            .where(*conditions))


@lru_cache(maxsize=1024)
def _eligible_among(required_skill: str | None, stations: frozenset[int] | None) -> Select[Any]:
    """The details of the eligible (DSP-6) among the technicians bound as `ids`. Built once per skill and stations:
    making the statement costs a search more than running it."""
    eligible = (condition for _words, condition in criteria(required_skill, stations))
    return _details_query(*eligible, Technician.id.in_(bindparam("ids", expanding=True)))


def _details(rows: Any) -> dict[int, _Details]:
    return {ident: _Details(station, name, load) for ident, station, name, load in rows}


def _evaluate(service_request: ServiceRequest, found: list[Found[Position]], details: dict[int, _Details], *,
              now: datetime, travel_speed_kmh: float) -> list[Candidate]:
    due = on_site_due(service_request)
    candidates = []
    for f in found:
        ident = f.item.technician_id
        # rule DSP-6: ETA = now + distance / travel speed.
        eta = now + timedelta(hours=f.distance_km / travel_speed_kmh)
        candidates.append(Candidate(
            technician_id=ident, name=details[ident].name, home_station_id=details[ident].home_station_id,
            position_source=f.item.source, distance_km=f.distance_km, eta=eta,
            can_meet_deadline=None if due is None else eta <= due, open_jobs=details[ident].open_jobs))
    return candidates


def rank(candidates: list[Candidate], limit: int) -> list[Candidate]:
    """The first `limit` in rank order, each with its rank and why it is below the one above."""
    ordered = sorted(candidates, key=lambda c: c.sort_key)[:limit]
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


def eligible_technicians(session: Session, required_skill: str | None, stations: frozenset[int] | None = None
                         ) -> dict[int, tuple[str, int]]:
    """Every technician eligible (DSP-6) for work needing `required_skill`, only those based at `stations` when given
    (SCP-1): name and open jobs by id. For planning many requests at once (PLN-1, backend.planning.plans)."""
    eligible = (condition for _words, condition in criteria(required_skill, stations))
    return {ident: (name, load) for ident, _station, name, load in session.execute(_details_query(*eligible))}
