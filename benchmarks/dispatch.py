"""Dispatch at scale: candidate search and dispatch against a large fleet, and the searches they replace.

    .venv/bin/python benchmarks/dispatch.py                   # 100,000 technicians, 10,000 open requests
    .venv/bin/python benchmarks/dispatch.py --technicians 20000 --requests 2000 --naive-samples 1

Builds a SQLite database file with the real migrations (stations, technicians and their skills in bulk; the open
requests through the real intake service, so their tiers and deadlines are genuine), then times, through the same
service functions the API calls:
  - candidate search (backend.dispatch.candidates.find_candidates: the k-nearest index of backend.dispatch.nearest,
    filtered by what it knows of each technician's eligibility, the database confirming the nearest few, exact
    geodesics only for those that could make the list);
  - the bounding-box search it replaced (issue 3: indexed lat/lon columns, then exact geodesics inside the box), on
    the same requests in the same run, each answer checked to be the same technicians, order and distances;
  - candidate search right after a technician's position report (committed through the ORM, so audited): the index
    patching itself before answering, with the moved technician checked to be where the report put them;
  - dispatch (backend.dispatch.service.dispatch, including its own candidate search, the writes and the commit),
    in turns with the bounding-box search in its place;
  - a naive scan that calls geopy's geodesic for every technician and sorts, on a few samples (it takes seconds).
The naive scan's top candidates are checked against the indexed search's, so the speed is not bought with
wrong answers.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

from geopy.distance import geodesic
from sqlalchemy import and_, func, insert, literal, select, union_all
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend import migrate  # noqa: E402
from backend.accounts.models import User, UserRole  # noqa: E402
from backend.accounts.service import hash_password  # noqa: E402
from backend.app import create_app  # noqa: E402
from backend.audit.recorder import AuditContext, set_audit_context  # noqa: E402
from backend.clock import SystemClock  # noqa: E402
from backend.config import Settings  # noqa: E402
from backend.customers.models import Customer, Unit  # noqa: E402
from backend.dispatch import candidates, geo, service  # noqa: E402
from backend.dispatch.candidates import DEFAULT_LIMIT, Candidate, find_candidates  # noqa: E402
from backend.dispatch.eligibility import criteria  # noqa: E402
from backend.dispatch.models import CLOSED_JOB_STATUSES, Job, JobTechnician, ServiceRequest  # noqa: E402
from backend.dispatch.nearest import HOME_STATION, LAST_KNOWN_POSITION, Position  # noqa: E402
from backend.errors import Conflict  # noqa: E402
from backend.http.context import Onsite  # noqa: E402
from backend.stations.models import Station  # noqa: E402
from backend.technicians.models import Technician, TechnicianSkill  # noqa: E402
from backend.technicians.service import report_position  # noqa: E402

CHUNK = 5_000
STATIONS = 200
SKILLS = ["chassis_engine", "electrical", "air_conditioning", "hydraulics"]
# Mainland China, roughly: where the fleet and the customers are.
LAT_RANGE, LON_RANGE = (20.0, 45.0), (100.0, 125.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--technicians", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--searches", type=int, default=300, help="candidate searches to time (each way)")
    parser.add_argument("--moves", type=int, default=200, help="position reports, each followed by a timed search")
    parser.add_argument("--dispatches", type=int, default=400, help="dispatches to time (half each way)")
    parser.add_argument("--naive-samples", type=int, default=3, help="naive scans to time (each takes seconds)")
    parser.add_argument("--db", type=Path, help="SQLite file to build (default: a temporary one)")
    parser.add_argument("--seed", type=int, default=20260302)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = args.db or Path(tmp) / "dispatch-benchmark.db"
        path.unlink(missing_ok=True)
        url = f"sqlite:///{path}"
        migrate.upgrade(url)
        settings = Settings(env="testing", database_url=url, instance_path=Path(tmp))
        app = create_app(settings, clock=SystemClock())
        onsite = app.extensions["onsite"]
        rng = random.Random(args.seed)
        print(f"database: {path}", flush=True)

        started = time.perf_counter()
        stations = build_fleet(onsite, rng, args.technicians)
        request_ids = build_requests(onsite, rng, stations, args.requests, settings)
        print(f"built in {time.perf_counter() - started:.0f} s", flush=True)

        first = time_first_search(onsite, request_ids, settings)
        searches, boxed = time_searches(onsite, rng, request_ids, args.searches, settings)
        after_moves = time_searches_after_moves(onsite, rng, request_ids, args.moves, settings)
        naive = time_naive(onsite, rng, request_ids, args.naive_samples, settings)
        dispatches, boxed_dispatches = time_dispatches(onsite, rng, request_ids, args.dispatches, settings)

        print()
        print(f"{'':<38}{'n':>6}{'median ms':>12}{'p95 ms':>12}")
        for name, samples in (("candidate search (index)", searches), ("candidate search (bounding box)", boxed),
                              ("search after a position report", after_moves), ("dispatch (index)", dispatches),
                              ("dispatch (bounding box)", boxed_dispatches),
                              ("naive geopy scan", naive)):
            print(f"{name:<38}{len(samples):>6}{median(samples):>12.2f}{p95(samples):>12.2f}")
        print(f"SUMMARY {args.technicians:,} technicians, {args.requests:,} open requests, SQLite: candidate search "
              f"median {median(searches):.2f} ms p95 {p95(searches):.2f} ms (bounding box {median(boxed):.2f} / "
              f"{p95(boxed):.2f} ms, same answers); after a position report {median(after_moves):.2f} / "
              f"{p95(after_moves):.2f} ms; first search in a process (builds the index) {first:.0f} ms; dispatch "
              f"median {median(dispatches):.2f} ms p95 {p95(dispatches):.2f} ms (bounding box "
              f"{median(boxed_dispatches):.2f} / {p95(boxed_dispatches):.2f} ms); load average "
              f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; naive geopy scan median "
              f"{median(naive):,.0f} ms p95 {p95(naive):,.0f} ms (n={len(naive)})")
        onsite.engine.dispose()


# --- building the data -------------------------------------------------------------------------------------------

def build_fleet(onsite: Onsite, rng: random.Random, count: int) -> list[tuple[float, float]]:
    """Stations, then technician users and technicians in bulk (Core inserts; the API would take hours)."""
    now = datetime.now(UTC)
    stamp = {"version": 1, "created_at": now, "updated_at": now}
    stations = [(rng.uniform(*LAT_RANGE), rng.uniform(*LON_RANGE)) for _ in range(STATIONS)]
    password = hash_password("benchmark-password")
    with onsite.new_session(writer=True) as session:
        session.execute(insert(Station), [
            {"code": f"S{i:03d}", "name": f"Station {i}", "address": f"{i} Service Road", "latitude": lat,
             "longitude": lon, "active": i % 50 != 0, "may_receive_work": i % 40 != 0, **stamp}
            for i, (lat, lon) in enumerate(stations, start=1)])
        customer_id = session.execute(insert(Customer).values(name="Benchmark Transit", phones=[], **stamp)
                                      .returning(Customer.id)).scalar_one()
        session.execute(insert(Unit).values(customer_id=customer_id, model="C12 coach", serial_number="BENCH-1",
                                            **stamp))
        for start in range(0, count, CHUNK):
            ids = range(start + 1, min(start + CHUNK, count) + 1)
            session.execute(insert(User), [{"id": i, "username": f"tech{i}", "full_name": f"Technician {i}",
                                            "password_hash": password, "active": True, **stamp} for i in ids])
            session.execute(insert(UserRole), [{"user_id": i, "role": "technician"} for i in ids])
            rows, skills = [], []
            for i in ids:
                home = rng.randrange(STATIONS)
                seen = rng.random() < 0.8  # a fifth have never reported a position: they count at home
                lat, lon = stations[home]
                rows.append({"id": i, "user_id": i, "home_station_id": home + 1, "active": rng.random() < 0.95,
                             "on_shift": rng.random() < 0.7,
                             "last_latitude": lat + rng.uniform(-1.5, 1.5) if seen else None,
                             "last_longitude": lon + rng.uniform(-1.5, 1.5) if seen else None, **stamp})
                skills += [{"technician_id": i, "skill": s} for s in ["body", *rng.sample(SKILLS, 2)]]
            session.execute(insert(Technician), rows)
            session.execute(insert(TechnicianSkill), skills)
            progress("technicians", ids[-1], count)
        session.commit()
    return stations


def build_requests(onsite: Onsite, rng: random.Random, stations: list[tuple[float, float]], count: int,
                   settings: Settings) -> list[int]:
    """Open requests through the real intake service (nearest station, tier, deadlines, number, audit)."""
    ids = []
    now = datetime.now(UTC)
    for start in range(0, count, 1_000):
        with onsite.new_session(writer=True) as session:
            set_audit_context(session, AuditContext(actor_user_id=None, actor_name="benchmark", action="benchmark"))
            customer_id, unit_id = session.execute(select(Unit.customer_id, Unit.id)).one()
            for _ in range(start, min(start + 1_000, count)):
                lat, lon = rng.choice(stations)
                data = {"customer_id": customer_id, "unit_id": unit_id, "site_address": "somewhere",
                        "site_latitude": lat + rng.uniform(-1.2, 1.2), "site_longitude": lon + rng.uniform(-1.2, 1.2),
                        "fault_description": "benchmark", "fault_category": rng.choice(["body", "chassis_engine"]),
                        "channel": "phone", "complaint_class": "quality", "supplier_needed": rng.random() < 0.1,
                        "required_skill": rng.choice([None, None, None, *SKILLS]),
                        "reported_at": now - timedelta(minutes=rng.randrange(600))}
                ids.append(service.register_request(session, data, actor_id=None, now=now, settings=settings).id)
            session.commit()
        progress("open requests", len(ids), count)
    return ids


def progress(what: str, done: int, total: int) -> None:
    print(f"\r  {what}: {done:,}/{total:,}", end="\n" if done == total else "", flush=True)


# --- timing ------------------------------------------------------------------------------------------------------

def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000


def search(session: Session, request: ServiceRequest, settings: Settings) -> list[Candidate]:
    return find_candidates(session, request, now=datetime.now(UTC), travel_speed_kmh=settings.travel_speed_kmh,
                           limit=DEFAULT_LIMIT)


def time_first_search(onsite: Onsite, request_ids: list[int], settings: Settings) -> float:
    """The first search in a process loads every technician's position and builds the index."""
    with onsite.new_session() as session:
        request = session.get(ServiceRequest, request_ids[0])
        return timed(lambda: search(session, request, settings))


def time_searches(onsite: Onsite, rng: random.Random, request_ids: list[int], count: int,
                  settings: Settings) -> tuple[list[float], list[float]]:
    """The indexed search and the bounding-box search on the same requests, in turns; same answers."""
    indexed, boxed = [], []
    with onsite.new_session() as session:
        for n, ident in enumerate(rng.sample(request_ids, min(count, len(request_ids)))):
            request = session.get(ServiceRequest, ident)
            answers: dict[str, list[Candidate]] = {}
            runs = [("index", indexed, lambda: answers.__setitem__("index", search(session, request, settings))),
                    ("box", boxed, lambda: answers.__setitem__("box", bounding_box_search(session, request, settings)))]
            for _name, samples, run in runs if n % 2 else reversed(runs):  # neither always goes first
                samples.append(timed(run))
            assert [(c.technician_id, c.distance_km, c.rank) for c in answers["index"]] == \
                [(c.technician_id, c.distance_km, c.rank) for c in answers["box"]], answers
            session.rollback()
    print(f"  candidate search: {count} timed each way, the same answers", flush=True)
    return indexed, boxed


def bounding_box_search(session: Session, request: ServiceRequest, settings: Settings) -> list[Candidate]:
    """The search as issue 3 left it: the eligible technicians inside a bounding box around the site (indexed
    lat/lon columns of technicians and of stations), widened until the nearest are provably inside, then exact
    geodesics in order of a spherical estimate; names and open jobs in two more queries."""
    eligible = and_(*(condition for _words, condition in criteria(request.required_skill, None)))

    def in_box(box: geo.BoundingBox) -> list[Position]:
        with_fix = (select(Technician.id, Technician.last_latitude, Technician.last_longitude,
                           literal(LAST_KNOWN_POSITION), Technician.home_station_id)
                    .join(Station, Station.id == Technician.home_station_id)
                    .where(eligible, Technician.last_latitude.is_not(None),
                           box.where(Technician.last_latitude, Technician.last_longitude)))
        at_home = (select(Technician.id, Station.latitude, Station.longitude, literal(HOME_STATION),
                          Technician.home_station_id)
                   .join(Station, Station.id == Technician.home_station_id)
                   .where(eligible, Technician.last_latitude.is_(None), Technician.home_station_id.in_(
                       select(Station.id).where(box.where(Station.latitude, Station.longitude)))))
        # Eligible by the query itself: the index's filter fields are not read here.
        return [Position(*row, available=True, skills=frozenset())
                for row in session.execute(union_all(with_fix, at_home))]

    site = (request.site_latitude, request.site_longitude)
    found = geo.nearest(site, in_box, lambda p: (p.latitude, p.longitude), lambda p: p.technician_id,
                        at_least=DEFAULT_LIMIT, start_km=25.0)
    if len(found) > DEFAULT_LIMIT:
        found = [f for f in found if f.distance_km <= found[DEFAULT_LIMIT - 1].distance_km]
    ids = [f.item.technician_id for f in found]
    names = dict(session.execute(select(Technician.id, User.full_name).join(User, User.id == Technician.user_id)
                                 .where(Technician.id.in_(ids))).all())
    loads = dict(session.execute(
        select(JobTechnician.technician_id, func.count()).join(Job, Job.id == JobTechnician.job_id)
        .where(JobTechnician.technician_id.in_(ids), Job.status.not_in(CLOSED_JOB_STATUSES))
        .group_by(JobTechnician.technician_id)).all())
    details = {f.item.technician_id: candidates._Details(f.item.home_station_id, names[f.item.technician_id],
                                                         loads.get(f.item.technician_id, 0)) for f in found}
    return candidates.rank(candidates._evaluate(request, found, details, now=datetime.now(UTC),
                                                travel_speed_kmh=settings.travel_speed_kmh), DEFAULT_LIMIT)


def time_searches_after_moves(onsite: Onsite, rng: random.Random, request_ids: list[int], count: int,
                              settings: Settings) -> list[float]:
    """A technician near the site reports a position right beside it (committed, audited, as the API does); the
    next search must put them first, having patched the index."""
    samples = []
    with onsite.new_session() as session:
        for ident in rng.sample(request_ids, min(count, len(request_ids))):
            request = session.get(ServiceRequest, ident)
            mover = search(session, request, settings)[-1].technician_id
            site = (request.site_latitude, request.site_longitude)
            session.rollback()  # the next search reads afresh, after the report is committed
            with onsite.new_session(writer=True) as writer:
                set_audit_context(writer, AuditContext(actor_user_id=None, actor_name="benchmark", action="benchmark"))
                technician = writer.get(Technician, mover)
                report_position(technician, technician.user, latitude=site[0], longitude=site[1], accuracy_m=5.0,
                                device_time=None, received_at=datetime.now(UTC))
                writer.commit()
            request = session.get(ServiceRequest, ident)  # loaded again outside the timing, as in time_searches
            answer: list[Candidate] = []
            samples.append(timed(lambda: answer.extend(search(session, request, settings))))
            assert (answer[0].technician_id, answer[0].distance_km) == (mover, 0.0), answer[0]
            session.rollback()
    print(f"  search after a position report: {len(samples)} timed", flush=True)
    return samples


def time_naive(onsite: Onsite, rng: random.Random, request_ids: list[int], count: int,
               settings: Settings) -> list[float]:
    """geopy for every technician, then the eligibility rule and the sort; checked against the indexed search."""
    samples = []
    with onsite.new_session() as session:
        for ident in rng.sample(request_ids, count):
            request = session.get(ServiceRequest, ident)
            naive: list[float] = []

            def scan() -> None:
                stmt = (select(Technician.id, Technician.last_latitude, Technician.last_longitude, Station.latitude,
                               Station.longitude, Technician.active & Technician.on_shift & Station.active
                               & Station.may_receive_work,
                               Technician.skill_rows.any(TechnicianSkill.skill == request.required_skill))
                        .join(Station, Station.id == Technician.home_station_id))
                site = (request.site_latitude, request.site_longitude)
                measured = []
                for tid, lat, lon, home_lat, home_lon, eligible, skilled in session.execute(stmt):
                    km = geodesic(site, (lat, lon) if lat is not None else (home_lat, home_lon)).km
                    if eligible and (skilled or not request.required_skill):
                        measured.append((round(km, 3), tid))
                naive.extend(km for km, _tid in sorted(measured)[:DEFAULT_LIMIT])

            samples.append(timed(scan))
            indexed = search(session, request, settings)
            # Distances, not ids: technicians at the same distance may be ordered by their open jobs.
            assert [c.distance_km for c in indexed] == naive, (naive, indexed)
            print(f"  naive scan {len(samples)}/{count}: {samples[-1] / 1000:.1f} s, same top {DEFAULT_LIMIT} as "
                  "the indexed search", flush=True)
            session.rollback()
    return samples


def time_dispatches(onsite: Onsite, rng: random.Random, request_ids: list[int], count: int,
                    settings: Settings) -> tuple[list[float], list[float]]:
    """Dispatches in turns: with the indexed search, and with the bounding-box search in its place (each request is
    dispatched once, so the two halves dispatch different requests)."""
    indexed: list[float] = []
    boxed: list[float] = []

    def box_search(session: Session, request: ServiceRequest, **_ignored: object) -> list[Candidate]:
        return bounding_box_search(session, request, settings)

    for n, ident in enumerate(rng.sample(request_ids, min(count, len(request_ids)))):
        samples = indexed if n % 2 else boxed
        with onsite.new_session(writer=True) as session, \
                mock.patch.object(service, "find_candidates", find_candidates if n % 2 else box_search):
            set_audit_context(session, AuditContext(actor_user_id=None, actor_name="benchmark", action="benchmark"))

            def dispatch() -> None:
                service.dispatch(session, ident, service.DispatchOrder(None, None, None), actor=None,
                                 now=datetime.now(UTC), travel_speed_kmh=settings.travel_speed_kmh,
                                 candidate_limit=DEFAULT_LIMIT)
                session.commit()

            try:
                samples.append(timed(dispatch))
            except Conflict:  # nobody eligible for this one (a rare skill far from everyone): not a dispatch
                session.rollback()
    print(f"  dispatch: {len(indexed)} timed with the index, {len(boxed)} with the bounding box", flush=True)
    return indexed, boxed


def median(samples: list[float]) -> float:
    return statistics.median(samples) if samples else math.nan


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)] if ordered else math.nan


if __name__ == "__main__":
    main()
