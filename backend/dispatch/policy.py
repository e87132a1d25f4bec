"""The versioned SLA policy: the numbers a new request is assessed with (DSP-4)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.config import Settings
from backend.dispatch.models import SlaPolicy
from backend.dispatch.sla import PolicyTerms
from backend.errors import DomainError


def terms_of(policy: SlaPolicy) -> PolicyTerms:
    return PolicyTerms(version=policy.version, radius_km=policy.radius_km, on_site_hours=policy.on_site_hours,
                       reply_hours=policy.reply_hours, written_contact_hours=policy.written_contact_hours)


def current_policy(session: Session, defaults: Settings, now: datetime) -> PolicyTerms:
    """The newest version; on first use, version 1 is published from the configured defaults."""
    latest = _latest(session)
    if latest is not None:
        return latest
    try:
        # A savepoint, so that losing the race to seed version 1 leaves the caller's transaction usable.
        with session.begin_nested():
            return publish_policy(session, now, radius_km=defaults.sla_radius_km,
                                  on_site_hours=defaults.sla_on_site_hours, reply_hours=defaults.sla_reply_hours,
                                  written_contact_hours=defaults.sla_written_contact_hours)
    except IntegrityError:
        return _latest(session)  # type: ignore[return-value]  # the winner's version 1 is there now


def publish_policy(session: Session, now: datetime, *, radius_km: float, on_site_hours: float, reply_hours: float,
                   written_contact_hours: float) -> PolicyTerms:
    """A new version for requests registered from now on; existing requests keep theirs (DSP-4)."""
    for name, value in (("radius_km", radius_km), ("on_site_hours", on_site_hours), ("reply_hours", reply_hours),
                        ("written_contact_hours", written_contact_hours)):
        if not value > 0:
            raise DomainError(name, "must be positive")
    version = (session.scalar(select(func.max(SlaPolicy.version))) or 0) + 1
    policy = SlaPolicy(version=version, radius_km=radius_km, on_site_hours=on_site_hours, reply_hours=reply_hours,
                       written_contact_hours=written_contact_hours, created_at=now)
    session.add(policy)
    session.flush()
    return terms_of(policy)


def _latest(session: Session) -> PolicyTerms | None:
    policy = session.scalar(select(SlaPolicy).order_by(SlaPolicy.version.desc()).limit(1))
    return None if policy is None else terms_of(policy)
