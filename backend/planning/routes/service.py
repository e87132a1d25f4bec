"""A technician's day as ordered stops (PLN-2): which open jobs, in what order, arriving and leaving when. No Flask.

The route is computed when asked for, never stored: it starts at the later of the shift start and now, from where
the technician is now, so any stored copy would be stale at the next position report or minute. The technician's
app gets it with every /me/jobs sync (the route of their current working day, as of that sync), which is also how
it learns of a job added, cancelled or declined: the same answer carries the changed job and the route without it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from backend.accounts.models import User
from backend.accounts.scope import require_in_scope
from backend.config import Settings
from backend.dispatch.candidates import HOME_STATION, LAST_KNOWN_POSITION
from backend.dispatch.geo import Point, distance_km
from backend.dispatch.models import Job, JobTechnician
from backend.dispatch.service import may_see_job
from backend.dispatch.sla import DeadlineKind
from backend.errors import NotFound
from backend.fieldwork.lifecycle import JobStatus
from backend.fieldwork.models import JobEvent
from backend.planning.routes.sequence import MAX_EXACT_STOPS, Route, Stop, solve
from backend.stations.models import Station
from backend.technicians.models import Technician

# The job states that still need the visit. Later ones (work done, signed...) are past it.
UNDER_WAY = (JobStatus.ON_SITE, JobStatus.EN_ROUTE)  # in this order, first in the day, never moved
TO_VISIT = (JobStatus.ASSIGNED, JobStatus.ACCEPTED)
DOES_NOT_FIT = "does not fit in the shift"


@dataclass(frozen=True)
class RouteTerms:
    """The configured numbers a route is computed with: the travel speed (the candidates list's, DSP-6) and the
    time on site, per fault category where configured."""

    travel_speed_kmh: float
    visit_hours: float
    visit_hours_by_fault: Mapping[str, float]

    @classmethod
    def from_settings(cls, settings: Settings) -> RouteTerms:
        return cls(settings.travel_speed_kmh, settings.visit_hours, settings.visit_hours_per_fault)

    def visit(self, fault_category: str) -> timedelta:
        return timedelta(seconds=round(self.visit_hours_by_fault.get(fault_category, self.visit_hours) * 3600))

    def travel(self, km: float) -> timedelta:
        return timedelta(seconds=round(km / self.travel_speed_kmh * 3600))


@dataclass(frozen=True)
class RouteStop:
    sequence: int
    job_id: int | None  # None, with the details below, for a job outside the reader's stations (SCP-1)
    service_request_id: int | None
    service_request_number: str | None
    status: str | None
    site_address: str | None
    site_latitude: float | None
    site_longitude: float | None
    fault_category: str | None
    travel_km: float
    arrival: datetime
    departure: datetime
    due_at: datetime | None
    late: bool

    @property
    def visit_minutes(self) -> int:
        return round(_elapsed(self.arrival, self.departure).total_seconds() / 60)

    @property
    def minutes_late(self) -> int:
        """Whole minutes after the deadline (rounded up): 0 when on time."""
        if not self.late or self.due_at is None:
            return 0
        return -int(-_elapsed(self.due_at, self.arrival).total_seconds() // 60)

    def hidden(self) -> RouteStop:
        return replace(self, job_id=None, service_request_id=None, service_request_number=None, status=None,
                       site_address=None, site_latitude=None, site_longitude=None, fault_category=None)


@dataclass(frozen=True)
class UnscheduledJob:
    job_id: int | None
    service_request_id: int | None
    service_request_number: str | None
    status: str | None
    due_at: datetime | None
    reason: str
    # Left out with a deadline before the shift ends: it will be missed (PLN-2 counts it as missed).
    misses_deadline: bool

    def hidden(self) -> UnscheduledJob:
        return replace(self, job_id=None, service_request_id=None, service_request_number=None, status=None)


@dataclass(frozen=True)
class DayRoute:
    technician_id: int
    date: date
    timezone: str
    shift_start: datetime
    shift_end: datetime
    starts_at: datetime
    start_latitude: float
    start_longitude: float
    start_source: str  # LAST_KNOWN_POSITION or HOME_STATION, as in the candidates list
    travel_speed_kmh: float
    computed_at: datetime
    stops: list[RouteStop]
    not_scheduled: list[UnscheduledJob]

    @property
    def late_stops(self) -> int:
        return sum(stop.late for stop in self.stops)

    @property
    def missed_deadlines(self) -> int:
        return self.late_stops + sum(job.misses_deadline for job in self.not_scheduled)

    @property
    def total_minutes_late(self) -> int:
        return sum(stop.minutes_late for stop in self.stops)

    @property
    def total_travel_km(self) -> float:
        return round(sum(stop.travel_km for stop in self.stops), 3)


# --- who may see which route -----------------------------------------------------------------------------------

def own_technician(session: Session, user: User) -> Technician:
    """The caller's own technician profile (a technician account without one has no route)."""
    technician = session.get(Technician, user.technician_id) if user.technician_id is not None else None
    if technician is None:
        raise NotFound("technician profile of user", user.id)
    return technician


def technician_in_scope(session: Session, technician_id: int, user: User) -> Technician:
    """An office user with stations sees the routes of technicians based there (SCP-1); others are not found."""
    technician = session.get(Technician, technician_id)
    if technician is None:
        raise NotFound("technician", technician_id)
    require_in_scope(technician.home_station_id, user, "technician", technician_id)
    return technician


def as_seen_by(route: DayRoute, jobs: Mapping[int, Job], user: User) -> DayRoute:
    """A stop for a job the reader may not see (another station's, SCP-1) keeps its times, without the job."""
    def visible(job_id: int | None) -> bool:
        return job_id is None or may_see_job(jobs[job_id], user)

    return replace(route, stops=[s if visible(s.job_id) else s.hidden() for s in route.stops],
                   not_scheduled=[j if visible(j.job_id) else j.hidden() for j in route.not_scheduled])


# --- the day -----------------------------------------------------------------------------------------------------

def zone_of(session: Session, technician: Technician) -> ZoneInfo:
    return ZoneInfo(session.get_one(Station, technician.home_station_id).timezone)


def shift_of(technician: Technician, day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The shift on that local date, in UTC: Python adds and subtracts times of one zone on the wall clock, so a day
    with a daylight-saving change would gain or lose an hour if the route were computed in local time."""
    return (datetime.combine(day, technician.shift_start, tzinfo=zone).astimezone(UTC),
            datetime.combine(day, technician.shift_end, tzinfo=zone).astimezone(UTC))


def working_day(technician: Technician, zone: ZoneInfo, now: datetime) -> date:
    """The day the technician is working or will work next: today (local) until its shift ends, then tomorrow."""
    today = now.astimezone(zone).date()
    return today if now < shift_of(technician, today, zone)[1] else today + timedelta(days=1)


def open_jobs(session: Session, technician_id: int) -> list[Job]:
    """The technician's jobs that still need the visit, oldest first: with each request (joined) and its deadlines,
    and the crew's technician ids (who may see the job), not the crew's accounts, roles, stations and skills that a
    job's default loads would bring."""
    return list(session.scalars(
        select(Job).join(JobTechnician, JobTechnician.job_id == Job.id)
        .where(JobTechnician.technician_id == technician_id, Job.status.in_([*UNDER_WAY, *TO_VISIT]))
        .order_by(Job.id).options(selectinload(Job.crew).lazyload(JobTechnician.technician))))


def day_route(session: Session, technician: Technician, day: date | None, *, now: datetime,
              terms: RouteTerms) -> tuple[DayRoute, dict[int, Job]]:
    """The technician's open jobs in visiting order for `day` (their working day when None), and those jobs."""
    zone = zone_of(session, technician)
    day = day or working_day(technician, zone, now)
    shift_start, shift_end = shift_of(technician, day, zone)
    starts_at = max(shift_start, now)
    position, source = _start(session, technician, day, zone, now)
    jobs = open_jobs(session, technician.id)
    under_way = sorted((j for j in jobs if j.status in UNDER_WAY), key=lambda j: (UNDER_WAY.index(j.status), j.id))
    # Most urgent first: should there be more than can be solved exactly, the earliest deadlines are ordered.
    to_visit = sorted((j for j in jobs if j.status in TO_VISIT),
                      key=lambda j: (_due(j) is None, _due(j) or now, j.id))
    planned, beyond = to_visit[:MAX_EXACT_STOPS], to_visit[MAX_EXACT_STOPS:]

    stops: list[RouteStop] = []
    clock, here = starts_at, position
    arrived = _arrivals(session, [j.id for j in under_way if j.status == JobStatus.ON_SITE])
    for job in under_way:
        km = distance_km(here, _site(job))
        # On site: there since arriving, for the visit's length; en route: reaching the site from here.
        arrival = arrived.get(job.id, clock) if job.status == JobStatus.ON_SITE else clock + terms.travel(km)
        departure = max(clock, arrival + terms.visit(job.service_request.fault_category))
        stops.append(_stop(len(stops) + 1, job, km, arrival, departure, zone))
        clock, here = departure, _site(job)

    route, km = order_visits(here, [_site(job) for job in planned],
                             [terms.visit(job.service_request.fault_category) for job in planned],
                             [_due(job) for job in planned], clock, shift_end, terms)
    point = 0  # where the ordered part starts, then each stop (i + 1 for planned[i]), as in the solver
    for index in route.order:
        job = planned[index]
        arrival = clock + terms.travel(km[point][index + 1])
        clock = arrival + terms.visit(job.service_request.fault_category)
        stops.append(_stop(len(stops) + 1, job, km[point][index + 1], arrival, clock, zone))
        point, here = index + 1, _site(job)
    not_scheduled = [_unscheduled(planned[i], DOES_NOT_FIT, shift_end, zone) for i in route.left_out]
    # The least urgent, past what is solved exactly, follow in deadline order where they still fit: a day they fit
    # in does not leave them out (a late visit beats none, as in the solver's order).
    for job in beyond:
        leg_km = distance_km(here, _site(job))
        arrival = clock + terms.travel(leg_km)
        departure = arrival + terms.visit(job.service_request.fault_category)
        if departure > shift_end:
            not_scheduled.append(_unscheduled(job, DOES_NOT_FIT, shift_end, zone))
            continue
        stops.append(_stop(len(stops) + 1, job, leg_km, arrival, departure, zone))
        clock, here = departure, _site(job)
    return DayRoute(technician_id=technician.id, date=day, timezone=zone.key,
                    shift_start=shift_start.astimezone(zone), shift_end=shift_end.astimezone(zone),
                    starts_at=starts_at.astimezone(zone), start_latitude=position[0],
                    start_longitude=position[1], start_source=source, travel_speed_kmh=terms.travel_speed_kmh,
                    computed_at=now.astimezone(zone), stops=stops,
                    not_scheduled=not_scheduled), {j.id: j for j in jobs}


def order_visits(start: Point, sites: list[Point], visits: list[timedelta], dues: list[datetime | None],
                 starts_at: datetime, shift_end: datetime, terms: RouteTerms) -> tuple[Route, list[list[float]]]:
    """The exact order (sequence.solve) of visits to these sites, each taking so long and due then, leaving
    `start` at `starts_at`, all work done by `shift_end`; with the distances (km) between start (0) and sites
    (i + 1). Whole seconds and metres, as the route is reported."""
    points = [start, *sites]
    km = [[0.0] * len(points) for _ in points]
    for i, a in enumerate(points):
        for j in range(i + 1, len(points)):
            km[i][j] = km[j][i] = distance_km(a, points[j])
    stops = [Stop(duration_s=int(visit.total_seconds()),
                  due_s=None if due is None else math.floor((due - starts_at).total_seconds()))
             for visit, due in zip(visits, dues, strict=True)]
    return solve(stops, [[int(terms.travel(d).total_seconds()) for d in row] for row in km],
                 [[round(d * 1000) for d in row] for row in km],
                 max(0, math.floor((shift_end - starts_at).total_seconds()))), km


def _start(session: Session, technician: Technician, day: date, zone: ZoneInfo, now: datetime
           ) -> tuple[Point, str]:
    """Where the day starts: where the technician is now (their last fix, as for the candidates list, DSP-6), or
    their home station when they have none or the day is a later one."""
    if technician.last_latitude is not None and technician.last_longitude is not None \
            and day <= now.astimezone(zone).date():
        return (technician.last_latitude, technician.last_longitude), LAST_KNOWN_POSITION
    station = session.get_one(Station, technician.home_station_id)
    return (station.latitude, station.longitude), HOME_STATION


def _arrivals(session: Session, job_ids: list[int]) -> dict[int, datetime]:
    """When the technician arrived at each of these jobs (the latest arrival step, JOB-2)."""
    if not job_ids:
        return {}
    return dict(session.execute(  # type: ignore[arg-type]
        select(JobEvent.job_id, func.max(JobEvent.server_time))
        .where(JobEvent.job_id.in_(job_ids), JobEvent.action == "arrive").group_by(JobEvent.job_id)).all())


def _site(job: Job) -> Point:
    return (job.service_request.site_latitude, job.service_request.site_longitude)


def _due(job: Job) -> datetime | None:
    """The on-site deadline still to be met (DSP-1, or the time agreed in the DSP-2 reply)."""
    deadline = job.service_request.deadline(DeadlineKind.ON_SITE)
    return deadline.due_at if deadline is not None and deadline.pending else None


def _stop(sequence: int, job: Job, km: float, arrival: datetime, departure: datetime, zone: ZoneInfo) -> RouteStop:
    """Times in the home station's zone, as the technician's day is read (compared before, in UTC: see _elapsed)."""
    request = job.service_request
    due = _due(job)
    return RouteStop(sequence=sequence, job_id=job.id, service_request_id=request.id,
                     service_request_number=request.number, status=job.status, site_address=request.site_address,
                     site_latitude=request.site_latitude, site_longitude=request.site_longitude,
                     fault_category=request.fault_category, travel_km=km, arrival=arrival.astimezone(zone),
                     departure=departure.astimezone(zone),
                     due_at=_local(due, zone), late=due is not None and arrival > due)


def _unscheduled(job: Job, reason: str, shift_end: datetime, zone: ZoneInfo) -> UnscheduledJob:
    due = _local(_due(job), zone)
    return UnscheduledJob(job_id=job.id, service_request_id=job.service_request_id,
                          service_request_number=job.service_request.number, status=job.status, due_at=due,
                          reason=reason, misses_deadline=due is not None and due <= shift_end)


def _local(moment: datetime | None, zone: ZoneInfo) -> datetime | None:
    return None if moment is None else moment.astimezone(zone)


def _elapsed(start: datetime, end: datetime) -> timedelta:
    """The real time between two moments. Python subtracts (and compares) two times of one zone on the wall clock,
    which a daylight-saving change between them would put an hour out."""
    return end.astimezone(UTC) - start.astimezone(UTC)
