"""Webhooks: registration (admin), signed deliveries to a local receiver, retry with backoff, giving up."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
from datetime import timedelta

import pytest
from sqlalchemy import select

from backend.notifications.service import Notice, notify
from backend.webhooks.models import WebhookDelivery
from tests.test_duties_support import (Office, Receiver, office, quick_passwords, receiver,  # noqa: F401
                                       settings)

URL = "/api/v1/webhooks"
SECRET = "s3cret-shared-with-the-receiver"
MISSED = "sla.deadline_missed"


@pytest.fixture
def admin(office: Office):  # type: ignore[no-untyped-def]
    return office.admin


@pytest.fixture
def hook(admin, receiver: Receiver):  # type: ignore[no-untyped-def]
    response = admin.post(URL, json={"url": receiver.url, "event_kinds": [MISSED], "secret": SECRET})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


@pytest.fixture
def raise_event(app, clock):  # type: ignore[no-untyped-def]
    keys = iter(range(1, 1000))

    def raise_(kind: str = MISSED) -> int:
        session = app.extensions["onsite"].new_session(writer=True)
        try:
            [created] = notify(session, [Notice(kind=kind, dedupe_key=f"event-{next(keys)}", role="manager",
                                                payload={"number": "SR-2026-000001"})], clock.now())
            session.commit()
            return created.id
        finally:
            session.close()

    return raise_


def _deliveries(admin, hook) -> list[dict]:  # type: ignore[no-untyped-def]
    response = admin.get(f"{URL}/{hook['id']}/deliveries")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


# --- registration ------------------------------------------------------------------------------------------------

def test_the_secret_is_write_only(admin, hook) -> None:  # type: ignore[no-untyped-def]
    assert "secret" not in hook and hook["event_kinds"] == [MISSED] and hook["active"] is True
    assert "secret" not in admin.get(f"{URL}/{hook['id']}").get_json()
    assert all("secret" not in h for h in admin.get(URL).get_json())


@pytest.mark.parametrize("body, field", [
    ({"url": "ftp://127.0.0.1/x", "event_kinds": [MISSED], "secret": SECRET}, "url"),
    ({"url": "http://127.0.0.1/x", "event_kinds": ["tea.ready"], "secret": SECRET}, "event_kinds.0"),
    ({"url": "http://127.0.0.1/x", "event_kinds": [], "secret": SECRET}, "event_kinds"),
    ({"url": "http://127.0.0.1/x", "event_kinds": [MISSED], "secret": "short"}, "secret"),
])
def test_registration_is_validated(admin, body, field) -> None:  # type: ignore[no-untyped-def]
    response = admin.post(URL, json=body)
    assert response.status_code == 422
    assert [e["field"] for e in response.get_json()["errors"]] == [field]


@pytest.mark.parametrize("url", ["http://:8080/hooks", "https://127.0.0.1:99999/"])
def test_a_url_must_name_a_host_and_a_real_port(admin, url) -> None:  # type: ignore[no-untyped-def]
    response = admin.post(URL, json={"url": url, "event_kinds": [MISSED], "secret": SECRET})
    assert response.status_code == 422
    assert [e["field"] for e in response.get_json()["errors"]] == ["url"]


def test_event_kinds_are_kept_once_each_sorted(admin, hook) -> None:  # type: ignore[no-untyped-def]
    def patch(kinds: list[str]) -> list[str]:
        etag = admin.get(f"{URL}/{hook['id']}").headers["ETag"]
        response = admin.patch(f"{URL}/{hook['id']}", json={"event_kinds": kinds}, headers={"If-Match": etag})
        assert response.status_code == 200, response.get_json()
        return response.get_json()["event_kinds"]

    assert patch([MISSED, "sla.deadline_due_soon"]) == ["sla.deadline_due_soon", MISSED]
    assert patch([MISSED, MISSED]) == [MISSED]


def test_deleting_a_webhook_deletes_its_deliveries(admin, hook, raise_event, session) -> None:  # type: ignore
    raise_event()
    etag = admin.get(f"{URL}/{hook['id']}").headers["ETag"]
    assert admin.delete(f"{URL}/{hook['id']}", headers={"If-Match": etag}).status_code == 204
    session.rollback()
    assert session.scalars(select(WebhookDelivery)).all() == []


# --- delivery ----------------------------------------------------------------------------------------------------

def test_an_event_is_delivered_signed(office: Office, admin, hook, receiver: Receiver, raise_event, clock) -> None:
    notification_id = raise_event()
    assert office.run("webhooks") == {"delivered": 1, "to_retry": 0, "given_up": 0}

    [request] = receiver.requests
    headers, body = request["headers"], request["body"]
    timestamp = headers["X-Onsite-Timestamp"]
    assert int(timestamp) == int(clock.now().timestamp())
    expected = hmac.new(SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-Onsite-Signature"], f"sha256={expected}")
    assert headers["X-Onsite-Event"] == MISSED and headers["Content-Type"] == "application/json"
    assert request["json"] == {"id": notification_id, "event": MISSED, "created_at": clock.now().isoformat(),
                               "recipient": {"user_id": None, "role": "manager", "station_id": None},
                               "data": {"number": "SR-2026-000001"}}

    [delivery] = _deliveries(admin, hook)
    assert headers["X-Onsite-Delivery"] == str(delivery["id"])
    assert (delivery["status"], delivery["attempts"], delivery["last_status_code"]) == ("delivered", 1, 200)
    assert delivery["delivered_at"] == clock.now().isoformat() and delivery["next_attempt_at"] is None
    assert delivery["payload"] == request["json"]
    assert office.run("webhooks") == {"delivered": 0, "to_retry": 0, "given_up": 0}
    assert len(receiver.requests) == 1


def test_only_the_kinds_asked_for_go_to_active_webhooks(office: Office, admin, hook, receiver, raise_event) -> None:
    raise_event("sla.deadline_due_soon")
    assert _deliveries(admin, hook) == []
    etag = admin.get(f"{URL}/{hook['id']}").headers["ETag"]
    assert admin.patch(f"{URL}/{hook['id']}", json={"active": False}, headers={"If-Match": etag}).status_code == 200
    raise_event()
    assert _deliveries(admin, hook) == []


def test_a_paused_webhooks_deliveries_wait_for_it(office: Office, admin, hook, receiver, raise_event) -> None:
    raise_event()
    etag = admin.get(f"{URL}/{hook['id']}").headers["ETag"]
    paused = admin.patch(f"{URL}/{hook['id']}", json={"active": False}, headers={"If-Match": etag})
    assert office.run("webhooks")["delivered"] == 0 and receiver.requests == []
    admin.patch(f"{URL}/{hook['id']}", json={"active": True}, headers={"If-Match": paused.headers["ETag"]})
    assert office.run("webhooks")["delivered"] == 1


def test_a_failure_is_retried_with_exponential_backoff(office: Office, admin, hook, receiver, raise_event,
                                                       clock) -> None:
    """settings: 60 s base, at most 3 attempts. A failed attempt n waits 60 x 2^(n-1) s."""
    receiver.statuses = [500, 503]
    raise_event()
    assert office.run("webhooks") == {"delivered": 0, "to_retry": 1, "given_up": 0}
    [delivery] = _deliveries(admin, hook)
    assert (delivery["status"], delivery["attempts"], delivery["last_status_code"]) == ("pending", 1, 500)
    assert delivery["last_error"] == "HTTP 500 Internal Server Error"  # the status line; the body is never kept
    assert delivery["next_attempt_at"] == (clock.now() + timedelta(seconds=60)).isoformat()

    clock.advance(seconds=59)
    assert office.run("webhooks")["to_retry"] == 0 and len(receiver.requests) == 1  # not due yet
    clock.advance(seconds=1)
    assert office.run("webhooks")["to_retry"] == 1
    clock.advance(seconds=119)
    assert office.run("webhooks")["delivered"] == 0 and len(receiver.requests) == 2  # the second wait is 120 s
    clock.advance(seconds=1)
    assert office.run("webhooks") == {"delivered": 1, "to_retry": 0, "given_up": 0}
    [delivery] = _deliveries(admin, hook)
    assert (delivery["status"], delivery["attempts"], delivery["last_error"]) == ("delivered", 3, None)
    assert len({r["headers"]["X-Onsite-Delivery"] for r in receiver.requests}) == 1
    assert len({r["body"] for r in receiver.requests}) == 1  # the same document each time, freshly signed


def test_it_gives_up_after_the_last_attempt(office: Office, admin, hook, receiver, raise_event, clock) -> None:
    receiver.statuses = [503] * 10
    raise_event()
    for wait in (0, 60, 120):
        clock.advance(seconds=wait)
        office.run("webhooks")
    [delivery] = _deliveries(admin, hook)
    assert (delivery["status"], delivery["attempts"], delivery["next_attempt_at"]) == ("failed", 3, None)
    clock.advance(days=1)
    assert office.run("webhooks") == {"delivered": 0, "to_retry": 0, "given_up": 0}
    assert len(receiver.requests) == 3
    assert _deliveries(admin, hook)[0]["last_status_code"] == 503


def test_a_redirect_is_a_failure_not_followed(office: Office, admin, hook, receiver, raise_event) -> None:
    receiver.statuses = [302]
    raise_event()
    assert office.run("webhooks")["to_retry"] == 1
    assert len(receiver.requests) == 1
    assert _deliveries(admin, hook)[0]["last_error"].startswith("HTTP 302")


def test_an_unreachable_receiver_is_a_recorded_failure(office: Office, admin, raise_event) -> None:
    with socket.socket() as probe:  # a port on 127.0.0.1 that nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    hook = admin.post(URL, json={"url": f"http://127.0.0.1:{port}/", "event_kinds": [MISSED],
                                 "secret": SECRET}).get_json()
    raise_event()
    assert office.run("webhooks")["to_retry"] == 1
    [delivery] = _deliveries(admin, hook)
    assert delivery["last_status_code"] is None and "refused" in delivery["last_error"].lower()


def test_a_slow_receiver_times_out(office: Office, admin, hook, receiver, raise_event) -> None:
    receiver.delay_seconds = 4  # settings: 2 s timeout
    raise_event()
    assert office.run("webhooks")["to_retry"] == 1
    assert "timed out" in _deliveries(admin, hook)[0]["last_error"]


def test_sla_watch_events_reach_a_webhook(office: Office, admin, hook, receiver, clock) -> None:
    request = office.register()
    clock.advance(days=2)
    office.run("sla-watch")
    office.run("webhooks")
    [sent] = receiver.requests
    assert sent["json"]["event"] == MISSED and sent["json"]["data"]["number"] == request["number"]
    assert json.loads(sent["body"])["recipient"]["role"] == "manager"
