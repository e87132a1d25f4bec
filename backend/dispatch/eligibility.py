"""Who may be sent at all (DSP-6, DSP-10, SCP-1), as SQL: the one statement of the rule that the candidate search,
the dispatcher's own pick, planning and the position index all use."""

from __future__ import annotations

from sqlalchemy import ColumnElement

from backend.stations.models import Station
from backend.technicians.models import Technician, TechnicianSkill


def criteria(required_skill: str | None, stations: frozenset[int] | None) -> list[tuple[str, ColumnElement[bool]]]:
    """DSP-6 as SQL, each condition with the words that explain its failure. The search ANDs them; an explicit
    pick selects them one by one to say which failed, so the rule is written once. `stations`: the dispatcher's
    (SCP-1), whose technicians they may send; None for the whole company."""
    rules = [
        ("is not active", Technician.active.is_(True)),
        ("is not on shift", Technician.on_shift.is_(True)),
        ("has an inactive home station", Station.active.is_(True)),
        # rule DSP-10: a barred station (停止派工) gets no work.
        ("has a home station barred from receiving work", Station.may_receive_work.is_(True)),
    ]
    if required_skill:
        rules.append((f"lacks the required skill {required_skill!r}",
                      Technician.skill_rows.any(TechnicianSkill.skill == required_skill)))
    if stations is not None:
        rules.append(("is not based at one of your stations", Technician.home_station_id.in_(sorted(stations))))
    return rules
