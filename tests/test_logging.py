"""The log (issue 12 item 3): configured in every mode, JSON lines in production and text elsewhere; one access line
per request; every 500 findable by its request id with its traceback; repeated failures summarised, not dumped
thousands of times; the scheduler logs who leads and what each duty did."""

from __future__ import annotations

import json
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from backend import logs
from backend.app import create_app
from backend.config import ConfigurationError, Settings
from backend.duties.registry import registered
from backend.duties.scheduler import DutyScheduler
from backend.logs import ErrorDigest
from tests.console_support import console_as

STRONG_SECRET = secrets.token_urlsafe(48)


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The suite's settings, logging in JSON as production does."""
    return replace(settings, log_format="json")


@pytest.fixture
def monotonic(monkeypatch: pytest.MonkeyPatch) -> FakeMonotonic:
    """A fresh error digest for the test, on a clock the test moves (other tests' errors do not count here)."""
    clock = FakeMonotonic()
    monkeypatch.setattr(logs, "errors", ErrorDigest(window_seconds=60, clock=clock))
    return clock


@pytest.fixture
def failing_route(app: Flask) -> str:
    """A route only this test module has, failing like a bug would (its message names the id it was given)."""

    def explode(item: int) -> str:
        raise RuntimeError(f"item {item} has no frobnicator")

    app.add_url_rule("/api/v1/test-only/explode/<int:item>", "test_only_explode", explode)
    return "/api/v1/test-only/explode"


def log_records(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """Every line written to the log since the last call, each parsed as the JSON object it must be."""
    return [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.strip()]


def access_lines(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [record for record in records if record["logger"] == "onsite.access"]


def test_each_request_has_one_access_line_with_route_status_duration_and_who(
        as_role: Callable[..., Any], capsys: pytest.CaptureFixture[str]) -> None:
    dispatcher = as_role("dispatcher")
    capsys.readouterr()
    response = dispatcher.get("/api/v1/stations/424242", headers={"X-Request-Id": "trace-me-1",
                                                                  "X-Device-Id": "tablet-7"})
    assert response.status_code == 404

    [line] = access_lines(log_records(capsys))
    assert line["level"] == "INFO"
    assert datetime.fromisoformat(line["time"]).utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    assert line["method"] == "GET"
    assert line["route"] == "/api/v1/stations/<id:station_id>"  # the rule, not the path with its id
    assert line["status"] == 404
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["request_id"] == "trace-me-1" == response.headers["X-Request-Id"]
    assert line["user_id"] == dispatcher.get("/api/v1/me").get_json()["id"]
    assert line["device_id"] == "tablet-7"
    assert "424242" not in line["message"]


def test_the_access_line_of_a_metrics_scrape_names_the_admin_who_scraped(
        as_role: Callable[..., Any], capsys: pytest.CaptureFixture[str]) -> None:
    admin = as_role("admin")
    capsys.readouterr()
    assert admin.get("/metrics").status_code == 200
    [line] = access_lines(log_records(capsys))
    assert (line["route"], line["user_id"]) == ("/metrics", admin.get("/api/v1/me").get_json()["id"])


def test_the_access_line_names_the_console_user(client: FlaskClient, make_user: Callable[..., Any],
                                                capsys: pytest.CaptureFixture[str]) -> None:
    dispatcher = make_user("dispatcher")
    console = console_as(client, dispatcher)
    capsys.readouterr()
    assert console.get("/board").status_code == 200
    pages = [line for line in access_lines(log_records(capsys)) if line["route"] == "/board"]
    assert [(line["status"], line["user_id"]) for line in pages] == [(200, dispatcher.id)]


def test_anonymous_requests_and_unknown_paths_are_logged_too(client: FlaskClient,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    client.get("/api/v1/health")
    client.get("/no/such/page/123")
    health, unknown = access_lines(log_records(capsys))
    assert (health["route"], health["status"], health["user_id"]) == ("/api/v1/health", 200, None)
    assert (unknown["route"], unknown["status"]) == (None, 404)


def test_a_500_is_logged_with_its_request_id_and_its_traceback(
        client: FlaskClient, failing_route: str, monotonic: FakeMonotonic,
        capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    response = client.get(f"{failing_route}/17")
    assert response.status_code == 500
    request_id = response.get_json()["request_id"]

    records = log_records(capsys)
    [error] = [record for record in records if record.get("request_id") == request_id and "exception" in record]
    assert error["level"] == "ERROR"
    assert "Traceback" in error["exception"] and "item 17 has no frobnicator" in error["exception"]
    assert "RuntimeError" in error["message"]
    [line] = [record for record in access_lines(records) if record["request_id"] == request_id]
    assert (line["status"], line["error"], line["error_id"]) == (500, "RuntimeError", error["error_id"])


def test_a_thousand_identical_failures_log_one_traceback_and_a_summary(
        client: FlaskClient, failing_route: str, monotonic: FakeMonotonic,
        capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    request_ids = {client.get(f"{failing_route}/{n}").get_json()["request_id"] for n in range(1000)}
    monotonic.now += 61  # the window has passed: the next request (any) writes the summary
    client.get("/api/v1/health")
    captured = capsys.readouterr().err
    records = [json.loads(line) for line in captured.splitlines()]

    tracebacks = [record for record in records if "exception" in record]
    assert len(tracebacks) == 1
    [summary] = [record for record in records if record.get("repeats")]
    assert summary["repeats"] == 999 and summary["error_id"] == tracebacks[0]["error_id"]
    assert summary["first_request_id"] == tracebacks[0]["request_id"]
    # Each failed request is still findable by its id, on its one access line, which leads to the traceback.
    failed = [line for line in access_lines(records) if line["status"] == 500]
    assert {line["request_id"] for line in failed} == request_ids
    assert {line["error_id"] for line in failed} == {summary["error_id"]}
    # About one short line per request, not a traceback each.
    assert len(captured) < 1000 * 600


def test_a_new_window_logs_the_traceback_again(client: FlaskClient, failing_route: str, monotonic: FakeMonotonic,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    client.get(f"{failing_route}/1")
    monotonic.now += 61
    client.get(f"{failing_route}/2")
    assert len([record for record in log_records(capsys) if "exception" in record]) == 2


class ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def digest_log() -> Iterator[tuple[logging.Logger, ListHandler]]:
    logger = logging.getLogger("tests.digest")
    handler = ListHandler()
    logger.addHandler(handler)
    logger.propagate = False
    yield logger, handler
    logger.removeHandler(handler)


def _raised(error: Exception) -> Exception:
    try:
        raise error
    except Exception as caught:
        return caught


def test_failures_from_many_threads_are_counted_exactly(digest_log: tuple[logging.Logger, ListHandler]) -> None:
    logger, handler = digest_log
    clock = FakeMonotonic()
    digest = ErrorDigest(window_seconds=60, clock=clock)

    def fail_many() -> None:
        for n in range(250):
            digest.report(logger, "unhandled error", _raised(ConnectionError(f"connection {n} refused")))

    threads = [threading.Thread(target=fail_many) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    clock.now += 60
    digest.flush()
    full, summary = handler.records
    assert full.exc_info is not None
    assert summary.repeats == 8 * 250 - 1  # type: ignore[attr-defined]


def test_the_digest_remembers_a_bounded_number_of_kinds(digest_log: tuple[logging.Logger, ListHandler]) -> None:
    """Memory stays bounded whatever fails: beyond `max_kinds`, the oldest kind's window closes early (its summary
    is written), so it is logged in full again when it recurs."""
    logger, handler = digest_log
    digest = ErrorDigest(window_seconds=60, max_kinds=2, clock=FakeMonotonic())
    kinds = [_raised(KeyError("a")), _raised(ValueError("b")), _raised(TypeError("c"))]
    digest.report(logger, "unhandled error", kinds[0])
    digest.report(logger, "unhandled error", kinds[0])
    digest.report(logger, "unhandled error", kinds[1])
    digest.report(logger, "unhandled error", kinds[2])  # the first kind is forgotten, with its summary
    digest.report(logger, "unhandled error", kinds[0])
    assert [(record.exc_info is not None, getattr(record, "repeats", 0)) for record in handler.records] == [
        (True, 0), (True, 0), (False, 1), (True, 0), (True, 0)]


def test_the_log_format_follows_the_mode_and_can_be_chosen() -> None:
    assert Settings(env="development").log_format == "text"
    assert Settings(env="testing").log_format == "text"
    assert Settings(env="production", secret_key=STRONG_SECRET).log_format == "json"
    assert Settings.from_env({"ONSITE_LOG_FORMAT": "json"}).log_format == "json"
    assert Settings.from_env({"ONSITE_LOG_LEVEL": "debug"}).log_level == "debug"
    with pytest.raises(ConfigurationError, match="ONSITE_LOG_FORMAT"):
        Settings(log_format="xml")
    with pytest.raises(ConfigurationError, match="ONSITE_LOG_LEVEL"):
        Settings(log_level="chatty")


def test_outside_production_the_log_is_readable_text_with_times(settings: Settings,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    app = create_app(replace(settings, log_format="text"))
    try:
        capsys.readouterr()
        app.test_client().get("/api/v1/health", headers={"X-Request-Id": "plain-1"})
        [line] = capsys.readouterr().err.splitlines()
    finally:
        app.extensions["onsite"].engine.dispose()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO onsite\.access: "
                        r"GET /api/v1/health 200 [\d.]+ ms  \[request_id=plain-1\]", line), line


def test_in_production_the_scheduler_logs_who_leads_and_what_each_duty_did(
        app: Flask, settings: Settings, clock: Any, capsys: pytest.CaptureFixture[str]) -> None:
    production = Settings(env="production", secret_key=STRONG_SECRET, database_url=settings.database_url,
                          instance_path=settings.instance_path)
    onsite = create_app(production, clock=clock).extensions["onsite"]
    duties = registered()
    scheduler = DutyScheduler(onsite, duties)
    records: list[dict[str, Any]] = []
    capsys.readouterr()
    scheduler.start()
    try:
        deadline = time.monotonic() + 30
        while {record.get("duty") for record in records} < set(duties) and time.monotonic() < deadline:
            time.sleep(0.1)
            records += log_records(capsys)
    finally:
        scheduler.stop()
        onsite.engine.dispose()
    records += log_records(capsys)

    assert any(f"scheduler {scheduler.holder} holds the lock" in record["message"] for record in records)
    runs = {record["duty"]: record for record in records if "duty" in record}
    assert set(runs) == set(duties)
    for name, run in runs.items():
        assert run["level"] == "INFO" and run["holder"] == scheduler.holder
        assert isinstance(run["duration_ms"], float) and isinstance(run["summary"], dict)
        assert run["message"].startswith(f"{name}: ")
    assert records[-1]["message"].startswith(f"scheduler {scheduler.holder} stopped")
