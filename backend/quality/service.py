"""The investigation of a request (INV-2, 001 §售后规章制度1 §6): the technical departments' cause and countermeasure,
quality inspection's decision on who is responsible, with the reason. No Flask in here; the caller owns the
transaction, and every change is audited on flush (backend.audit.recorder)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.accounts.models import Role, User
from backend.config import Settings
from backend.dispatch.models import Job, ServiceRequest
from backend.dispatch.service import check_may_decide
from backend.errors import DomainError
from backend.quality.models import Investigation, ResponsibleKind

# Quality inspection (质检科) decides; the supervisors speak for the technical departments that analyse the cause.
INVESTIGATORS = (Role.QUALITY, Role.SUPERVISOR)
# Which of the naming fields each kind of responsible party needs; the others must be left out.
NAMED_BY = {ResponsibleKind.DEPARTMENT: "responsible_department", ResponsibleKind.SUPPLIER: "responsible_supplier",
            ResponsibleKind.EMPLOYEE: "responsible_user_id"}
NAMING_FIELDS = tuple(NAMED_BY.values())


def investigation_of(session: Session, service_request_id: int) -> Investigation | None:
    return session.scalar(select(Investigation).where(Investigation.service_request_id == service_request_id))


def decide(session: Session, service_request: ServiceRequest, investigation: Investigation | None,
           data: dict[str, Any], *, actor: User, now: datetime, settings: Settings) -> Investigation:
    """INV-2: records the investigation, or replaces the one there is (the caller has checked its If-Match). Not by
    anyone on the crew of one of the request's jobs: the decision may hold them responsible (four eyes)."""
    for job in session.scalars(select(Job).where(Job.service_request_id == service_request.id)):
        check_may_decide(job, actor, "service request", service_request.id)
    _check(session, data, settings, unchanged_code=investigation.root_cause if investigation else None)
    if investigation is None:
        investigation = Investigation(service_request_id=service_request.id)
        session.add(investigation)
    for name, value in data.items():
        setattr(investigation, name, value)
    for name in NAMING_FIELDS:  # a field the kind does not use is cleared, not left from an earlier decision
        if NAMED_BY.get(data["responsible_kind"]) != name:
            setattr(investigation, name, None)
    investigation.decided_by_id = actor.id
    investigation.decided_at = now
    session.flush()
    return investigation


def _check(session: Session, data: dict[str, Any], settings: Settings, *, unchanged_code: str | None) -> None:
    # A code taken off the configured list stays valid on the investigations that already use it.
    if data["root_cause"] not in settings.root_causes and data["root_cause"] != unchanged_code:
        raise DomainError("root_cause", f"must be one of: {', '.join(settings.root_causes)}")
    kind = data["responsible_kind"]
    needed = NAMED_BY.get(kind)
    for name in NAMING_FIELDS:
        if name == needed and data.get(name) is None:
            raise DomainError(name, f"required when responsible_kind is {kind}")
        if name != needed and data.get(name) is not None:
            raise DomainError(name, f"only when responsible_kind is {_kind_naming(name)}, not {kind}")
    if kind == ResponsibleKind.EMPLOYEE and session.get(User, data["responsible_user_id"]) is None:
        raise DomainError("responsible_user_id", f"no user with id {data['responsible_user_id']}")


def _kind_naming(field: str) -> str:
    return next(kind for kind, name in NAMED_BY.items() if name == field)
