"""Write-offs (销帐, rule PRT-6): an installed part is written off once its report is signed and approved and its
old part is settled. Plain functions on a Session, no Flask."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from backend.accounts.models import User
from backend.dispatch.service import of_jobs_within_scope
from backend.parts.models import Installation, ObligationStatus, WriteOff

def write_off_if_due(session: Session, installation: Installation, now: datetime) -> WriteOff | None:
    """rule PRT-6: written off when the last condition is met: the current signed report lists it, a supervisor
    approved that report, and, for a warranty part, its old part is received or excused. Called whenever one of
    them becomes true; a second call does nothing."""
    obligation = installation.obligation
    settled = obligation is None or obligation.status in (ObligationStatus.RECEIVED, ObligationStatus.EXCUSED)
    if installation.removed_at is not None or installation.approved_at is None or not settled:
        return None
    if installation.write_off is not None:
        return None
    write_off = WriteOff(installation=installation, job_id=installation.job_id, part_id=installation.part_id,
                         quantity=installation.quantity, serial=installation.new_serial,
                         requisition_line_id=installation.requisition_line_id, written_off_at=now,
                         unit_price=installation.part.unit_price)
    session.add(write_off)
    return write_off


def list_write_offs(filters: dict[str, Any], user: User) -> Select[Any]:
    stmt = select(WriteOff).where(of_jobs_within_scope(WriteOff.job_id, user))
    for name in ("job_id", "part_id", "requisition_line_id"):
        if name in filters:
            stmt = stmt.where(getattr(WriteOff, name) == filters[name])
    if "since" in filters:
        stmt = stmt.where(WriteOff.written_off_at >= filters["since"])
    return stmt.order_by(WriteOff.id.desc())
