"""Technician rules: who may be one, and what a position report means."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from backend.accounts.models import Role, User
from backend.errors import DomainError, Forbidden
from backend.technicians.models import Technician


def create_technician(session: Session, data: dict[str, Any]) -> Technician:
    user = session.get(User, data["user_id"])
    if user is None or Role.TECHNICIAN not in user.roles:
        raise DomainError("user_id", "the user must exist and hold the technician role")
    technician = Technician()
    apply_technician_changes(technician, data)
    return technician


def apply_technician_changes(technician: Technician, data: dict[str, Any]) -> None:
    for name, value in data.items():
        setattr(technician, name, value)
    if technician.shift_start >= technician.shift_end:
        # One working day within one calendar day: shifts over midnight are not modelled.
        raise DomainError("shift_end" if "shift_end" in data else "shift_start",
                          f"the shift must end after it starts, on the same day ({technician.shift_start:%H:%M}"
                          f"-{technician.shift_end:%H:%M} given)")


def report_position(technician: Technician, actor: User, *, latitude: float, longitude: float,
                    accuracy_m: float | None, device_time: datetime | None, received_at: datetime) -> Technician:
    """A technician's app reports where it is. Only the technician's own device may do so."""
    if technician.user_id != actor.id:
        raise Forbidden("a technician can report only their own position")
    # An offline queue may deliver an old fix after a newer one; never move the technician backwards.
    if device_time is not None and technician.last_position_device_time is not None \
            and device_time < technician.last_position_device_time:
        return technician
    technician.last_latitude = latitude
    technician.last_longitude = longitude
    technician.last_accuracy_m = accuracy_m
    technician.last_position_at = received_at
    technician.last_position_device_time = device_time
    return technician
