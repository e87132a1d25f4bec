"""Planning (issue 14): batch assignment against greedy one-by-one dispatch, on synthetic days.

    .venv/bin/python benchmarks/planning.py                    # every section, every size
    .venv/bin/python benchmarks/planning.py --sizes 1000x300

One function per section; `main` runs them in turn.

Batch assignment (`batch_assignment`): days of 50 requests x 30 technicians, 1,000 x 300 and 10,000 x 2,000, in the
geography of benchmarks/dispatch.py (stations spread over mainland China, technicians within 1.5 degrees of their
station, sites within 1.2 degrees of one). Per day: the solve time of backend.planning.plans.solver.solve (nearest
technicians, exact distances, greedy baseline and min-cost flow; the database reads around it are not included) and
missed deadlines, total lateness and total travel for the plan and for greedy one-by-one dispatch on the same data;
up to 300 technicians also the exact optimum (every eligible technician an arc of the flow) for comparison.

A technician's day (`day_routes`): 12-stop days in one city (sites within about 30 km of the Zhengzhou station,
20-40 minutes on site, a 10-hour shift), with deadlines on 70 % of the stops, on every stop, or on none. Per day:
the time of backend.planning.routes.service.order_visits, all the route costs besides the database reads (the
geodesic distances between the 13 points and the exact search), as median, 90th percentile and worst of the days.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend.planning.plans.solver import PlanRequest, PlanTechnician, Problem, solve  # noqa: E402
from backend.planning.routes.service import RouteTerms, order_visits  # noqa: E402

SKILLS = ["chassis_engine", "electrical", "air_conditioning", "hydraulics"]
LAT_RANGE, LON_RANGE = (20.0, 45.0), (100.0, 125.0)
SIZES = ((50, 30), (1_000, 300), (10_000, 2_000))
TECHNICIANS_PER_STATION = 10
MAX_JOBS = 3
TRAVEL_SPEED_KMH = 60.0
EXACT_UP_TO = 300  # technicians: up to this, the exact optimum is solved too, for comparison
ROUTE_STOPS = 12
ROUTE_DEADLINE_MIXES = (("70% of stops due", 0.7), ("every stop due", 1.0), ("no deadlines", 0.0))
ZHENGZHOU = (34.7466, 113.6254)


def synthetic_day(requests: int, technicians: int, seed: int) -> Problem:
    """A busy morning: every technician on shift, most with no open job yet, some with one or two; most requests
    due on site within the next hours (agreed times, DSP-2), some already overdue, some with no on-site deadline
    yet; a quarter needing one of four skills."""
    rng = random.Random(seed)
    now = datetime(2026, 3, 2, 8, tzinfo=UTC)
    stations = [(rng.uniform(*LAT_RANGE), rng.uniform(*LON_RANGE))
                for _ in range(max(1, technicians // TECHNICIANS_PER_STATION))]
    techs, skills_of = [], {}
    for i in range(1, technicians + 1):
        lat, lon = rng.choice(stations)
        techs.append(PlanTechnician(i, f"Technician {i}", lat + rng.uniform(-1.5, 1.5), lon + rng.uniform(-1.5, 1.5),
                                    rng.choice((0, 0, 0, 1, 1, 2))))
        skills_of[i] = set(rng.sample(SKILLS, 2))
    reqs = []
    for j in range(1, requests + 1):
        lat, lon = rng.choice(stations)
        roll = rng.random()
        due = (now + timedelta(minutes=rng.randrange(45, 8 * 60)) if roll < 0.7
               else now - timedelta(minutes=rng.randrange(1, 180)) if roll < 0.8 else None)
        reqs.append(PlanRequest(j, f"SR-2026-{j:06d}", lat + rng.uniform(-1.2, 1.2), lon + rng.uniform(-1.2, 1.2),
                                due, rng.choice([None, None, None, *SKILLS])))
    eligible: dict[str | None, list[int]] = {None: [t.id for t in techs]}
    for skill in SKILLS:
        eligible[skill] = [t.id for t in techs if skill in skills_of[t.id]]
    return Problem(reqs, techs, eligible, now, TRAVEL_SPEED_KMH, MAX_JOBS)


def batch_assignment(sizes: list[tuple[int, int]], seed: int) -> list[str]:
    """Solve time and both objectives per size; returns the summary lines."""
    header = (f"{'day':>14}{'wall s':>8}{'CPU s':>7}{'arcs':>9}  {'plan missed':>11}{'late min':>11}{'km':>12}"
              f"  {'greedy missed':>13}{'late min':>11}{'km':>12}{'km saved':>10}")
    print(header)
    lines = []
    for requests, technicians in sizes:
        problem = synthetic_day(requests, technicians, seed)
        # Wall time, and the process's CPU time: on a shared machine the CPU time is the solver's own work.
        started, cpu_started = time.perf_counter(), time.process_time()
        result = solve(problem)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        plan, greedy = result.plan.objective, result.greedy.objective
        saved = 1 - plan.total_travel_km / greedy.total_travel_km if greedy.total_travel_km else 0.0
        print(f"{requests:>7,}x{technicians:<6,}{seconds:>8.2f}{cpu:>7.2f}{result.solver['arcs']:>9,}  "
              f"{plan.missed_deadlines:>11,}{plan.total_lateness_minutes:>11,.0f}{plan.total_travel_km:>12,.0f}  "
              f"{greedy.missed_deadlines:>13,}{greedy.total_lateness_minutes:>11,.0f}{greedy.total_travel_km:>12,.0f}"
              f"{saved:>10.1%}", flush=True)
        assert plan.missed_deadlines <= greedy.missed_deadlines, (plan, greedy)
        if technicians <= EXACT_UP_TO:
            # Every eligible technician as an arc: the exact optimum, to show what the nearest-only arcs give up.
            exact = solve(problem, nearest=technicians).plan.objective
            print(f"{'':>14}{'exact optimum (every technician an arc):':>41}{exact.missed_deadlines:>7,}"
                  f"{exact.total_lateness_minutes:>11,.0f}{exact.total_travel_km:>12,.0f}", flush=True)
            lines.append(f"SUMMARY batch {requests:,}x{technicians:,} exact optimum: missed {exact.missed_deadlines}, "
                         f"late {exact.total_lateness_minutes:,.0f} min, {exact.total_travel_km:,.0f} km")
        lines.append(f"SUMMARY batch {requests:,}x{technicians:,}: solved in {seconds:.2f} s (CPU {cpu:.2f} s); "
                     f"{result.solver['arcs']:,} arcs; plan missed "
                     f"{plan.missed_deadlines} ({plan.unassigned} unassigned), late {plan.total_lateness_minutes:,.0f} "
                     f"min, {plan.total_travel_km:,.0f} km; greedy missed {greedy.missed_deadlines} "
                     f"({greedy.unassigned} unassigned), late {greedy.total_lateness_minutes:,.0f} min, "
                     f"{greedy.total_travel_km:,.0f} km; travel {saved:.1%} less")
    return lines


def route_day(rng: random.Random, due_share: float) -> tuple[Any, ...]:
    """order_visits' arguments for one day: from the station at 08:00 local, deadlines from an hour overdue to the
    end of the shift on `due_share` of the stops."""
    starts_at = datetime(2026, 3, 2, 0, tzinfo=UTC)  # 08:00 in Zhengzhou
    sites = [(ZHENGZHOU[0] + rng.uniform(-0.25, 0.25), ZHENGZHOU[1] + rng.uniform(-0.3, 0.3))
             for _ in range(ROUTE_STOPS)]
    visits = [timedelta(minutes=rng.choice((20, 30, 40))) for _ in sites]
    dues = [starts_at + timedelta(minutes=rng.randrange(-60, 600)) if rng.random() < due_share else None
            for _ in sites]
    return ZHENGZHOU, sites, visits, dues, starts_at, starts_at + timedelta(hours=10)


def day_routes(days: int, seed: int) -> list[str]:
    """Time per 12-stop day route, per deadline mix; returns the summary lines."""
    rng = random.Random(seed)
    terms = RouteTerms(TRAVEL_SPEED_KMH, visit_hours=2.0, visit_hours_by_fault={})
    # CPU time beside wall time: on a machine shared with other work the wall clock also counts the waiting.
    print(f"{'12-stop days':>18}{'cpu median':>11}{'cpu p90':>9}{'cpu max':>9}{'wall median':>12}{'missed':>8}"
          f"{'left out':>10}")
    lines = []
    for label, due_share in ROUTE_DEADLINE_MIXES:
        cpu, wall, missed, left_out = [], [], 0, 0
        for _ in range(days):
            day = route_day(rng, due_share)
            started, started_cpu = time.perf_counter(), time.process_time()
            route, _km = order_visits(*day, terms)
            cpu.append((time.process_time() - started_cpu) * 1000)
            wall.append((time.perf_counter() - started) * 1000)
            missed, left_out = missed + route.missed, left_out + len(route.left_out)
        cpu.sort()
        median, p90, worst = statistics.median(cpu), cpu[int(0.9 * (len(cpu) - 1))], cpu[-1]
        print(f"{label:>18}{median:>11.1f}{p90:>9.1f}{worst:>9.1f}{statistics.median(wall):>12.1f}{missed:>8}"
              f"{left_out:>10}", flush=True)
        lines.append(f"SUMMARY route 12 stops, {label}: CPU median {median:.1f} ms, p90 {p90:.1f} ms, worst "
                     f"{worst:.1f} ms over {days} days (wall median {statistics.median(wall):.1f} ms)")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="*", default=[f"{r}x{t}" for r, t in SIZES],
                        help="days as REQUESTSxTECHNICIANS")
    parser.add_argument("--seed", type=int, default=20261129)
    parser.add_argument("--route-days", type=int, default=50, help="12-stop days per deadline mix")
    args = parser.parse_args()
    sizes = [tuple(int(n) for n in size.split("x")) for size in args.sizes]
    lines = batch_assignment(sizes, args.seed)  # type: ignore[arg-type]
    print()
    lines += day_routes(args.route_days, args.seed)
    print()
    print("\n".join(lines))


if __name__ == "__main__":
    main()
