"""The console map in headless Chromium (issue 11, Map): stations, open requests in the board's colours and
technicians are clickable page elements, drawn over the offline outlines with nothing fetched from another host
(the `page` fixture fails the test on any such request)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from backend.technicians.models import Technician
from tests.browser.conftest import START, Office, Server, sign_in
from tests.test_dispatch_support import ZHENGZHOU


def _seen(session: Session, technician: dict[str, Any], position: tuple[float, float], hours_ago: float) -> None:
    session.execute(update(Technician).where(Technician.id == technician["id"]).values(
        last_latitude=position[0], last_longitude=position[1], last_position_at=START - timedelta(hours=hours_ago)))
    session.commit()


def _open_map(page: Any, url: str) -> Any:
    page.goto(url)
    page.wait_for_selector(".onsite-map[data-map-ready=true]")
    return page.locator(".onsite-map")


def test_the_map_shows_stations_requests_and_technicians_as_markers(page: Any, server: Server, office: Office,
                                                                    session: Session) -> None:
    fresh, stale, _never_seen = office.technicians
    _seen(session, fresh, (ZHENGZHOU[0] + 0.1, ZHENGZHOU[1]), hours_ago=0.5)
    _seen(session, stale, (ZHENGZHOU[0] - 0.1, ZHENGZHOU[1]), hours_ago=5)
    sign_in(page, server, office.users["dispatcher"])
    the_map = _open_map(page, server.url + "/map")

    stations = the_map.locator(".map-marker[data-kind=station]")
    assert stations.count() == 1 and stations.get_attribute("data-code") == "ZZ"
    assert the_map.locator("path.map-radius").count() == 1  # the DSP-1 radius around it
    requests = the_map.locator(".map-marker[data-kind=request]")
    colours = dict(zip(requests.evaluate_all("ms => ms.map(m => Number(m.dataset.id))"),
                       requests.evaluate_all("ms => ms.map(m => m.dataset.urgency)")))
    assert colours == {office.requests["calm"]["id"]: "ok", office.requests["soon"]["id"]: "soon",
                       office.requests["missed"]["id"]: "missed"}
    technicians = the_map.locator(".map-marker[data-kind=technician]")
    assert technicians.count() == 2  # the one never seen has no place on the map
    assert the_map.locator(".map-marker--stale[data-kind=technician]").get_attribute("data-name") == "Li Fang"
    assert the_map.locator("path.map-country").count() > 100  # the shipped Natural Earth outlines

    # A request marker is a link to the request's page.
    the_map.locator(f'.map-marker[data-kind=request][data-id="{office.requests["missed"]["id"]}"] a').click()
    page.wait_for_url(f'**/requests/{office.requests["missed"]["id"]}')


def test_a_request_page_map_is_centred_on_it_with_its_candidates(page: Any, server: Server, office: Office,
                                                                 session: Session) -> None:
    for technician in office.technicians:
        _seen(session, technician, ZHENGZHOU, hours_ago=0.2)
    sign_in(page, server, office.users["dispatcher"])
    request_id = office.requests["soon"]["id"]
    the_map = _open_map(page, f"{server.url}/requests/{request_id}")
    assert the_map.locator(f'.map-marker--focus[data-kind=request][data-id="{request_id}"]').count() == 1
    ranks = the_map.locator(".map-marker[data-kind=candidate]").evaluate_all("ms => ms.map(m => m.dataset.rank)")
    assert sorted(ranks) == ["1", "2", "3"]
