"""Bad input gets a clear 4xx problem+json naming the field; never a 500, never half-written (issue 2 §7)."""

import pytest
from sqlalchemy import func, select

from backend.audit.models import AuditEntry
from backend.stations.models import Station
from tests import factories

PROBLEM = "application/problem+json"
GOOD_STATION = {"code": "ZZ", "name": "Zhengzhou", "address": "Zhengdong", "latitude": 34.75, "longitude": 113.63}


def _assert_problem(response, status, *fields):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.get_json()
    assert {"type", "title", "status", "detail"} <= set(body)
    assert body["status"] == status and body["type"].startswith("urn:onsite:problem:")
    assert "Traceback" not in response.get_data(as_text=True)
    if fields:
        assert sorted(e["field"] for e in body["errors"]) == sorted(fields)
    return body


def test_malformed_json_is_400(as_role):
    admin = as_role("admin")
    response = admin.client.post("/api/v1/stations", data='{"code": "ZZ", ', content_type="application/json",
                                 headers=admin.headers())
    _assert_problem(response, 400)


@pytest.mark.parametrize(("field", "value"), [
    ("latitude", 90.0001), ("latitude", -91), ("longitude", 180.5), ("longitude", -181),
    ("latitude", "north"), ("longitude", None), ("code", 12), ("name", ""), ("name", "   "), ("active", "maybe"),
])
def test_wrong_types_and_out_of_range_values_name_the_field(as_role, field, value):
    response = as_role("admin").post("/api/v1/stations", json=GOOD_STATION | {field: value})
    _assert_problem(response, 422, field)


def test_coordinates_at_the_limits_are_accepted(as_role):
    response = as_role("admin").post("/api/v1/stations", json=GOOD_STATION | {"latitude": -90, "longitude": 180})
    assert response.status_code == 201


def test_missing_and_unknown_fields_are_named(as_role):
    body = {k: v for k, v in GOOD_STATION.items() if k != "address"} | {"adress": "typo"}
    _assert_problem(as_role("admin").post("/api/v1/stations", json=body), 422, "address", "adress")


def test_nested_errors_carry_a_json_pointer(as_role):
    response = as_role("admin").post("/api/v1/customers", json={"name": "Bus Co", "phones": ["+86 10 1234", "x"]})
    body = _assert_problem(response, 422, "phones.1")
    assert body["errors"][0]["pointer"] == "#/phones/1"


def test_unknown_ids_are_404_and_huge_ids_too(as_role):
    admin = as_role("admin")
    _assert_problem(admin.get("/api/v1/stations/4242"), 404)
    _assert_problem(admin.get("/api/v1/stations/99999999999999999999999"), 404)
    _assert_problem(admin.get("/api/v1/stations/0"), 404)


def test_unknown_reference_is_422_naming_it(as_role):
    response = as_role("admin").post("/api/v1/units", json={"customer_id": 999, "model": "C12",
                                                             "serial_number": "SN1"})
    _assert_problem(response, 422, "customer_id")


def test_oversized_body_is_413(as_role):
    admin = as_role("admin")
    response = admin.post("/api/v1/stations", json=GOOD_STATION | {"address": "x" * (3 * 1024 * 1024)})
    _assert_problem(response, 413)


def test_wrong_method_is_405_with_allow(as_role):
    response = as_role("admin").request("PUT", "/api/v1/stations")
    _assert_problem(response, 405)
    assert "POST" in response.headers["Allow"]


def test_a_non_json_body_is_refused(as_role):
    admin = as_role("admin")
    response = admin.client.post("/api/v1/stations", data="code=ZZ", content_type="application/x-www-form-urlencoded",
                                 headers=admin.headers())
    assert 400 <= response.status_code < 500 and response.mimetype == PROBLEM


def test_query_parameters_are_validated(as_role):
    _assert_problem(as_role("admin").get("/api/v1/stations?active=perhaps"), 422, "active")


def test_a_refused_write_leaves_nothing_behind(as_role, session):
    """A rule that fails after part of the work was done must roll all of it back, audit included."""
    admin = as_role("admin")
    station = factories.station(admin)
    url = f"/api/v1/stations/{station['id']}"
    audit_before = session.scalar(select(func.count()).select_from(AuditEntry))
    # The name change is applied before the DSP-10 check refuses the bar without a reason.
    response = admin.patch(url, json={"name": "Half written", "may_receive_work": False},
                           headers={"If-Match": admin.get(url).headers["ETag"]})
    _assert_problem(response, 422, "barred_reason")
    session.rollback()
    assert session.get(Station, station["id"]).name == station["name"]
    assert session.scalar(select(func.count()).select_from(AuditEntry)) == audit_before


def test_duplicate_natural_key_is_409_and_not_written(as_role, session):
    admin = as_role("admin")
    factories.station(admin, code="DUP")
    _assert_problem(admin.post("/api/v1/stations", json=GOOD_STATION | {"code": "DUP"}), 409)
    assert session.scalar(select(func.count()).select_from(Station).where(Station.code == "DUP")) == 1
