"""Investigation and responsibility (issue 15; INV-2, 001 §售后规章制度1 §6): the root cause from a configured list,
the countermeasure, the responsible party and the reason, versioned with If-Match and audited."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from backend.config import ConfigurationError, Settings
from tests import factories
from tests.conftest import Api
from tests.test_dispatch_support import ZHENGZHOU, Desk, desk, etag, quick_passwords  # noqa: F401
from tests.test_fieldwork_support import supervisor  # noqa: F401

REQUESTS = "/api/v1/service-requests"
BODY = {"root_cause": "assembly", "root_cause_text": "Actuator hose routed against the hinge",
        "countermeasure": "Assembly instruction changed; hose clip added on line 3",
        "responsible_kind": "department", "responsible_department": "Manufacturing, assembly line 3",
        "reason": "The hose was chafed through by the hinge; the routing is the line's"}


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """The root causes configured for this site (ONSITE_ROOT_CAUSE_CODES)."""
    return Settings(env="testing", database_url=database_url, instance_path=tmp_path / "instance",
                    access_token_minutes=400 * 24 * 60, root_cause_codes="design, assembly,supplier_part,misuse")


@pytest.fixture
def quality(desk: Desk) -> Api:
    return desk.login(desk.make_user("quality"))


def path(request: dict[str, Any]) -> str:
    return f"{REQUESTS}/{request['id']}/investigation"


def test_inv2_quality_records_the_investigation_and_everyone_reads_it(desk: Desk, quality: Api) -> None:
    request = desk.register()
    assert desk.agent.get(path(request)).status_code == 404
    created = quality.put(path(request), json=BODY)
    assert created.status_code == 200, created.get_json()
    assert created.headers["ETag"] == '"1"'
    body = created.get_json()
    assert {k: body[k] for k in BODY} == BODY
    assert body["service_request_id"] == request["id"] and body["version"] == 1
    assert body["responsible_supplier"] is None and body["responsible_user_id"] is None
    for reader in (desk.agent, desk.manager, desk.dispatcher, desk.login(desk.make_user("finance"))):
        read = reader.get(path(request))
        assert read.status_code == 200 and read.get_json() == body and read.headers["ETag"] == '"1"'


def test_inv2_a_change_needs_the_current_if_match_and_is_audited(desk: Desk, quality: Api,
                                                                supervisor: Api) -> None:
    request = desk.register()
    first = quality.put(path(request), json=BODY)
    change = BODY | {"responsible_kind": "supplier", "responsible_department": None,
                     "responsible_supplier": "Ningbo Valve Co.", "reason": "The hose was out of specification"}
    missing = supervisor.put(path(request), json=change)
    assert missing.status_code == 428
    assert missing.get_json()["errors"][0]["field"] == "If-Match"
    changed = supervisor.put(path(request), json=change, headers=etag(first))
    assert changed.status_code == 200, changed.get_json()
    assert changed.headers["ETag"] == '"2"'
    assert changed.get_json()["responsible_supplier"] == "Ningbo Valve Co."
    assert changed.get_json()["responsible_department"] is None
    stale = quality.put(path(request), json=BODY, headers=etag(first))
    assert stale.status_code == 412
    assert desk.agent.get(path(request)).get_json()["responsible_kind"] == "supplier"
    entries = desk.manager.get("/api/v1/audit", query_string={"entity_type": "investigations"}).get_json()
    assert [e["change"] for e in entries] == ["update", "create"]
    update, create = entries
    assert create["after"]["responsible_kind"] == "department"
    assert update["before"]["responsible_kind"] == "department"
    assert update["after"]["responsible_kind"] == "supplier"
    assert update["after"]["decided_by_id"] != create["after"]["decided_by_id"]


def test_inv2_creating_takes_no_if_match(desk: Desk, quality: Api) -> None:
    request = desk.register()
    refused = quality.put(path(request), json=BODY, headers={"If-Match": '"1"'})
    assert refused.status_code == 412
    assert refused.get_json()["errors"][0]["field"] == "If-Match"
    assert desk.agent.get(path(request)).status_code == 404


def test_inv2_the_root_cause_comes_from_the_configured_list(desk: Desk, quality: Api) -> None:
    assert desk.agent.get("/api/v1/root-causes").get_json() == {
        "codes": ["design", "assembly", "supplier_part", "misuse"]}
    request = desk.register()
    refused = quality.put(path(request), json=BODY | {"root_cause": "wear"})
    assert refused.status_code == 422
    problem = refused.get_json()
    assert [e["field"] for e in problem["errors"]] == ["root_cause"]
    assert "design, assembly, supplier_part, misuse" in problem["errors"][0]["detail"]


def test_inv2_the_root_cause_codes_must_be_codes() -> None:
    with pytest.raises(ConfigurationError, match="ONSITE_ROOT_CAUSE_CODES"):
        Settings.from_env({"ONSITE_ROOT_CAUSE_CODES": "Design Fault,misuse"})
    with pytest.raises(ConfigurationError, match="ONSITE_ROOT_CAUSE_CODES"):
        Settings.from_env({"ONSITE_ROOT_CAUSE_CODES": " , "})


@pytest.mark.parametrize(("change", "field_name"), [
    ({"responsible_department": None}, "responsible_department"),
    ({"responsible_kind": "supplier"}, "responsible_department"),  # the department is left over: not a supplier's
    ({"responsible_kind": "supplier", "responsible_department": None}, "responsible_supplier"),
    ({"responsible_kind": "employee", "responsible_department": None}, "responsible_user_id"),
    ({"responsible_kind": "employee", "responsible_department": None, "responsible_user_id": 999999},
     "responsible_user_id"),
    ({"responsible_kind": "customer"}, "responsible_department"),
    ({"responsible_kind": "nobody"}, "responsible_kind"),
    ({"reason": " "}, "reason"),
    ({"countermeasure": ""}, "countermeasure"),
    ({"root_cause_text": None}, "root_cause_text"),
])
def test_inv2_the_responsible_party_is_named_as_its_kind_needs(desk: Desk, quality: Api,
                                                               change: dict[str, Any], field_name: str) -> None:
    request = desk.register()
    refused = quality.put(path(request), json=BODY | change)
    assert refused.status_code == 422, refused.get_json()
    assert refused.mimetype == "application/problem+json"
    assert [e["field"] for e in refused.get_json()["errors"]] == [field_name]
    assert desk.agent.get(path(request)).status_code == 404  # nothing half-written


@pytest.mark.parametrize("kind", ["customer", "third_party"])
def test_inv2_a_customer_or_third_party_needs_no_name(desk: Desk, quality: Api, kind: str) -> None:
    request = desk.register()
    body = BODY | {"responsible_kind": kind, "responsible_department": None, "root_cause": "misuse"}
    assert quality.put(path(request), json=body).status_code == 200


def test_inv2_a_named_employee(desk: Desk, quality: Api) -> None:
    request = desk.register()
    technician = desk.make_user("technician")
    body = BODY | {"responsible_kind": "employee", "responsible_department": None,
                   "responsible_user_id": technician.id}
    recorded = quality.put(path(request), json=body)
    assert recorded.status_code == 200, recorded.get_json()
    assert recorded.get_json()["responsible_user_id"] == technician.id


@pytest.mark.parametrize("role", ["agent", "dispatcher", "manager", "finance", "technician", "warehouse", "admin"])
def test_inv2_only_quality_and_supervisors_decide(desk: Desk, role: str) -> None:
    request = desk.register()
    assert desk.login(desk.make_user(role)).put(path(request), json=BODY).status_code == 403


def test_inv2_nobody_decides_about_their_own_crews_work(desk: Desk) -> None:
    """Four eyes: a supervisor who was on the crew may be the one held responsible."""
    both = desk.make_user("supervisor", "technician")
    technician = factories.technician(desk.admin, both.id, desk.station["id"])
    desk.place(technician["id"], ZHENGZHOU)
    request = desk.register(km=25)
    assert desk.dispatch(request["id"], technician_ids=[technician["id"]]).status_code == 201
    refused = desk.login(both).put(path(request), json=BODY)
    assert refused.status_code == 403
    assert "crew" in refused.get_json()["detail"]


def test_scp1_the_investigation_stays_within_the_callers_stations(desk: Desk) -> None:
    elsewhere = factories.station(desk.admin, code="BJ", latitude=39.86, longitude=116.29)
    outsider = desk.login(desk.make_user("quality", station_ids=[elsewhere["id"]]))
    request = desk.register()
    assert outsider.put(path(request), json=BODY).status_code == 404
    assert outsider.get(path(request)).status_code == 404
