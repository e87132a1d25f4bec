"""A technician's app reports its position; retried writes are safe (issue 2 §6, standards: Idempotency-Key)."""

import pytest
from sqlalchemy import func, select

from backend.audit.models import AuditEntry
from tests import factories


@pytest.fixture
def field_tech(as_role, make_user, login):
    admin = as_role("admin")
    station = factories.station(admin)
    user = make_user("technician")
    technician = factories.technician(admin, user.id, station["id"])
    return login(user), technician, admin


def _position_url(technician):
    return f"/api/v1/technicians/{technician['id']}/position"


def test_technician_reports_own_position_with_server_and_device_time(field_tech, clock):
    app_api, technician, admin = field_tech
    clock.advance(minutes=10)
    response = app_api.put(_position_url(technician), json={"latitude": 34.8, "longitude": 113.7, "accuracy_m": 12,
                                                             "device_time": "2026-03-02T16:09:30+08:00"})
    assert response.status_code == 200, response.get_json()
    seen = admin.get(f"/api/v1/technicians/{technician['id']}").get_json()
    assert (seen["last_latitude"], seen["last_longitude"]) == (34.8, 113.7)
    assert seen["last_position_at"] == "2026-03-02T08:10:00+00:00"
    assert seen["last_position_device_time"] == "2026-03-02T08:09:30+00:00"


def test_a_technician_cannot_move_someone_else(field_tech, as_role, make_user, login):
    _app_api, technician, _admin = field_tech
    other = login(make_user("technician"))
    assert other.put(_position_url(technician), json={"latitude": 1, "longitude": 1}).status_code == 403


@pytest.mark.parametrize("body,field", [({"latitude": 91, "longitude": 0}, "latitude"),
                                        ({"latitude": 0, "longitude": -180.01}, "longitude"),
                                        ({"latitude": 0, "longitude": 0, "device_time": "2026-03-02T08:00:00"},
                                         "device_time")])
def test_bad_positions_are_refused(field_tech, body, field):
    response = field_tech[0].put(_position_url(field_tech[1]), json=body)
    assert response.status_code == 422
    assert [e["field"] for e in response.get_json()["errors"]] == [field]


def test_an_older_fix_delivered_late_does_not_move_the_technician_back(field_tech):
    app_api, technician, admin = field_tech
    app_api.put(_position_url(technician), json={"latitude": 35.0, "longitude": 114.0,
                                                 "device_time": "2026-03-02T08:05:00+00:00"})
    app_api.put(_position_url(technician), json={"latitude": 30.0, "longitude": 110.0,
                                                 "device_time": "2026-03-02T07:55:00+00:00"})
    seen = admin.get(f"/api/v1/technicians/{technician['id']}").get_json()
    assert (seen["last_latitude"], seen["last_longitude"]) == (35.0, 114.0)


def _audit_count(session):
    session.rollback()
    return session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.entity_type == "technicians"))


def test_a_retried_write_with_the_same_key_acts_once_and_replays_the_answer(field_tech, session, clock):
    app_api, technician, _admin = field_tech
    key = {"Idempotency-Key": "offline-queue-item-17"}
    body = {"latitude": 34.9, "longitude": 113.9}
    before = _audit_count(session)
    first = app_api.put(_position_url(technician), json=body, headers=key)
    clock.advance(minutes=3)
    again = app_api.put(_position_url(technician), json=body, headers=key)
    assert first.status_code == again.status_code == 200
    assert again.get_json() == first.get_json()
    assert again.headers["ETag"] == first.headers["ETag"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert _audit_count(session) == before + 1


def test_the_same_key_with_a_different_body_is_422(field_tech):
    app_api, technician, _admin = field_tech
    key = {"Idempotency-Key": "k-1"}
    assert app_api.put(_position_url(technician), json={"latitude": 1, "longitude": 1}, headers=key).status_code == 200
    response = app_api.put(_position_url(technician), json={"latitude": 2, "longitude": 2}, headers=key)
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "Idempotency-Key"


def test_keys_belong_to_their_user(field_tech, as_role):
    """Two users who happen to pick the same key do not see each other's answers."""
    _app_api, _technician, admin = field_tech
    key = {"Idempotency-Key": "same-key"}
    first = admin.post("/api/v1/parts", json={"part_number": "A", "name": "A", "unit_price": "1"}, headers=key)
    other = as_role("warehouse").post("/api/v1/parts", json={"part_number": "B", "name": "B", "unit_price": "1"},
                                      headers=key)
    assert first.status_code == other.status_code == 201
    assert first.get_json()["id"] != other.get_json()["id"]


def test_a_failed_write_does_not_consume_the_key(field_tech):
    app_api, technician, _admin = field_tech
    key = {"Idempotency-Key": "retry-after-fix"}
    assert app_api.put(_position_url(technician), json={"latitude": 95, "longitude": 1}, headers=key).status_code == 422
    assert app_api.put(_position_url(technician), json={"latitude": 45, "longitude": 1}, headers=key).status_code == 200


def test_create_replay_returns_the_same_resource_not_a_duplicate(as_role):
    admin = as_role("admin")
    key = {"Idempotency-Key": "create-station-1"}
    body = {"code": "CD", "name": "Chengdu", "address": "Xindu", "latitude": 30.8, "longitude": 104.2}
    first = admin.post("/api/v1/stations", json=body, headers=key)
    again = admin.post("/api/v1/stations", json=body, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.headers["Location"] == first.headers["Location"]
    assert len(admin.get("/api/v1/stations").get_json()) == 1


def test_simultaneous_retries_with_one_key_act_once(app, field_tech, session):
    """An app that fires the same queued write twice at once (two sockets) gets one effect and one answer."""
    from concurrent.futures import ThreadPoolExecutor

    app_api, technician, _admin = field_tech
    headers = app_api.headers({"Idempotency-Key": "burst-1"})
    before = _audit_count(session)

    def send(_n):
        return app.test_client().put(_position_url(technician), json={"latitude": 33.3, "longitude": 111.1},
                                     headers=headers)

    with ThreadPoolExecutor(max_workers=4) as pool:
        responses = list(pool.map(send, range(4)))
    assert [r.status_code for r in responses] == [200] * 4
    assert len({r.get_data() for r in responses}) == 1
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in responses) == 3
    assert _audit_count(session) == before + 1


def test_keys_are_kept_the_promised_seven_days_then_forgotten_by_the_duty(app, field_tech, session, clock):
    from backend.duties.registry import registered, run_duty
    from backend.idempotency import IdempotencyRecord

    app_api, technician, _admin = field_tech
    app_api.put(_position_url(technician), json={"latitude": 34.9, "longitude": 113.9},
                headers={"Idempotency-Key": "queued-monday"})
    duty = registered()["idempotency-keys"]

    def kept() -> int:
        session.rollback()
        return session.scalar(select(func.count()).select_from(IdempotencyRecord))

    clock.advance(days=6, hours=23)
    assert run_duty(app.extensions["onsite"], duty) == {"purged": 0}
    assert kept() == 1
    clock.advance(hours=2)
    assert run_duty(app.extensions["onsite"], duty) == {"purged": 1}
    assert kept() == 0
