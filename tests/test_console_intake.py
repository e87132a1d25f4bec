"""The agent's intake form (issue 11, Agent): a request registered through the console goes through the API's schema
and service (INT-1..3), shows what intake computed and froze (DSP-4), refuses bad input beside the field writing
nothing, and its pickers search customers and units for the intake roles only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.accounts.models import User
from backend.audit.models import AuditEntry
from backend.dispatch.models import ServiceRequest
from tests import factories
from tests.console_support import Console, console_as
from tests.test_dispatch_support import Desk, desk, quick_passwords, settings, site  # noqa: F401

# START is 2026-03-02 08:00 UTC, 16:00 in Zhengzhou (Asia/Shanghai, the station's and the office's zone).
REPORTED_LOCAL = "2026-03-02T15:00"


def _console(app: Flask, user: User) -> Console:
    return console_as(app.test_client(), user)  # its own cookie jar, apart from the API client of `desk`


def _form(desk: Desk, km: float = 50.0, **overrides: Any) -> dict[str, Any]:
    """The intake form as a browser posts it: text everywhere, the checkbox only when ticked."""
    body = desk.intake_body(km)
    values = {name: str(value) for name, value in body.items() if name != "supplier_needed"}
    return values | {"reported_at": REPORTED_LOCAL} | overrides


def _count(session: Session, *criteria: Any) -> int:
    session.rollback()  # see what the console committed
    return session.scalar(select(func.count()).select_from(ServiceRequest).where(*criteria)) or 0


# --- who may use it ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ["agent", "dispatcher"])
def test_the_intake_roles_get_the_form_and_its_link(app: Flask, desk: Desk, make_user: Callable[..., User],
                                                    role: str) -> None:
    page = _console(app, make_user(role)).text("/intake")
    assert 'href="/intake"' in page  # the navigation offers it
    for name in ("customer_id", "unit_id", "site_address", "site_latitude", "site_longitude", "fault_category",
                 "fault_description", "channel", "complaint_class", "supplier_needed", "reported_at",
                 "required_skill"):
        assert f'for="intake-{name}"' in page and f'name="{name}"' in page, name
    assert desk.customer["name"] in page  # the customer picker works without JavaScript too
    assert 'value="2026-03-02T16:00"' in page  # reported at: now, on the office's wall clock
    assert "China Standard Time (Asia/Shanghai)" in page  # ... with the zone named
    assert "intake/intake.js" in page and "intake/intake-map.js" in page and "onsite-map" in page


@pytest.mark.parametrize("role, shown", [("supervisor", "Not available to you"),
                                         ("technician", "Technicians use the mobile app")])
def test_other_roles_get_the_403_page_and_no_link(app: Flask, desk: Desk, make_user: Callable[..., User],
                                                  session: Session, role: str, shown: str) -> None:
    console = _console(app, make_user(role))
    response = console.get("/intake")
    assert response.status_code == 403 and shown in response.get_data(as_text=True)
    assert 'href="/intake"' not in response.get_data(as_text=True)
    assert console.post("/intake", _form(desk)).status_code == 403
    assert _count(session) == 0


# --- registering ---------------------------------------------------------------------------------------------------

def test_dsp4_a_registered_request_shows_its_tier_distance_station_and_deadlines(
        app: Flask, desk: Desk, make_user: Callable[..., User], session: Session) -> None:
    agent = make_user("agent", full_name="Zhou Min")
    console = _console(app, agent)
    response = console.post("/intake", _form(desk, km=50.0))
    assert response.status_code == 302
    created = session.scalars(select(ServiceRequest)).one()
    assert response.headers["Location"] == f"/requests/{created.id}"
    # The API's service did the work (INT-1, DSP-1): reported at 15:00 in Zhengzhou is 07:00 UTC.
    assert created.number.startswith("SR-2026-") and created.registered_by_user_id == agent.id
    assert created.reported_at.isoformat().startswith("2026-03-02T07:00")
    assert (created.tier, round(created.distance_km, 1)) == ("on_site", 50.0)

    page = console.text(response.headers["Location"])
    banner = page[page.index('class="flash flash-success"'):]
    banner = banner[:banner.index("</p>")]
    for shown in (created.number, "On site (DSP-1)", "Station", "50.0 km", "Mar 3, 2026 15:00 China Standard Time"):
        assert shown in banner, shown  # the banner says what was computed and frozen ...
    facts = page[page.index('id="facts-title"'):]
    assert "On site (DSP-1)" in facts and "50.0 km" in facts  # ... and the request's page shows it in full
    assert 'data-deadline="on_site"' in page

    # The same audit trail as the API, against the person who pressed the button.
    entries = session.scalars(select(AuditEntry).where(AuditEntry.entity_type == "service_requests",
                                                       AuditEntry.entity_id == str(created.id))).all()
    assert entries and {(e.actor_user_id, e.actor_name) for e in entries} == {(agent.id, agent.username)}
    assert all(e.action == "POST /intake" for e in entries)


@pytest.mark.parametrize("changes, tier, deadlines", [
    ({"supplier_needed": "on"}, "reply", {"reply"}),  # DSP-2: the supplier must be involved
    ({"site_latitude": "39.9", "site_longitude": "116.4"}, "reply", {"reply"}),  # DSP-2: Beijing, over 100 km
    ({"fault_category": "chassis_engine"}, "on_site", {"on_site", "written_contact"}),  # DSP-3
])
def test_the_form_fields_reach_the_sla_rules(app: Flask, desk: Desk, make_user: Callable[..., User],
                                             session: Session, changes: dict[str, str], tier: str,
                                             deadlines: set[str]) -> None:
    response = _console(app, make_user("dispatcher")).post("/intake", _form(desk, **changes))
    assert response.status_code == 302
    created = session.scalars(select(ServiceRequest)).one()
    assert created.tier == tier and {d.kind for d in created.deadlines} == deadlines


def test_a_request_outside_the_agents_stations_is_registered_and_summarised_on_the_form(
        app: Flask, desk: Desk, make_user: Callable[..., User], session: Session) -> None:
    beijing = factories.station(desk.admin, code="BJ", name="Beijing", latitude=39.8585, longitude=116.2870)
    agent = session.get(User, make_user("agent").id)
    agent.station_ids = [desk.station["id"]]
    session.commit()
    console = _console(app, agent)
    response = console.post("/intake", _form(desk, **{k: str(v) for k, v in site(10, origin=(39.8585, 116.2870))
                                                     .items()}))
    # SCP-1: the request belongs to Beijing, whose page this agent may not open; the banner says what was frozen.
    assert response.status_code == 302 and response.headers["Location"] == "/intake"
    page = console.text("/intake")
    assert "On site (DSP-1)" in page and beijing["name"] in page and "10.0 km" in page
    assert _count(session, ServiceRequest.nearest_station_id == beijing["id"]) == 1


# --- refusals ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("field, changes, message", [
    ("customer_id", {"customer_id": ""}, "This field is required."),
    ("site_latitude", {"site_latitude": "95"}, "Enter a number from -90 to 90."),
    ("site_longitude", {"site_longitude": "east"}, "Enter a number."),
    ("reported_at", {"reported_at": "2026-03-02T17:00"}, "This time must not be in the future."),
    ("fault_description", {"fault_description": "   "}, "This field is required."),
    ("fault_category", {"fault_category": "wheels"}, "Choose one of the offered values."),
    ("unit_id", {"unit_id": "999999"}, "There is no such unit: pick one from the list."),
])
def test_bad_input_comes_back_with_the_message_beside_the_field_and_writes_nothing(
        app: Flask, desk: Desk, make_user: Callable[..., User], session: Session, field: str,
        changes: dict[str, str], message: str) -> None:
    response = _console(app, make_user("agent")).post("/intake", _form(desk, site_address="Depot 3, gate B",
                                                                       **changes))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    error = page[page.index(f'id="intake-{field}-error"'):]
    assert message in error[:error.index("</p>")]
    assert f'aria-describedby="intake-{field}-hint intake-{field}-error"' in page or \
        f'aria-describedby="intake-{field}-error"' in page
    assert 'value="Depot 3, gate B"' in page  # what the agent typed is still there
    assert _count(session) == 0
    assert session.scalar(select(func.count()).select_from(AuditEntry)
                          .where(AuditEntry.entity_type == "service_requests")) == 0


def test_a_unit_of_another_customer_is_refused_beside_the_unit(app: Flask, desk: Desk,
                                                               make_user: Callable[..., User],
                                                               session: Session) -> None:
    other = factories.unit(desk.admin, factories.customer(desk.admin)["id"])
    response = _console(app, make_user("agent")).post("/intake", _form(desk, unit_id=str(other["id"])))
    assert response.status_code == 422
    assert "This unit belongs to another customer" in response.get_data(as_text=True)
    assert _count(session) == 0


def test_the_form_refuses_a_post_without_its_csrf_token(app: Flask, desk: Desk, make_user: Callable[..., User],
                                                        session: Session) -> None:
    response = _console(app, make_user("agent")).post("/intake", _form(desk), csrf=False)
    assert response.status_code == 400
    assert "did not come from this site" in response.get_data(as_text=True)
    assert _count(session) == 0


def test_the_form_speaks_chinese(app: Flask, desk: Desk, make_user: Callable[..., User]) -> None:
    console = _console(app, make_user("agent"))
    console.post("/language", {"language": "zh_CN", "next": "/intake"})
    page = console.text("/intake")
    for text in ("受理登记", "客户", "车辆", "故障类别", "车身", "底盘 / 发动机", "渠道", "投诉类别", "报修时间",
                 "中国标准时间", "需要与配套厂家联系"):
        assert text in page, text
    refused = console.post("/intake", _form(desk, site_latitude="95")).get_data(as_text=True)
    assert "请输入 -90 到 90 之间的数字" in refused


# --- the pickers' search -------------------------------------------------------------------------------------------

def _results(console: Console, url: str) -> list[dict[str, Any]]:
    response = console.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["results"]


def test_the_customer_search_matches_name_contact_person_and_phone(app: Flask, desk: Desk,
                                                                   make_user: Callable[..., User]) -> None:
    coach = factories.customer(desk.admin, name="Henan Coach Lines", contact_person="Liu Yang",
                               phones=["+86 138-0013-8000"])
    factories.customer(desk.admin, name="Yutong Depot", contact_person="Ma Li", phones=["0371 5555 1234"])
    console = _console(app, make_user("agent"))
    for query in ("coach", "LIU", "13800138000", "138 0013"):
        assert [c["id"] for c in _results(console, f"/intake/customers.json?q={query}")] == [coach["id"]], query
    assert _results(console, "/intake/customers.json?q=nobody") == []
    # The API's customer list searches the same way.
    listed = desk.agent.get("/api/v1/customers?q=138%200013").get_json()
    assert [c["id"] for c in listed] == [coach["id"]]


def test_the_unit_search_offers_the_chosen_customers_units(app: Flask, desk: Desk,
                                                          make_user: Callable[..., User]) -> None:
    other = factories.customer(desk.admin, name="Other Lines")
    theirs = factories.unit(desk.admin, other["id"], model="C12 coach", serial_number="LZY-77")
    ours = factories.unit(desk.admin, desk.customer["id"], model="ZK6122 bus", serial_number="LZY-78")
    console = _console(app, make_user("dispatcher"))
    found = _results(console, f"/intake/units.json?customer_id={desk.customer['id']}")
    assert {u["id"] for u in found} == {desk.unit["id"], ours["id"]}
    assert [u["id"] for u in _results(console, f"/intake/units.json?customer_id={desk.customer['id']}&q=lzy")] \
        == [ours["id"]]
    assert [u["id"] for u in _results(console, f"/intake/units.json?customer_id={other['id']}&q=c12")] \
        == [theirs["id"]]
    # Without a customer, a serial number finds the unit and names its owner.
    (found_unit,) = _results(console, "/intake/units.json?q=LZY-77")
    assert (found_unit["customer_id"], found_unit["customer_name"]) == (other["id"], "Other Lines")
    assert console.get("/intake/units.json?customer_id=x").status_code == 422


@pytest.mark.parametrize("url", ["/intake/customers.json?q=a%00b", "/intake/units.json?q=a%00b",
                                 "/intake/units.json?customer_id=%D9%A1"])
def test_a_search_the_api_would_refuse_is_a_422_naming_the_parameter(app: Flask, desk: Desk,
                                                                     make_user: Callable[..., User],
                                                                     url: str) -> None:
    response = _console(app, make_user("agent")).get(url)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert [e["field"] for e in response.get_json()["errors"]] == [url.split("?")[1].split("=")[0]]


@pytest.mark.parametrize("url", ["/intake/customers.json?q=a", "/intake/units.json?q=a"])
def test_the_search_is_for_the_intake_roles_only(app: Flask, desk: Desk, make_user: Callable[..., User],
                                                 url: str) -> None:
    assert app.test_client().get(url).status_code == 302  # signed out: to the sign-in page
    for role in ("supervisor", "technician", "warehouse"):
        assert _console(app, make_user(role)).get(url).status_code == 403, role
