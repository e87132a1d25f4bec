"""Writes an audit entry for every insert, update and delete of an audited row, in the same transaction.

Hooking the session's flush (instead of asking each service to remember) means no state change can skip
the trail. The actor, request and device come from the AuditContext the caller puts on the session.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import event, insert, inspect
from sqlalchemy.orm import Session, object_session

from backend.audit.models import AuditEntry
from backend.db import Base, clock_of

AUDIT_KEY = "audit_context"
# Bookkeeping columns whose churn says nothing about what a person did.
_NOISE = {"updated_at", "created_at", "version"}


@dataclass(frozen=True)
class AuditContext:
    actor_user_id: int | None
    actor_name: str
    action: str
    request_id: str | None = None
    device_id: str | None = None


def set_audit_context(session: Session, context: AuditContext) -> None:
    session.info[AUDIT_KEY] = context


class Audited:
    """Mixin: rows of this class are audited. Columns named in __audit_exclude__ are never written out."""

    __audit_exclude__: frozenset[str] = frozenset()


def _jsonable(value: Any) -> Any:
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def _columns(obj: Base) -> list[str]:
    excluded = type(obj).__audit_exclude__ if isinstance(obj, Audited) else frozenset()
    return [c.key for c in inspect(type(obj)).column_attrs if c.key not in excluded]


def _before(obj: Base) -> dict[str, Any]:
    state = inspect(obj)
    values = {}
    for key in _columns(obj):
        history = state.attrs[key].history
        old = history.deleted or history.unchanged
        values[key] = _jsonable(old[0]) if old else None
    return values


def _after(obj: Base) -> dict[str, Any]:
    state = inspect(obj)
    return {key: _jsonable(state.attrs[key].value) for key in _columns(obj)}


def _entity_id(obj: Base) -> str:
    # New rows get their identity key only after the flush; the primary key values are already set.
    return "/".join(str(v) for v in inspect(obj).mapper.primary_key_from_instance(obj))


# The rows a flush deleted, gathered as they go: `session.deleted` lists only those deleted by name, not the orphans a
# delete-orphan cascade removes during the flush (a skill taken off a technician, a member off a crew).
_DELETED_KEY = "audit_deleted"


@event.listens_for(Session, "before_flush")
def _new_flush(session: Session, _flush_context: Any, _instances: Any) -> None:
    session.info.pop(_DELETED_KEY, None)  # left by a flush that failed before it was recorded


@event.listens_for(Audited, "after_delete", propagate=True)
def _deleted(_mapper: Any, _connection: Any, target: Any) -> None:
    session = object_session(target)
    if session is not None:
        session.info.setdefault(_DELETED_KEY, []).append(target)


@event.listens_for(Session, "after_flush")
def _record(session: Session, _flush_context: Any) -> None:
    context: AuditContext | None = session.info.get(AUDIT_KEY)
    context = context or AuditContext(actor_user_id=None, actor_name="system", action="system")
    now = clock_of(session).now()
    rows = []
    deleted = session.info.pop(_DELETED_KEY, [])
    for change, objects in (("create", session.new), ("update", session.dirty), ("delete", deleted)):
        for obj in objects:
            if not isinstance(obj, Audited):
                continue
            if change == "create":
                before, after = None, _after(obj)
            elif change == "delete":
                before, after = _before(obj), None
            else:
                before, after = _before(obj), _after(obj)
                changed = {k for k in after if after[k] != before.get(k)} - _NOISE
                if not changed:
                    continue
                before = {k: before[k] for k in sorted(changed)}
                after = {k: after[k] for k in sorted(changed)}
            rows.append({
                "at": now, "actor_user_id": context.actor_user_id, "actor_name": context.actor_name,
                "request_id": context.request_id, "device_id": context.device_id, "action": context.action,
                "entity_type": type(obj).__tablename__, "entity_id": _entity_id(obj), "change": change,
                "before": before, "after": after,
            })
    if rows:
        session.connection().execute(insert(AuditEntry), rows)
