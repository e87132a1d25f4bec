"""Batch assignment (PLN-1): many open requests to technicians at once, as a minimum-cost flow. Pure: no database,
no Flask.

A plan is compared with another on, in this order: (1) missed deadlines, a request left unassigned counting as one;
(2) total lateness; (3) total travel. No technician ends with more than `max_jobs_per_technician` open jobs,
counting those they already have.

The model is OR-Tools' SimpleMinCostFlow (exact, network simplex / cost scaling): one node per request with supply
1 (2 for a crew of two), one per technician with capacity max_jobs - open jobs into the sink, an arc of capacity 1
from a request to each of its nearest eligible technicians (DSP-6), and an "unassigned" arc to the sink. The three
levels become one integer cost by weights that dominate: an arc costs W1 if it arrives after the deadline (so a late
arc costs a whole miss), plus W2 per unit of lateness, plus 1 per unit of travel, where W2 exceeds any plan's total
travel and W1 any plan's lateness and travel together, so the order is exact. The unassigned arc costs a miss and
more lateness than any arc of the day: a late visit beats none, and since that lateness is the same for every
request, it never decides which requests are left out when there are more than places. Lateness is counted in whole
minutes (rounded up) and travel in metres, or coarser (10 m, 100 m, 5 minutes, ...) when a very large day would
overflow 64-bit costs; the units used are reported.

Arcs: each request's `NEAREST` nearest eligible technicians, plus the technicians one-by-one dispatch gives it, so
the greedy plan is a feasible flow and the optimum is never worse than greedy. A request still late, or left
unassigned while technicians of its skill have room, is given its `WIDENED` nearest and the flow solved again. With all eligible technicians within `NEAREST` (small days) the
plan is the exact optimum. A crew of two takes two units of flow from two technicians (capacity 1 per pair), and
the nearer member leads (DSP-7). A request's miss and lateness are shared out over its crew's units, so a crew left
out weighs one miss, as a single request does; a crew with one late member counts half a miss in the flow (its last
arrival decides the objective, which a flow cannot express). A crew the flow could only half staff is left
unassigned and the flow solved again without it. With crews the flow is thus not exact, and where one-by-one
dispatch does better on the objective, its assignments are the plan.

Distances are geodesic on WGS-84 rounded to the metre, as in the candidates list (backend.dispatch.geo); arrival is
now + distance / travel speed (DSP-6). The nearest technicians are found with the spherical distance (vectorised)
and measured exactly (pyproj's geodesic, Karney's algorithm as in geopy) with a margin covering the sphere's error.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from ortools.graph.python import min_cost_flow
from pyproj import Geod

NEAREST = 48
WIDENED = 128
_GEOD = Geod(ellps="WGS84")
_EARTH_RADIUS_KM = 6371.0088
_SPHERE_ERROR = 0.01  # the sphere is off the WGS-84 geodesic by at most about 0.56 %
_MAX_COST = 2 ** 62
# (travel unit in metres, lateness unit in minutes), finest first: the first whose weights fit in 64 bits is used.
_RESOLUTIONS = ((1, 1), (10, 1), (100, 1), (100, 5), (1000, 5), (1000, 15), (1000, 60), (10_000, 60))
_MICROSECONDS_PER_MINUTE = 60_000_000
_CHUNK_CELLS = 2_000_000  # request x technician distances computed at once
SOLVER_NAME = "OR-Tools SimpleMinCostFlow"


@dataclass(frozen=True)
class PlanRequest:
    id: int
    number: str
    latitude: float
    longitude: float
    due_at: datetime | None  # the open on-site deadline; None: nothing to be late for
    required_skill: str | None
    crew_size: int = 1


@dataclass(frozen=True)
class PlanTechnician:
    id: int
    name: str
    latitude: float
    longitude: float
    open_jobs: int


@dataclass(frozen=True)
class Problem:
    requests: Sequence[PlanRequest]  # in board order, which is also one-by-one dispatch's order
    technicians: Sequence[PlanTechnician]
    eligible: Mapping[str | None, Sequence[int]]  # technician ids eligible (DSP-6) per required skill
    now: datetime
    travel_speed_kmh: float
    max_jobs_per_technician: int


@dataclass(frozen=True)
class Visit:
    technician_id: int
    distance_km: float
    eta: datetime
    open_jobs: int  # at planning time


@dataclass(frozen=True)
class Assignment:
    request_id: int
    crew: tuple[Visit, ...]  # the lead (the nearer) first
    due_at: datetime | None

    @property
    def eta(self) -> datetime:
        """The crew is complete when its last member arrives."""
        return max(v.eta for v in self.crew)

    @property
    def deadline_met(self) -> bool | None:
        return None if self.due_at is None else self.eta <= self.due_at

    @property
    def lateness_minutes(self) -> float:
        if self.due_at is None or self.eta <= self.due_at:
            return 0.0
        return (self.eta - self.due_at).total_seconds() / 60

    @property
    def distance_km(self) -> float:
        return round(sum(v.distance_km for v in self.crew), 3)


@dataclass(frozen=True)
class Objective:
    missed_deadlines: int
    total_lateness_minutes: float
    total_travel_km: float
    assigned: int
    unassigned: int

    @property
    def key(self) -> tuple[int, float, float]:
        return (self.missed_deadlines, self.total_lateness_minutes, self.total_travel_km)


@dataclass(frozen=True)
class Outcome:
    assignments: dict[int, Assignment]  # by request id
    unassigned: dict[int, str]  # request id -> why
    objective: Objective


@dataclass(frozen=True)
class Plan:
    plan: Outcome
    greedy: Outcome
    reasons: dict[int, str]  # request id -> why these technicians
    solver: dict[str, Any]


def objective(assignments: Mapping[int, Assignment], unassigned: Mapping[int, str]) -> Objective:
    late = [a for a in assignments.values() if a.deadline_met is False]
    return Objective(missed_deadlines=len(late) + len(unassigned),
                     total_lateness_minutes=round(sum(a.lateness_minutes for a in late), 1),
                     total_travel_km=round(sum(a.distance_km for a in assignments.values()), 3),
                     assigned=len(assignments), unassigned=len(unassigned))


def solve(problem: Problem, *, nearest: int = NEAREST, widened: int = WIDENED) -> Plan:
    started = time.perf_counter()
    day = _Day(problem)
    day.nearest(range(len(problem.requests)), nearest)
    greedy = day.greedy()
    plan, stats = day.optimise(greedy, nearest, widened)
    if greedy.objective.key < plan.objective.key:
        # Where the flow is not exact (crews of two: a crew's last arrival, a half-staffed crew left out and the
        # flow solved again; coarse units on a huge day), one-by-one dispatch's assignments may be better: kept.
        plan, stats["status"] = greedy, "one-by-one dispatch kept: better than the flow's plan"
    stats["seconds"] = round(time.perf_counter() - started, 3)
    return Plan(plan=plan, greedy=greedy, reasons=day.reasons(plan, greedy), solver=stats)


# --- the day's geometry ------------------------------------------------------------------------------------------

@dataclass
class _Neighbours:
    """A request's nearest eligible technicians (indices into the day's technicians), nearest first."""

    index: np.ndarray
    metres: np.ndarray
    complete: bool  # every eligible technician is in the list


@dataclass
class _Day:
    problem: Problem
    tech_lat: np.ndarray = field(init=False)
    tech_lon: np.ndarray = field(init=False)
    tech_xyz: np.ndarray = field(init=False)
    tech_ids: np.ndarray = field(init=False)
    open_jobs: np.ndarray = field(init=False)
    capacity: np.ndarray = field(init=False)
    groups: dict[str | None, np.ndarray] = field(init=False)
    due_us: list[int | None] = field(init=False)
    neighbours: dict[int, _Neighbours] = field(default_factory=dict)

    def __post_init__(self) -> None:
        p = self.problem
        self.tech_lat = np.array([t.latitude for t in p.technicians], dtype=float)
        self.tech_lon = np.array([t.longitude for t in p.technicians], dtype=float)
        self.tech_xyz = _unit_vectors(self.tech_lat, self.tech_lon)
        self.tech_ids = np.array([t.id for t in p.technicians], dtype=np.int64)
        self.open_jobs = np.array([t.open_jobs for t in p.technicians], dtype=np.int64)
        self.capacity = np.maximum(p.max_jobs_per_technician - self.open_jobs, 0)
        position = {t.id: i for i, t in enumerate(p.technicians)}
        self.groups = {skill: np.array(sorted(position[i] for i in ids), dtype=np.int64)
                       for skill, ids in p.eligible.items()}
        self.due_us = [None if r.due_at is None else _microseconds(r.due_at - p.now) for r in p.requests]

    def eligible_count(self, r: int) -> int:
        return len(self.groups.get(self.problem.requests[r].required_skill, ()))

    def nearest(self, rows: Sequence[int], k: int) -> None:
        """Measures the `k` nearest eligible technicians of each request in `rows` (more if tied with the k-th)."""
        by_group: dict[str | None, list[int]] = {}
        for r in rows:
            by_group.setdefault(self.problem.requests[r].required_skill, []).append(r)
        for skill, group_rows in by_group.items():
            members = self.groups.get(skill, np.empty(0, dtype=np.int64))
            self.neighbours.update(zip(group_rows, self._measure(group_rows, members, k)))

    def _measure(self, rows: list[int], members: np.ndarray, k: int) -> list[_Neighbours]:
        """The `k` nearest of `members` (technician indices) to each request, by exact distance, nearest first."""
        m = len(members)
        if m == 0:
            return [_Neighbours(np.empty(0, np.int64), np.empty(0, np.int64), True) for _ in rows]
        found = []
        chunk = max(1, _CHUNK_CELLS // m)
        for start in range(0, len(rows), chunk):
            found += self._measure_chunk(rows[start:start + chunk], members, k)
        return found

    def _measure_chunk(self, rows: list[int], members: np.ndarray, k: int) -> list[_Neighbours]:
        m = len(members)
        reqs = self.problem.requests
        lat = np.array([reqs[r].latitude for r in rows])
        lon = np.array([reqs[r].longitude for r in rows])
        # Nearness on the sphere as the cosine of the central angle (one matrix product); larger is nearer.
        closeness = _unit_vectors(lat, lon) @ self.tech_xyz[members].T
        # A margin over k by the sphere, then exact; whatever is left out lies, by the sphere's error bound, beyond
        # the nearest unmeasured one's lower bound, and a row whose k-th measured is not within it is measured in full.
        wide = min(m, k + max(8, k // 4))
        if wide < m:
            order = np.argpartition(-closeness, wide, axis=1)
            picked = order[:, :wide]
            angle = np.arccos(np.clip(np.take_along_axis(closeness, order[:, wide:wide + 1], axis=1)[:, 0], -1, 1))
            outside = angle * _EARTH_RADIUS_KM * (1 - _SPHERE_ERROR) * 1000
        else:
            picked = np.broadcast_to(np.arange(m), (len(rows), m))
            outside = np.full(len(rows), np.inf)
        metres = self._metres(np.repeat(lat, wide), np.repeat(lon, wide), members[picked].ravel()).reshape(-1, wide)
        found = []
        for row, r in enumerate(rows):
            index, dist, complete = members[picked[row]], metres[row], wide >= m
            if not complete and np.partition(dist, min(k, wide) - 1)[min(k, wide) - 1] > outside[row] - 1:
                index, complete = members, True
                dist = self._metres(np.full(m, lat[row]), np.full(m, lon[row]), members)
            order = np.lexsort((self.tech_ids[index], dist))
            index, dist = index[order], dist[order]
            if len(index) > k:  # keep those tied with the k-th
                keep = int(np.searchsorted(dist, dist[k - 1], side="right"))
                index, dist, complete = index[:keep], dist[:keep], complete and keep == m
            found.append(_Neighbours(index, dist, complete))
        return found

    def _metres(self, lat: np.ndarray, lon: np.ndarray, index: np.ndarray) -> np.ndarray:
        _, _, metres = _GEOD.inv(lon, lat, self.tech_lon[index], self.tech_lat[index])
        # Rounded to the metre, as backend.dispatch.geo.distance_km.
        return np.rint(np.asarray(metres)).astype(np.int64)

    def nearest_free(self, r: int, remaining: np.ndarray, size: int) -> _Neighbours:
        """The nearest eligible technicians still under the job limit (those tied with the size-th included)."""
        members = self.groups.get(self.problem.requests[r].required_skill, np.empty(0, dtype=np.int64))
        return self._measure([r], members[remaining[members] > 0], size)[0]

    def eta_us(self, metres: np.ndarray | int) -> np.ndarray:
        # rule DSP-6: arrival = now + distance / travel speed.
        return np.rint(np.asarray(metres, dtype=float) / 1000 / self.problem.travel_speed_kmh * 3600e6).astype(
            np.int64)

    def visit(self, r: int, t: int, metres: int) -> Visit:
        p = self.problem
        return Visit(technician_id=int(self.tech_ids[t]), distance_km=metres / 1000,
                     eta=p.now + timedelta(microseconds=int(self.eta_us(metres))), open_jobs=int(self.open_jobs[t]))

    def assignment(self, r: int, members: list[tuple[int, int]]) -> Assignment:
        """`members`: (technician index, metres); the nearer leads (DSP-7)."""
        ordered = sorted(members, key=lambda m: (m[1], self.tech_ids[m[0]]))
        req = self.problem.requests[r]
        return Assignment(request_id=req.id, crew=tuple(self.visit(r, t, d) for t, d in ordered), due_at=req.due_at)

    def outcome(self, assignments: dict[int, Assignment], unassigned: dict[int, str]) -> Outcome:
        return Outcome(assignments, unassigned, objective(assignments, unassigned))

    # --- one by one ----------------------------------------------------------------------------------------------

    def greedy(self) -> Outcome:
        """Board order, each request taking its top candidate (DSP-6's ranking: can arrive in time, distance,
        open jobs, id) among those still under the job limit, as one-by-one dispatch would."""
        remaining = self.capacity.copy()
        load = self.open_jobs.copy()
        assignments: dict[int, Assignment] = {}
        unassigned: dict[int, str] = {}
        for r, req in enumerate(self.problem.requests):
            crew = self._top_free(self.neighbours[r], req.crew_size, remaining, load)
            if crew is None and not self.neighbours[r].complete:
                crew = self._top_free(self.nearest_free(r, remaining, req.crew_size), req.crew_size, remaining, load)
            if crew is None:
                unassigned[req.id] = self.unassigned_reason(r, remaining)
                continue
            for t, _metres in crew:
                remaining[t] -= 1
                load[t] += 1
            assignments[req.id] = self.assignment(r, crew)
        return self.outcome(assignments, unassigned)

    def _top_free(self, near: _Neighbours, size: int, remaining: np.ndarray, load: np.ndarray
                  ) -> list[tuple[int, int]] | None:
        mask = remaining[near.index] > 0
        free = list(zip(near.index[mask].tolist(), near.metres[mask].tolist()))
        if len(free) < size:
            return None
        last = free[size - 1][1]
        # Whether one can arrive in time follows the distance, so the ranking is distance, open jobs, id.
        tied = sorted((f for f in free if f[1] <= last), key=lambda f: (f[1], load[f[0]], self.tech_ids[f[0]]))
        return tied[:size]

    def unassigned_reason(self, r: int, remaining: np.ndarray) -> str:
        req = self.problem.requests[r]
        if self.eligible_count(r) == 0:
            skill = f" with the skill {req.required_skill!r}" if req.required_skill else ""
            return (f"no eligible technician (DSP-6): nobody active and on shift{skill} at a station that may "
                    "receive work")
        if self.eligible_count(r) < req.crew_size:
            return f"needs a crew of {req.crew_size} and only {self.eligible_count(r)} technician is eligible"
        return (f"every eligible technician is at the limit of {self.problem.max_jobs_per_technician} open jobs or "
                "already given other requests")

    # --- jointly -------------------------------------------------------------------------------------------------

    def optimise(self, greedy: Outcome, nearest: int, widened: int) -> tuple[Outcome, dict[str, Any]]:
        reqs = self.problem.requests
        position = {int(t): i for i, t in enumerate(self.tech_ids)}
        # Arcs: the nearest, and what one-by-one dispatch chose (so greedy is a feasible flow).
        arcs: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for r, req in enumerate(reqs):
            near = self.neighbours[r]
            index, metres = near.index, near.metres
            if req.id in greedy.assignments:
                extra = [(position[v.technician_id], round(v.distance_km * 1000))
                         for v in greedy.assignments[req.id].crew if position[v.technician_id] not in index]
                if extra:
                    index = np.concatenate([index, [t for t, _d in extra]])
                    metres = np.concatenate([metres, [d for _t, d in extra]])
            arcs[r] = (index, metres)
        excluded: set[int] = set()  # crews the flow could only half staff
        rounds, widened_rows = 0, 0
        while True:
            rounds += 1
            flow, resolution = self._flow(arcs, excluded)
            half = {r for r, members in flow.items() if 0 < len(members) < reqs[r].crew_size}
            if half:
                excluded |= half
                continue
            # Requests the nearest technicians could not serve in time look farther, once.
            remaining = self._remaining(flow)
            room = {skill for skill, group in self.groups.items() if remaining[group].sum() > 0}
            short = [r for r, req in enumerate(reqs) if r not in excluded and not self.neighbours[r].complete
                     and len(arcs[r][0]) < widened and self._worth_widening(r, flow.get(r, []), room)]
            if not short or widened_rows:
                break
            widened_rows = len(short)
            self.nearest(short, widened)
            for r in short:
                index, metres = arcs[r]
                near = self.neighbours[r]
                new = ~np.isin(near.index, index)
                arcs[r] = (np.concatenate([index, near.index[new]]), np.concatenate([metres, near.metres[new]]))
        assignments, unassigned = {}, {}
        remaining = self._remaining(flow)
        for r, req in enumerate(reqs):
            members = flow.get(r, [])
            if len(members) == req.crew_size:
                assignments[req.id] = self.assignment(r, members)
            elif r in excluded:
                unassigned[req.id] = (f"needs a crew of {req.crew_size}: fewer eligible technicians near it are "
                                      "free than that, once the others' deadlines are served")
            else:
                unassigned[req.id] = self._left_out_reason(r, arcs[r], remaining)
        stats = {"name": SOLVER_NAME, "status": "optimal", "rounds": rounds,
                 "arcs": sum(len(index) for index, _metres in arcs.values()),
                 "nearest_considered": nearest, "widened_requests": widened_rows,
                 "travel_unit_m": resolution[0], "lateness_unit_minutes": resolution[1]}
        return self.outcome(assignments, unassigned), stats

    def _remaining(self, flow: dict[int, list[tuple[int, int]]]) -> np.ndarray:
        """Places left per technician under the job limit after `flow`."""
        remaining = self.capacity.copy()
        for members in flow.values():
            for t, _d in members:
                remaining[t] -= 1
        return remaining

    def _worth_widening(self, r: int, members: list[tuple[int, int]], room: set[str | None]) -> bool:
        """Late: a technician beyond the nearest may still arrive in time, freed through a chain of swaps. Left
        out: only while technicians of its skill have room (on a day with more requests than places, most are)."""
        if len(members) < self.problem.requests[r].crew_size:
            return self.problem.requests[r].required_skill in room
        due = self.due_us[r]
        return due is not None and int(self.eta_us(max(d for _t, d in members))) > due

    def _left_out_reason(self, r: int, arcs: tuple[np.ndarray, np.ndarray], remaining: np.ndarray) -> str:
        index, metres = arcs
        if not len(index):
            return self.unassigned_reason(r, remaining)
        return (f"the {len(index)} nearest eligible technicians (up to {metres.max() / 1000:.1f} km) are at the "
                f"limit of {self.problem.max_jobs_per_technician} open jobs or planned for other requests; no plan "
                "serving this one too misses fewer deadlines")

    def _flow(self, arcs: dict[int, tuple[np.ndarray, np.ndarray]], excluded: set[int]
              ) -> tuple[dict[int, list[tuple[int, int]]], tuple[int, int]]:
        reqs = self.problem.requests
        n, m = len(reqs), len(self.tech_ids)
        sink = n + m
        rows = [r for r in range(n) if r not in excluded]
        tail = np.repeat(np.array(rows, dtype=np.int64), [len(arcs[r][0]) for r in rows])
        head = np.concatenate([np.empty(0, np.int64), *(arcs[r][0] for r in rows)]).astype(np.int64)
        dist = np.concatenate([np.empty(0, np.int64), *(arcs[r][1] for r in rows)]).astype(np.int64)
        supply = np.array([r.crew_size for r in reqs], dtype=np.int64)
        due = np.array([d if d is not None else np.iinfo(np.int64).max for d in self.due_us], dtype=np.int64)
        eta = self.eta_us(dist)
        late_us = np.maximum(eta - due[tail], 0) if len(tail) else np.zeros(0, np.int64)
        miss = (eta > due[tail]).astype(np.int64) if len(tail) else np.zeros(0, np.int64)
        resolution, costs, unassigned_cost = self._costs(dist, late_us, miss, supply, tail)
        flow = min_cost_flow.SimpleMinCostFlow()
        request_arcs = flow.add_arcs_with_capacity_and_unit_cost(tail, n + head, np.ones(len(tail), np.int64), costs)
        flow.add_arcs_with_capacity_and_unit_cost(np.arange(n), np.full(n, sink), supply, unassigned_cost)
        flow.add_arcs_with_capacity_and_unit_cost(n + np.arange(m), np.full(m, sink), self.capacity,
                                                  np.zeros(m, np.int64))
        supplies = np.concatenate([supply, np.zeros(m, np.int64), [-int(supply.sum())]])
        flow.set_nodes_supplies(np.arange(n + m + 1), supplies)
        status = flow.solve()
        if status != flow.OPTIMAL:
            raise RuntimeError(f"the min-cost flow ended {status!r}")
        used = flow.flows(request_arcs) > 0 if len(tail) else np.zeros(0, bool)
        chosen: dict[int, list[tuple[int, int]]] = {}
        for r, t, d in zip(tail[used], head[used], dist[used]):
            chosen.setdefault(int(r), []).append((int(t), int(d)))
        return chosen, resolution

    def _costs(self, dist: np.ndarray, late_us: np.ndarray, miss: np.ndarray, supply: np.ndarray, tail: np.ndarray
               ) -> tuple[tuple[int, int], np.ndarray, np.ndarray]:
        """Integer arc costs ordering (misses, lateness, travel) exactly, at the finest resolution that fits, and the
        cost of leaving a unit of each request's supply unassigned. A request's miss and lateness are shared out
        over its crew's units (`share`), so a crew of two left out or late weighs one miss, as in `objective`."""
        nodes = len(supply) + len(self.tech_ids) + 1
        units = int(supply.sum())
        crew_lcm = int(np.lcm.reduce(supply)) if len(supply) else 1
        share = crew_lcm // supply  # per unit of each request
        for metres_unit, minutes_unit in _RESOLUTIONS:
            travel = np.rint(dist / metres_unit).astype(np.int64)
            late = -(-late_us // (minutes_unit * _MICROSECONDS_PER_MINUTE))  # whole units, rounded up
            # Left unassigned: a miss, and later than any arrival the plan could give (so a late visit beats none;
            # the same for every request, so it never decides which ones are left out).
            unassigned_late = int(late.max(initial=0)) + 1
            w2 = int(travel.max(initial=0)) * units + 1  # more than any plan's total travel
            w1 = w2 * (unassigned_late * units * crew_lcm + 1)  # more than any plan's lateness and travel together
            unassigned = (w1 + w2 * unassigned_late) * share
            if (w1 + w2 * unassigned_late) * crew_lcm * (nodes + units + 1) >= _MAX_COST:
                continue
            return (metres_unit, minutes_unit), (miss * w1 + late * w2) * share[tail] + travel, unassigned
        raise RuntimeError("the day is too large to weigh its objective in 64-bit costs")

    # --- explanations --------------------------------------------------------------------------------------------

    def reasons(self, plan: Outcome, greedy: Outcome) -> dict[int, str]:
        """Why each request got its technicians: the deadline, and what kept any nearer technician away."""
        reqs = self.problem.requests
        row_of = {req.id: r for r, req in enumerate(reqs)}
        position = {int(t): i for i, t in enumerate(self.tech_ids)}
        planned_for: dict[int, list[str]] = {}
        for a in plan.assignments.values():
            for v in a.crew:
                planned_for.setdefault(v.technician_id, []).append(reqs[row_of[a.request_id]].number)
        names = {t.id: t.name for t in self.problem.technicians}
        reasons = {}
        for request_id, a in plan.assignments.items():
            r = row_of[request_id]
            near = self.neighbours[r]
            parts = [self._deadline_words(a)]
            for v in a.crew:
                parts.append(self._member_words(v, near, position, planned_for, names, reqs[r].number))
            if len(a.crew) > 1:
                parts.append(f"technician {a.crew[0].technician_id} leads, being the nearer (DSP-7)")
            other = greedy.assignments.get(request_id)
            if other is not None and [v.technician_id for v in other.crew] != [v.technician_id for v in a.crew]:
                parts.append("one-by-one dispatch would send technician "
                             + " and ".join(str(v.technician_id) for v in other.crew))
            reasons[request_id] = "; ".join(parts)
        return reasons

    @staticmethod
    def _deadline_words(a: Assignment) -> str:
        if a.due_at is None:
            return "no on-site deadline to meet"
        if a.deadline_met:
            return f"arrives by {a.eta:%Y-%m-%d %H:%M} UTC, before the on-site deadline {a.due_at:%Y-%m-%d %H:%M} UTC"
        return (f"arrives {a.lateness_minutes:.0f} min after the on-site deadline; no free eligible technician "
                "could arrive in time without costing another request its deadline")

    def _member_words(self, v: Visit, near: _Neighbours, position: dict[int, int],
                      planned_for: dict[int, list[str]], names: dict[int, str], own: str) -> str:
        t = position[v.technician_id]
        who = f"technician {v.technician_id} ({names[v.technician_id]}, {v.distance_km:.3f} km, {v.open_jobs} open)"
        hits = np.nonzero(near.index == t)[0]
        if not len(hits):
            return f"{who}: every nearer eligible technician is at the job limit or planned for another request"
        rank = int(hits[0]) + 1
        if rank == 1:
            return f"{who} is the nearest eligible technician"
        nearer = []
        for u, d in zip(near.index[:rank - 1], near.metres[:rank - 1]):
            ident = int(self.tech_ids[u])
            if self.capacity[u] == 0:
                nearer.append(f"technician {ident} ({d / 1000:.3f} km) has {int(self.open_jobs[u])} open jobs")
            else:
                taken = [n for n in planned_for.get(ident, []) if n != own]
                nearer.append(f"technician {ident} ({d / 1000:.3f} km) is planned for {', '.join(taken)}" if taken
                              else f"technician {ident} ({d / 1000:.3f} km) is no better overall")
        shown = "; ".join(nearer[:3]) + (f"; and {len(nearer) - 3} more" if len(nearer) > 3 else "")
        return f"{who} is #{rank} by distance; nearer: {shown}"


def _unit_vectors(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    lat, lon = np.radians(lat), np.radians(lon)
    return np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], axis=-1)


def _microseconds(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


