"""Webhook registrations, and queuing notification events for the webhooks that want them. No Flask in here."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.errors import DomainError
from backend.webhooks.models import DeliveryStatus, Webhook, WebhookDelivery

if TYPE_CHECKING:
    from backend.notifications.models import Notification


def event_document(notification: Notification) -> dict[str, Any]:
    """What a webhook receives for a notification."""
    return {"id": notification.id, "event": notification.kind, "created_at": notification.created_at.isoformat(),
            "recipient": {"user_id": notification.recipient_user_id, "role": notification.recipient_role,
                          "station_id": notification.station_id},
            "data": notification.payload}


def enqueue_deliveries(session: Session, notification: Notification, now: datetime) -> list[WebhookDelivery]:
    """In the notification's own transaction, so an event is queued exactly when it is raised (an outbox)."""
    # Few webhooks exist; their kinds are a JSON list, so the match is made here rather than in SQL.
    hooks = session.scalars(select(Webhook).where(Webhook.active.is_(True)).order_by(Webhook.id))
    deliveries = [WebhookDelivery(webhook_id=hook.id, notification_id=notification.id, event=notification.kind,
                                  payload=event_document(notification), status=DeliveryStatus.PENDING, attempts=0,
                                  next_attempt_at=now)
                  for hook in hooks if notification.kind in hook.event_kinds]
    session.add_all(deliveries)
    return deliveries


def apply_webhook_changes(webhook: Webhook, data: dict[str, Any]) -> Webhook:
    if "url" in data:
        _check_url(data["url"])
    if "event_kinds" in data:
        data = {**data, "event_kinds": sorted(set(data["event_kinds"]))}
    for name, value in data.items():
        setattr(webhook, name, value)
    return webhook


def _check_url(url: str) -> None:
    """What the schema's pattern cannot say: the URL must name a host (and a port that exists)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (parsing it is the check)
    except ValueError as exc:
        raise DomainError("url", f"not a usable URL: {exc}") from exc
    if not parts.hostname:
        raise DomainError("url", "must name a host")
