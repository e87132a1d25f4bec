"""Webhook registrations, and queuing notification events for the webhooks that want them. No Flask in here."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.errors import DomainError
from backend.webhooks import egress
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


def apply_webhook_changes(webhook: Webhook, data: dict[str, Any],
                          allowed_networks: Sequence[egress.Network] = ()) -> Webhook:
    if "url" in data:
        # Checked again before every delivery, since what the name resolves to can change.
        try:
            egress.check(data["url"], allowed_networks)
        except egress.Refused as exc:
            raise DomainError("url", str(exc)) from exc
    if "event_kinds" in data:
        data = {**data, "event_kinds": sorted(set(data["event_kinds"]))}
    for name, value in data.items():
        setattr(webhook, name, value)
    return webhook
