"""Raising notifications (once each) and reading them as a user. No Flask in here; the caller owns the transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, or_, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, with_expression

from backend.accounts.models import User
from backend.errors import NotFound
from backend.notifications.models import Notification, NotificationRead
from backend.webhooks.service import enqueue_deliveries


@dataclass(frozen=True)
class Notice:
    """A notification to raise: for one user, or for a role (optionally at one station)."""

    kind: str
    dedupe_key: str
    payload: dict[str, Any] = field(default_factory=dict)
    user_id: int | None = None
    role: str | None = None
    station_id: int | None = None


def notify(session: Session, notices: Sequence[Notice], now: datetime) -> list[Notification]:
    """Raises the notices not raised before (by dedupe key) and queues their webhook deliveries; returns the new
    ones. A concurrent raiser of the same key loses on the unique index, inside a savepoint, and moves on."""
    wanted = {notice.dedupe_key: notice for notice in notices}
    if not wanted:
        return []
    raised = set(session.scalars(select(Notification.dedupe_key).where(Notification.dedupe_key.in_(wanted))))
    created = []
    for key, notice in wanted.items():
        if key in raised:
            continue
        notification = Notification(kind=notice.kind, dedupe_key=key, payload=notice.payload,
                                    recipient_user_id=notice.user_id, recipient_role=notice.role,
                                    station_id=notice.station_id, created_at=now)
        try:
            with session.begin_nested():
                session.add(notification)
        except IntegrityError:
            continue
        enqueue_deliveries(session, notification, now)
        created.append(notification)
    return created


def _visible_to(user: User) -> ColumnElement[bool]:
    """Addressed to the user, or to one of their roles. A station-scoped notification goes to the role holders of
    that station (their own `station_id`, or any of the stations they act for, SCP-1); people with neither (head
    office) see every station's."""
    stations = {*user.station_ids, user.station_id} - {None}
    at_their_station = true() if not stations else or_(Notification.station_id.is_(None),
                                                       Notification.station_id.in_(sorted(stations)))
    return or_(Notification.recipient_user_id == user.id,
               and_(Notification.recipient_role.in_(user.roles), at_their_station))


def inbox(user: User, *, unread: bool | None = None, kind: str | None = None) -> Select[Any]:
    """The user's notifications, newest first, each with when this user read it."""
    read = and_(NotificationRead.notification_id == Notification.id, NotificationRead.user_id == user.id)
    stmt = (select(Notification).outerjoin(NotificationRead, read).where(_visible_to(user))
            .options(with_expression(Notification.read_at, NotificationRead.read_at))
            .execution_options(populate_existing=True))
    if unread is not None:
        stmt = stmt.where(NotificationRead.read_at.is_(None) if unread else NotificationRead.read_at.is_not(None))
    if kind is not None:
        stmt = stmt.where(Notification.kind == kind)
    return stmt.order_by(Notification.created_at.desc(), Notification.id.desc())


def mark_read(session: Session, user: User, notification_id: int, now: datetime) -> Notification:
    """Marks it read for this user; reading it again keeps the first time."""
    def mine() -> Notification | None:
        return session.scalar(inbox(user).where(Notification.id == notification_id))

    notification = mine()
    if notification is None:
        raise NotFound("notification", notification_id)  # someone else's is no business of theirs
    if notification.read_at is None:
        try:
            with session.begin_nested():
                session.add(NotificationRead(notification_id=notification_id, user_id=user.id, read_at=now))
        except IntegrityError:
            pass  # the same user's concurrent request recorded it first
        notification = mine()
    return notification  # type: ignore[return-value]
