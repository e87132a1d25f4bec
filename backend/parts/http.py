"""What the views of the parts sub-packages share: who reads the parts flow, and the answers they document."""

from datetime import datetime
from typing import Any

from flask import url_for

from backend.accounts.models import Role
from backend.http.api import ETAG_HEADER, tagged
from backend.http.context import onsite

# Technicians see their own; the office and the warehouse see all (the service layer narrows technicians).
FLOW_READERS = (Role.TECHNICIAN, Role.DISPATCHER, Role.SUPERVISOR, Role.WAREHOUSE, Role.MANAGER, Role.ADMIN)
BOOK_READERS = (Role.WAREHOUSE, Role.SUPERVISOR, Role.MANAGER, Role.ADMIN)
CREATED = {"headers": {**ETAG_HEADER, "Location": {"schema": {"type": "string"}, "required": True}}}
WITH_ETAG = {"headers": ETAG_HEADER}


def created(resource: Any, endpoint: str, **ident: int) -> tuple[Any, dict[str, str]]:
    return tagged(resource, Location=url_for(endpoint, **ident))


def now() -> datetime:
    return onsite().clock.now()
