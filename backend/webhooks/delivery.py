"""The `webhooks` duty: sends the deliveries that are due, signed, and retries failures with exponential backoff.

Delivery is at least once: a process that dies between sending and recording sends again later, so receivers
should ignore an X-Onsite-Delivery id they have already processed. Nothing is held open while a request is in
flight: a delivery is claimed in one short transaction and its outcome recorded in another. Each attempt checks
the URL's addresses again (DNS can change since registration) and sends through backend.webhooks.egress only.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.config import Settings
from backend.webhooks import egress
from backend.webhooks.models import DeliveryStatus, Webhook, WebhookDelivery

SIGNATURE_HEADER = "X-Onsite-Signature"
TIMESTAMP_HEADER = "X-Onsite-Timestamp"
EVENT_HEADER = "X-Onsite-Event"
DELIVERY_HEADER = "X-Onsite-Delivery"
# A claimed delivery becomes due again this long after its request's timeout, should its sender die.
CLAIM_MARGIN = timedelta(minutes=1)
_ERROR_LENGTH = 500
_TALLY = {DeliveryStatus.DELIVERED: "delivered", DeliveryStatus.PENDING: "to_retry", DeliveryStatus.FAILED: "given_up"}


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """HMAC-SHA256 over "<timestamp>.<body>": the timestamp is signed too, so a captured request cannot be
    replayed later with a fresh one."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def body_of(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class _Attempt:
    delivery_id: int
    url: str
    secret: str
    event: str
    body: bytes


@dataclass(frozen=True)
class _Outcome:
    status_code: int | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.error is None


def deliver_due(session: Session, now: datetime, settings: Settings) -> dict[str, int]:
    """Every delivery due by `now`, one at a time, each claimed, sent and recorded."""
    summary = dict.fromkeys(_TALLY.values(), 0)
    while (attempt := _claim_next(session, now, settings)) is not None:
        outcome = _send(attempt, now, settings)
        status = _record(session, attempt.delivery_id, outcome, now, settings)
        if status is not None:
            summary[_TALLY[status]] += 1
    return summary


def _claim_next(session: Session, now: datetime, settings: Settings) -> _Attempt | None:
    """The earliest due delivery of an active webhook, pushed out of everyone else's reach while it is sent (SKIP
    LOCKED on PostgreSQL; SQLite's writer lock serialises claims). A paused webhook's deliveries wait for it."""
    row = session.execute(
        select(WebhookDelivery, Webhook).join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
        .where(WebhookDelivery.status == DeliveryStatus.PENDING, WebhookDelivery.next_attempt_at <= now,
               Webhook.active.is_(True))
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id).limit(1)
        .with_for_update(of=WebhookDelivery, skip_locked=True)).first()
    if row is None:
        session.commit()
        return None
    delivery, hook = row
    delivery.next_attempt_at = now + timedelta(seconds=settings.webhook_timeout_seconds) + CLAIM_MARGIN
    attempt = _Attempt(delivery.id, hook.url, hook.secret, delivery.event, body_of(delivery.payload))
    session.commit()
    return attempt


def _send(attempt: _Attempt, now: datetime, settings: Settings) -> _Outcome:
    """Only 2xx is delivered. A redirect is a failure, not followed: the signed event goes to the registered URL
    or nowhere. Of the answer only the status line is kept; its body is never read."""
    timestamp = int(now.timestamp())
    headers = {"Content-Type": "application/json", "User-Agent": "Onsite-Webhooks/1", EVENT_HEADER: attempt.event,
               DELIVERY_HEADER: str(attempt.delivery_id), TIMESTAMP_HEADER: str(timestamp),
               SIGNATURE_HEADER: sign(attempt.secret, timestamp, attempt.body)}
    try:
        destination = egress.check(attempt.url, settings.webhook_networks)
        status, reason = egress.post(destination, attempt.body, headers, settings.webhook_timeout_seconds)
    except egress.Refused as exc:
        return _Outcome(None, f"refused: {exc}")
    except (http.client.HTTPException, OSError, ValueError) as exc:
        return _Outcome(None, f"{type(exc).__name__}: {exc}")
    if 200 <= status < 300:
        return _Outcome(status, None)
    # The reason phrase is the receiver's text: printable characters only (PostgreSQL cannot even store a NUL).
    return _Outcome(status, f"HTTP {status} {''.join(c for c in reason if c.isprintable())}".strip())


def _record(session: Session, delivery_id: int, outcome: _Outcome, now: datetime,
            settings: Settings) -> DeliveryStatus | None:
    delivery = session.get(WebhookDelivery, delivery_id, populate_existing=True)
    if delivery is None:
        session.commit()
        return None  # its webhook was deleted while it was in flight
    delivery.attempts += 1
    delivery.last_attempt_at = now
    delivery.last_status_code = outcome.status_code
    delivery.last_error = outcome.error[:_ERROR_LENGTH] if outcome.error else None
    if outcome.ok:
        delivery.status, delivery.delivered_at, delivery.next_attempt_at = DeliveryStatus.DELIVERED, now, None
    elif delivery.attempts >= settings.webhook_max_attempts:
        delivery.status, delivery.next_attempt_at = DeliveryStatus.FAILED, None
    else:
        backoff = settings.webhook_retry_base_seconds * 2 ** (delivery.attempts - 1)
        delivery.next_attempt_at = now + timedelta(seconds=backoff)
    status = DeliveryStatus(delivery.status)
    session.commit()
    return status
