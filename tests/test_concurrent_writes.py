"""Writes that did not send If-Match never fail on a version check (issue 12 §4).

Every Versioned row checks its version on UPDATE. Two writers of one row that both read it before either committed
would leave the loser with a version mismatch; on PostgreSQL (READ COMMITTED) that used to reach the client as a
412 although it had asked for no precondition. A write without If-Match locks the rows it updates before reading
them, so the loser waits, reads what the winner committed and gets the documented answer: success, or 409 with the
job's `current_status` from the state machine (RULES.md §4).

Real concurrent requests: each thread has its own client, hence its own session and connection. On PostgreSQL they
truly overlap; on SQLite writers queue (BEGIN IMMEDIATE), so the same assertions hold there trivially. Each race is
run ROUNDS times, since one overlap proves little.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from flask import Flask
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm.exc import StaleDataError

from backend.db import locked
from backend.dispatch import views as dispatch_views
from backend.technicians.models import Technician
from tests.conftest import START, Api
from tests.test_dispatch_support import ZHENGZHOU, Desk, desk, quick_passwords, settings  # noqa: F401

ROUNDS = 20
# A race that has not finished by then has hung (a lock never released): fail instead of waiting forever.
RACE_TIMEOUT_SECONDS = 30


def race(app: Flask, *calls: Callable[[Api], Any], as_: list[Api]) -> list[Any]:
    """Runs each call at the same moment in its own thread, with its own client signed in as the matching user;
    returns the responses in the order of the calls."""
    barrier = threading.Barrier(len(calls))
    responses: list[Any] = [None] * len(calls)

    def run(index: int) -> None:
        api = Api(app.test_client(), as_[index].token)
        barrier.wait()
        responses[index] = calls[index](api)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(RACE_TIMEOUT_SECONDS)
        assert not thread.is_alive(), "a concurrent write hung"
    return responses


def _app(desk: Desk) -> Flask:
    return desk.admin.client.application


def _new_job(desk: Desk, technician: dict[str, Any]) -> dict[str, Any]:
    request = desk.register(km=30)
    response = desk.dispatch(request["id"], technician_ids=[technician["id"]])
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _never_412(responses: list[Any]) -> None:
    for response in responses:
        assert response.status_code != 412, response.get_json()


def test_two_position_reports_at_once_both_succeed_and_the_latest_device_time_wins(desk: Desk) -> None:
    """A phone's live fix and its offline queue's older one arrive together: neither is refused (no If-Match was
    sent), and whichever commits last, the stored position is the one the device took last."""
    technician = desk.technician(position=ZHENGZHOU)
    app_api = desk.as_technician(technician)
    url = f"/api/v1/technicians/{technician['id']}/position"
    for round_no in range(ROUNDS):
        older = START + timedelta(minutes=2 * round_no)
        newer = older + timedelta(minutes=1)
        fixes = [{"latitude": 34.0 + round_no / 100, "longitude": 113.0, "device_time": newer.isoformat()},
                 {"latitude": 30.0, "longitude": 110.0 + round_no / 100, "device_time": older.isoformat()}]
        responses = race(_app(desk), *(lambda api, fix=fix: api.put(url, json=fix) for fix in fixes),
                         as_=[app_api, app_api])
        assert [r.status_code for r in responses] == [200, 200], [r.get_json() for r in responses]
        seen = desk.admin.get(f"/api/v1/technicians/{technician['id']}").get_json()
        assert (seen["last_latitude"], seen["last_longitude"]) == (fixes[0]["latitude"], fixes[0]["longitude"])
        assert seen["last_position_device_time"] == newer.isoformat()


def test_accept_racing_decline_one_wins_the_other_gets_409_with_the_state(desk: Desk) -> None:
    """RULES.md §4: both start from `assigned`; the loser finds the job accepted or declined and gets 409 naming
    that state, exactly as if it had come second."""
    technician = desk.technician(position=ZHENGZHOU)
    app_api = desk.as_technician(technician)
    for _ in range(ROUNDS):
        job = _new_job(desk, technician)
        url = f"/api/v1/jobs/{job['id']}"
        accept, decline = race(_app(desk), lambda api: api.post(f"{url}/accept", json={}),
                               lambda api: api.post(f"{url}/decline", json={"reason": "Van broke down"}),
                               as_=[app_api, app_api])
        _never_412([accept, decline])
        assert sorted([accept.status_code, decline.status_code]) == [200, 409], (accept.get_json(),
                                                                                decline.get_json())
        winner, loser = (accept, decline) if accept.status_code == 200 else (decline, accept)
        final = winner.get_json()["job"]["status"]
        assert loser.get_json()["current_status"] == final
        assert desk.dispatcher.get(url).get_json()["status"] == final
        if final == "accepted":
            assert desk.dispatcher.post(f"{url}/cancel", json={"reason": "Next round"}).status_code == 200


def test_depart_racing_cancel_never_412_and_the_job_ends_cancelled(desk: Desk) -> None:
    """An accepted job: departing and the dispatcher's cancel cross. Departing first still lets the cancel through
    (en route is cancellable); cancelling first makes the departure a 409 naming `cancelled`."""
    technician = desk.technician(position=ZHENGZHOU)
    app_api = desk.as_technician(technician)
    for _ in range(ROUNDS):
        job = _new_job(desk, technician)
        url = f"/api/v1/jobs/{job['id']}"
        assert app_api.post(f"{url}/accept", json={}).status_code == 200
        depart, cancel = race(_app(desk), lambda api: api.post(f"{url}/depart", json={}),
                              lambda api: api.post(f"{url}/cancel", json={"reason": "Customer fixed it"}),
                              as_=[app_api, desk.dispatcher])
        _never_412([depart, cancel])
        assert cancel.status_code == 200, cancel.get_json()
        assert depart.status_code in (200, 409), depart.get_json()
        if depart.status_code == 409:
            assert depart.get_json()["current_status"] == "cancelled"
        assert desk.dispatcher.get(url).get_json()["status"] == "cancelled"


def test_a_follow_up_flag_racing_a_dispatch_both_succeed(desk: Desk) -> None:
    """CB-2 / DSP-6: flagging a request for follow-up and dispatching it change the same request row; neither
    depends on the other, so both succeed and both changes are kept."""
    technician = desk.technician(position=ZHENGZHOU)
    for _ in range(ROUNDS):
        request = desk.register(km=30)
        url = f"/api/v1/service-requests/{request['id']}"
        flag, dispatch = race(_app(desk), lambda api: api.put(f"{url}/follow-up", json={"follow_up": True}),
                              lambda api: api.post(f"{url}/dispatch", json={"technician_ids": [technician["id"]]}),
                              as_=[desk.agent, desk.dispatcher])
        _never_412([flag, dispatch])
        assert (flag.status_code, dispatch.status_code) == (200, 201), (flag.get_json(), dispatch.get_json())
        seen = desk.agent.get(url).get_json()
        assert seen["status"] == "in_progress" and seen["follow_up_since"] is not None
        cancel = desk.dispatcher.post(f"/api/v1/jobs/{dispatch.get_json()['id']}/cancel",
                                      json={"reason": "Next round"})
        assert cancel.status_code == 200, cancel.get_json()


def test_a_version_clash_on_a_write_without_if_match_is_a_409_to_retry_not_a_412(
        desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    """The safety net behind the locks: should a write that sent no If-Match still meet a version clash, the client
    is told the resource changed meanwhile and to retry (409), not that a precondition it never sent failed."""
    request = desk.register(km=30)

    def clash(*_args: Any, **_kwargs: Any) -> None:
        raise StaleDataError("UPDATE statement on table 'service_requests' expected to update 1 row(s); 0 were "
                             "matched.")

    monkeypatch.setattr(dispatch_views, "set_follow_up", clash)
    url = f"/api/v1/service-requests/{request['id']}/follow-up"
    response = desk.agent.put(url, json={"follow_up": True})
    assert response.status_code == 409, response.get_json()
    assert response.get_json()["type"] == "urn:onsite:problem:conflict"
    assert "retry" in response.get_json()["detail"]
    with_precondition = desk.agent.put(url, json={"follow_up": True}, headers={"If-Match": '"1"'})
    assert with_precondition.status_code == 412


def test_an_arrival_racing_a_follow_up_flag_on_its_request_both_succeed(desk: Desk) -> None:
    """JOB-2 / CB-2: the arrival meets the request's on-site deadline while an agent flags the same request. A job
    write locks the request before the job, the order every request write takes, so they queue and never
    deadlock; both changes are kept."""
    technician = desk.technician(position=ZHENGZHOU)
    app_api = desk.as_technician(technician)
    on_site = {"latitude": ZHENGZHOU[0], "longitude": ZHENGZHOU[1] + 0.01, "accuracy_m": 8.0}
    for _ in range(ROUNDS):
        job = _new_job(desk, technician)
        url = f"/api/v1/jobs/{job['id']}"
        request_url = f"/api/v1/service-requests/{job['service_request_id']}"
        for action in ("accept", "depart"):
            assert app_api.post(f"{url}/{action}", json={}).status_code == 200
        arrive, flag = race(_app(desk), lambda api: api.post(f"{url}/arrive", json={"position": on_site}),
                            lambda api: api.put(f"{request_url}/follow-up", json={"follow_up": True}),
                            as_=[app_api, desk.agent])
        assert (arrive.status_code, flag.status_code) == (200, 200), (arrive.get_json(), flag.get_json())
        seen = desk.agent.get(request_url).get_json()
        assert seen["follow_up_since"] is not None
        assert next(d for d in seen["deadlines"] if d["kind"] == "on_site")["status"] == "met"
        assert desk.dispatcher.post(f"{url}/cancel", json={"reason": "Next round"}).status_code == 200


def test_signing_a_user_out_everywhere_twice_at_once_succeeds_twice(desk: Desk, make_user: Any) -> None:
    """Two admins (or a double click) end one user's sessions together: the same outcome twice, no refusal."""
    user = make_user("agent")
    second_admin = desk.login(make_user("admin"))
    for _ in range(ROUNDS):
        responses = race(_app(desk), *(lambda api: api.delete(f"/api/v1/users/{user.id}/sessions"),) * 2,
                         as_=[desk.admin, second_admin])
        assert [r.status_code for r in responses] == [204, 204], [r.get_json() for r in responses]


def test_a_deadlock_broken_by_the_database_is_a_503_to_retry_not_a_500(
        desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    """Should two writers still wait on each other crosswise, PostgreSQL rolls one back; the same request again
    then succeeds, so its client is told to retry shortly."""
    request = desk.register(km=30)

    def deadlock(*_args: Any, **_kwargs: Any) -> None:
        raise OperationalError("UPDATE service_requests ...", {}, psycopg.errors.DeadlockDetected(
            "deadlock detected\nDETAIL:  Process 1 waits for ShareLock on transaction 2; blocked by process 3."))

    monkeypatch.setattr(dispatch_views, "set_follow_up", deadlock)
    response = desk.agent.put(f"/api/v1/service-requests/{request['id']}/follow-up", json={"follow_up": True})
    assert response.status_code == 503, response.get_json()
    assert response.headers["Retry-After"] == "1"


def test_locking_a_row_the_session_already_holds_reads_what_was_committed_meanwhile(desk: Desk) -> None:
    """The signed-in technician's own record is loaded with the user; a position report then locks it. A report
    committed in between must be read, not refused as a version clash (found by the position race above)."""
    onsite = _app(desk).extensions["onsite"]
    if onsite.engine.dialect.name != "postgresql":
        pytest.skip("SQLite's writer holds the database from BEGIN: no other writer can commit in between")
    technician_id = desk.technician(position=ZHENGZHOU)["id"]
    holder, other = onsite.new_session(writer=True), onsite.new_session(writer=True)
    try:
        held = holder.get(Technician, technician_id)
        version_held = held.version
        other.get(Technician, technician_id).last_latitude = 30.0
        other.commit()
        assert locked(holder, Technician, technician_id) is held
        assert (held.version, held.last_latitude) == (version_held + 1, 30.0)
    finally:
        holder.close()
        other.close()
