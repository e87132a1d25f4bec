"""Money around old parts: secondary claims to suppliers (二次索赔, rule PRT-7) and the freight of mailed warranty
parts (rule PRT-8). Plain functions on a Session, no Flask."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from backend.accounts.models import Role, User
from backend.accounts.scope import in_scope, stations_of, within_scope
from backend.db import locked
from backend.dispatch.models import Job
from backend.dispatch.service import check_may_decide, job_station, of_jobs_within_scope
from backend.errors import Conflict, DomainError, Forbidden, NotFound
from backend.parts.models import (ClaimStatus, Disposition, FreightCharge, FreightStatus, OldPartObligation,
                                  Requisition, SupplierClaim)
from backend.parts.old_parts.service import locked_obligation, require_awaiting_disposition

# Who sees every freight record (of their stations, SCP-1); a technician sees the ones they handled.
ALL_FREIGHT = frozenset({Role.SUPERVISOR, Role.WAREHOUSE, Role.MANAGER, Role.ADMIN})
_WAREHOUSE = frozenset({Role.WAREHOUSE})


def _check_positive(amount: Decimal, field: str) -> None:
    if amount <= 0:
        raise DomainError(field, "must be more than zero")


# --- supplier claims (PRT-7) -------------------------------------------------------------------------------------

def create_claim(session: Session, data: dict[str, Any], *, actor: User, now: datetime) -> SupplierClaim:
    """Groups received old parts of one supplier into a claim; each of them is thereby disposed of."""
    _check_positive(data["amount_claimed"], "amount_claimed")
    old_parts: list[OldPartObligation] = []
    for index, old_part_id in enumerate(sorted(set(data["old_part_ids"]))):
        field = f"old_part_ids.{index}"
        try:
            obligation = locked_obligation(session, old_part_id)
        except NotFound as missing:
            raise DomainError(field, missing.detail) from missing
        require_awaiting_disposition(obligation, field)
        supplier = obligation.part.supplier
        if supplier is None:
            raise DomainError(field, f"{obligation.part.part_number} has no supplier in the parts catalogue")
        if old_parts and supplier != old_parts[0].part.supplier:
            raise DomainError(field, f"one claim is for one supplier: {obligation.number} is from {supplier}, "
                                     f"{old_parts[0].number} from {old_parts[0].part.supplier}")
        old_parts.append(obligation)
    claim = SupplierClaim(supplier=old_parts[0].part.supplier, status=ClaimStatus.OPEN.value,
                          amount_claimed=data["amount_claimed"], note=data.get("note"),
                          created_by_user_id=actor.id)
    session.add(claim)
    session.flush()
    for obligation in old_parts:
        obligation.disposition = Disposition.SUPPLIER_CLAIM.value
        obligation.supplier_claim_id = claim.id
        obligation.disposed_at, obligation.disposed_by_user_id = now, actor.id
    session.flush()
    session.refresh(claim, ["old_parts"])
    return claim


def list_claims(filters: dict[str, Any]) -> Select[Any]:
    stmt = select(SupplierClaim)
    for name in ("status", "supplier"):
        if name in filters:
            stmt = stmt.where(getattr(SupplierClaim, name) == filters[name])
    return stmt.order_by(SupplierClaim.id.desc())


def _locked_claim(session: Session, claim_id: int) -> SupplierClaim:
    claim = locked(session, SupplierClaim, claim_id)
    if claim is None:
        raise NotFound("supplier claim", claim_id)
    return claim


def send_claim(session: Session, claim_id: int, *, now: datetime) -> SupplierClaim:
    claim = _locked_claim(session, claim_id)
    if claim.status != ClaimStatus.OPEN:
        raise Conflict(f"supplier claim {claim.number} is {claim.status}; only an open one can be sent")
    claim.status, claim.sent_at = ClaimStatus.SENT.value, now
    session.flush()
    return claim


def settle_claim(session: Session, claim_id: int, data: dict[str, Any], *, actor: User,
                 now: datetime) -> SupplierClaim:
    """The supplier's answer: accepted with the amount recovered, or rejected (nothing recovered)."""
    claim = _locked_claim(session, claim_id)
    if claim.status != ClaimStatus.SENT:
        raise Conflict(f"supplier claim {claim.number} is {claim.status}; only a sent one can be settled")
    recovered = data.get("amount_recovered")
    if data["outcome"] == ClaimStatus.ACCEPTED:
        if recovered is None or recovered <= 0:
            raise DomainError("amount_recovered", "an accepted claim recovers an amount above zero")
        if recovered > claim.amount_claimed:
            raise DomainError("amount_recovered", f"more than the {claim.amount_claimed} claimed")
    elif recovered:
        raise DomainError("amount_recovered", "a rejected claim recovers nothing")
    claim.status = data["outcome"]
    claim.amount_recovered = recovered if data["outcome"] == ClaimStatus.ACCEPTED else Decimal("0.00")
    claim.settled_at, claim.settled_by_user_id = now, actor.id
    session.flush()
    return claim


# --- freight (PRT-8) ---------------------------------------------------------------------------------------------

def record_freight(session: Session, data: dict[str, Any], *, actor: User, now: datetime) -> FreightCharge:
    """rule PRT-8: the handler records what mailing warranty parts cost; a supervisor approves the write-off."""
    _check_positive(data["amount"], "amount")
    requisition_id = data.get("requisition_id")
    if requisition_id is not None and session.scalar(
            _chargeable_requisitions(actor).where(Requisition.id == requisition_id)) is None:
        raise DomainError("requisition_id", f"no requisition with id {requisition_id}")
    old_part_ids = sorted(set(data["old_part_ids"]))
    found = set(session.scalars(_chargeable_old_parts(actor).where(OldPartObligation.id.in_(old_part_ids))))
    missing = [str(i) for i in old_part_ids if i not in found]
    if missing:
        raise DomainError("old_part_ids", f"no old part with id {', '.join(missing)}")
    if data.get("requisition_id") is None and not old_part_ids:
        raise DomainError("old_part_ids", "name the old parts or the requisition the shipment was for")
    charge = FreightCharge(amount=data["amount"], handler_user_id=actor.id, description=data["description"],
                           requisition_id=data.get("requisition_id"), old_part_ids=old_part_ids,
                           status=FreightStatus.PENDING.value, recorded_at=now)
    session.add(charge)
    session.flush()
    return charge


def _chargeable_requisitions(actor: User) -> Select[Any]:
    """What the handler may charge freight on: a technician, their own records only; the warehouse, those of its
    stations (SCP-1). Anything else answers as if it did not exist, so ids cannot be probed."""
    stmt = select(Requisition.id)
    if not actor.has_any_role(_WAREHOUSE):
        return stmt.where(Requisition.technician_id == actor.technician_id)
    return stmt.where(of_jobs_within_scope(Requisition.job_id, actor))


def _chargeable_old_parts(actor: User) -> Select[Any]:
    stmt = select(OldPartObligation.id)
    if not actor.has_any_role(_WAREHOUSE):
        return stmt.where(OldPartObligation.technician_id == actor.technician_id)
    return stmt.where(within_scope(OldPartObligation.station_id, actor))


def _jobs_of(session: Session, charge: FreightCharge) -> list[Job]:
    """The jobs the shipment was for: its requisition's and its old parts'."""
    job_ids = set(session.scalars(select(OldPartObligation.job_id)
                                  .where(OldPartObligation.id.in_(charge.old_part_ids))))
    if charge.requisition_id is not None:
        job_ids.add(session.get_one(Requisition, charge.requisition_id).job_id)
    return list(session.scalars(select(Job).where(Job.id.in_(job_ids)).order_by(Job.id)))


def visible_freight(user: User, filters: dict[str, Any]) -> Select[Any]:
    """A technician sees what they handled; the office, the charges of its stations (SCP-1) by their requisition.
    Old parts are a JSON list, which SQL cannot filter portably: get_freight and decide_freight check them."""
    stmt = select(FreightCharge)
    if not user.has_any_role(ALL_FREIGHT):
        stmt = stmt.where(FreightCharge.handler_user_id == user.id)
    elif stations_of(user) is not None:
        scoped = select(Requisition.id).where(of_jobs_within_scope(Requisition.job_id, user))
        stmt = stmt.where(or_(FreightCharge.handler_user_id == user.id, FreightCharge.requisition_id.is_(None),
                              FreightCharge.requisition_id.in_(scoped)))
    if "status" in filters:
        stmt = stmt.where(FreightCharge.status == filters["status"])
    return stmt.order_by(FreightCharge.id.desc())


def get_freight(session: Session, charge_id: int, user: User) -> FreightCharge:
    charge = session.scalar(visible_freight(user, {}).where(FreightCharge.id == charge_id))
    if charge is None or (charge.handler_user_id != user.id and not all(
            in_scope(job_station(job), user) for job in _jobs_of(session, charge))):
        raise NotFound("freight charge", charge_id)
    return charge


def decide_freight(session: Session, charge_id: int, *, approve: bool, reason: str | None, actor: User,
                   now: datetime) -> FreightCharge:
    charge = locked(session, FreightCharge, charge_id)
    if charge is None:
        raise NotFound("freight charge", charge_id)
    if charge.status != FreightStatus.PENDING:
        raise Conflict(f"freight charge {charge.number} is already {charge.status}")
    for job in _jobs_of(session, charge):
        check_may_decide(job, actor, "freight charge", charge_id)
    if charge.handler_user_id == actor.id:
        # rule PRT-8: two signatures, the handler's and a supervisor's, so not one person's alone.
        raise Forbidden("the handler cannot approve their own freight charge")
    charge.status = (FreightStatus.APPROVED if approve else FreightStatus.REJECTED).value
    charge.decided_at, charge.decided_by_user_id, charge.reject_reason = now, actor.id, reason
    session.flush()
    return charge
