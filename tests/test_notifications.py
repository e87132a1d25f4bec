"""The notification outbox and each user's inbox: GET /api/v1/me/notifications, POST .../{id}/read."""

from __future__ import annotations

import json

import pytest
from sqlalchemy.exc import IntegrityError

from backend.notifications.models import Notification
from backend.notifications.service import Notice, notify
from tests.test_duties_support import Office, inbox, office, quick_passwords, settings  # noqa: F401  (fixtures)

URL = "/api/v1/me/notifications"


@pytest.fixture
def raise_notices(app, clock):  # type: ignore[no-untyped-def]
    def raise_(*notices: Notice) -> list[int]:
        session = app.extensions["onsite"].new_session(writer=True)
        try:
            created = notify(session, notices, clock.now())
            session.commit()
            return [n.id for n in created]
        finally:
            session.close()

    return raise_


def _to_role(key: str, role: str, station: dict | None = None) -> Notice:
    return Notice(kind="sla.deadline_due_soon", dedupe_key=key, role=role, payload={"about": key},
                  station_id=station["id"] if station else None)


def test_a_notice_is_raised_once_per_dedupe_key(raise_notices) -> None:
    first = raise_notices(_to_role("k1", "dispatcher"), _to_role("k1", "dispatcher"), _to_role("k2", "dispatcher"))
    assert len(first) == 2
    assert raise_notices(_to_role("k1", "dispatcher"), _to_role("k3", "dispatcher")) == [first[-1] + 1]


def test_a_notification_names_exactly_one_recipient(app, clock) -> None:  # type: ignore[no-untyped-def]
    session = app.extensions["onsite"].new_session(writer=True)
    session.add(Notification(kind="sla.deadline_missed", dedupe_key="nobody", payload={}, created_at=clock.now()))
    with pytest.raises(IntegrityError):
        session.commit()
    session.close()


def test_who_sees_what(office: Office, raise_notices, make_user, login) -> None:
    zz_dispatcher = office.person("dispatcher", station=office.zhengzhou)
    gz_dispatcher = office.person("dispatcher", station=office.guangzhou)
    head_office = office.person("dispatcher")
    two_hats = office.person("dispatcher", "manager", station=office.guangzhou)
    someone = make_user("agent")
    raise_notices(_to_role("everywhere", "dispatcher"), _to_role("zz", "dispatcher", office.zhengzhou),
                  _to_role("gz-managers", "manager", office.guangzhou),
                  Notice(kind="sla.deadline_missed", dedupe_key="personal", user_id=someone.id))

    def keys(api) -> set[str]:  # type: ignore[no-untyped-def]
        return {n["payload"].get("about", "personal") for n in inbox(api)}

    assert keys(zz_dispatcher) == {"everywhere", "zz"}
    assert keys(gz_dispatcher) == {"everywhere"}
    assert keys(head_office) == {"everywhere", "zz"}  # no station: head office sees every station's
    assert keys(two_hats) == {"everywhere", "gz-managers"}
    assert keys(login(someone)) == {"personal"}


def test_newest_first_paginated_and_filtered(office: Office, raise_notices, clock) -> None:
    reader = office.person("dispatcher")
    for n in range(3):
        raise_notices(_to_role(f"n{n}", "dispatcher"))
        clock.advance(minutes=1)
    raise_notices(Notice(kind="sla.deadline_missed", dedupe_key="other-kind", role="dispatcher"))

    response = reader.get(URL, query_string={"page_size": 2})
    assert [n["payload"].get("about") for n in response.get_json()] == [None, "n2"]
    assert json.loads(response.headers["X-Pagination"])["total"] == 4
    assert len(inbox(reader, kind="sla.deadline_due_soon")) == 3
    first = inbox(reader)[0]
    assert first["created_at"] == clock.now().isoformat() and first["read_at"] is None


def test_read_state_is_per_user_and_the_first_read_counts(office: Office, raise_notices, clock) -> None:
    [ident] = raise_notices(_to_role("shared", "dispatcher"))
    alice, bob = office.person("dispatcher"), office.person("dispatcher")
    read_at = clock.advance(minutes=5)

    response = alice.post(f"{URL}/{ident}/read")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["read_at"] == read_at.isoformat()
    clock.advance(minutes=5)
    assert alice.post(f"{URL}/{ident}/read").get_json()["read_at"] == read_at.isoformat()

    assert inbox(alice, unread="true") == [] and [n["id"] for n in inbox(alice, unread="false")] == [ident]
    assert [n["id"] for n in inbox(bob, unread="true")] == [ident]
    assert inbox(bob)[0]["read_at"] is None


def test_someone_elses_notification_cannot_be_read(office: Office, raise_notices) -> None:
    [ident] = raise_notices(_to_role("zz-only", "dispatcher", office.zhengzhou))
    outsider = office.person("dispatcher", station=office.guangzhou)
    response = outsider.post(f"{URL}/{ident}/read")
    assert response.status_code == 404 and response.mimetype == "application/problem+json"
    assert outsider.post(f"{URL}/{ident + 1}/read").status_code == 404
