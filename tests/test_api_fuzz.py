"""Property-based fuzz of every operation in the OpenAPI spec the app generates (issue 2).

Schemathesis derives valid and invalid requests from the spec and sends them in-process to a fresh app, signed in
as a user holding every role, so access checks pass and the handlers themselves are exercised. A response fails the
test when it is a 5xx or contradicts the spec: an undocumented status, a body that does not match its documented
schema, a missing documented header (ETag, Location, X-Pagination), a content type other than the documented one.
On top of schemathesis' own checks, errors must be RFC 9457 problems and every timestamp must carry an offset.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import tempfile
from collections.abc import Iterator
from copy import deepcopy
from datetime import datetime
from pathlib import Path
from random import Random
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from schemathesis import Case, CheckContext, Response
from schemathesis.core import NOT_SET
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from backend.accounts.models import ROLE_VALUES, User
from backend.app import create_app
from backend.clock import ManualClock
from backend.config import Settings
from backend.fieldwork.service import SyncCursor, encode_cursor
from backend.http.api import IDEMPOTENCY_HEADER, MAX_JSON_DEPTH
from backend.http.problems import INVALID_INPUT_TYPE
from tests import factories
from tests.conftest import PASSWORD, START, Api, _empty_tables

PROBLEM = "application/problem+json"
HUGE = "99999999999999999999"  # beyond int64


CONFIG = schemathesis.Config.from_dict({
    # Same cases on every run and every machine; no example database carried between runs.
    "seed": 20260302,
    "generation": {"deterministic": True, "max-examples": 25, "database": "none",
                   # The fixture signs in for real; generated credentials would only test the 401 path.
                   "with-security-parameters": False},
    # Schema-valid requests may still be refused for the data's state or a rule the spec cannot express: a
    # reference to no row or a stale If-Match (422, 412, 409). `valid_input_is_not_called_invalid` below keeps
    # what this check is for: a 422 saying the input itself is invalid means the spec promises too much.
    # 429: a sign-in repeated with wrong generated passwords is throttled, as documented.
    "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "401", "403", "404", "409", "412", "422",
                                                                  "429"]},
               # 428 Precondition Required (RFC 6585) is the precise, documented answer to a missing If-Match.
               "missing_required_header": {"expected-statuses": ["400", "401", "403", "406", "415", "422", "428"]}},
})


# The hostile-values test below builds on a few generated requests per operation: its classes of values, not
# schemathesis' coverage of the spec (the test above), are the point.
HOSTILE_CONFIG = schemathesis.Config.from_dict({
    "seed": 20260302,
    "generation": {"deterministic": True, "max-examples": 4, "database": "none", "with-security-parameters": False},
    "phases": {"examples": {"enabled": False}, "coverage": {"enabled": False}},
})


def _load_schema(config: schemathesis.Config) -> Any:
    """The spec exactly as the app serves it. Building it needs no database; every request then goes to the
    test's own app (`app=` below), this one only tells schemathesis to talk WSGI."""
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(Settings(env="testing", database_url="sqlite://", instance_path=Path(tmp)))
        return schemathesis.openapi.from_wsgi("/openapi.json", app, config=config)


schema = _load_schema(CONFIG)
hostile_schema = _load_schema(HOSTILE_CONFIG)


# --- checks beyond schemathesis' built-in ones -------------------------------------------------------------------

_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
_OFFSET = re.compile(r"(Z|[+-]\d{2}:\d{2})$")


def _strings(value: Any) -> Any:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def timestamps_carry_an_offset(ctx: CheckContext, response: Response, case: Case) -> None:
    if not response.content or "json" not in response.headers.get("content-type", [""])[0]:
        return
    naive = [s for s in _strings(response.json()) if _TIMESTAMP.match(s) and not _OFFSET.search(s)]
    assert not naive, f"timestamps without an offset: {naive}"


def errors_are_problems(ctx: CheckContext, response: Response, case: Case) -> None:
    if response.status_code < 400:
        return
    content_type = response.headers.get("content-type", [""])[0]
    assert content_type.startswith(PROBLEM), f"{response.status_code} answered with {content_type!r}, not {PROBLEM}"
    body = response.json()
    assert {"type", "title", "status", "detail"} <= body.keys(), f"not a problem: {body}"
    assert body["status"] == response.status_code, body


def status_is_documented(ctx: CheckContext, response: Response, case: Case) -> None:
    """Stricter than status_code_conformance: the `default` response documents the error body, not which
    statuses an operation returns, so each status must be listed by itself."""
    if response.request.method != case.operation.method.upper():
        return  # a method the path lacks (405, checked by unsupported_method) belongs to no operation
    documented = set(case.operation.definition.raw["responses"]) - {"default"}
    assert str(response.status_code) in documented, \
        f"{response.status_code} is not documented for {case.operation.label} (documented: {sorted(documented)})"


def valid_input_is_not_called_invalid(ctx: CheckContext, response: Response, case: Case) -> None:
    if case.meta is None or not case.meta.generation.mode.is_positive or response.status_code < 400:
        return
    assert response.json().get("type") != INVALID_INPUT_TYPE, "schema-valid input refused as invalid input"


def pages_are_described(ctx: CheckContext, response: Response, case: Case) -> None:
    """X-Pagination (required by the spec, checked by response_headers_conformance) is JSON with the total."""
    values = response.headers.get("x-pagination")
    if values is None:
        return
    total = json.loads(values[0])["total"]
    assert isinstance(total, int) and total >= len(response.json()), values[0]


CHECKS = [timestamps_carry_an_offset, errors_are_problems, status_is_documented, valid_input_is_not_called_invalid,
          pages_are_described]


# --- the fuzz ----------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def one_app(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    settings = Settings(env="testing", database_url=database_url, instance_path=tmp_path_factory.mktemp("fuzz"))
    app = create_app(settings, clock=ManualClock(START))
    yield app
    app.extensions["onsite"].engine.dispose()


@pytest.fixture
def app(one_app: Flask) -> Flask:
    """Overrides conftest's: building the app (and its spec) costs more with every endpoint, so this module
    builds it once and gives each test, i.e. each operation, empty tables."""
    _empty_tables(one_app)
    return one_app


# The fuzz is not about password hashing; scrypt to create the user and again to sign in, for every operation,
# would be a fifth of its time.
_CHEAP_HASH = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1")


@pytest.fixture
def everyone(session: Session, login) -> Api:
    """Signed in through the API as a user holding every role, with a little master data to hit by id."""
    user = User(username="fuzz", full_name="Fuzz Everyone", password_hash=_CHEAP_HASH, active=True)
    user.roles = list(ROLE_VALUES)
    session.add(user)
    session.commit()
    api = login(user)
    station = factories.station(api)
    customer = factories.customer(api)
    factories.unit(api, customer["id"])
    factories.part(api)
    factories.technician(api, user.id, station["id"])
    return api


def _one_key_per_request(case: Case) -> None:
    """A client picks a fresh Idempotency-Key for each distinct request; reusing one for another request is
    refused with 422 (as the IETF draft says), which schemathesis would report as valid data rejected. Tying each
    generated key to its request keeps the retries, which the server must replay."""
    key = (case.headers or {}).get(IDEMPOTENCY_HEADER)
    if key is None or not case.meta or not case.meta.generation.mode.is_positive:
        return
    request = repr((case.method, case.formatted_path, case.query, case.body)).encode()
    case.headers[IDEMPOTENCY_HEADER] = f"{key[:183]}.{hashlib.sha256(request).hexdigest()[:16]}"


@schema.parametrize()
# The tables are emptied and seeded once per operation and shared by its examples, on purpose: later requests
# meet the rows earlier ones created. Slow or heavily filtered generation is no defect of the API.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much, HealthCheck.data_too_large])
def test_every_operation_honours_the_spec(case: Case, app, everyone: Api) -> None:
    _one_key_per_request(case)
    case.call_and_validate(app=app, headers={"Authorization": f"Bearer {everyone.token}"}, additional_checks=CHECKS)


# --- hostile values (issue 10) -----------------------------------------------------------------------------------
# The spec allows any string and any integer, and schemathesis rarely draws the values that broke the server: those
# at the edges of what Python's parsers and the databases can hold. Each class below is applied to a generated
# request of every operation. The answer must be a problem or a success, never a 5xx, and never come from the
# last-resort handler (it logs an ERROR): that would mean the precise check for the input is missing.

TEXT_IN_BODIES = ["\x00", "a\x00", "\ud800", "x\udfff", "\udbff\ud7ff"]  # NUL; unpaired high and low surrogates
TEXT_IN_URLS = ["\x00", "a\x00"]  # a URL cannot carry a surrogate: werkzeug decodes invalid UTF-8 as U+FFFD
EXTREME_TIMES = ["0001-01-01T00:00:00+01:00", "0001-01-01T23:58:59.999999+23:59", "9999-12-31T23:59:59-01:00",
                 "9999-12-31T00:00:00-23:59", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999+00:00"]
HUGE_INTEGERS = [2**31, 2**53 + 1, 2**63, 2**64, -(2**63) - 1, 10**40]
FOREIGN_DIGITS = ["٤", "４", "৪", "𝟒", "१२"]  # Arabic-Indic, fullwidth, Bengali, mathematical bold, Devanagari
NESTING = [MAX_JSON_DEPTH + 1, 1_000, 100_000]


def _replaced(value: Any, *, text: Any = None, integer: Any = None) -> Any:
    """`value` (a JSON document or a dict of parameters) with each string and each integer passed through."""
    if isinstance(value, dict):
        return {key: _replaced(item, text=text, integer=integer) for key, item in value.items()}
    if isinstance(value, list):
        return [_replaced(item, text=text, integer=integer) for item in value]
    if isinstance(value, str) and text is not None:
        return text(value)
    if isinstance(value, int) and not isinstance(value, bool) and integer is not None:
        return integer(value)
    return value


def _json_body(case: Case) -> bool:
    return case.media_type == "application/json" and case.body is not NOT_SET


def _hostile_text(case: Case, rnd: Random) -> None:
    def spiked(choices: list[str]) -> Any:
        def spike(text: str) -> str:
            at = rnd.randint(0, len(text))
            return text[:at] + rnd.choice(choices) + text[at:]
        return spike

    if _json_body(case):
        case.body = _replaced(case.body, text=spiked(TEXT_IN_BODIES))
    for part in ("query", "path_parameters", "headers"):
        setattr(case, part, _replaced(getattr(case, part), text=spiked(TEXT_IN_URLS)))


def _extreme_times(case: Case, rnd: Random) -> None:
    def moment(text: str) -> str:
        return rnd.choice(EXTREME_TIMES) if _TIMESTAMP.match(text) else text

    if _json_body(case):
        case.body = _replaced(case.body, text=moment)
    query = dict(case.query or {})
    for parameter in case.operation.query:
        schema_ = parameter.definition.get("schema", {})
        if schema_.get("format") == "date-time":
            query[parameter.name] = rnd.choice(EXTREME_TIMES)
        elif schema_.get("type") == "string" and "enum" not in schema_:
            # An opaque token may carry a time too: the sync cursor does.
            when = datetime.fromisoformat(rnd.choice(EXTREME_TIMES))
            query[parameter.name] = encode_cursor(SyncCursor(when, 1))
    case.query = query


def _huge_integers(case: Case, rnd: Random) -> None:
    def huge(_: int) -> int:
        return rnd.choice(HUGE_INTEGERS)

    if _json_body(case):
        case.body = _replaced(case.body, integer=huge)
    case.query = _replaced(case.query, integer=huge)
    case.path_parameters = {name: rnd.choice(HUGE_INTEGERS) if _is_integer(case, name) else value
                            for name, value in (case.path_parameters or {}).items()}


def _foreign_digits(case: Case, rnd: Random) -> None:
    case.path_parameters = {name: rnd.choice(FOREIGN_DIGITS) if _is_integer(case, name) else value
                            for name, value in (case.path_parameters or {}).items()}


def _is_integer(case: Case, path_parameter: str) -> bool:
    return any(p.name == path_parameter and p.definition["schema"].get("type") == "integer"
               for p in case.operation.path_parameters)


def _deeply_nested(case: Case, rnd: Random) -> str | None:
    """The body as JSON text with one value (or all of it) nested past the limit; None for other bodies."""
    if not _json_body(case):
        return None
    depth = rnd.choice(NESTING)
    deep = rnd.choice(["[" * depth + "]" * depth, '{"a":' * depth + "1" + "}" * depth])
    if not isinstance(case.body, dict) or not case.body:
        return deep
    placeholder = "\x00deep\x00"
    text = json.dumps({**case.body, rnd.choice(sorted(case.body)): placeholder})
    return text.replace(json.dumps(placeholder), deep)


@hostile_schema.parametrize()
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much, HealthCheck.data_too_large])
def test_hostile_values_never_fail_the_server(case: Case, app, everyone: Api, caplog: pytest.LogCaptureFixture
                                              ) -> None:
    # Which hostile value each string or number gets follows from the generated request, so runs repeat exactly.
    rnd = Random(repr((case.operation.label, case.path_parameters, case.query, case.headers, case.body)))
    client = app.test_client()
    generated = {part: deepcopy(getattr(case, part)) for part in ("body", "query", "path_parameters", "headers")}
    for hostile in (_hostile_text, _extreme_times, _huge_integers, _foreign_digits, _deeply_nested):
        for part, value in generated.items():
            setattr(case, part, deepcopy(value))
        raw_body = hostile(case, rnd)
        request = case.as_transport_kwargs(headers={"Authorization": f"Bearer {everyone.token}"})
        if raw_body is not None:
            request.pop("json", None)
            request["data"] = raw_body
        caplog.clear()
        response = client.open(**request)
        label = f"{hostile.__name__} on {case.operation.label}: {response.status_code} {response.get_data()[:300]!r}"
        assert response.status_code < 500, label
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR], label
        if response.status_code >= 400:
            assert response.mimetype == PROBLEM, label
        if hostile is _foreign_digits and case.path_parameters != generated["path_parameters"]:
            assert response.status_code == 404, label


# --- the cases the issue names, spelled out ----------------------------------------------------------------------

def _assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    return response.get_json()


@pytest.mark.parametrize("path", ["stations", "technicians", "customers", "units", "parts", "users"])
def test_a_huge_id_in_the_path_is_not_found(everyone: Api, path: str) -> None:
    _assert_problem(everyone.get(f"/api/v1/{path}/{HUGE}"), 404)
    _assert_problem(everyone.patch(f"/api/v1/{path}/{HUGE}", json={}, headers={"If-Match": '"1"'}), 404)


def test_a_huge_page_is_an_empty_page(everyone: Api) -> None:
    response = everyone.get(f"/api/v1/stations?page={HUGE}")
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == []
    assert json.loads(response.headers["X-Pagination"])["total"] == 1


def test_a_page_size_over_the_maximum_is_refused(everyone: Api) -> None:
    body = _assert_problem(everyone.get("/api/v1/stations?page_size=201"), 422)
    assert _field_errors(body) == [("page_size", "query")]
    assert body["type"] == INVALID_INPUT_TYPE


# --- what the fuzz found, pinned -----------------------------------------------------------------------------------

def test_a_malformed_if_match_is_refused_not_taken_for_stale(everyone: Api) -> None:
    url = everyone.post("/api/v1/parts", json={"part_number": "IM-1", "name": "N", "unit_price": "1"}
                        ).headers["Location"]
    for malformed in ("", "1", '"1', "x" * 201):
        body = _assert_problem(everyone.patch(url, json={"name": "M"}, headers={"If-Match": malformed}), 422)
        assert _field_errors(body) == [("If-Match", "header")]
    assert everyone.patch(url, json={"name": "M"}, headers={"If-Match": 'W/"9", "1"'}).status_code == 200


def test_a_warranty_cannot_end_before_delivery_even_when_one_date_is_patched(everyone: Api) -> None:
    customer = factories.customer(everyone)
    unit = factories.unit(everyone, customer["id"], delivery_date="2025-06-01", warranty_end_date="2027-06-01")
    url = f"/api/v1/units/{unit['id']}"
    etag = everyone.get(url).headers["ETag"]
    body = _assert_problem(everyone.patch(url, json={"warranty_end_date": "2025-05-31"}, headers={"If-Match": etag}),
                           422)
    assert _field_errors(body) == [("warranty_end_date", "body")]


def test_nul_characters_are_refused_naming_the_field_not_a_database_error(everyone: Api) -> None:
    """PostgreSQL cannot store NUL in text; the fuzz rarely draws one, so each way in is tried here."""
    station = {"code": "NUL", "name": "Nul\x00", "address": "a", "latitude": 1, "longitude": 1}
    assert _field_errors(_assert_problem(everyone.post("/api/v1/stations", json=station), 422)) == [("name", "body")]
    customer = {"name": "Bus Co", "phones": ["+86 10 1234", "\x00"]}
    body = _assert_problem(everyone.post("/api/v1/customers", json=customer), 422)
    assert _field_errors(body) == [("phones.1", "body")]
    assert _field_errors(_assert_problem(everyone.get("/api/v1/stations?q=a%00b"), 422)) == [("q", "query")]
    signin = everyone.client.post("/api/v1/auth/token", json={"username": "fuzz\x00", "password": "x"})
    assert _field_errors(_assert_problem(signin, 422)) == [("username", "body")]


def test_a_device_id_with_nul_is_not_kept(everyone: Api) -> None:
    response = everyone.post("/api/v1/parts", json={"part_number": "NUL-1", "name": "N", "unit_price": "1"},
                             headers={"X-Device-Id": "phone\x007", "X-Request-Id": "nul-device"})
    assert response.status_code == 201, response.get_json()
    entries = everyone.get("/api/v1/audit?request_id=nul-device").get_json()
    assert [entry["device_id"] for entry in entries] == [None]


def _field_errors(problem: dict[str, Any]) -> list[tuple[str, str]]:
    return [(error["field"], error["in"]) for error in problem["errors"]]
