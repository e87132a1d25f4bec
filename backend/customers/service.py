"""Customer search and unit rules."""

import re
from typing import Any

from sqlalchemy import Select, String, cast, func, or_

from backend.accounts.models import Role, User
from backend.customers.models import Customer, Unit
from backend.errors import DomainError

# rule WAR-1: the warranty terms decide who pays for a repair.
WARRANTY_FIELDS = ("warranty_end_date", "warranty_mileage_limit_km", "warranty_hours_limit")
WARRANTY_KEEPERS = frozenset({Role.ADMIN, Role.MANAGER})
_PHONE_PUNCTUATION = re.compile(r"[ \-()]")


def customer_search(stmt: Select[Any], text: str) -> Select[Any]:
    """Customers whose name, contact person, address or a phone number contains `text`, in any case: how the office
    finds a caller. Phone numbers match however they are spaced ("138 0013" finds "+86 138-0013-8000")."""
    pattern = f"%{text.lower()}%"
    matches = [func.lower(column).like(pattern)
               for column in (Customer.name, Customer.contact_person, Customer.address)]
    digits = _PHONE_PUNCTUATION.sub("", text)
    if any(character.isdigit() for character in digits):
        phones: Any = cast(Customer.phones, String)
        for mark in (" ", "-", "(", ")"):
            phones = func.replace(phones, mark, "")
        matches.append(phones.like(f"%{digits}%"))
    return stmt.where(or_(*matches))


def apply_unit_changes(unit: Unit, data: dict[str, Any], actor: User) -> Unit:
    """Agents keep a unit's details; its warranty terms (WAR-1) only admins and managers set or change, since they
    decide who pays. Every change is in the audit trail (units are audited)."""
    if not actor.has_any_role(WARRANTY_KEEPERS):
        for name in WARRANTY_FIELDS:
            if name in data and data[name] != getattr(unit, name):
                raise DomainError(name, "only an admin or a manager may set or change warranty terms (WAR-1)",
                                  status=403)
    for name, value in data.items():
        setattr(unit, name, value)
    # Checked on the result, so a PATCH that moves only one of the two dates is held to it too.
    if unit.delivery_date and unit.warranty_end_date and unit.warranty_end_date < unit.delivery_date:
        raise DomainError("warranty_end_date", "must not be before delivery_date")
    return unit
