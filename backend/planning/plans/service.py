"""Dispatch plans (PLN-1): a joint plan for the open requests, stored with its reasons and the greedy baseline, and
committed through the one dispatch service (DSP-6..8). No Flask in here; the caller owns the transaction, and every
row written here is audited on flush (backend.audit.recorder)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, select, true
from sqlalchemy.orm import Session, lazyload, selectinload

from backend.accounts.models import User
from backend.accounts.scope import stations_of, within_scope
from backend.config import Settings
from backend.db import locked
from backend.dispatch.candidates import DEFAULT_LIMIT, eligible_technicians, evaluate_crew, on_site_due
from backend.dispatch.models import Job, ServiceRequest
from backend.dispatch.nearest import positions
from backend.dispatch.service import DISPATCHABLE, DispatchOrder, dispatch
from backend.errors import Conflict, DomainError, NotFound
from backend.planning.plans.models import DispatchPlan, ItemOutcome, PlanItem, PlanStatus
from backend.planning.plans.solver import Assignment, PlanRequest, PlanTechnician, Problem, solve
from backend.technicians.models import Technician

# The DSP-8 decision's reason column holds this much.
_REASON_LENGTH = 1000
_IDS_PER_QUERY = 10_000


@dataclass(frozen=True)
class PlanOrder:
    station: int | None = None
    tier: str | None = None
    service_request_ids: list[int] | None = None
    crews_of_two: list[int] = field(default_factory=list)
    max_jobs_per_technician: int | None = None


@dataclass(frozen=True)
class Swap:
    service_request_id: int
    technician_ids: list[int]
    lead_id: int | None
    reason: str


@dataclass(frozen=True)
class CommitOrder:
    drop: list[int] = field(default_factory=list)
    swaps: list[Swap] = field(default_factory=list)


# --- planning ----------------------------------------------------------------------------------------------------

def create_plan(session: Session, order: PlanOrder, *, actor: User, now: datetime, settings: Settings
                ) -> DispatchPlan:
    """PLN-1: the open, dispatchable requests of the actor's stations (SCP-1) matching the order, assigned jointly to
    the technicians eligible for them (DSP-6) and based at those stations; stored with the greedy baseline."""
    stations = stations_of(actor)
    requests = _open_requests(session, order, actor)
    crews = set(order.crews_of_two)
    if stray := sorted(crews - {r.id for r in requests}):
        raise DomainError("crews_of_two", f"not among the requests being planned: {', '.join(map(str, stray))}")
    max_jobs = order.max_jobs_per_technician or settings.max_jobs_per_technician
    eligible = {skill: eligible_technicians(session, skill, stations)
                for skill in sorted({r.required_skill for r in requests}, key=lambda s: s or "")}
    details = {ident: detail for group in eligible.values() for ident, detail in group.items()}
    ids = sorted(details)
    # In slices: SQLite takes at most 32,766 parameters in one statement.
    where = {p.technician_id: p for start in range(0, len(ids), _IDS_PER_QUERY)
             for p in positions(session, Technician.id.in_(ids[start:start + _IDS_PER_QUERY]))}
    problem = Problem(
        requests=[PlanRequest(r.id, r.number, r.site_latitude, r.site_longitude, on_site_due(r), r.required_skill,
                              2 if r.id in crews else 1) for r in requests],
        technicians=[PlanTechnician(ident, details[ident][0], p.latitude, p.longitude, details[ident][1])
                     for ident, p in sorted(where.items())],
        eligible={skill: sorted(group) for skill, group in eligible.items()}, now=now,
        travel_speed_kmh=settings.travel_speed_kmh, max_jobs_per_technician=max_jobs)
    result = solve(problem)
    plan = DispatchPlan(
        status=PlanStatus.PROPOSED, created_by_user_id=actor.id, planned_at=now, max_jobs_per_technician=max_jobs,
        travel_speed_kmh=settings.travel_speed_kmh, solver=result.solver,
        filters={"station": order.station, "tier": order.tier, "service_request_ids": order.service_request_ids,
                 "crews_of_two": sorted(crews)},
        objective={"plan": asdict(result.plan.objective), "greedy": asdict(result.greedy.objective)})
    for position, (request, planned) in enumerate(zip(requests, problem.requests, strict=True), start=1):
        greedy = result.greedy.assignments.get(request.id)
        item = PlanItem(position=position, service_request=request, on_site_due_at=planned.due_at, crew=[],
                        greedy_technician_ids=[v.technician_id for v in greedy.crew] if greedy else [],
                        reason=result.plan.unassigned.get(request.id) or result.reasons[request.id])
        if (assignment := result.plan.assignments.get(request.id)) is not None:
            _fill(item, assignment, details, where)
        plan.items.append(item)
    session.add(plan)
    session.flush()
    return plan


def _fill(item: PlanItem, assignment: Assignment, details: dict[int, tuple[str, int]], where: dict[int, Any]) -> None:
    item.crew = [{"technician_id": v.technician_id, "name": details[v.technician_id][0],
                  "position_source": where[v.technician_id].source, "distance_km": v.distance_km,
                  "eta": v.eta.isoformat(), "open_jobs": v.open_jobs, "is_lead": lead}
                 for lead, v in zip([True] + [False] * (len(assignment.crew) - 1), assignment.crew)]
    item.distance_km = assignment.distance_km
    item.eta = assignment.eta
    item.deadline_met = assignment.deadline_met
    item.lateness_minutes = round(assignment.lateness_minutes, 1)


def _open_requests(session: Session, order: PlanOrder, actor: User) -> list[ServiceRequest]:
    """In board order (the most urgent open deadline first), which is also one-by-one dispatch's order."""
    stmt = select(ServiceRequest).where(within_scope(ServiceRequest.nearest_station_id, actor))
    if order.station is not None:
        stmt = stmt.where(ServiceRequest.nearest_station_id == order.station)
    if order.tier is not None:
        stmt = stmt.where(ServiceRequest.tier == order.tier)
    if order.service_request_ids is not None:
        stmt = stmt.where(ServiceRequest.id.in_(order.service_request_ids))
    chosen = session.scalars(stmt.order_by(ServiceRequest.next_due_at.asc().nulls_last(), ServiceRequest.id)).all()
    if order.service_request_ids is not None:
        found = {r.id for r in chosen}
        problems = [f"request {r.number} is {r.status}" for r in chosen if r.status not in DISPATCHABLE]
        problems += [f"request {i} does not exist" for i in dict.fromkeys(order.service_request_ids) if i not in found]
        if problems:
            raise DomainError("service_request_ids", "only registered or accepted requests of your stations matching "
                              "the other filters can be planned: " + "; ".join(problems))
    requests = [r for r in chosen if r.status in DISPATCHABLE]
    if not requests:
        raise Conflict("no open request waiting for dispatch matches; there is nothing to plan")
    return requests


def get_plan(session: Session, plan_id: int, user: User, *, for_update: bool = False) -> DispatchPlan:
    """A plan, if every request in it belongs to one of the user's stations (SCP-1); otherwise 404. `for_update`:
    the plan under a row lock, its requests not yet read (commit_plan locks them first)."""
    if for_update:
        plan = locked(session, DispatchPlan, plan_id)
    else:
        plan = session.get(DispatchPlan, plan_id,
                           options=[selectinload(DispatchPlan.items).joinedload(PlanItem.service_request)])
    if plan is None or stations_of(user) is not None and session.scalar(
            select(DispatchPlan.id).where(DispatchPlan.id == plan_id, _within_stations(user))) is None:
        raise NotFound("dispatch plan", plan_id)
    return plan


def visible_plans(user: User) -> Select[Any]:
    """The plans the user may see (get_plan's rule), newest first, without their items (the objective counts them)."""
    return (select(DispatchPlan).where(_within_stations(user)).options(lazyload(DispatchPlan.items))
            .order_by(DispatchPlan.id.desc()))


def _within_stations(user: User) -> ColumnElement[bool]:
    """SCP-1: a plan is within a user's stations when every request in it is."""
    stations = stations_of(user)
    if stations is None:
        return true()
    return ~(select(PlanItem.id).join(ServiceRequest)
             .where(PlanItem.plan_id == DispatchPlan.id, ServiceRequest.nearest_station_id.not_in(sorted(stations)))
             .exists())


# --- committing --------------------------------------------------------------------------------------------------

def commit_plan(session: Session, plan: DispatchPlan, order: CommitOrder, *, actor: User, now: datetime,
                settings: Settings) -> DispatchPlan:
    """PLN-1: creates every job of the plan through dispatch (DSP-6..8), or none. Refused with 409 naming what changed
    since the plan (a request dispatched or changed, a technician no longer eligible or busier)."""
    if plan.status != PlanStatus.PROPOSED:
        raise Conflict(f"dispatch plan {plan.id} was already committed at {plan.committed_at.isoformat()}")
    planned = {item.service_request_id: item for item in plan.assignments}
    drops = _drops(order.drop, planned)
    swaps = _swaps(order.swaps, planned, drops)
    kept = [item for item in plan.assignments if item.service_request_id not in drops]
    # Requests first, then technicians, each in id order: concurrent commits and dispatches queue, never cross
    # (service.lock_job's order). Holding the technicians keeps a concurrent plan from filling them meanwhile. Each
    # is read for the first time here, under its lock (a row read before would fail the lock's version check).
    requests = {i.service_request_id: locked(session, ServiceRequest, i.service_request_id)
                for i in sorted(kept, key=lambda i: i.service_request_id)}
    crews = {i.service_request_id: swaps[i.service_request_id].technician_ids if i.service_request_id in swaps
             else i.technician_ids for i in kept}
    for ident in sorted({t for crew in crews.values() for t in crew}):
        locked(session, Technician, ident)
    _refuse_if_changed(session, plan, kept, requests, swaps, actor=actor, now=now, settings=settings)
    _check_swaps(session, plan, swaps, requests, crews, actor=actor, now=now, settings=settings)
    for item in kept:
        swap = swaps.get(item.service_request_id)
        crew = crews[item.service_request_id]
        if swap is None:
            reason = f"dispatch plan {plan.id}: {item.reason}"
            lead = item.lead_technician_id
        else:
            reason = (f"dispatch plan {plan.id}, swapped from technician "
                      f"{' and '.join(map(str, item.technician_ids))}: {swap.reason}")
            lead = swap.lead_id if swap.lead_id is not None else crew[0]
        job = dispatch(session, item.service_request_id,
                       DispatchOrder(technician_ids=crew, lead_id=lead, reason=reason[:_REASON_LENGTH]),
                       actor=actor, now=now, travel_speed_kmh=settings.travel_speed_kmh,
                       candidate_limit=DEFAULT_LIMIT)
        item.job_id = job.id
        item.outcome = ItemOutcome.COMMITTED if swap is None else ItemOutcome.SWAPPED
        item.swap_reason = swap.reason if swap is not None else None
    for item in plan.assignments:
        if item.service_request_id in drops:
            item.outcome = ItemOutcome.DROPPED
    plan.status = PlanStatus.COMMITTED
    plan.committed_at = now
    plan.committed_by_user_id = actor.id
    session.flush()
    return plan


def _drops(drop: list[int], planned: dict[int, PlanItem]) -> set[int]:
    if stray := [i for i in drop if i not in planned]:
        raise DomainError("drop", f"not assigned in this plan: {', '.join(map(str, stray))}")
    return set(drop)


def _swaps(swaps: list[Swap], planned: dict[int, PlanItem], drops: set[int]) -> dict[int, Swap]:
    by_request: dict[int, Swap] = {}
    for index, swap in enumerate(swaps):
        where = f"swaps.{index}"
        if swap.service_request_id not in planned:
            raise DomainError(f"{where}.service_request_id",
                              f"request {swap.service_request_id} is not assigned in this plan")
        if swap.service_request_id in drops or swap.service_request_id in by_request:
            raise DomainError(f"{where}.service_request_id",
                              f"request {swap.service_request_id} is already dropped or swapped above")
        if len(set(swap.technician_ids)) != len(swap.technician_ids):
            raise DomainError(f"{where}.technician_ids", "names a technician more than once")
        if swap.lead_id is not None and swap.lead_id not in swap.technician_ids:
            raise DomainError(f"{where}.lead_id", "must be one of the crew")
        if swap.lead_id is None and len(swap.technician_ids) >= 2:
            raise DomainError(f"{where}.lead_id", "a crew of two or more needs exactly one lead (DSP-7)")
        by_request[swap.service_request_id] = swap
    return by_request


def _refuse_if_changed(session: Session, plan: DispatchPlan, kept: list[PlanItem],
                       requests: dict[int, ServiceRequest | None], swaps: dict[int, Swap], *, actor: User,
                       now: datetime, settings: Settings) -> None:
    """409 naming everything the plan relied on that is no longer so; nothing has been written yet."""
    changes: list[str] = []
    planned_load = {m["technician_id"]: m["open_jobs"] for item in plan.assignments for m in item.crew}
    busier: dict[int, str] = {}
    for item in kept:
        request = requests[item.service_request_id]
        assert request is not None  # a request is never deleted
        if request.status not in DISPATCHABLE:
            job = session.scalar(select(Job.id).where(Job.service_request_id == request.id)
                                 .order_by(Job.id.desc()).limit(1))
            changes.append(f"request {request.number} is {request.status} now"
                           + (f" (dispatched meanwhile as job {job})" if job is not None else ""))
            continue
        if on_site_due(request) != item.on_site_due_at:
            due = on_site_due(request)
            changes.append(f"request {request.number}'s on-site deadline is now "
                           f"{due.isoformat() if due else 'none'} (planned for "
                           f"{item.on_site_due_at.isoformat() if item.on_site_due_at else 'none'})")
        if item.service_request_id in swaps:
            continue
        try:
            crew = evaluate_crew(session, request, item.technician_ids, now=now,
                                 travel_speed_kmh=settings.travel_speed_kmh, stations=stations_of(actor))
        except DomainError as refusal:
            changes.append(f"request {request.number}: {refusal.detail}")
            continue
        for member in crew:
            if member.open_jobs > planned_load[member.technician_id]:
                busier[member.technician_id] = (
                    f"technician {member.technician_id} ({member.name}) has {member.open_jobs} open jobs now, "
                    f"{planned_load[member.technician_id]} when planned")
    changes += busier.values()
    if changes:
        raise Conflict(f"dispatch plan {plan.id} is out of date and nothing was created: {'; '.join(changes)}",
                       changes=changes)


def _check_swaps(session: Session, plan: DispatchPlan, swaps: dict[int, Swap],
                 requests: dict[int, ServiceRequest | None], crews: dict[int, list[int]], *, actor: User,
                 now: datetime, settings: Settings) -> None:
    """A swapped-in crew must be eligible (DSP-6) and stay within the plan's job limit."""
    new_jobs: dict[int, int] = {}
    for crew in crews.values():
        for ident in crew:
            new_jobs[ident] = new_jobs.get(ident, 0) + 1
    for index, swap in enumerate(swaps.values()):
        where = f"swaps.{index}.technician_ids"
        request = requests[swap.service_request_id]
        assert request is not None
        try:
            crew = evaluate_crew(session, request, swap.technician_ids, now=now,
                                 travel_speed_kmh=settings.travel_speed_kmh, stations=stations_of(actor))
        except DomainError as refusal:
            raise DomainError(where, refusal.detail) from refusal
        for member in crew:
            total = member.open_jobs + new_jobs[member.technician_id]
            if total > plan.max_jobs_per_technician:
                raise DomainError(where, f"technician {member.technician_id} ({member.name}) would have {total} open "
                                  f"jobs, over the plan's limit of {plan.max_jobs_per_technician}")

