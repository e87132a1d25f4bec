"""Callbacks (RULES.md §8): the `callbacks` duty (CB-1, CB-2) with the clock moved, and the agents' API (CB-3)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from backend.callbacks.models import Callback
from backend.dispatch.models import ServiceRequest
from backend.duties.registry import registered
from tests.test_callbacks_support import Field, callbacks, field  # noqa: F401  (fixtures)
from tests.test_duties_support import GUANGZHOU, office, quick_passwords, settings  # noqa: F401  (fixtures)

RATED = {"attitude": 5, "skill": 4, "arrival_time": 4, "promise_kept": 5}


def _result(field: Field, callback_id: int, **body: object):  # type: ignore[no-untyped-def]
    return field.office.agent.post(f"/api/v1/callbacks/{callback_id}/result", json=body)


def _follow_up(field: Field, request_id: int, flagged: bool):  # type: ignore[no-untyped-def]
    return field.office.agent.put(f"/api/v1/service-requests/{request_id}/follow-up", json={"follow_up": flagged})


# --- CB-1: a callback for every job done -------------------------------------------------------------------------

def test_a_job_done_gets_one_callback_due_three_days_later(field: Field, clock) -> None:
    request = field.request()
    done_at = clock.now()
    job_id = field.job(request, technician=field.zz_tech, done_at=done_at)
    field.job(field.request(), technician=field.zz_tech, done_at=None, status="on_site")  # not done: none

    assert field.office.run("callbacks") == {"callbacks_created": 1, "follow_ups_created": 0}
    [callback] = callbacks(field.office.agent)
    assert (callback["kind"], callback["job_id"], callback["service_request_id"]) == (
        "service_quality", job_id, request["id"])
    assert callback["request_number"] == request["number"] and callback["customer_id"] == request["customer_id"]
    assert callback["status"] == "open" and callback["attempts"] == []
    # rule CB-1: within 3 days of completion, and it can be made at once
    assert callback["due_at"] == (done_at + timedelta(days=3)).isoformat()
    assert callback["next_attempt_at"] == done_at.isoformat()
    assert callbacks(field.office.agent, status="due") == [callback]


def test_running_the_duty_again_creates_nothing_twice(field: Field, clock) -> None:
    field.job(field.request(), technician=field.zz_tech, done_at=clock.now())
    assert field.office.run("callbacks")["callbacks_created"] == 1
    assert field.office.run("callbacks")["callbacks_created"] == 0
    clock.advance(minutes=15)
    field.job(field.request(), technician=field.zz_tech, done_at=clock.now())
    assert field.office.run("callbacks")["callbacks_created"] == 1
    assert len(callbacks(field.office.agent)) == 2


def test_a_cancelled_job_gets_no_callback(field: Field, clock) -> None:
    field.job(field.request(), technician=field.zz_tech, done_at=clock.now(), status="cancelled")
    assert field.office.run("callbacks")["callbacks_created"] == 0


def test_after_downtime_it_creates_the_callbacks_owed_already_due(field: Field, clock) -> None:
    """The server was off for four days: jobs done meanwhile get their callbacks, due from when the work was done,
    so the one already past its three days shows as overdue."""
    start = clock.now()
    early = field.job(field.request(), technician=field.zz_tech, done_at=start)
    late = field.job(field.request(), technician=field.zz_tech, done_at=start + timedelta(days=2))
    clock.advance(days=4)
    assert field.office.run("callbacks")["callbacks_created"] == 2
    overdue = callbacks(field.office.agent, due_before=clock.now().isoformat())
    assert [c["job_id"] for c in overdue] == [early]
    assert overdue[0]["due_at"] == (start + timedelta(days=3)).isoformat()
    assert [c["job_id"] for c in callbacks(field.office.agent, status="due")] == [early, late]


def test_a_long_catch_up_works_through_batches(field: Field, clock, monkeypatch) -> None:
    from backend.duties import callbacks as duty

    monkeypatch.setattr(duty, "BATCH", 2)
    for _ in range(5):
        field.job(field.request(), technician=field.zz_tech, done_at=clock.now())
    assert field.office.run("callbacks")["callbacks_created"] == 5


def test_the_duty_runs_every_15_minutes() -> None:
    assert registered()["callbacks"].trigger.interval == timedelta(minutes=15)


# --- CB-3: the result --------------------------------------------------------------------------------------------

def _one_callback(field: Field, clock) -> dict:  # type: ignore[no-untyped-def, type-arg]
    field.job(field.request(), technician=field.zz_tech, done_at=clock.now())
    field.office.run("callbacks")
    [callback] = callbacks(field.office.agent)
    return callback


def test_scp1_an_agent_of_one_station_sees_and_records_only_its_callbacks(field: Field, clock) -> None:
    # A callback belongs to its request's station; another station's answers as missing.
    zz_job = field.job(field.request(), technician=field.zz_tech, done_at=clock.now())
    gz_job = field.job(field.request(near=GUANGZHOU), technician=field.gz_tech, done_at=clock.now())
    field.office.run("callbacks")
    by_job = {c["job_id"]: c for c in callbacks(field.office.agent)}  # head office: both
    assert sorted(by_job) == sorted([zz_job, gz_job])
    guangzhou = field.office.login(field.office.make_user("agent", station_ids=[field.office.guangzhou["id"]]))
    assert [c["job_id"] for c in callbacks(guangzhou)] == [gz_job]
    assert [c["job_id"] for c in callbacks(guangzhou, status="due")] == [gz_job]

    zz_callback, missing = by_job[zz_job]["id"], max(c["id"] for c in by_job.values()) + 100
    for path, body in (("", None), ("/result", {"reached": False, "method": "phone"})):
        send = guangzhou.get if body is None else (lambda url, body=body: guangzhou.post(url, json=body))
        outside, absent = send(f"/api/v1/callbacks/{zz_callback}{path}"), send(f"/api/v1/callbacks/{missing}{path}")
        assert outside.status_code == absent.status_code == 404
        assert outside.get_json()["detail"] == absent.get_json()["detail"].replace(str(missing), str(zz_callback))
    assert field.office.agent.get(f"/api/v1/callbacks/{zz_callback}").get_json()["attempts"] == []
    recorded = guangzhou.post(f"/api/v1/callbacks/{by_job[gz_job]['id']}/result", json={"reached": False,
                                                                                         "method": "phone"})
    assert recorded.status_code == 200, recorded.get_json()


def test_a_reached_customer_rates_the_service_and_the_callback_is_done(field: Field, clock) -> None:
    callback = _one_callback(field, clock)
    clock.advance(hours=5)
    response = _result(field, callback["id"], reached=True, method="phone", comments="Quick and tidy", **RATED)
    assert response.status_code == 200, response.get_json()
    done = response.get_json()
    assert done["status"] == "done" and done["completed_at"] == clock.now().isoformat()
    [attempt] = done["attempts"]
    assert attempt | RATED == attempt and attempt["reached"] is True and attempt["method"] == "phone"
    assert attempt["comments"] == "Quick and tidy" and attempt["attempted_at"] == clock.now().isoformat()
    assert attempt["complaint_request_id"] is None
    assert callbacks(field.office.agent, status="due") == []
    assert [c["id"] for c in callbacks(field.office.agent, status="done")] == [callback["id"]]
    # a second result for a finished callback is refused
    assert _result(field, callback["id"], reached=True, method="phone", **RATED).status_code == 409


def test_ratings_are_required_when_reached_and_refused_when_not(field: Field, clock) -> None:
    callback = _one_callback(field, clock)
    missing = _result(field, callback["id"], reached=True, method="sms", attitude=5, skill=5, arrival_time=5)
    assert missing.status_code == 422
    assert [e["field"] for e in missing.get_json()["errors"]] == ["promise_kept"]
    out_of_range = _result(field, callback["id"], reached=True, method="sms", **(RATED | {"skill": 6}))
    assert out_of_range.status_code == 422
    unreached = _result(field, callback["id"], reached=False, method="phone", attitude=3)
    assert unreached.status_code == 422 and unreached.get_json()["errors"][0]["field"] == "attitude"
    assert callbacks(field.office.agent)[0]["attempts"] == []


def test_an_unreached_customer_is_tried_again_until_the_attempts_run_out(field: Field, clock) -> None:
    callback = _one_callback(field, clock)
    for attempt in (1, 2):
        response = _result(field, callback["id"], reached=False, method="phone")
        assert response.status_code == 200, response.get_json()
        retry = response.get_json()
        assert (retry["status"], retry["attempts_made"]) == ("open", attempt)
        # tried again a day later (default), not before
        assert retry["next_attempt_at"] == (clock.now() + timedelta(hours=24)).isoformat()
        assert callbacks(field.office.agent, status="due") == []
        assert [c["id"] for c in callbacks(field.office.agent, status="open")] == [callback["id"]]
        clock.advance(hours=24)
        assert [c["id"] for c in callbacks(field.office.agent, status="due")] == [callback["id"]]
    last = _result(field, callback["id"], reached=False, method="email").get_json()
    assert (last["status"], last["attempts_made"], last["completed_at"]) == ("unreached", 3, clock.now().isoformat())
    assert [a["method"] for a in last["attempts"]] == ["phone", "phone", "email"]
    assert [c["id"] for c in callbacks(field.office.agent, status="unreached")] == [callback["id"]]
    assert _result(field, callback["id"], reached=False, method="phone").status_code == 409


def test_reached_on_a_retry(field: Field, clock) -> None:
    callback = _one_callback(field, clock)
    _result(field, callback["id"], reached=False, method="phone")
    clock.advance(hours=24)
    done = _result(field, callback["id"], reached=True, method="phone", **RATED).get_json()
    assert done["status"] == "done" and [a["reached"] for a in done["attempts"]] == [False, True]


def test_dissatisfaction_reopens_the_request_as_a_linked_complaint(field: Field, clock) -> None:
    callback = _one_callback(field, clock)
    original = field.office.agent.get(f"/api/v1/service-requests/{callback['service_request_id']}").get_json()
    clock.advance(days=1)
    words = "The door jams again and the technician left a mess"
    response = _result(field, callback["id"], reached=True, method="phone", comments=words,
                       reopen_as_complaint=True, complaint_class="non_quality",
                       **(RATED | {"attitude": 2, "skill": 1}))
    assert response.status_code == 200, response.get_json()
    complaint_id = response.get_json()["attempts"][0]["complaint_request_id"]
    complaint = field.office.agent.get(f"/api/v1/service-requests/{complaint_id}").get_json()
    assert complaint["number"] != original["number"] and complaint["status"] == "registered"
    assert complaint["fault_description"] == words and complaint["complaint_class"] == "non_quality"
    same = ("customer_id", "unit_id", "site_address", "site_latitude", "site_longitude", "fault_category")
    assert {k: complaint[k] for k in same} == {k: original[k] for k in same}
    assert complaint["reported_at"] == clock.now().isoformat() and complaint["deadlines"]  # its own SLA clock


def test_a_complaint_needs_its_class_and_the_customers_words(field: Field, clock, session) -> None:
    callback = _one_callback(field, clock)
    no_class = _result(field, callback["id"], reached=True, method="phone", comments="bad", reopen_as_complaint=True,
                       **RATED)
    assert no_class.status_code == 422 and no_class.get_json()["errors"][0]["field"] == "complaint_class"
    no_words = _result(field, callback["id"], reached=True, method="phone", reopen_as_complaint=True,
                       complaint_class="quality", **RATED)
    assert no_words.status_code == 422 and no_words.get_json()["errors"][0]["field"] == "comments"
    unreached = _result(field, callback["id"], reached=False, method="phone", comments="x", reopen_as_complaint=True)
    assert unreached.status_code == 422
    session.rollback()
    assert len(session.scalars(select(ServiceRequest)).all()) == 1  # nothing was reopened


def test_a_retried_result_with_the_same_idempotency_key_is_recorded_once(field: Field, clock) -> None:
    callback = _one_callback(field, clock)
    body = {"reached": False, "method": "phone"}
    headers = {"Idempotency-Key": "cb-attempt-1"}
    first = field.office.agent.post(f"/api/v1/callbacks/{callback['id']}/result", json=body, headers=headers)
    again = field.office.agent.post(f"/api/v1/callbacks/{callback['id']}/result", json=body, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true" and again.get_json() == first.get_json()
    assert callbacks(field.office.agent)[0]["attempts_made"] == 1


def test_the_attempts_allowed_are_configurable(app, field: Field, clock, settings) -> None:  # noqa: F811
    from dataclasses import replace

    app.extensions["onsite"].settings = replace(settings, callback_max_attempts=1)
    callback = _one_callback(field, clock)
    assert _result(field, callback["id"], reached=False, method="phone").get_json()["status"] == "unreached"


def test_supervisors_and_managers_read_callbacks_but_only_agents_record_results(field: Field, clock) -> None:
    callback = _one_callback(field, clock)
    for role in ("supervisor", "manager"):
        reader = field.office.person(role)
        assert [c["id"] for c in callbacks(reader)] == [callback["id"]]
        assert reader.get(f"/api/v1/callbacks/{callback['id']}").status_code == 200
        assert reader.post(f"/api/v1/callbacks/{callback['id']}/result",
                           json={"reached": False, "method": "phone"}).status_code == 403
    assert field.office.person("dispatcher").get("/api/v1/callbacks").status_code == 403


# --- CB-2: follow-ups --------------------------------------------------------------------------------------------

def test_a_flagged_request_is_followed_up_every_48_hours_until_unflagged(field: Field, clock) -> None:
    request = field.request()
    flagged = _follow_up(field, request["id"], True)
    assert flagged.status_code == 200 and flagged.get_json()["follow_up_since"] == clock.now().isoformat()
    start = clock.now()

    clock.advance(hours=47, minutes=59)
    assert field.office.run("callbacks")["follow_ups_created"] == 0
    clock.advance(minutes=1)
    assert field.office.run("callbacks") == {"callbacks_created": 0, "follow_ups_created": 1}
    assert field.office.run("callbacks")["follow_ups_created"] == 0  # nothing twice
    [first] = callbacks(field.office.agent, kind="follow_up")
    assert (first["sequence"], first["service_request_id"], first["job_id"]) == (1, request["id"], None)
    assert first["due_at"] == (start + timedelta(hours=48)).isoformat()

    clock.advance(hours=2)
    _result(field, first["id"], reached=True, method="phone", **RATED)
    # rule CB-2: contacted again at most every 48 h: the next one 48 h after this contact
    clock.advance(hours=47)
    assert field.office.run("callbacks")["follow_ups_created"] == 0
    clock.advance(hours=1)
    assert field.office.run("callbacks")["follow_ups_created"] == 1
    second = callbacks(field.office.agent, kind="follow_up", status="open")[0]
    assert second["sequence"] == 2 and second["due_at"] == (start + timedelta(hours=98)).isoformat()

    unflagged = _follow_up(field, request["id"], False)
    assert unflagged.status_code == 200 and unflagged.get_json()["follow_up_since"] is None
    assert callbacks(field.office.agent, kind="follow_up", status="open") == []  # withdrawn
    assert [c["id"] for c in callbacks(field.office.agent, status="cancelled")] == [second["id"]]
    clock.advance(days=10)
    assert field.office.run("callbacks")["follow_ups_created"] == 0


def test_after_downtime_one_follow_up_is_owed_not_one_per_missed_interval(field: Field, clock) -> None:
    request = field.request()
    start = clock.now()
    _follow_up(field, request["id"], True)
    clock.advance(days=7)
    assert field.office.run("callbacks")["follow_ups_created"] == 1
    [owed] = callbacks(field.office.agent, status="due")
    assert owed["due_at"] == (start + timedelta(hours=48)).isoformat()
    assert field.office.run("callbacks")["follow_ups_created"] == 0


def test_flagging_twice_keeps_the_clock_and_a_finished_request_is_not_followed_up(field: Field, clock,
                                                                                 session) -> None:
    request = field.request()
    since = _follow_up(field, request["id"], True).get_json()["follow_up_since"]
    clock.advance(hours=10)
    assert _follow_up(field, request["id"], True).get_json()["follow_up_since"] == since

    session.execute(update(ServiceRequest).where(ServiceRequest.id == request["id"]).values(status="rejected"))
    session.commit()
    clock.advance(days=3)
    assert field.office.run("callbacks")["follow_ups_created"] == 0
    other = field.request()
    session.execute(update(ServiceRequest).where(ServiceRequest.id == other["id"]).values(status="rejected"))
    session.commit()
    assert _follow_up(field, other["id"], True).status_code == 409


def test_callbacks_are_unique_per_job_and_per_follow_up_number(field: Field, clock, session) -> None:
    field.job(field.request(), technician=field.zz_tech, done_at=clock.now())
    field.office.run("callbacks")
    session.rollback()
    assert [c.dedupe_key for c in session.scalars(select(Callback))] == [
        f"service_quality:job:{session.scalars(select(Callback)).one().job_id}"]
