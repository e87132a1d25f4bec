"""Service request register and dispatch: the rules of RULES.md §1-3. No Flask in here; the caller owns the
transaction, and every row written here is audited on flush (backend.audit.recorder)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, insert, or_, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload, lazyload, selectinload

from backend.accounts.models import Role, User
from backend.accounts.scope import in_scope, require_in_scope, stations_of, within_scope
from backend.callbacks.models import Callback, CallbackStatus
from backend.clock import ensure_utc
from backend.config import Settings
from backend.customers.models import Customer, Unit
from backend.db import locked
from backend.dispatch.candidates import Candidate, evaluate_crew, find_candidates, on_site_due
from backend.dispatch.geo import Found, nearest
from backend.dispatch.models import (JOB_ASSIGNED, STOPPED_STATUSES, Communication, Deadline, DispatchDecision, Job,
                                     JobTechnician, RequestStatus, ServiceRequest, ServiceRequestCounter)
from backend.dispatch.policy import current_policy
from backend.dispatch.sla import UNFULFILLED, DeadlineKind, DeadlineStatus, assess, effective_status, settled_status
from backend.errors import Conflict, DomainError, Forbidden, NotFound
from backend.quality.models import Investigation
from backend.stations.models import Station
from backend.technicians.models import Technician


class Decision(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class CommunicationKind(StrEnum):
    MESSAGE = "message"
    REPLY = "reply"  # DSP-2
    WRITTEN_CONTACT = "written_contact"  # DSP-3
    FEEDBACK = "feedback"  # INV-1: the outcome told to the customer


# How an agent told the customer the outcome (INV-1): the register's channels (INT-2) a reply can go by.
FEEDBACK_METHODS = ("phone", "letter", "email", "walk_in", "app")


DISPATCHABLE = (RequestStatus.REGISTERED, RequestStatus.ACCEPTED)
# The office sees the jobs of its stations (all of them at head office, SCP-1); a technician only the jobs they are on.
JOB_OFFICE_ROLES = frozenset({Role.DISPATCHER, Role.SUPERVISOR, Role.MANAGER, Role.ADMIN})
# Who may do what with the register, shared by every front end (the API's views and the console's pages).
INTAKE = (Role.AGENT, Role.DISPATCHER)
# Quality investigates the requests (INV-2) and finance books their costs (CST-2): both read the register.
READERS = (Role.AGENT, Role.DISPATCHER, Role.SUPERVISOR, Role.MANAGER, Role.ADMIN, Role.QUALITY, Role.FINANCE)
CONTACT_LOGGERS = (Role.AGENT, Role.DISPATCHER, Role.SUPERVISOR, Role.MANAGER)
# DSP-3: the service group (dispatchers and their supervisors) makes the written contact.
SERVICE_GROUP = (Role.DISPATCHER, Role.SUPERVISOR)
PLANNERS = (Role.DISPATCHER, Role.SUPERVISOR, Role.MANAGER)
# The DSP-2 reply and dispatch itself (DSP-6..8) are the dispatcher's; INT-4 decisions and waivers the manager's.
DISPATCHERS = (Role.DISPATCHER,)
DECIDERS = (Role.MANAGER,)
# INV-1: an agent records that the customer was told the outcome; an agent or a manager closes the request.
FEEDBACK_RECORDERS = (Role.AGENT,)
CLOSERS = (Role.AGENT, Role.MANAGER)

# What a representation shows, loaded with it in as few statements as possible (each statement costs a round trip
# and the ORM's work per row); rows the representation does not show load only if something touches them. The
# statements reading one row are built once: one made per call spends more on its cache key than on the query.
# ServiceRequestSchema: the request with its station; its deadlines too for one request (a joined collection), by
# one more statement for a page of them (the default selectin).
BOARD_VIEW = (joinedload(ServiceRequest.nearest_station),)
_REQUEST_VIEW = select(ServiceRequest).where(ServiceRequest.id == bindparam("ident")).options(
    *BOARD_VIEW, joinedload(ServiceRequest.deadlines))
# JobSchema: the job with its request and the request's unit and customer, then the crew with each member's name
# (technician and account joined) in a second statement. Not the request's deadlines, the technicians' skills or the
# crew accounts' roles and stations.
JOB_VIEW = (
    joinedload(Job.service_request).options(lazyload(ServiceRequest.deadlines), joinedload(ServiceRequest.unit),
                                            joinedload(ServiceRequest.customer)),
    selectinload(Job.crew).joinedload(JobTechnician.technician).options(
        lazyload(Technician.skill_rows),
        joinedload(Technician.user).options(lazyload(User.role_rows), lazyload(User.station_rows))),
)
# One job: its crew (one or two rows) joined into the same statement instead of a second one.
_JOB_VIEW = select(Job).where(Job.id == bindparam("ident")).options(
    JOB_VIEW[0], joinedload(Job.crew).joinedload(JobTechnician.technician).options(
        lazyload(Technician.skill_rows),
        joinedload(Technician.user).options(lazyload(User.role_rows), lazyload(User.station_rows))))


# --- intake ------------------------------------------------------------------------------------------------------

def next_request_number(session: Session, year: int) -> str:
    """INT-1: `SR-<year>-<6 digits>`, sequential within the year.

    A counter row per year is bumped with UPDATE ... RETURNING: the UPDATE holds the row lock until commit, so
    concurrent intakes queue on it and can never draw the same number (SQLite serialises writers anyway). An
    id-derived number would be unique too, but would not restart each year and would show gaps from rollbacks
    of other tables' ids; here a rollback also undoes the bump. Past 999,999 in a year the number just grows."""
    table = ServiceRequestCounter.__table__
    bump = (update(table).where(table.c.year == year).values(last_number=table.c.last_number + 1)
            .returning(table.c.last_number))
    number = session.scalar(bump)
    if number is None:
        try:
            with session.begin_nested():  # the first request of a year; a concurrent one may create the row first
                session.execute(insert(table).values(year=year, last_number=1))
            number = 1
        except IntegrityError:
            number = session.scalar(bump)
    return f"SR-{year}-{number:06d}"


def nearest_active_station(session: Session, site: tuple[float, float], start_km: float) -> Found[Station]:
    """The active station nearest the site by geodesic distance, searched outward from `start_km`."""
    def in_box(box: Any) -> Sequence[Station]:
        return session.scalars(select(Station).where(Station.active.is_(True),
                                                     box.where(Station.latitude, Station.longitude))
                               .order_by(Station.id)).all()

    found = nearest(site, in_box, lambda s: (s.latitude, s.longitude), lambda s: s.id, at_least=1,
                    start_km=start_km)
    if not found:
        raise Conflict("there is no active service station to measure the site's distance from")
    return found[0]


def register_request(session: Session, data: dict[str, Any], *, actor_id: int | None, now: datetime,
                     settings: Settings) -> ServiceRequest:
    """INT-1..3, DSP-1..4: registers a request with its tier, distance and deadlines frozen."""
    customer = session.get(Customer, data["customer_id"])
    if customer is None:
        raise DomainError("customer_id", f"no customer with id {data['customer_id']}")
    unit = session.get(Unit, data["unit_id"])
    if unit is None:
        raise DomainError("unit_id", f"no unit with id {data['unit_id']}")
    if unit.customer_id != customer.id:
        raise DomainError("unit_id", f"unit {unit.id} belongs to another customer")
    follows = data.get("follows_request_id")
    if follows is not None:
        # INV-1: a complaint about an earlier request (a closed one cannot change) is a new request linked to it.
        earlier = session.get(ServiceRequest, follows)
        if earlier is None or earlier.customer_id != customer.id:
            raise DomainError("follows_request_id", f"no service request {follows} of customer {customer.id}")
    reported_at = _not_in_future("reported_at", data.get("reported_at"), now)
    terms = current_policy(session, settings, now)
    site = (data["site_latitude"], data["site_longitude"])
    station = nearest_active_station(session, site, start_km=terms.radius_km)
    # rule DSP-4: computed once here and stored; nothing recomputes them later.
    assessment = assess(terms, distance_km=station.distance_km, fault_category=data["fault_category"],
                        supplier_needed=data["supplier_needed"], reported_at=reported_at)
    service_request = ServiceRequest(
        **{**data, "reported_at": reported_at}, number=next_request_number(session, now.year),
        status=RequestStatus.REGISTERED, registered_by_user_id=actor_id, policy_version=terms.version,
        tier=assessment.tier, distance_km=station.distance_km, nearest_station=station.item,
        deadlines=[Deadline(kind=kind, due_at=due, status=DeadlineStatus.OPEN)
                   for kind, due in assessment.deadlines.items()])
    service_request.deadlines_changed()
    session.add(service_request)
    session.flush()
    return service_request


def _not_in_future(field: str, moment: datetime | None, now: datetime) -> datetime:
    """A time the user reports may be in the past (logged late), never in the future; absent means now."""
    if moment is None:
        return now
    if moment > now:
        raise DomainError(field, f"must not be in the future (it is now {now.isoformat()})")
    return ensure_utc(moment)


def request_board(filters: dict[str, Any], now: datetime, user: User) -> Select[Any]:
    """The dispatcher's board: the requests of the user's stations (SCP-1) filtered, the most urgent open deadline
    first, then the rest."""
    stmt = select(ServiceRequest).where(within_scope(ServiceRequest.nearest_station_id, user))
    for name, column in (("status", ServiceRequest.status), ("tier", ServiceRequest.tier),
                         ("station", ServiceRequest.nearest_station_id), ("customer_id", ServiceRequest.customer_id),
                         ("complaint_class", ServiceRequest.complaint_class),
                         ("follows_request_id", ServiceRequest.follows_request_id)):
        if name in filters:
            stmt = stmt.where(column == filters[name])
    if "overdue" in filters:
        # Past due and still not done, whether or not the sla-watch duty has already marked it missed.
        undone = ServiceRequest.deadlines.any(and_(Deadline.due_at < now, Deadline.met_at.is_(None),
                                                   Deadline.status.in_(UNFULFILLED)))
        overdue = and_(ServiceRequest.status.not_in(STOPPED_STATUSES), undone)
        stmt = stmt.where(overdue if filters["overdue"] else ~overdue)
    if "due_before" in filters:
        stmt = stmt.where(ServiceRequest.next_due_at < filters["due_before"])
    return stmt.order_by(ServiceRequest.next_due_at.asc().nulls_last(), ServiceRequest.id).options(*BOARD_VIEW)


def get_request(session: Session, service_request_id: int, user: User, *, for_update: bool = False
                ) -> ServiceRequest:
    """A request, if it exists and belongs to one of the user's stations (SCP-1, DSP-4); otherwise 404.
    `for_update`: read under a row lock, for a write that will change it (backend.db.locked)."""
    service_request = (locked(session, ServiceRequest, service_request_id) if for_update
                       else session.scalars(_REQUEST_VIEW, {"ident": service_request_id}).unique().one_or_none())
    if service_request is None:
        raise NotFound("service request", service_request_id)
    require_in_scope(service_request.nearest_station_id, user, "service request", service_request_id)
    return service_request


# --- the register's actions --------------------------------------------------------------------------------------

def decide(service_request: ServiceRequest, *, actor_id: int, outcome: str, reason: str, now: datetime) -> None:
    """INT-4: a manager's final accept/reject, with its reason. A rejected request's clocks stop: deadlines not yet
    due are waived with the decision's reason, those already past stay missed."""
    if service_request.decision is not None:
        raise Conflict(f"the request was already {service_request.decision} on {service_request.decided_at}")
    if outcome == Decision.REJECTED and service_request.status == RequestStatus.IN_PROGRESS:
        raise Conflict("a job has been dispatched for this request; cancel the job before rejecting it")
    service_request.decision = outcome
    service_request.decision_reason = reason
    service_request.decided_by_user_id = actor_id
    service_request.decided_at = now
    if outcome == Decision.REJECTED:
        service_request.status = RequestStatus.REJECTED
        _stop_clocks(service_request, actor_id=actor_id, reason=f"request rejected: {reason}", now=now)
    elif service_request.status == RequestStatus.REGISTERED:
        service_request.status = RequestStatus.ACCEPTED
    service_request.deadlines_changed()


def _stop_clocks(service_request: ServiceRequest, *, actor_id: int, reason: str, now: datetime) -> None:
    """Nothing more is owed: open deadlines already past due stay missed, those not yet due are waived."""
    for deadline in service_request.deadlines:
        if deadline.status != DeadlineStatus.OPEN:
            continue
        if deadline.due_at < now:
            deadline.status = DeadlineStatus.MISSED
        else:
            _waive(deadline, actor_id=actor_id, reason=reason, now=now)


def give_feedback(service_request: ServiceRequest, *, method: str, text: str, actor_id: int | None,
                  given_at: datetime) -> None:
    """INV-1: the customer was told the outcome of a resolved request (by an agent, or the service-quality callback
    that reached them: backend.callbacks.service)."""
    _require_resolved(service_request)
    service_request.status = RequestStatus.FEEDBACK_GIVEN
    service_request.feedback_given_at = given_at
    service_request.feedback_method = method
    service_request.feedback_text = text
    service_request.feedback_by_user_id = actor_id


def _require_resolved(service_request: ServiceRequest) -> None:
    if service_request.status != RequestStatus.RESOLVED:
        raise Conflict(f"request {service_request.number} is {service_request.status}; the customer is told the "
                       "outcome once it is resolved (its report approved)", current_status=service_request.status)


def record_feedback(session: Session, service_request: ServiceRequest, *, actor_id: int, method: str, text: str,
                    given_at: datetime | None, now: datetime) -> None:
    """INV-1 by an agent: what the customer was told and how; archived with the calls and letters too (INT-5)."""
    _require_resolved(service_request)
    given_at = _not_in_future("given_at", given_at, now)
    if given_at < service_request.reported_at:
        raise DomainError("given_at", "must not be before the request was reported")
    give_feedback(service_request, method=method, text=text, actor_id=actor_id, given_at=given_at)
    log_communication(session, service_request, actor_id=actor_id, direction="outgoing", channel=method,
                      kind=CommunicationKind.FEEDBACK, content=text, counterpart=None, occurred_at=given_at, now=now)


def close_request(session: Session, service_request: ServiceRequest, *, actor_id: int, summary: str,
                  now: datetime) -> None:
    """INV-1: the register's last step, with the closing summary; from then on nothing about the request changes
    (see the check in backend.dispatch.models). Its open callbacks are withdrawn and its clocks stopped. INV-2: a
    quality complaint (INT-3) needs its investigation first."""
    if service_request.status not in (RequestStatus.FEEDBACK_GIVEN, RequestStatus.REJECTED):
        raise Conflict(f"request {service_request.number} is {service_request.status}; it is closed once the "
                       "customer was told the outcome (feedback_given), or after it was rejected",
                       current_status=service_request.status)
    if service_request.complaint_class == "quality" and session.scalar(
            select(Investigation.id).where(Investigation.service_request_id == service_request.id)) is None:
        raise Conflict(f"request {service_request.number} is a quality complaint (INT-3): its investigation "
                       "(root cause, countermeasure, responsible party) must be recorded before it is closed (INV-2)",
                       missing="investigation")
    # Everything else first, the status last: an autoflush in between must not see the request closed already.
    for callback in session.scalars(select(Callback).where(Callback.service_request_id == service_request.id,
                                                           Callback.status == CallbackStatus.OPEN)):
        callback.status = CallbackStatus.CANCELLED
        callback.completed_at = now
    _stop_clocks(service_request, actor_id=actor_id, reason=f"request closed: {summary}", now=now)
    service_request.follow_up_since = None
    service_request.closing_summary = summary
    service_request.closed_by_user_id = actor_id
    service_request.closed_at = now
    service_request.status = RequestStatus.CLOSED
    service_request.deadlines_changed()
    session.flush()


def record_reply(session: Session, service_request: ServiceRequest, *, actor_id: int, content: str, channel: str,
                 agreed_on_site_at: datetime, replied_at: datetime | None, now: datetime) -> Communication:
    """DSP-2: the reply meets the reply deadline, and the on-site time agreed in it becomes the on-site deadline."""
    replied_at = _not_in_future("replied_at", replied_at, now)
    agreed_on_site_at = ensure_utc(agreed_on_site_at)
    if agreed_on_site_at <= replied_at:
        raise DomainError("agreed_on_site_at", "must be after the reply")
    fulfil_deadline(service_request, DeadlineKind.REPLY, replied_at, field="replied_at")
    service_request.deadlines.append(
        Deadline(kind=DeadlineKind.ON_SITE, due_at=agreed_on_site_at, status=DeadlineStatus.OPEN))
    service_request.deadlines_changed()
    return log_communication(session, service_request, actor_id=actor_id, direction="outgoing", channel=channel,
                             kind=CommunicationKind.REPLY, content=content, counterpart=None, occurred_at=replied_at,
                             now=now)


def record_written_contact(session: Session, service_request: ServiceRequest, *, actor_id: int, content: str,
                           channel: str, contacted_at: datetime | None, now: datetime) -> Communication:
    """DSP-3: the written contact meets its deadline and is archived with the request's communications."""
    contacted_at = _not_in_future("contacted_at", contacted_at, now)
    fulfil_deadline(service_request, DeadlineKind.WRITTEN_CONTACT, contacted_at, field="contacted_at")
    service_request.deadlines_changed()
    return log_communication(session, service_request, actor_id=actor_id, direction="outgoing", channel=channel,
                             kind=CommunicationKind.WRITTEN_CONTACT, content=content, counterpart=None,
                             occurred_at=contacted_at, now=now)


def fulfil_deadline(service_request: ServiceRequest, kind: DeadlineKind, at: datetime, *, field: str
                    ) -> None:
    """Settles a deadline by something done at `at`: met in time or missed (late, but done)."""
    deadline = service_request.deadline(kind)
    if deadline is None:
        raise Conflict(f"request {service_request.number} has no {kind} deadline (its tier is "
                       f"{service_request.tier}, fault category {service_request.fault_category})")
    if service_request.status == RequestStatus.REJECTED:
        raise Conflict(f"request {service_request.number} was rejected; its clocks have stopped (log the contact as "
                       "a communication)")
    if not deadline.pending:
        raise Conflict(f"the {kind} deadline is already {deadline.status}")
    if at < service_request.reported_at:
        raise DomainError(field, "must not be before the request was reported")
    deadline.status = settled_status(deadline.due_at, at)
    deadline.met_at = at


def log_communication(session: Session, service_request: ServiceRequest, *, actor_id: int, direction: str,
                      channel: str, kind: str, content: str, counterpart: str | None, occurred_at: datetime | None,
                      now: datetime) -> Communication:
    """INT-5: one entry in the request's call and letter log."""
    entry = Communication(service_request_id=service_request.id, direction=direction, channel=channel, kind=kind,
                          content=content, counterpart=counterpart, logged_by_user_id=actor_id,
                          occurred_at=_not_in_future("occurred_at", occurred_at, now), created_at=now)
    session.add(entry)
    session.flush()
    return entry


def communications(service_request_id: int) -> Select[Any]:
    return (select(Communication).where(Communication.service_request_id == service_request_id)
            .order_by(Communication.occurred_at, Communication.id))


def waive_deadline(session: Session, service_request: ServiceRequest, *, actor: User, kind: str, reason: str,
                   now: datetime) -> None:
    """DSP-4: a manager may waive an open deadline, with a reason. A deadline already missed stays missed, so the
    timeliness figures (DSP-5) cannot be cleaned up after the fact. Not by anyone who worked on the request's jobs:
    the waiver excuses their lateness (four eyes)."""
    for job in session.scalars(select(Job).where(Job.service_request_id == service_request.id)):
        check_may_decide(job, actor)
    deadline = service_request.deadline(kind)
    if deadline is None:
        raise DomainError("kind", f"request {service_request.number} has no {kind} deadline", status=409)
    current = effective_status(deadline.status, deadline.due_at, now)
    if current != DeadlineStatus.OPEN:
        raise Conflict(f"the {kind} deadline is already {current}; only an open deadline can be waived")
    _waive(deadline, actor_id=actor.id, reason=reason, now=now)
    service_request.deadlines_changed()


def _waive(deadline: Deadline, *, actor_id: int, reason: str, now: datetime) -> None:
    deadline.status = DeadlineStatus.WAIVED
    deadline.waived_reason = reason
    deadline.waived_by_user_id = actor_id
    deadline.waived_at = now


# --- dispatch ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DispatchOrder:
    technician_ids: list[int] | None
    lead_id: int | None
    reason: str | None


def dispatch(session: Session, service_request_id: int, order: DispatchOrder, *, actor: User | None, now: datetime,
             travel_speed_kmh: float, candidate_limit: int) -> Job:
    """DSP-6..8: creates the job, with its crew and lead, and records why it went to them. A dispatcher with
    stations dispatches their stations' requests to technicians based there (SCP-1); `actor` None is the system
    (demo data, benchmarks)."""
    # The row lock makes a second dispatcher of the same request wait here until the first commits, then see the
    # request in progress and get a 409. The unique index on live jobs per request is the backstop.
    service_request = locked(session, ServiceRequest, service_request_id)
    if service_request is None:
        raise NotFound("service request", service_request_id)
    stations = None
    if actor is not None:
        require_in_scope(service_request.nearest_station_id, actor, "service request", service_request_id)
        stations = stations_of(actor)
    actor_id = actor.id if actor is not None else None
    if service_request.status not in DISPATCHABLE:
        raise Conflict(f"request {service_request.number} is {service_request.status}; only a registered or "
                       "accepted request can be dispatched")
    ranking = find_candidates(session, service_request, now=now, travel_speed_kmh=travel_speed_kmh,
                              limit=candidate_limit, stations=stations)
    suggested = ranking[0] if ranking else None
    if order.technician_ids is None:
        if suggested is None:
            raise Conflict(_nobody_eligible(service_request))
        crew = [suggested]
    else:
        if len(set(order.technician_ids)) != len(order.technician_ids):
            raise DomainError("technician_ids", "names a technician more than once")
        ranked = {c.technician_id: c for c in ranking}
        crew = [ranked.get(m.technician_id, m) for m in evaluate_crew(
            session, service_request, order.technician_ids, now=now, travel_speed_kmh=travel_speed_kmh,
            stations=stations)]
    crew_ids = [member.technician_id for member in crew]
    overrode = suggested is not None and suggested.technician_id not in crew_ids
    if overrode and not order.reason:
        # rule DSP-8: the dispatcher may override the suggestion, with a reason.
        raise DomainError("reason", f"the top candidate is technician {ranking[0].technician_id} ({ranking[0].name});"
                                    " choosing someone else needs a reason")
    lead_id = _lead(crew_ids, order.lead_id)
    job = Job(service_request=service_request, status=JOB_ASSIGNED, assigned_at=now, assigned_by_user_id=actor_id,
              crew=[JobTechnician(technician_id=i, is_lead=i == lead_id) for i in crew_ids])
    session.add(job)
    session.add(DispatchDecision(
        job=job, service_request_id=service_request.id, decided_by_user_id=actor_id, decided_at=now,
        mode="automatic" if order.technician_ids is None else "manual",
        suggested_technician_id=suggested.technician_id if suggested else None, overrode_suggestion=overrode,
        reason=order.reason, travel_speed_kmh=travel_speed_kmh, on_site_due_at=on_site_due(service_request),
        candidates=[c.as_record() for c in ranking],
        crew=[{**member.as_record(), "is_lead": member.technician_id == lead_id} for member in crew]))
    service_request.status = RequestStatus.IN_PROGRESS
    session.flush()
    return job


def candidates_for(session: Session, service_request_id: int, user: User, *, now: datetime,
                   travel_speed_kmh: float, limit: int) -> tuple[ServiceRequest, list[Candidate]]:
    """The request (within the user's stations) and who could take it: technicians based at those stations."""
    service_request = get_request(session, service_request_id, user)
    return service_request, find_candidates(session, service_request, now=now, travel_speed_kmh=travel_speed_kmh,
                                            limit=limit, stations=stations_of(user))


def _lead(crew_ids: list[int], lead_id: int | None) -> int:
    """rule DSP-7: a crew of two or more has exactly one lead, named by the dispatcher; one alone leads."""
    if lead_id is not None and lead_id not in crew_ids:
        raise DomainError("lead_id", "must be one of the crew")
    if lead_id is None:
        if len(crew_ids) >= 2:
            raise DomainError("lead_id", "a crew of two or more needs exactly one lead (DSP-7)")
        return crew_ids[0]
    return lead_id


def _nobody_eligible(service_request: ServiceRequest) -> str:
    skill = f", with the skill {service_request.required_skill!r}" if service_request.required_skill else ""
    return (f"no eligible technician for request {service_request.number}: nobody is active and on shift{skill}, "
            "at an active station that may receive work (DSP-6)")


# --- who sees which job, and who may decide about it ------------------------------------------------------------

def job_station(job: Job) -> int:
    """A job belongs to its request's station (SCP-1)."""
    return job.service_request.nearest_station_id


def jobs_within_scope(user: User) -> ColumnElement[bool]:
    """Jobs of the user's stations (SCP-1), as a condition on Job."""
    if stations_of(user) is None:
        return true()
    return Job.service_request.has(within_scope(ServiceRequest.nearest_station_id, user))


def of_jobs_within_scope(job_id_column: Any, user: User) -> ColumnElement[bool]:
    """Rows of another table belonging to the jobs of the user's stations, by their job id column (SCP-1)."""
    if stations_of(user) is None:
        return true()
    return job_id_column.in_(select(Job.id).where(jobs_within_scope(user)))


def _on_crew(technician_id: int | None) -> ColumnElement[bool]:
    return Job.crew.any(JobTechnician.technician_id == technician_id)


def visible_jobs(session: Session, user: User, filters: dict[str, Any]) -> Select[Any]:
    stmt = select(Job)
    own = user.technician_id
    if user.has_any_role(JOB_OFFICE_ROLES):
        # An office user who also works in the field keeps seeing the jobs they are on, wherever they are.
        theirs = jobs_within_scope(user)
        stmt = stmt.where(or_(theirs, _on_crew(own)) if own is not None else theirs)
    else:
        if "technician_id" in filters and filters["technician_id"] != own:
            raise Forbidden("a technician sees only their own jobs")
        filters = {**filters, "technician_id": own}
    if "technician_id" in filters:
        stmt = stmt.where(_on_crew(filters["technician_id"]))
    for name in ("status", "service_request_id"):
        if name in filters:
            stmt = stmt.where(getattr(Job, name) == filters[name])
    return stmt.order_by(Job.assigned_at.desc(), Job.id.desc()).options(*JOB_VIEW)


def is_on_crew(job: Job, user: User) -> bool:
    return user.technician_id is not None and any(m.technician_id == user.technician_id for m in job.crew)


def may_see_job(job: Job, user: User) -> bool:
    if is_on_crew(job, user):
        return True
    return user.has_any_role(JOB_OFFICE_ROLES) and in_scope(job_station(job), user)


def check_job_visible(session: Session, job: Job, user: User) -> None:
    """A job the user may not see answers exactly like one that does not exist, so job ids cannot be probed."""
    if not may_see_job(job, user):
        raise NotFound("job", job.id)


def get_visible_job(session: Session, job_id: int, user: User, *, for_update: bool = False) -> Job:
    """`for_update`: read under row locks, for a write about the job (lock_job)."""
    job = (lock_job(session, job_id) if for_update
           else session.scalars(_JOB_VIEW, {"ident": job_id}).unique().one_or_none())
    if job is None:
        raise NotFound("job", job_id)
    check_job_visible(session, job, user)
    return job


def lock_job(session: Session, job_id: int) -> Job | None:
    """The job read afresh under a row lock, its request locked first. Every write about a job may change its
    request too (a decline puts it back on the board, an arrival meets its on-site deadline), and dispatch and the
    request's own writes lock the request alone: taking request before job everywhere, nobody waits crosswise."""
    service_request_id = session.scalar(select(Job.service_request_id).where(Job.id == job_id))
    if service_request_id is None:
        return None
    locked(session, ServiceRequest, service_request_id)
    return locked(session, Job, job_id)


def check_may_decide(job: Job, actor: User, what: str = "job", ident: object = None) -> None:
    """The one gate before any approval or excuse concerning a job (report review REP-5, paid service REP-6,
    requisitions PRT-3, old parts PRT-5/PRT-6, freight PRT-8, deadline waivers DSP-4): the job is within the actor's
    stations (else 404, SCP-1), and the actor is not on its crew (four eyes: someone holding both the technician and
    an approving role never decides about their own work or a crew mate's). The 404 names the object asked
    about (`what`, `ident`), so it reads exactly like that object missing."""
    require_in_scope(job_station(job), actor, what, job.id if ident is None else ident)
    if is_on_crew(job, actor):
        raise Forbidden(f"you are on the crew of job {job.id}; someone who is not must decide (four eyes)")
