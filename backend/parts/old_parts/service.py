"""Old parts and write-offs: the old part a warranty part replaced must come back or be excused (rule PRT-5); an
installed part is written off (销帐) once its report is signed and approved and its old part is settled (rule
PRT-6); received old parts are disposed of (rule PRT-7). Plain functions on a Session, no Flask."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from backend.accounts.models import Role, User
from backend.accounts.scope import require_in_scope, within_scope
from backend.db import locked
from backend.dispatch.models import Job
from backend.dispatch.service import check_may_decide
from backend.errors import Conflict, DomainError, Forbidden, NotFound
from backend.parts.models import Disposition, ExcuseReason, ObligationStatus, OldPartObligation
from backend.parts.stock.ledger import DocumentRef, Movement, Reason, make_line, move
from backend.parts.stock.service import RECEIVING_KINDS, get_location
from backend.parts.write_offs.service import write_off_if_due

# Who sees every old part (of their stations, SCP-1); a technician sees the ones they owe.
ALL_OLD_PARTS = frozenset({Role.DISPATCHER, Role.SUPERVISOR, Role.WAREHOUSE, Role.MANAGER, Role.ADMIN})
OVERDUE = "overdue"


# --- obligations (PRT-5) -----------------------------------------------------------------------------------------

def visible(session: Session, user: User, filters: dict[str, Any], now: datetime) -> Select[Any]:
    stmt = select(OldPartObligation)
    if user.has_any_role(ALL_OLD_PARTS):
        # Their stations' old parts (SCP-1), and the ones they owe themselves if they also work in the field.
        theirs = within_scope(OldPartObligation.station_id, user)
        stmt = stmt.where(theirs | (OldPartObligation.technician_id == user.technician_id)
                          if user.technician_id is not None else theirs)
    else:
        own = user.technician_id
        if "technician_id" in filters and filters["technician_id"] != own:
            raise Forbidden("a technician sees only the old parts they owe")
        filters = {**filters, "technician_id": own}
    status = filters.get("status")
    if status == OVERDUE:
        # Overdue is outstanding past its due time, whether or not the daily duty has flagged it yet.
        stmt = stmt.where(OldPartObligation.status == ObligationStatus.OUTSTANDING, OldPartObligation.due_at < now)
    elif status is not None:
        stmt = stmt.where(OldPartObligation.status == status)
    for name in ("technician_id", "station_id", "job_id", "part_id", "supplier_claim_id"):
        if name in filters:
            stmt = stmt.where(getattr(OldPartObligation, name) == filters[name])
    if "awaiting_disposition" in filters:
        waiting = (OldPartObligation.status == ObligationStatus.RECEIVED) & OldPartObligation.disposition.is_(None)
        stmt = stmt.where(waiting if filters["awaiting_disposition"] else ~waiting)
    return stmt.order_by(OldPartObligation.due_at, OldPartObligation.id)


def get_visible(session: Session, obligation_id: int, user: User, now: datetime) -> OldPartObligation:
    obligation = session.scalar(visible(session, user, {}, now).where(OldPartObligation.id == obligation_id))
    if obligation is None:
        raise NotFound("old part", obligation_id)
    return obligation


def locked_obligation(session: Session, obligation_id: int) -> OldPartObligation:
    # The row lock makes a concurrent receive, excuse or disposal wait and then see the settled status.
    obligation = locked(session, OldPartObligation, obligation_id)
    if obligation is None:
        raise NotFound("old part", obligation_id)
    return obligation


def _require_outstanding(obligation: OldPartObligation) -> None:
    if obligation.status != ObligationStatus.OUTSTANDING:
        raise Conflict(f"old part {obligation.number} is already {obligation.status}")


def receive(session: Session, obligation_id: int, *, condition: str, actor: User,
            now: datetime) -> OldPartObligation:
    """rule PRT-5: the warehouse takes the old part in, noting its condition; the part may now be written off."""
    obligation = locked_obligation(session, obligation_id)
    # Taking in one's own old part would settle it without a second pair of eyes (PRT-6).
    check_may_decide(session.get_one(Job, obligation.job_id), actor, "old part", obligation_id)
    _require_outstanding(obligation)
    obligation.status = ObligationStatus.RECEIVED.value
    obligation.received_at, obligation.received_by_user_id, obligation.condition = now, actor.id, condition
    write_off_if_due(session, obligation.installation, now)
    session.flush()
    return obligation


def excuse(session: Session, obligation_id: int, *, reason: str, note: str | None, actor: User,
           now: datetime) -> OldPartObligation:
    """rule PRT-5: an old part that cannot come back needs a recorded reason."""
    if reason == ExcuseReason.OTHER and not note:
        raise DomainError("note", "say why the old part cannot come back")
    obligation = locked_obligation(session, obligation_id)
    # rule PRT-6: an excuse lets the part be written off without the old part, so never by its own crew.
    check_may_decide(session.get_one(Job, obligation.job_id), actor, "old part", obligation_id)
    _require_outstanding(obligation)
    obligation.status = ObligationStatus.EXCUSED.value
    obligation.excused_reason, obligation.excuse_note = reason, note
    obligation.excused_at, obligation.excused_by_user_id = now, actor.id
    write_off_if_due(session, obligation.installation, now)
    session.flush()
    return obligation


# --- disposition (PRT-7) -----------------------------------------------------------------------------------------

def require_awaiting_disposition(obligation: OldPartObligation, field: str | None = None) -> None:
    if obligation.status != ObligationStatus.RECEIVED or obligation.disposition is not None:
        detail = (f"old part {obligation.number} is {obligation.status}" +
                  (f" and already {obligation.disposition}" if obligation.disposition else "") +
                  "; only a received old part awaiting disposition can be disposed of")
        if field is not None:
            raise DomainError(field, detail, status=409)
        raise Conflict(detail)


def dispose(session: Session, obligation_id: int, data: dict[str, Any], *, actor: User,
            now: datetime) -> OldPartObligation:
    """rule PRT-7: a received old part is repaired into stock or scrapped (claims: backend.parts.claims.service)."""
    obligation = locked_obligation(session, obligation_id)
    require_in_scope(obligation.station_id, actor, "old part", obligation_id)
    require_awaiting_disposition(obligation)
    if data["disposition"] == Disposition.REPAIRED:
        location_id = data.get("location_id")
        if location_id is None:
            raise DomainError("location_id", "say where the repaired part goes into stock")
        location = get_location(session, location_id, "location_id")
        if location.kind not in RECEIVING_KINDS:
            raise DomainError("location_id", f"{location.name} is not the central store or a station")
        if obligation.part.serial_tracked and obligation.serial is None:
            raise Conflict(f"old part {obligation.number} has no recorded serial, so it cannot go back into stock "
                           f"as a serial-tracked unit")
        serials = [obligation.serial] if obligation.part.serial_tracked else []
        line = make_line(obligation.part, obligation.quantity, serials)
        move(session, line, source=None, destination=location,
             movement=Movement(Reason.RECEIPT, DocumentRef("old_part", obligation.number), actor.id, now))
        obligation.repaired_into_location_id = location.id
    obligation.disposition = data["disposition"]
    obligation.disposed_at, obligation.disposed_by_user_id = now, actor.id
    session.flush()
    return obligation
