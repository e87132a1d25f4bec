"""Unit rules."""

from typing import Any

from backend.customers.models import Unit
from backend.errors import DomainError


def apply_unit_changes(unit: Unit, data: dict[str, Any]) -> Unit:
    for name, value in data.items():
        setattr(unit, name, value)
    # Checked on the result, so a PATCH that moves only one of the two dates is held to it too.
    if unit.delivery_date and unit.warranty_end_date and unit.warranty_end_date < unit.delivery_date:
        raise DomainError("warranty_end_date", "must not be before delivery_date")
    return unit
