"""Scheduled duties run by hand: sla-watch (DSP-4 clocks, escalations), idempotency, catch-up, the commands."""

from __future__ import annotations

import threading
from dataclasses import replace

from click.testing import CliRunner
from sqlalchemy import select, update

from backend.audit.models import AuditEntry
from backend.cli import cli
from backend.dispatch.models import Deadline, ServiceRequest
from backend.notifications.models import Notification
from tests.test_duties_support import Office, inbox, office, quick_passwords, settings  # noqa: F401  (fixtures)

ON_SITE_HOURS = 24  # DSP-1 default: a request 50 km from Zhengzhou must be visited within 24 h of the report


def _deadline(session, request_id: int) -> Deadline:  # type: ignore[no-untyped-def]
    session.rollback()
    return session.scalars(select(Deadline).where(Deadline.service_request_id == request_id)).one()


def _notifications(session) -> list[Notification]:  # type: ignore[no-untyped-def]
    session.rollback()
    return list(session.scalars(select(Notification).order_by(Notification.id)))


# --- sla-watch: missed deadlines ---------------------------------------------------------------------------------

def test_a_passed_deadline_is_marked_missed_and_the_managers_are_told(office: Office, session, clock) -> None:
    request = office.register()
    station_manager = office.person("manager", station=office.zhengzhou)
    head_office_manager = office.person("manager")
    other_manager = office.person("manager", station=office.guangzhou)

    clock.advance(hours=ON_SITE_HOURS, seconds=1)
    assert office.run("sla-watch") == {"deadlines_marked_missed": 1, "due_soon_escalations": 0}

    deadline = _deadline(session, request["id"])
    assert deadline.status == "missed" and deadline.met_at is None
    # Missed but still to be done: it stays the board's sort key, so the request leads the board.
    assert session.get(ServiceRequest, request["id"]).next_due_at == deadline.due_at
    [seen] = inbox(station_manager)
    assert seen["kind"] == "sla.deadline_missed" and seen["recipient_role"] == "manager"
    assert seen["station_id"] == office.zhengzhou["id"]
    assert seen["payload"] == {"service_request_id": request["id"], "number": request["number"],
                               "deadline_kind": "on_site", "due_at": deadline.due_at.isoformat(),
                               "station_id": office.zhengzhou["id"]}
    assert inbox(head_office_manager) == [seen]
    assert inbox(other_manager) == []


def test_a_deadline_not_yet_passed_is_left_open(office: Office, session, clock) -> None:
    request = office.register()
    clock.advance(hours=ON_SITE_HOURS)  # exactly due: not missed yet (effective_status: due_at < now)
    assert office.run("sla-watch")["deadlines_marked_missed"] == 0
    assert _deadline(session, request["id"]).status == "open"


def test_settled_deadlines_are_left_alone(office: Office, session, clock) -> None:
    met, waived = office.register(), office.register()
    session.execute(update(Deadline).where(Deadline.service_request_id == met["id"]).values(status="met"))
    session.execute(update(Deadline).where(Deadline.service_request_id == waived["id"]).values(status="waived"))
    session.commit()
    clock.advance(days=3)
    assert office.run("sla-watch") == {"deadlines_marked_missed": 0, "due_soon_escalations": 0}
    assert (_deadline(session, met["id"]).status, _deadline(session, waived["id"]).status) == ("met", "waived")
    assert _notifications(session) == []


def test_the_duty_is_audited_as_itself(office: Office, session, clock) -> None:
    request = office.register()
    clock.advance(days=2)
    office.run("sla-watch")
    session.rollback()
    entry = session.scalars(select(AuditEntry).where(AuditEntry.entity_type == "sla_deadlines",
                                                     AuditEntry.change == "update")).one()
    assert (entry.actor_name, entry.action, entry.actor_user_id) == ("duty:sla-watch", "duty sla-watch", None)
    assert entry.before == {"status": "open"} and entry.after == {"status": "missed"}
    assert entry.at == clock.now()
    assert entry.entity_id == str(_deadline(session, request["id"]).id)


# --- sla-watch: escalation before the deadline -------------------------------------------------------------------

def test_a_deadline_within_the_lead_time_is_escalated_to_the_stations_dispatchers(office: Office, clock) -> None:
    request = office.register()
    ours = office.person("dispatcher", station=office.zhengzhou)
    head_office = office.person("dispatcher")
    theirs = office.person("dispatcher", station=office.guangzhou)
    station_manager = office.person("manager", station=office.zhengzhou)

    clock.advance(hours=ON_SITE_HOURS - 2, seconds=-1)  # just before the default 2 h lead time begins
    assert office.run("sla-watch")["due_soon_escalations"] == 0
    clock.advance(seconds=1)  # exactly 2 h before due
    assert office.run("sla-watch") == {"deadlines_marked_missed": 0, "due_soon_escalations": 1}

    [seen] = inbox(ours)
    assert (seen["kind"], seen["recipient_role"], seen["station_id"]) == (
        "sla.deadline_due_soon", "dispatcher", office.zhengzhou["id"])
    assert seen["payload"]["number"] == request["number"] and seen["payload"]["deadline_kind"] == "on_site"
    assert inbox(head_office) == [seen]
    assert inbox(theirs) == [] and inbox(station_manager) == []


def test_the_lead_time_is_configurable(app, office: Office, clock, settings) -> None:  # type: ignore[no-untyped-def]
    office.register()
    clock.advance(hours=ON_SITE_HOURS - 5)
    assert office.run("sla-watch")["due_soon_escalations"] == 0
    app.extensions["onsite"].settings = replace(settings, sla_escalation_lead_hours=6.0)
    assert office.run("sla-watch")["due_soon_escalations"] == 1


# --- idempotency and catch-up ------------------------------------------------------------------------------------

def test_running_again_does_nothing_twice(office: Office, session, clock) -> None:
    office.register()
    clock.advance(hours=ON_SITE_HOURS - 1)
    assert office.run("sla-watch") == {"deadlines_marked_missed": 0, "due_soon_escalations": 1}
    assert office.run("sla-watch") == {"deadlines_marked_missed": 0, "due_soon_escalations": 0}
    clock.advance(hours=2)
    assert office.run("sla-watch") == {"deadlines_marked_missed": 1, "due_soon_escalations": 0}
    assert office.run("sla-watch") == {"deadlines_marked_missed": 0, "due_soon_escalations": 0}
    assert [n.kind for n in _notifications(session)] == ["sla.deadline_due_soon", "sla.deadline_missed"]


def test_after_a_day_of_downtime_it_acts_on_what_it_owes(office: Office, session, clock) -> None:
    """Nothing ran while the server was off: one run settles every passed deadline (without warning about them
    in advance, too late) and escalates those now coming due."""
    overdue = [office.register(), office.register()]
    clock.advance(hours=22)
    coming_due = office.register()
    clock.advance(hours=23)  # the server was off: the first two passed 21 h ago, the third is due in 1 h

    assert office.run("sla-watch") == {"deadlines_marked_missed": 2, "due_soon_escalations": 1}
    assert [_deadline(session, r["id"]).status for r in (*overdue, coming_due)] == ["missed", "missed", "open"]
    notified = {(n.kind, n.payload["number"]) for n in _notifications(session)}
    assert notified == {("sla.deadline_missed", overdue[0]["number"]), ("sla.deadline_missed", overdue[1]["number"]),
                        ("sla.deadline_due_soon", coming_due["number"])}


def test_a_long_catch_up_works_through_batches(office: Office, session, clock, monkeypatch) -> None:
    from backend.duties import sla_watch

    monkeypatch.setattr(sla_watch, "BATCH", 2)
    requests = [office.register() for _ in range(5)]
    clock.advance(hours=ON_SITE_HOURS - 1)
    assert office.run("sla-watch") == {"deadlines_marked_missed": 0, "due_soon_escalations": 5}
    clock.advance(hours=2)
    assert office.run("sla-watch") == {"deadlines_marked_missed": 5, "due_soon_escalations": 0}
    assert {_deadline(session, r["id"]).status for r in requests} == {"missed"}
    assert len(_notifications(session)) == 10


def test_two_runs_at_once_act_once(office: Office, session, clock) -> None:
    """A run by hand while the scheduler runs: the writer lock (SQLite), or row locks and the unique dedupe key
    (PostgreSQL), keep each escalation and each missed deadline single, and neither run fails."""
    for _ in range(3):
        office.register()

    def both_at_once() -> list[dict[str, int]]:
        barrier = threading.Barrier(2)
        results: list[dict[str, int]] = []

        def run() -> None:
            barrier.wait()
            results.append(office.run("sla-watch"))

        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(results) == 2, "a run failed"
        return results

    clock.advance(hours=ON_SITE_HOURS - 1)
    assert sum(r["due_soon_escalations"] for r in both_at_once()) == 3
    clock.advance(hours=2)
    assert sum(r["deadlines_marked_missed"] for r in both_at_once()) == 3
    kinds = sorted(n.kind for n in _notifications(session))
    assert kinds == ["sla.deadline_due_soon"] * 3 + ["sla.deadline_missed"] * 3


# --- the commands ------------------------------------------------------------------------------------------------

def _run(database_url: str, tmp_path, *args: str):  # type: ignore[no-untyped-def]
    env = {"ONSITE_DATABASE_URL": database_url, "ONSITE_INSTANCE_PATH": str(tmp_path / "instance")}
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def test_duty_list_names_each_duty_and_its_schedule(database_url, tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = _run(database_url, tmp_path, "duty", "list")
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.output.splitlines()}
    assert set(lines) == {"sla-watch", "webhooks", "callbacks", "old-parts", "monthly-old-parts",
                          "idempotency-keys", "login-throttle"}
    assert "interval[0:01:00]" in lines["sla-watch"]


def test_duty_run_reports_progress_and_a_one_line_summary(app, database_url, tmp_path) -> None:  # type: ignore
    result = _run(database_url, tmp_path, "duty", "run", "sla-watch")
    assert result.exit_code == 0, result.output
    first, last = result.output.strip().splitlines()
    assert first.startswith("running sla-watch as of ")
    assert last == "sla-watch: 0 deadlines marked missed, 0 due soon escalations"


def test_duty_run_refuses_an_unknown_duty(database_url, tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(cli, ["duty", "run", "tea-break"],
                                env={"ONSITE_DATABASE_URL": database_url,
                                     "ONSITE_INSTANCE_PATH": str(tmp_path / "instance")})
    assert result.exit_code != 0 and "no duty 'tea-break'; the duties are: sla-watch, webhooks" in result.output
