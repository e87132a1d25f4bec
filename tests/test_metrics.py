"""GET /metrics (issue 12 item 6): who may read it, and what it reports: requests by route, duty runs, the pool, the
webhook backlog and the SLA deadlines (DSP-4)."""

from __future__ import annotations

import http.client
from dataclasses import replace

import pytest
from apscheduler.triggers.interval import IntervalTrigger
from prometheus_client.parser import text_string_to_metric_families

from backend.duties.registry import Duty, run_duty
from tests.conftest import Api
from tests.test_deployment_safety import STRONG_SECRET, _onsite_serving
from tests.test_duties_support import Office, office, quick_passwords, settings  # noqa: F401  (fixtures)

TOKEN = "metrics-token-for-the-prometheus-server-0123456789"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def admin(office: Office) -> Api:
    return office.admin


def _scrape(api: Api) -> Samples:
    response = api.get("/metrics")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/plain"
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(response.get_data(as_text=True))
            for sample in family.samples}


def _value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


# --- access ------------------------------------------------------------------------------------------------------

def test_anonymous_callers_and_other_roles_are_refused(office: Office, client) -> None:  # type: ignore[no-untyped-def]
    anonymous = client.get("/metrics")
    assert anonymous.status_code == 401 and anonymous.mimetype == "application/problem+json"
    assert office.person("manager", "dispatcher").get("/metrics").status_code == 403
    assert _scrape(office.admin)


def test_the_configured_metrics_token_is_accepted_and_nothing_like_it(app, office: Office, client,  # type: ignore
                                                                      settings) -> None:
    assert Api(client, TOKEN).get("/metrics").status_code == 401  # no token configured: admins only
    app.extensions["onsite"].settings = replace(settings, metrics_token=TOKEN)
    assert _scrape(Api(client, TOKEN))
    for wrong in (TOKEN[:-1], TOKEN + "0", TOKEN.upper()):
        response = Api(client, wrong).get("/metrics")
        assert response.status_code == 401 and response.mimetype == "application/problem+json"


# --- what it reports ---------------------------------------------------------------------------------------------

def test_requests_are_counted_and_timed_by_route_method_and_status(admin: Api) -> None:
    before = _scrape(admin)
    for _ in range(2):
        assert admin.get("/api/v1/stations").status_code == 200
    assert admin.get("/api/v1/stations/999999").status_code == 404
    assert admin.get("/no/such/page/123").status_code == 404
    after = _scrape(admin)

    def grew(name: str, route: str, status: str) -> float:
        labels = {"method": "GET", "route": route, "status": status}
        return _value(after, name, **labels) - _value(before, name, **labels)

    assert grew("onsite_http_requests_total", "/api/v1/stations", "200") == 2
    assert grew("onsite_http_request_duration_seconds_count", "/api/v1/stations", "200") == 2
    assert grew("onsite_http_requests_total", "/api/v1/stations/<id:station_id>", "404") == 1
    assert grew("onsite_http_requests_total", "<unmatched>", "404") == 1  # not one series per made-up path
    assert not any("/no/such" in str(labels) for _name, labels in after)


def test_duty_runs_their_durations_and_failures_are_counted_by_duty(app, office: Office, admin: Api) -> None:
    def broken(_session, _now, _settings):  # type: ignore[no-untyped-def]
        raise RuntimeError("the duty failed")

    onsite = app.extensions["onsite"]
    before = _scrape(admin)
    office.run("sla-watch")
    with pytest.raises(RuntimeError):
        run_duty(onsite, Duty("broken-probe", broken, IntervalTrigger(hours=1), "always fails"))
    after = _scrape(admin)

    def grew(name: str, duty: str) -> float:
        return _value(after, name, duty=duty) - _value(before, name, duty=duty)

    assert (grew("onsite_duty_runs_total", "sla-watch"), grew("onsite_duty_failures_total", "sla-watch")) == (1, 0)
    assert grew("onsite_duty_duration_seconds_count", "sla-watch") == 1
    assert (grew("onsite_duty_runs_total", "broken-probe"),
            grew("onsite_duty_failures_total", "broken-probe")) == (1, 1)


def test_sla_deadlines_and_the_webhook_backlog_are_counted_at_scrape_time(office: Office, admin: Api,
                                                                          clock) -> None:
    """DSP-1: each request here gets one on-site deadline 24 h after it is reported. DSP-4: past due is missed."""
    hook = admin.post("/api/v1/webhooks", json={"url": "http://127.0.0.1:9/hook", "event_kinds": [
        "sla.deadline_missed"], "secret": "s3cret-shared-with-the-receiver"})
    assert hook.status_code == 201, hook.get_json()
    office.register()  # at the end, 21 h past due
    clock.advance(hours=22.5)
    office.register()  # at the end, due in 1.5 h: within the 2 h lead (ONSITE_SLA_ESCALATION_LEAD_HOURS)
    clock.advance(hours=22.5)
    office.register()  # due in 24 h

    def deadlines(samples: Samples) -> dict[str, float]:
        return {state: _value(samples, "onsite_sla_deadlines", state=state) for state in ("open", "due_soon", "missed")}

    def backlog(samples: Samples) -> dict[str, float]:
        return {state: _value(samples, "onsite_webhook_deliveries", state=state)
                for state in ("pending", "due", "failed")}

    samples = _scrape(admin)
    assert deadlines(samples) == {"open": 2, "due_soon": 1, "missed": 1}  # missed before sla-watch marks it
    assert backlog(samples) == {"pending": 0, "due": 0, "failed": 0}

    office.run("sla-watch")  # marks it missed, which raises the event the webhook is subscribed to
    samples = _scrape(admin)
    assert deadlines(samples) == {"open": 2, "due_soon": 1, "missed": 1}
    assert backlog(samples) == {"pending": 1, "due": 1, "failed": 0}


def test_the_database_pool_is_reported(admin: Api) -> None:
    samples = _scrape(admin)
    assert _value(samples, "onsite_db_pool_size") >= 1
    # This very request holds a connection (it checked the admin's token) while the page is made.
    assert _value(samples, "onsite_db_pool_checked_out") >= 1


# --- several worker processes ------------------------------------------------------------------------------------

def _get(port: int, path: str, token: str | None = None) -> tuple[int, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", path, headers={"Authorization": f"Bearer {token}"} if token else {})
    response = connection.getresponse()
    body = response.read().decode()
    connection.close()
    return response.status, body


def test_under_gunicorn_the_workers_counts_are_added_up(tmp_path, database_url: str) -> None:  # type: ignore
    """Every request is counted once, whichever of the workers served it and whichever answers the scrape."""
    with _onsite_serving(tmp_path, "--production", "--workers", "2", ONSITE_SECRET_KEY=STRONG_SECRET,
                         ONSITE_DATABASE_URL=database_url, ONSITE_METRICS_TOKEN=TOKEN) as port:
        for _ in range(12):
            assert _get(port, "/api/v1/health")[0] == 200
        scrapes = [_get(port, "/metrics", TOKEN) for _ in range(4)]
    for status, body in scrapes:
        assert status == 200, body
        served = {sample.labels["status"]: sample.value for family in text_string_to_metric_families(body)
                  for sample in family.samples
                  if sample.name == "onsite_http_requests_total" and sample.labels["route"] == "/api/v1/health"}
        assert served == {"200": 12}
    assert (tmp_path / "instance" / "prometheus-metrics").is_dir()
