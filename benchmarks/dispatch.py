"""Dispatch at scale: candidate search and dispatch against a large fleet, and the naive scan they replace.

    .venv/bin/python benchmarks/dispatch.py                      # 100,000 technicians, 10,000 open requests
    .venv/bin/python benchmarks/dispatch.py --technicians 20000 --requests 2000 --naive-samples 1

Builds a SQLite database file with the real migrations (stations, technicians and their skills in bulk; the open
requests through the real intake service, so their tiers and deadlines are genuine), then times, through the same
service functions the API calls:
  - candidate search (backend.dispatch.candidates.find_candidates: bounding box on the indexed lat/lon columns,
    exact geodesic distances only for the technicians inside it);
  - dispatch (backend.dispatch.service.dispatch, including its own candidate search, the writes and the commit);
  - a naive scan that calls geopy's geodesic for every technician and sorts, on a few samples (it takes seconds).
The naive scan's top candidates are checked against the indexed search's, so the speed is not bought with
wrong answers.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from geopy.distance import geodesic
from sqlalchemy import insert, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend import migrate  # noqa: E402
from backend.accounts.models import User, UserRole  # noqa: E402
from backend.accounts.service import hash_password  # noqa: E402
from backend.app import create_app  # noqa: E402
from backend.audit.recorder import AuditContext, set_audit_context  # noqa: E402
from backend.clock import SystemClock  # noqa: E402
from backend.config import Settings  # noqa: E402
from backend.customers.models import Customer, Unit  # noqa: E402
from backend.dispatch import service  # noqa: E402
from backend.dispatch.candidates import DEFAULT_LIMIT, find_candidates  # noqa: E402
from backend.dispatch.models import ServiceRequest  # noqa: E402
from backend.errors import Conflict  # noqa: E402
from backend.http.context import Onsite  # noqa: E402
from backend.stations.models import Station  # noqa: E402
from backend.technicians.models import Technician, TechnicianSkill  # noqa: E402

CHUNK = 5_000
STATIONS = 200
SKILLS = ["chassis_engine", "electrical", "air_conditioning", "hydraulics"]
# Mainland China, roughly: where the fleet and the customers are.
LAT_RANGE, LON_RANGE = (20.0, 45.0), (100.0, 125.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--technicians", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--searches", type=int, default=300, help="candidate searches to time")
    parser.add_argument("--dispatches", type=int, default=200, help="dispatches to time")
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

        searches = time_searches(onsite, rng, request_ids, args.searches, settings)
        naive = time_naive(onsite, rng, request_ids, args.naive_samples, settings)
        dispatches = time_dispatches(onsite, rng, request_ids, args.dispatches, settings)

        print()
        print(f"{'':<22}{'n':>6}{'median ms':>12}{'p95 ms':>12}")
        for name, samples in (("candidate search", searches), ("dispatch", dispatches), ("naive geopy scan", naive)):
            print(f"{name:<22}{len(samples):>6}{median(samples):>12.2f}{p95(samples):>12.2f}")
        print(f"SUMMARY {args.technicians:,} technicians, {args.requests:,} open requests, SQLite: candidate search "
              f"median {median(searches):.2f} ms p95 {p95(searches):.2f} ms; dispatch median {median(dispatches):.2f} "
              f"ms p95 {p95(dispatches):.2f} ms; naive geopy scan median {median(naive):,.0f} ms "
              f"p95 {p95(naive):,.0f} ms (n={len(naive)})")
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


def time_searches(onsite: Onsite, rng: random.Random, request_ids: list[int], count: int,
                  settings: Settings) -> list[float]:
    samples = []
    with onsite.new_session() as session:
        for ident in rng.sample(request_ids, min(count, len(request_ids))):
            request = session.get(ServiceRequest, ident)
            samples.append(timed(lambda: find_candidates(session, request, now=datetime.now(UTC),
                                                         travel_speed_kmh=settings.travel_speed_kmh,
                                                         limit=DEFAULT_LIMIT)))
            session.rollback()
    print(f"  candidate search: {count} timed", flush=True)
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
            indexed = find_candidates(session, request, now=datetime.now(UTC),
                                      travel_speed_kmh=settings.travel_speed_kmh, limit=DEFAULT_LIMIT)
            # Distances, not ids: technicians at the same distance may be ordered by their open jobs.
            assert [c.distance_km for c in indexed] == naive, (naive, indexed)
            print(f"  naive scan {len(samples)}/{count}: {samples[-1] / 1000:.1f} s, same top {DEFAULT_LIMIT} as "
                  "the indexed search", flush=True)
            session.rollback()
    return samples


def time_dispatches(onsite: Onsite, rng: random.Random, request_ids: list[int], count: int,
                    settings: Settings) -> list[float]:
    samples = []
    for ident in rng.sample(request_ids, min(count, len(request_ids))):
        with onsite.new_session(writer=True) as session:
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
    print(f"  dispatch: {len(samples)} timed", flush=True)
    return samples


def median(samples: list[float]) -> float:
    return statistics.median(samples) if samples else math.nan


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)] if ordered else math.nan


if __name__ == "__main__":
    main()
