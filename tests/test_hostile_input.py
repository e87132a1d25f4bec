"""Input that used to reach a 500 (issue 10, must-fix 6, and "ids in paths accept ASCII digits only"): each class is
refused with a 4xx problem naming where it was, at the shared place that parses or converts it. The API fuzz
(tests/test_api_fuzz.py::test_hostile_values_never_fail_the_server) sends the same classes to every operation."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.exc import DataError, ProgrammingError, StatementError

from backend.accounts.models import Role
from backend.http.api import MAX_JSON_DEPTH
from backend.stations.models import Station
from tests import factories

PROBLEM = "application/problem+json"
TOKEN_URL = "/api/v1/auth/token"
# Valid RFC 3339, but with no UTC form in Python: a year-1 time east of UTC, a year-9999 time west of it.
NO_UTC_FORM = ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"]


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    return response.get_json()


def _fields(problem: dict[str, Any]) -> list[tuple[str | None, str]]:
    return [(error["field"], error["in"]) for error in problem["errors"]]


def _post_json_text(client: Any, url: str, text: str) -> Any:
    return client.post(url, data=text, content_type="application/json")


# --- JSON bodies -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 1_000, 100_000])
def test_a_body_nested_too_deeply_is_a_bad_request_naming_the_body(client: Any, depth: int) -> None:
    for deep in ("[" * depth + "]" * depth, '{"a":' * depth + "1" + "}" * depth):
        body = _problem(_post_json_text(client, TOKEN_URL, f'{{"username": {deep}, "password": "x"}}'), 400)
        assert _fields(body) == [(None, "body")]
        assert "nested more than" in body["errors"][0]["detail"]


def test_a_body_nested_within_the_limit_is_read(client: Any) -> None:
    nested = "[" * (MAX_JSON_DEPTH - 1) + "]" * (MAX_JSON_DEPTH - 1)
    body = _problem(_post_json_text(client, TOKEN_URL, f'{{"username": {nested}, "password": "x"}}'), 422)
    assert _fields(body) == [("username", "body")]  # a list is no username: validated, not refused unread


def test_a_number_too_long_to_read_is_a_bad_request(client: Any) -> None:
    body = _problem(_post_json_text(client, TOKEN_URL, f'{{"username": {"9" * 5000}, "password": "x"}}'), 400)
    assert _fields(body) == [(None, "body")]


# --- text no database can keep -------------------------------------------------------------------------------------

@pytest.mark.parametrize("field", ["username", "password"])
@pytest.mark.parametrize("escape", ["\\ud800", "\\udfff", "a\\udbffb"])
def test_an_unpaired_surrogate_is_refused_naming_the_field_even_anonymously(client: Any, field: str,
                                                                            escape: str) -> None:
    credentials = {"username": "someone", "password": "correct-horse-battery"}
    text = json.dumps(credentials).replace(f'"{credentials[field]}"', f'"{escape}"')
    body = _problem(_post_json_text(client, TOKEN_URL, text), 422)
    assert _fields(body) == [(field, "body")]


def test_a_surrogate_in_a_stored_field_or_a_key_is_refused_and_nothing_is_written(as_role, session) -> None:
    admin = as_role(Role.ADMIN)
    station = {"code": "SUR", "name": "North", "address": "1 Road", "latitude": 1, "longitude": 1}
    body = _problem(admin.post("/api/v1/stations", json={**station, "name": "North \ud83d"}), 422)
    assert _fields(body) == [("name", "body")]
    body = _problem(admin.post("/api/v1/stations", json={**station, "\udc00": 1}), 422)
    assert _fields(body) == [("\udc00", "body")]  # echoed back as valid (escaped) JSON
    assert session.scalar(select(func.count()).select_from(Station)) == 0


def test_nul_or_surrogates_in_query_strings_never_reach_the_database(as_role) -> None:
    admin = as_role(Role.ADMIN)
    assert _fields(_problem(admin.get("/api/v1/stations?q=a%00"), 422)) == [("q", "query")]
    # A URL cannot carry a surrogate: its UTF-8 bytes are invalid and read as U+FFFD.
    assert admin.get("/api/v1/stations?q=%ED%A0%80").status_code == 200


def test_nul_in_a_text_path_parameter_is_not_found(as_role) -> None:
    """PostgreSQL refuses NUL in text: the lookup itself failed with a 500."""
    body = _problem(as_role(Role.WAREHOUSE).get("/api/v1/serials/SN%001"), 404)
    assert "NUL" in body["detail"]


# --- ids in paths --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("digits", ["١", "٤", "１", "৪", "𝟏"])
def test_ids_in_paths_take_ascii_digits_only(as_role, digits: str) -> None:
    admin = as_role(Role.ADMIN)
    for _ in range(4):
        factories.station(admin)
    assert admin.get("/api/v1/stations/1").status_code == 200
    _problem(admin.get(f"/api/v1/stations/{digits}"), 404)
    _problem(admin.patch(f"/api/v1/stations/{digits}", json={"name": "Renamed"}, headers={"If-Match": '"1"'}), 404)


@pytest.mark.parametrize("digits", ["١", "٤", "１", "৪", "𝟏"])
def test_ids_in_query_strings_take_ascii_digits_only(as_role, digits: str) -> None:
    admin = as_role(Role.ADMIN)
    for _ in range(4):
        factories.station(admin)
    assert admin.get("/api/v1/technicians?home_station_id=1").status_code == 200
    body = _problem(admin.get(f"/api/v1/technicians?home_station_id={digits}"), 422)
    assert [e["field"] for e in body["errors"]] == ["home_station_id"]


# --- times with no UTC form -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("moment", NO_UTC_FORM)
def test_a_time_with_no_utc_form_is_refused_in_a_body(make_user, login, moment: str) -> None:
    user = make_user(Role.ADMIN, Role.TECHNICIAN)
    api = login(user)
    technician = factories.technician(api, user.id, factories.station(api)["id"])
    response = api.put(f"/api/v1/technicians/{technician['id']}/position",
                       json={"latitude": 1, "longitude": 1, "device_time": moment})
    body = _problem(response, 422)
    assert _fields(body) == [("device_time", "body")]
    assert body["type"] == "urn:onsite:problem:unprocessable-entity"  # the spec's date-time cannot bound it


@pytest.mark.parametrize("moment", NO_UTC_FORM)
@pytest.mark.parametrize("url, field", [("/api/v1/audit?since={}", "since"),
                                        ("/api/v1/kpis?from=2026-01-01T00:00:00Z&to={}", "to"),
                                        ("/api/v1/kpis?from={}&to=2026-01-01T00:00:00Z", "from"),
                                        ("/api/v1/service-requests?due_before={}", "due_before"),
                                        ("/api/v1/callbacks?due_before={}", "due_before")])
def test_a_time_with_no_utc_form_is_refused_in_a_filter(as_role, moment: str, url: str, field: str) -> None:
    api = as_role(Role.ADMIN, Role.MANAGER, Role.DISPATCHER, Role.AGENT)
    body = _problem(api.get(url.format(moment.replace("+", "%2B"))), 422)
    assert _fields(body) == [(field, "query")]


def test_the_edges_of_the_range_in_utc_are_accepted(as_role) -> None:
    api = as_role(Role.ADMIN)
    for moment in ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z", "0001-01-01T01:00:00%2B01:00"):
        assert api.get(f"/api/v1/audit?since={moment}").status_code == 200


def _cursor(moment: str, job_id: int = 1) -> str:
    return base64.urlsafe_b64encode(json.dumps([moment, job_id]).encode()).decode().rstrip("=")


@pytest.mark.parametrize("moment", NO_UTC_FORM)
def test_a_sync_cursor_holding_a_time_with_no_utc_form_is_refused(make_user, login, moment: str) -> None:
    user = make_user(Role.ADMIN, Role.TECHNICIAN)
    api = login(user)
    factories.technician(api, user.id, factories.station(api)["id"])
    assert api.get(f"/api/v1/me/jobs?since={_cursor('2026-01-01T00:00:00+01:00')}").status_code == 200
    body = _problem(api.get(f"/api/v1/me/jobs?since={_cursor(moment)}"), 422)
    assert _fields(body) == [("since", "query")]


# --- the last resort -----------------------------------------------------------------------------------------------

def _failing_view(app: Flask, error: Exception) -> None:
    def fail() -> None:
        raise error

    app.add_url_rule("/test-only/fail", "fail", fail)


@pytest.mark.parametrize("error", [
    OverflowError("date value out of range"),
    RecursionError("maximum recursion depth exceeded"),
    UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed"),
    ValueError("Exceeds the limit (4300 digits) for integer string conversion"),
    StatementError("bind", "SELECT 1", {}, OverflowError("date value out of range")),
    DataError("SELECT 1", {}, Exception("integer out of range")),
], ids=["overflow", "recursion", "unicode", "value", "wrapped-overflow", "database-data"])
def test_input_no_check_refused_is_a_bad_request_not_a_server_error(app: Flask, client: Any,
                                                                    error: Exception) -> None:
    _failing_view(app, error)
    body = _problem(client.get("/test-only/fail"), 400)
    assert "Traceback" not in json.dumps(body)


def test_other_server_failures_stay_server_errors(app: Flask, client: Any) -> None:
    _failing_view(app, ProgrammingError("SELECT 1", {}, Exception("no such column")))
    _problem(client.get("/test-only/fail"), 500)
