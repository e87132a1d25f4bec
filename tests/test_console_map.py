"""The console map (issue 11, Map): what it shows (stations with the DSP-1 radius, open requests coloured like the
board, technicians with stale positions greyed, a request's candidates), for whom (SCP-1 station scope, office roles
only), and that it works with no internet access (every asset served by the application)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from backend.accounts.models import User
from backend.app import create_app
from backend.config import ConfigurationError, Settings
from backend.console.map import tile_origin
from backend.console.map.service import MapFeatures, map_features
from backend.dispatch.models import ServiceRequest
from backend.dispatch.policy import publish_policy
from backend.technicians.models import Technician
from tests import factories
from tests.conftest import PASSWORD, START
from tests.test_dispatch_support import ZHENGZHOU, Desk, desk, quick_passwords, settings, site  # noqa: F401

BEIJING = (39.8585, 116.2870)


@pytest.fixture
def features(app: Flask, desk: Desk) -> Callable[..., MapFeatures]:
    """features(user=None, **options): the map as `user` (default: a head-office dispatcher) sees it now."""
    onsite = app.extensions["onsite"]

    def look(user: User | None = None, **options: Any) -> MapFeatures:
        desk.session.rollback()  # see what the API committed
        viewer = desk.session.get(User, (user or desk.make_user("dispatcher")).id)
        return map_features(desk.session, viewer, onsite.clock.now(), onsite.settings, **options)
    return look


def reported(hours_ago: float) -> str:
    return (START - timedelta(hours=hours_ago)).isoformat()


def place(desk: Desk, technician_id: int, position: tuple[float, float], seen_hours_ago: float) -> None:
    desk.session.execute(update(Technician).where(Technician.id == technician_id).values(
        last_latitude=position[0], last_longitude=position[1],
        last_position_at=START - timedelta(hours=seen_hours_ago)))
    desk.session.commit()


# --- the data ----------------------------------------------------------------------------------------------------

def test_stations_carry_the_current_policy_radius(desk: Desk, features: Callable[..., MapFeatures]) -> None:
    beijing = factories.station(desk.admin, code="BJ", latitude=BEIJING[0], longitude=BEIJING[1])
    shown = features()
    assert [(s.code, s.latitude, s.longitude) for s in shown.stations] == [
        ("ZZ", *ZHENGZHOU), ("BJ", *BEIJING)]
    assert shown.radius_km == 100.0  # DSP-1 default
    publish_policy(desk.session, START, radius_km=80, on_site_hours=24, reply_hours=12, written_contact_hours=12)
    desk.session.commit()
    assert features().radius_km == 80  # the policy in force, not the configured default
    assert beijing["id"] in [s.id for s in shown.stations]


def test_open_requests_are_coloured_like_the_board(desk: Desk, features: Callable[..., MapFeatures]) -> None:
    """DSP-1 on-site deadline 24 h after the report: 23.5 h ago -> due in 30 min (soon, within the 2 h default),
    25 h ago -> missed, just now -> plenty of time."""
    ok = desk.register(reported_at=reported(0))
    soon = desk.register(reported_at=reported(23.5))
    missed = desk.register(reported_at=reported(25))
    resolved = desk.register()
    desk.session.execute(update(ServiceRequest).where(ServiceRequest.id == resolved["id"]).values(status="resolved"))
    desk.session.commit()
    shown = {r.id: r for r in features().requests}
    assert {rid: str(r.urgency) for rid, r in shown.items()} == {
        ok["id"]: "ok", soon["id"]: "soon", missed["id"]: "missed"}  # a resolved request is not open work
    assert shown[soon["id"]].next_due_at == START + timedelta(minutes=30)
    assert (shown[ok["id"]].latitude, shown[ok["id"]].longitude) == (ok["site_latitude"], ok["site_longitude"])


def test_technicians_at_their_last_position_and_stale_ones_flagged(desk: Desk,
                                                                   features: Callable[..., MapFeatures]) -> None:
    fresh = desk.technician(name="Wang Wei")
    old = desk.technician(name="Li Fang")
    desk.technician(name="Never Reported")
    place(desk, fresh["id"], ZHENGZHOU, seen_hours_ago=1.5)
    place(desk, old["id"], BEIJING, seen_hours_ago=2.5)  # the stale limit is 2 h by default
    shown = {t.name: t for t in features().technicians}
    assert set(shown) == {"Wang Wei", "Li Fang"}  # nobody is drawn where they have never been seen
    assert (shown["Wang Wei"].stale, shown["Li Fang"].stale) == (False, True)
    assert (shown["Li Fang"].latitude, shown["Li Fang"].longitude) == BEIJING
    assert shown["Li Fang"].seen_at == START - timedelta(hours=2.5)


def test_a_station_scoped_user_sees_only_their_stations(desk: Desk, features: Callable[..., MapFeatures]) -> None:
    """SCP-1: stations, requests and technicians of other stations stay off the map; a request of another station
    cannot be focused (it answers as missing, like the API)."""
    beijing = factories.station(desk.admin, code="BJ", latitude=BEIJING[0], longitude=BEIJING[1])
    here = desk.register()
    there = desk.register(**site(20, origin=BEIJING))
    ours = desk.technician(name="Ours")
    theirs = desk.technician(name="Theirs", station=beijing)
    place(desk, ours["id"], ZHENGZHOU, seen_hours_ago=0)
    place(desk, theirs["id"], BEIJING, seen_hours_ago=0)
    scoped = desk.session.get(User, desk.make_user("dispatcher").id)
    scoped.station_ids = [desk.station["id"]]
    desk.session.commit()
    shown = features(scoped)
    assert [s.code for s in shown.stations] == ["ZZ"]
    assert [r.id for r in shown.requests] == [here["id"]]
    assert [t.name for t in shown.technicians] == ["Ours"]
    with pytest.raises(Exception, match="does not exist"):
        features(scoped, focus_request_id=there["id"])
    assert {r.id for r in features().requests} == {here["id"], there["id"]}  # head office sees both


def test_a_focused_request_comes_with_its_ranked_candidates(desk: Desk, features: Callable[..., MapFeatures]) -> None:
    request = desk.register(km=30)
    near = desk.technician(name="Near")
    far = desk.technician(name="Far")
    unseen = desk.technician(name="At the station")
    place(desk, near["id"], ZHENGZHOU, seen_hours_ago=0)
    place(desk, far["id"], (ZHENGZHOU[0] + 0.5, ZHENGZHOU[1] - 0.5), seen_hours_ago=0)
    shown = features(focus_request_id=request["id"])
    assert shown.focus is not None and shown.focus.id == request["id"]
    ranked = [(c.candidate.rank, c.candidate.name) for c in shown.candidates]
    assert ranked[0] == (1, "Near") and {name for _rank, name in ranked} == {"Near", "Far", "At the station"}
    # DSP-6 measures a technician who never reported a position from their home station: drawn there too.
    at_station = next(c for c in shown.candidates if c.candidate.technician_id == unseen["id"])
    assert (at_station.latitude, at_station.longitude) == ZHENGZHOU


# --- the endpoint ------------------------------------------------------------------------------------------------

def console_sign_in(client: FlaskClient, user: User) -> None:
    """Signs in through the console's own form, CSRF token and all, as a person would."""
    page = client.get("/sign-in").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    response = client.post("/sign-in", data={"username": user.username, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)


@pytest.fixture
def office(desk: Desk, client: FlaskClient) -> Callable[..., FlaskClient]:
    def sign_in(*roles: str) -> FlaskClient:
        console_sign_in(client, desk.make_user(*roles))
        return client
    return sign_in


def test_map_data_needs_an_office_sign_in(desk: Desk, client: FlaskClient, office: Any) -> None:
    signed_out = client.get("/map/data.json")
    assert signed_out.status_code == 302 and urlsplit(signed_out.location).path == "/sign-in"
    assert office("technician").get("/map/data.json").status_code == 403  # technicians use the app
    client.post("/sign-out", data={"csrf_token": _csrf(client)})
    assert office("warehouse").get("/map/data.json").status_code == 403  # not a reader of requests


def _csrf(client: FlaskClient) -> str:
    page = client.get("/map").get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    return match.group(1) if match else ""


def test_map_data_json_for_a_dispatcher(desk: Desk, office: Any) -> None:
    request = desk.register(reported_at=reported(25))
    tech = desk.technician(name="Wang Wei")
    place(desk, tech["id"], ZHENGZHOU, seen_hours_ago=3)
    client = office("dispatcher")
    data = client.get("/map/data.json").get_json()
    assert data["radius_km"] == 100.0
    assert [(s["code"], s["lat"], s["lon"]) for s in data["stations"]] == [("ZZ", *ZHENGZHOU)]
    [site_] = data["requests"]
    assert (site_["id"], site_["urgency"], site_["number"]) == (request["id"], "missed", request["number"])
    assert site_["url"] == f"/requests/{request['id']}"  # a click opens the request's page
    assert "Deadline missed" in site_["lines"]
    [tech_] = data["technicians"]
    assert tech_["stale"] is True and tech_["name"] == "Wang Wei"
    # The time is shown in the station's zone (Asia/Shanghai by default), named: 05:00 UTC is 13:00 there.
    assert any("13:00" in line and "China" in line for line in tech_["lines"]), tech_["lines"]
    assert data["focus"] is None and data["tiles"] is None


def test_times_are_shown_in_the_zone_of_the_technicians_station(desk: Desk, office: Any) -> None:
    kashgar = factories.station(desk.admin, code="KS", latitude=39.47, longitude=75.99, timezone="Asia/Urumqi")
    tech = desk.technician(name="Aziz", station=kashgar)
    place(desk, tech["id"], (39.47, 75.99), seen_hours_ago=1)  # 07:00 UTC is 13:00 in Xinjiang time (UTC+6)
    [tech_] = office("dispatcher").get("/map/data.json").get_json()["technicians"]
    assert "13:00" in tech_["lines"][1], tech_["lines"]


def test_request_map_data_is_centred_on_it_and_scoped(desk: Desk, office: Any) -> None:
    request = desk.register()
    desk.technician(name="Near")
    client = office("dispatcher")
    data = client.get(f"/map/requests/{request['id']}/data.json").get_json()
    assert data["focus"]["id"] == request["id"]
    assert [c["rank"] for c in data["candidates"]] == [1]
    assert client.get("/map/requests/999999/data.json").status_code == 404


def test_labels_come_in_the_page_language(desk: Desk, office: Any) -> None:
    client = office("dispatcher")
    data = client.get("/map/data.json", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).get_json()
    assert data["radius_label"] == "100 公里服务半径"


# --- offline: everything from the application ------------------------------------------------------------------

# URLs in the vendored Leaflet that are never fetched: the SVG namespace, the attribution link (replaced by a plain
# text prefix in map.js) and bug tracker links in CSS comments.
NEVER_FETCHED = re.compile(
    r"https?://(www\.w3\.org/2000/svg|leafletjs\.com|bugs\.chromium\.org|bugzilla\.mozilla\.org)")


def test_every_map_asset_is_served_by_the_application(desk: Desk, office: Any) -> None:
    client = office("dispatcher")
    page = client.get("/map")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    figure = re.search(r'<figure class="onsite-map.*?</figure>', html, re.S).group(0)  # type: ignore[union-attr]
    assert "<script>" not in figure and " on" not in re.sub(r'"[^"]*"', "", figure)  # no inline script
    assets = set(re.findall(r'(?:src|href|data-map-[a-z-]+-url)="(/console/static/[^"]+)"', html))
    wanted = {"leaflet.js", "leaflet.css", "map.js", "map.css", "countries.geojson", "cn-provinces.geojson"}
    assert wanted <= {path.rsplit("/", 1)[-1] for path in assets}
    for path in assets:
        response = client.get(path)
        assert response.status_code == 200, path
        body = response.get_data(as_text=True)
        external = [url for url in re.findall(r"https?://[^\s\"')]+", body) if not NEVER_FETCHED.match(url)]
        assert external == [], (path, external[:3])
        if path.endswith(".css"):  # images the stylesheets use, e.g. the layer switcher's icon
            for image in re.findall(r"url\(([^)]+\.png)\)", body):
                assert client.get(path.rsplit("/", 1)[0] + "/" + image).status_code == 200, image
    external_in_page = [url for url in re.findall(r"https?://[^\s\"'<)]+", figure)]
    assert external_in_page == []


def test_tile_server_origin_for_the_content_security_policy() -> None:
    def origin(url: str) -> str | None:
        return tile_origin(Settings(env="testing", map_tile_url=url))

    assert origin("") is None  # no tiles by default: the shipped outlines only
    assert origin("https://tiles.example.com/osm/{z}/{x}/{y}.png") == "https://tiles.example.com"
    assert origin("http://{s}.tile.example.org:8080/{z}/{x}/{y}.png") == "http://*.tile.example.org:8080"
    for bad in ("tiles.example.com/{z}/{x}/{y}.png", "javascript:alert(1)", "https://a{s}b.example/{z}"):
        with pytest.raises(ConfigurationError, match="ONSITE_MAP_TILE_URL"):
            origin(bad)


def test_a_malformed_tile_url_stops_the_start(settings: Settings) -> None:
    with pytest.raises(ConfigurationError, match="ONSITE_MAP_TILE_URL"):
        create_app(Settings(env="testing", database_url=settings.database_url,
                            instance_path=settings.instance_path, map_tile_url="ftp://tiles/{z}/{x}/{y}"))


def test_a_configured_tile_server_reaches_the_map(desk: Desk, app: Any, office: Any) -> None:
    onsite = app.extensions["onsite"]
    onsite.settings = dataclasses.replace(onsite.settings, map_tile_url="https://tiles.example.com/{z}/{x}/{y}.png",
                                          map_tile_attribution="© Example")
    client = office("dispatcher")
    data = client.get("/map/data.json").get_json()
    assert data["tiles"] == {"url": "https://tiles.example.com/{z}/{x}/{y}.png", "attribution": "© Example"}
    policy = dict(d.strip().split(" ", 1) for d in client.get("/map").headers["Content-Security-Policy"].split(";"))
    assert policy["img-src"].split() == ["'self'", "data:", "https://tiles.example.com"]
    assert "https://tiles.example.com" not in policy["script-src"]


def test_without_a_tile_server_pages_load_images_from_the_application_only(desk: Desk, office: Any) -> None:
    policy = office("dispatcher").get("/map").headers["Content-Security-Policy"]
    assert "img-src 'self' data:;" in policy
