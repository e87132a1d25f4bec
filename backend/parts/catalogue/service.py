"""The parts catalogue's rule: how a part's stock is counted is fixed once stock of it moved. Plain functions on a
Session, no Flask."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.errors import DomainError
from backend.parts.models import LedgerEntry, Part

def apply_part_changes(session: Session, part: Part, data: dict[str, Any]) -> None:
    """Whether a part is serial-tracked decides how its stock is counted, so it is fixed once stock of it moved."""
    if data.get("serial_tracked", part.serial_tracked) != part.serial_tracked and session.scalar(
            select(LedgerEntry.id).where(LedgerEntry.part_id == part.id).limit(1)) is not None:
        raise DomainError("serial_tracked", f"{part.part_number} already has stock movements; its tracking is fixed")
    for name, value in data.items():
        setattr(part, name, value)
