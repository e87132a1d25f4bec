"""SLA tiers and deadlines (RULES.md §2), as plain functions of the policy numbers and the request's facts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class Tier(StrEnum):
    ON_SITE = "on_site"  # DSP-1: near enough to be on site within the on-site hours
    REPLY = "reply"  # DSP-2: far away or needs the supplier: reply first, agree an on-site time


class DeadlineKind(StrEnum):
    ON_SITE = "on_site"
    REPLY = "reply"
    WRITTEN_CONTACT = "written_contact"


class DeadlineStatus(StrEnum):
    OPEN = "open"
    MET = "met"
    MISSED = "missed"
    WAIVED = "waived"


# A missed deadline still has to be done (late): the customer still needs the reply, the contact, the visit.
UNFULFILLED = (DeadlineStatus.OPEN, DeadlineStatus.MISSED)


class FaultCategory(StrEnum):
    BODY = "body"
    CHASSIS_ENGINE = "chassis_engine"
    OTHER = "other"


@dataclass(frozen=True)
class PolicyTerms:
    version: int
    radius_km: float
    on_site_hours: float
    reply_hours: float
    written_contact_hours: float


@dataclass(frozen=True)
class Assessment:
    tier: Tier
    deadlines: dict[DeadlineKind, datetime]


def assess(terms: PolicyTerms, *, distance_km: float, fault_category: str, supplier_needed: bool,
           reported_at: datetime) -> Assessment:
    """The tier and the deadlines a request gets at intake. The clocks run from when the customer reported, not
    from when the request was typed in."""
    # rule DSP-1: exactly on the radius is inside it.
    if distance_km <= terms.radius_km and not supplier_needed:
        tier = Tier.ON_SITE
        deadlines = {DeadlineKind.ON_SITE: reported_at + timedelta(hours=terms.on_site_hours)}
    else:
        # rule DSP-2: beyond the radius, or the component supplier must be involved: reply first.
        tier = Tier.REPLY
        deadlines = {DeadlineKind.REPLY: reported_at + timedelta(hours=terms.reply_hours)}
    if fault_category == FaultCategory.CHASSIS_ENGINE:
        # rule DSP-3: written contact on top of the tier's own deadline.
        deadlines[DeadlineKind.WRITTEN_CONTACT] = reported_at + timedelta(hours=terms.written_contact_hours)
    return Assessment(tier, deadlines)


def settled_status(due_at: datetime, done_at: datetime) -> DeadlineStatus:
    """What fulfilling a deadline at `done_at` makes it: met in time, or missed (late, but done)."""
    return DeadlineStatus.MET if done_at <= due_at else DeadlineStatus.MISSED


def effective_status(stored: str, due_at: datetime, now: datetime) -> str:
    """An open deadline whose time has passed is missed, without anyone having to sweep it (DSP-4)."""
    return DeadlineStatus.MISSED if stored == DeadlineStatus.OPEN and due_at < now else stored
