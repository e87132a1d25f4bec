"""The agent's intake form in headless Chromium (issue 11, Agent): search the customer as you type, pick the unit,
place the site on the map or type its coordinates, and the registered request shows its frozen tier (DSP-4) and
appears on the board."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.dispatch.models import ServiceRequest
from tests.browser.conftest import Office, Server, sign_in
from tests.test_dispatch_support import site


def _pick(page: Any, picker: str, typed: str, option_text: str) -> None:
    box = page.locator(f"#intake-{picker}-search")
    box.click()
    box.fill(typed)
    page.locator(f"#intake-{picker}-results [role=option]", has_text=option_text).first.click()


def test_an_agent_registers_a_request_through_the_form_and_it_reaches_the_board(page: Any, server: Server,
                                                                                office: Office,
                                                                                session: Session) -> None:
    customer, unit = office.desk.customer, office.desk.unit
    sign_in(page, server, office.users["agent"])
    page.click("nav.mainnav >> text=New request")
    page.wait_for_url("**/intake")

    # The customer by part of the caller's phone number; the unit from the customer's own list.
    _pick(page, "customer_id", "2356 0001", customer["name"])
    assert page.locator("#intake-customer_id").input_value() == str(customer["id"])
    page.locator("#intake-unit_id-search").click()
    page.locator("#intake-unit_id-results [role=option]", has_text=unit["serial_number"]).click()
    assert page.locator("#intake-unit_id").input_value() == str(unit["id"])

    # A click on the map places the site and fills the coordinates ...
    the_map = page.locator(".site-picker .onsite-map")
    page.wait_for_selector(".site-picker .onsite-map[data-map-ready=true]")
    canvas = the_map.locator(".onsite-map__canvas")
    box = canvas.bounding_box()
    canvas.click(position={"x": box["width"] * 0.5, "y": box["height"] * 0.2})
    assert page.locator("#intake-site_latitude").input_value() != ""
    assert page.locator("#intake-site_longitude").input_value() != ""
    assert the_map.locator(".map-marker[data-kind=site]").count() == 1
    # ... and typed coordinates move it: 150 km east of the station, beyond the service radius (DSP-2).
    far = site(150)
    page.fill("#intake-site_latitude", f"{far['site_latitude']:.6f}")
    page.fill("#intake-site_longitude", f"{far['site_longitude']:.6f}")
    page.locator("#intake-site_longitude").dispatch_event("change")
    assert the_map.get_attribute("data-site") == f"{far['site_latitude']:.6f},{far['site_longitude']:.6f}"

    page.fill("#intake-site_address", "Luoyang bus depot, gate 2")
    page.select_option("#intake-fault_category", "body")
    page.fill("#intake-fault_description", "Rear door does not close")
    page.select_option("#intake-complaint_class", "quality")
    page.click("form.intake button[type=submit]")
    page.wait_for_url("**/requests/*")

    created = session.scalar(select(ServiceRequest).where(ServiceRequest.site_address == "Luoyang bus depot, gate 2"))
    assert created is not None and created.tier == "reply" and created.unit_id == unit["id"]
    banner = page.locator(".flash-success").inner_text()
    assert created.number in banner and "Reply first (DSP-2)" in banner and "150.0 km" in banner

    page.click("nav.mainnav >> text=Board")
    row = page.locator(f'#board-rows tr[data-request-number="{created.number}"]')
    assert "Reply first (DSP-2)" in row.inner_text()


def test_a_refused_form_keeps_the_chosen_customer_and_unit(page: Any, server: Server, office: Office) -> None:
    customer, unit = office.desk.customer, office.desk.unit
    sign_in(page, server, office.users["agent"])
    page.goto(server.url + "/intake")
    _pick(page, "customer_id", customer["name"], customer["name"])
    _pick(page, "unit_id", unit["serial_number"], unit["serial_number"])
    page.fill("#intake-site_address", "Depot 9")
    page.fill("#intake-site_latitude", "34.7")
    page.fill("#intake-site_longitude", "113.7")
    page.select_option("#intake-fault_category", "body")
    page.fill("#intake-fault_description", "Mirror broken")
    page.select_option("#intake-complaint_class", "quality")
    page.fill("#intake-reported_at", "2030-01-01T08:00")  # in the future: refused by the service
    page.click("form.intake button[type=submit]")
    page.wait_for_load_state()
    assert "must not be in the future" in page.locator("#intake-reported_at-error").inner_text()
    assert customer["name"] in page.locator("#intake-customer_id-search").input_value()
    assert unit["serial_number"] in page.locator("#intake-unit_id-search").input_value()
    assert page.locator("#intake-site_address").input_value() == "Depot 9"
