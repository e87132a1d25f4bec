"""Who is who on a console page: people's names by user or technician id, each set in one statement."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from backend.accounts.models import User
from backend.http.context import db
from backend.technicians.models import Technician


def user_names(user_ids: Iterable[int | None]) -> dict[int, str]:
    """Full names by user id (ids that are None, e.g. the system's, are left out)."""
    wanted = sorted({i for i in user_ids if i is not None})
    return dict(db().execute(select(User.id, User.full_name).where(User.id.in_(wanted))).all()) if wanted else {}


def technician_names(technician_ids: Iterable[int]) -> dict[int, str]:
    """Full names by technician id."""
    wanted = sorted(set(technician_ids))
    return dict(db().execute(select(Technician.id, User.full_name).join(User, User.id == Technician.user_id)
                             .where(Technician.id.in_(wanted))).all()) if wanted else {}
