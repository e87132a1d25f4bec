"""KPIs at scale: every KPI over 1,000,000 jobs, ungrouped and by station, technician and month.

    .venv/bin/python benchmarks/kpis.py                       # 1,000,000 jobs, a year of work
    .venv/bin/python benchmarks/kpis.py --jobs 100000 --db /tmp/kpis.db

Builds a SQLite database file with the real migrations, then bulk-inserts (Core executemany, in chunks) a year of
synthetic field service: 200 stations, 5,000 technicians, 200,000 units, and for each job its service request and
SLA deadlines, its lead technician, its service-quality callback and the attempt that reached the customer (some
reopening complaints), its signed report with part lines, and for some an old part owed back; then derives the KPI
facts with `onsite kpi-facts rebuild`'s function (the rows were inserted past the flush hook that keeps them).

It then times, in the same run, over the whole year, one month, and eleven months from mid-month to mid-month,
ungrouped and by each grouping: before, the raw-table queries (backend.kpis.service.KPIS, one per KPI, still the
reference); the facts alone (the step before the rollups: FROM_FACTS with every period read from the facts); after,
the queries GET /api/v1/kpis runs (FROM_FACTS: whole months from the rollups, the partial months at the ends of a
period from the facts); and says whether all gave the same answers.
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

from sqlalchemy import insert
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend import migrate  # noqa: E402
from backend.accounts.models import User  # noqa: E402
from backend.app import create_app  # noqa: E402
from backend.callbacks.models import Callback, CallbackAttempt  # noqa: E402
from backend.clock import ManualClock  # noqa: E402
from backend.config import Settings  # noqa: E402
from backend.customers.models import Customer, Unit  # noqa: E402
from backend.dispatch.models import Deadline, Job, JobTechnician, ServiceRequest, SlaPolicy  # noqa: E402
from backend.http.context import Onsite  # noqa: E402
from backend.kpis.facts import rebuild  # noqa: E402
from backend.kpis import service  # noqa: E402
from backend.kpis.service import FROM_FACTS, KPIS, GroupBy, Query, Row  # noqa: E402
from backend.parts.models import Installation, OldPartObligation, Part  # noqa: E402
from backend.reports.models import FieldReport, ReportPartLine  # noqa: E402
from backend.stations.models import Station  # noqa: E402
from backend.technicians.models import Technician  # noqa: E402

CHUNK = 20_000
STATIONS, TECHNICIANS, UNITS, PARTS = 200, 5_000, 200_000, 500
YEAR_START, YEAR_END = datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)
NOW = datetime(2026, 1, 15, tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, help="SQLite file to build (default: a temporary one)")
    parser.add_argument("--reuse", action="store_true", help="with --db: time an existing file as it is")
    parser.add_argument("--seed", type=int, default=20260302)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = args.db or Path(tmp) / "kpis-benchmark.db"
        reuse = args.reuse and path.exists()
        if not reuse:
            path.unlink(missing_ok=True)
        url = f"sqlite:///{path}"
        migrate.upgrade(url)
        settings = Settings(env="testing", database_url=url, instance_path=Path(tmp))
        app = create_app(settings, clock=ManualClock(NOW))
        onsite = app.extensions["onsite"]
        print(f"database: {path}{' (reused)' if reuse else ''}", flush=True)

        built = rebuilt = 0.0
        if not reuse:
            started = time.perf_counter()
            build(onsite, random.Random(args.seed), args.jobs)
            built = time.perf_counter() - started
            # Bulk-inserted with Core, past the flush hook: the facts and their rollups come from
            # `onsite kpi-facts rebuild`'s function, as in migration 0017's backfill of an existing database.
            started = time.perf_counter()
            with onsite.engine.begin() as conn:
                rebuild(conn, progress=lambda message: print(f"\r  {message:<60}", end="", flush=True))
            rebuilt = time.perf_counter() - started
            print()
            finish(onsite)
            print(f"built in {built:.0f} s, facts and rollups in {rebuilt:.0f} s ({path.stat().st_size / 2**30:.1f} GiB)",
                  flush=True)

        groupings: list[GroupBy | None] = [None, *GroupBy]
        periods = {"year": (YEAR_START, YEAR_END), "month": MONTH, "mid-month": MID_MONTH}
        timings: dict[tuple[str, str], Timing] = {}
        with onsite.new_session() as session:
            for period, bounds in periods.items():
                print(f"\n{PERIOD_TITLES[period]}, seconds{'':<4}"
                      + "".join(f"{str(g or 'ungrouped'):>12}" for g in groupings), flush=True)
                each = period != "mid-month"
                print("raw tables (before): one query per KPI")
                timings[period, "raw"] = timed(session, settings, KPIS, bounds, groupings, lambda rows: {"": rows},
                                               each=each)
                if period != "mid-month":
                    print("facts alone: one query per table")
                    with mock.patch.object(service, "split_period", lambda start, end: ([], [(start, end)])):
                        timings[period, "facts"] = timed(session, settings, FROM_FACTS, bounds, groupings,
                                                         lambda rows: rows, each=each)
                print("rollups and facts (after): one query per table")
                timings[period, "after"] = timed(session, settings, FROM_FACTS, bounds, groupings, lambda rows: rows,
                                                 each=each)
        differ = [f"{period} {way} {g or 'ungrouped'}" for (period, way), timing in timings.items()
                  for g in groupings if _table(timing.answers[g]) != _table(timings[period, "raw"].answers[g])]
        print(f"\nsame answers from all: {'yes' if not differ else 'NO: ' + ', '.join(differ)}")

        def figures(period: str, way: str) -> str:
            return ", ".join(f"{timings[period, way].totals[g]:.3f} s {g or 'ungrouped'}" for g in groupings)

        print(f"SUMMARY {args.jobs:,} jobs over a year, SQLite, all {len(KPIS)} KPIs: year from the raw tables "
              f"{figures('year', 'raw')}; from the facts alone {figures('year', 'facts')}; from rollups and facts "
              f"{figures('year', 'after')}; one month from the raw tables {figures('month', 'raw')}; from the facts "
              f"alone {figures('month', 'facts')}; from rollups and facts {figures('month', 'after')}; mid-month to "
              f"mid-month from the raw tables {figures('mid-month', 'raw')}; from rollups and facts "
              f"{figures('mid-month', 'after')}; same answers: {not differ}; data built in {built:.0f} s, facts "
              f"and rollups rebuilt in {rebuilt:.0f} s")
        onsite.engine.dispose()


MONTH = (datetime(2025, 6, 1, tzinfo=UTC), datetime(2025, 7, 1, tzinfo=UTC))
MID_MONTH = (datetime(2025, 1, 16, tzinfo=UTC), datetime(2025, 12, 16, tzinfo=UTC))  # 10 whole months, 2 halves
PERIOD_TITLES = {"year": "one year", "month": f"one month ({MONTH[0]:%Y-%m})",
                 "mid-month": f"{MID_MONTH[0]:%Y-%m-%d} to {MID_MONTH[1]:%Y-%m-%d}"}


@dataclass
class Timing:
    totals: dict[GroupBy | None, float]
    answers: dict[GroupBy | None, list[Row]]


def timed(session: Session, settings: Settings, queries: dict[str, Callable[[Query], Any]],
          period: tuple[datetime, datetime], groupings: list[GroupBy | None],
          by_kpi: Callable[[Any], dict[str, list[Row]]], *, each: bool = True, title: str = "") -> Timing:
    """Runs every query for every grouping, printing the seconds of each (or only their total)."""
    timing = Timing(dict.fromkeys(groupings, 0.0), {})
    answers: dict[GroupBy | None, dict[str, list[Row]]] = {g: {} for g in groupings}
    for name, query in queries.items():
        cells = []
        for group_by in groupings:
            gc.collect()  # each query pays for the garbage it makes, not for the answers kept from earlier ones
            began = time.perf_counter()
            rows = query(Query(session, *period, group_by, NOW, settings))
            elapsed = time.perf_counter() - began
            session.rollback()
            timing.totals[group_by] += elapsed
            answers[group_by] |= {kpi or name: kpi_rows for kpi, kpi_rows in by_kpi(rows).items()}
            cells.append(f"{elapsed:>12.3f}")
        if each:
            print(f"  {name:<22}" + "".join(cells), flush=True)
    print(f"  {title or 'all KPIs':<22}" + "".join(f"{timing.totals[g]:>12.3f}" for g in groupings), flush=True)
    timing.answers = {g: [row for kpi in KPIS for row in answers[g][kpi]] for g in groupings}
    return timing


def _table(rows: list[Row]) -> list[tuple[Any, ...]]:
    return [(r.kpi, r.group, r.detail, r.value, None if r.numerator is None else float(r.numerator), r.denominator)
            for r in rows]


# --- building the data -------------------------------------------------------------------------------------------

def build(onsite: Onsite, rng: random.Random, jobs: int) -> None:
    """Master data, then the jobs and everything hanging off them, a chunk per transaction."""
    stamp = {"version": 1, "created_at": YEAR_START, "updated_at": YEAR_START}
    with onsite.new_session(writer=True) as session:
        session.execute(insert(SlaPolicy).values(version=1, radius_km=100, on_site_hours=24, reply_hours=12,
                                                 written_contact_hours=12, created_at=YEAR_START))
        session.execute(insert(Station), [
            {"id": i, "code": f"S{i:03d}", "name": f"Station {i}", "address": f"{i} Service Road",
             "latitude": rng.uniform(20, 45), "longitude": rng.uniform(100, 125), "active": True,
             "may_receive_work": True, **stamp} for i in range(1, STATIONS + 1)])
        session.execute(insert(User), [{"id": i, "username": f"tech{i}", "full_name": f"Technician {i}",
                                        "password_hash": "-", "active": True, **stamp}
                                       for i in range(1, TECHNICIANS + 1)])
        # Technician t works at station (t - 1) // 25 + 1: 25 per station.
        session.execute(insert(Technician), [{"id": i, "user_id": i, "home_station_id": (i - 1) // 25 + 1,
                                              "active": True, "on_shift": True, **stamp}
                                             for i in range(1, TECHNICIANS + 1)])
        session.execute(insert(Customer).values(id=1, name="Benchmark Transit", phones=[], **stamp))
        session.execute(insert(Unit), [{"id": i, "customer_id": 1, "model": "C12 coach", "serial_number": f"U{i}",
                                        **stamp} for i in range(1, UNITS + 1)])
        session.execute(insert(Part), [{"id": i, "part_number": f"P{i}", "name": f"Part {i}", "unit_price": 10,
                                        **stamp} for i in range(1, PARTS + 1)])
        session.commit()
    with onsite.engine.connect() as conn:
        sqlite = conn.connection.driver_connection  # outside SQLAlchemy's transaction: for the PRAGMAs
        sqlite.execute("PRAGMA synchronous=OFF")  # a throw-away file: no need to wait for the disk
        for start in range(1, jobs + 1, CHUNK):
            with conn.begin():
                for model, rows in chunk(rng, range(start, min(start + CHUNK, jobs + 1)), stamp).items():
                    if rows:  # Core executemany: no ORM, no audit trail, no per-row round trips
                        conn.execute(model.__table__.insert(), rows)
            progress("jobs", min(start + CHUNK - 1, jobs), jobs)


def finish(onsite: Onsite) -> None:
    with onsite.engine.connect() as conn:
        sqlite = conn.connection.driver_connection
        # Out of the write-ahead log into the database file, as a long-running server's checkpoints would have.
        sqlite.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        sqlite.execute("ANALYZE")


def chunk(rng: random.Random, ids: range, stamp: dict[str, Any]) -> dict[type, list[dict[str, Any]]]:
    """Job i of request i, with its deadlines, lead, callback, answer, report and parts."""
    rows: dict[type, list[dict[str, Any]]] = {model: [] for model in (
        ServiceRequest, Deadline, Job, JobTechnician, Callback, CallbackAttempt, FieldReport, ReportPartLine,
        Installation, OldPartObligation)}
    year = (YEAR_END - YEAR_START).total_seconds()
    for i in ids:
        reported = YEAR_START + timedelta(seconds=rng.uniform(0, year))
        station = rng.randrange(STATIONS) + 1
        technician = (station - 1) * 25 + rng.randrange(25) + 1
        engine = rng.random() < 0.2
        # One in fifty callbacks reopens a complaint (here, any request already built stands for it).
        complaint = rng.randrange(1, i + 1) if rng.random() < 0.02 else None
        rows[ServiceRequest].append({
            "id": i, "number": f"SR-B-{i:07d}", "status": "in_progress", "customer_id": 1,
            "unit_id": rng.randrange(UNITS) + 1, "site_address": "somewhere", "site_latitude": 30.0,
            "site_longitude": 110.0, "fault_description": "benchmark",
            "fault_category": "chassis_engine" if engine else "body",
            "channel": "regulator" if rng.random() < 0.005 else "phone",
            "complaint_class": rng.choice(("quality", "quality", "quality", "non_quality")), "supplier_needed": False,
            "reported_at": reported, "policy_version": 1, "tier": "on_site", "distance_km": rng.uniform(1, 100),
            "nearest_station_id": station, "decision": rng.choice(("accepted", "accepted", "rejected")),
            "follow_up_since": None, **stamp})
        for kind, hours in (("on_site", 24), *((("written_contact", 12),) if engine else ())):
            rows[Deadline].append({"service_request_id": i, "kind": kind, "due_at": reported + timedelta(hours=hours),
                                   "status": rng.choices(("met", "missed", "waived"), (91, 8, 1))[0],
                                   "created_at": reported})
        done = reported + timedelta(hours=rng.uniform(2, 30))
        cancelled = rng.random() < 0.01
        rows[Job].append({"id": i, "service_request_id": i, "status": "cancelled" if cancelled else "approved",
                          "assigned_at": reported + timedelta(hours=1), "work_done_at": done, **stamp})
        rows[JobTechnician].append({"job_id": i, "technician_id": technician, "is_lead": True})
        if cancelled:
            continue
        status = rng.choices(("done", "unreached", "open"), (90, 5, 5))[0]
        answered = done + timedelta(days=rng.uniform(0.1, 5)) if status != "open" else None
        rows[Callback].append({"id": i, "dedupe_key": f"service_quality:job:{i}", "kind": "service_quality",
                               "sequence": 1, "service_request_id": i, "job_id": i, "status": status,
                               "due_at": done + timedelta(days=3), "next_attempt_at": done,
                               "attempts_made": 0 if answered is None else 1, "completed_at": answered, **stamp})
        if status == "done":
            rows[CallbackAttempt].append({
                "callback_id": i, "number": 1, "attempted_at": answered, "reached": True, "method": "phone",
                **{name: rng.choices((2, 3, 4, 5), (3, 10, 45, 42))[0]
                   for name in ("attitude", "skill", "arrival_time", "promise_kept")},
                "complaint_request_id": complaint})
        rows[FieldReport].append({"id": i, "job_id": i, "version_no": 1, "status": "signed", **stamp})
        if rng.random() < 0.4:
            part = rng.randrange(PARTS) + 1
            rows[ReportPartLine].append({"id": i, "report_id": i, "line_no": 1, "part_id": part,
                                         "part_number": f"P{part}", "part_name": f"Part {part}",
                                         "quantity": rng.randint(1, 3), "reason": "worn",
                                         "covered_by_warranty": True})
            if rng.random() < 0.25:
                rows[Installation].append({"id": i, "job_id": i, "report_id": i, "technician_id": technician,
                                           "part_id": part, "quantity": 1, "covered_by_warranty": True,
                                           "installed_at": done})
                rows[OldPartObligation].append({
                    "installation_id": i, "job_id": i, "technician_id": technician, "station_id": station,
                    "part_id": part, "quantity": 1, "due_at": done + timedelta(days=7),
                    "status": rng.choices(("outstanding", "received", "excused"), (5, 90, 5))[0], **stamp})
    return rows


def progress(what: str, done: int, total: int) -> None:
    print(f"\r  {what}: {done:,}/{total:,}", end="\n" if done == total else "", flush=True)


if __name__ == "__main__":
    main()
