"""Station scope (SCP-1, issue 10): office users assigned stations see and act on those stations' requests, jobs,
reports, parts, stock and KPIs only; users without stations act for the whole company. A request belongs to its
nearest station, frozen at intake (DSP-4)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import pytest

from tests import factories
from tests.conftest import PASSWORD, Api
from tests.test_dispatch_support import ZHENGZHOU, Desk, desk, etag, quick_passwords, settings  # noqa: F401
from tests.test_fieldwork_support import Field, stock_van

BEIJING = (39.8585, 116.2870)
REQUESTS = "/api/v1/service-requests"
MARCH = {"from": "2026-03-01T00:00:00Z", "to": "2026-04-01T00:00:00Z"}


@dataclass
class Region:
    """Two stations, Zhengzhou (a) and Beijing (b), each with a technician and a request near it; the desk's
    dispatcher works for the whole company."""

    desk: Desk
    a: dict[str, Any]
    b: dict[str, Any]
    tech_a: dict[str, Any]
    tech_b: dict[str, Any]
    request_a: dict[str, Any]
    request_b: dict[str, Any]

    def scoped(self, *roles: str, stations: list[int]) -> Api:
        """A new user with these roles, made by the admin with these stations, signed in."""
        username = f"{roles[0]}-{'-'.join(map(str, stations))}-{len(self.desk.admin.get('/api/v1/users').get_json())}"
        created = self.desk.admin.post("/api/v1/users", json={"username": username, "password": PASSWORD,
                                                              "roles": list(roles), "station_ids": stations})
        assert created.status_code == 201, created.get_json()
        assert created.get_json()["station_ids"] == sorted(stations)
        return self.desk.login(_Named(username))

    def dispatched(self, request: dict[str, Any], tech: dict[str, Any]) -> dict[str, Any]:
        response = self.desk.dispatch(request["id"], technician_ids=[tech["id"]])
        assert response.status_code == 201, response.get_json()
        return response.get_json()


@dataclass
class _Named:
    username: str


@pytest.fixture
def region(desk: Desk) -> Region:
    b = factories.station(desk.admin, code="BJ", latitude=BEIJING[0], longitude=BEIJING[1])
    tech_a = desk.technician(position=ZHENGZHOU, name="Wang Wei")
    tech_b = desk.technician(position=BEIJING, station=b, name="Li Na")
    request_a = desk.register(km=30)
    request_b = desk.register(km=30, origin=BEIJING)
    assert (request_a["nearest_station"]["id"], request_b["nearest_station"]["id"]) == (desk.station["id"], b["id"])
    return Region(desk=desk, a=desk.station, b=b, tech_a=tech_a, tech_b=tech_b, request_a=request_a,
                  request_b=request_b)


def _ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.get_json()
    return sorted(item["id"] for item in response.get_json())


def _like_missing(response: Any, ident: int, missing: Any, missing_ident: int) -> None:
    """Outside the user's stations is answered exactly as if the object did not exist (bar the ids)."""
    def shape(answer: Any, asked: int) -> str:
        body = {k: v for k, v in answer.get_json().items() if k != "request_id"}
        return re.sub(rf"(?<![0-9]){asked}(?![0-9])", "#", json.dumps(body, sort_keys=True))

    assert response.status_code == missing.status_code == 404
    assert shape(response, ident) == shape(missing, missing_ident)


# --- accounts ------------------------------------------------------------------------------------------------------

def test_scp1_an_admin_sets_a_users_stations(region: Region) -> None:
    admin = region.desk.admin
    created = admin.post("/api/v1/users", json={"username": "dispatcher-north", "password": PASSWORD,
                                                "roles": ["dispatcher"], "station_ids": [region.a["id"]]})
    assert created.status_code == 201, created.get_json()
    url = created.headers["Location"]
    assert admin.get(url).get_json()["station_ids"] == [region.a["id"]]
    both = admin.patch(url, json={"station_ids": [region.b["id"], region.a["id"]]}, headers=etag(admin.get(url)))
    assert both.status_code == 200 and both.get_json()["station_ids"] == sorted([region.a["id"], region.b["id"]])
    assert both.headers["ETag"] != created.headers["ETag"]
    unknown = admin.patch(url, json={"station_ids": [region.a["id"], 9999]}, headers=etag(admin.get(url)))
    assert unknown.status_code == 422
    assert [e["field"] for e in unknown.get_json()["errors"]] == ["station_ids"]
    assert admin.get(url).get_json()["station_ids"] == sorted([region.a["id"], region.b["id"]])
    head_office = admin.patch(url, json={"station_ids": []}, headers=etag(admin.get(url)))
    assert head_office.get_json()["station_ids"] == []
    assert admin.post("/api/v1/users", json={"username": "nowhere", "password": PASSWORD, "roles": ["supervisor"],
                                             "station_ids": [9999]}).status_code == 422
    # The assignment is in the audit trail.
    assert admin.get("/api/v1/audit?entity_type=user_stations").get_json()


# --- requests, candidates, dispatch, jobs ---------------------------------------------------------------------------

def test_dsp4_scp1_a_dispatcher_of_one_station_works_only_its_requests(region: Region) -> None:
    mine, theirs = region.request_a["id"], region.request_b["id"]
    dispatcher_a = region.scoped("dispatcher", stations=[region.a["id"]])
    assert _ids(dispatcher_a.get(REQUESTS)) == [mine]
    assert _ids(dispatcher_a.get(f"{REQUESTS}?station={region.b['id']}")) == []
    assert _ids(region.desk.dispatcher.get(REQUESTS)) == [mine, theirs]  # head office
    missing = theirs + 1000
    for path in ("", "/candidates", "/communications"):
        _like_missing(dispatcher_a.get(f"{REQUESTS}/{theirs}{path}"), theirs,
                      dispatcher_a.get(f"{REQUESTS}/{missing}{path}"), missing)
    _like_missing(dispatcher_a.post(f"{REQUESTS}/{theirs}/dispatch", json={}), theirs,
                  dispatcher_a.post(f"{REQUESTS}/{missing}/dispatch", json={}), missing)
    # Candidates are the technicians based at the dispatcher's stations; head office sees everyone.
    candidates = dispatcher_a.get(f"{REQUESTS}/{mine}/candidates").get_json()["candidates"]
    assert [c["technician_id"] for c in candidates] == [region.tech_a["id"]]
    everyone = region.desk.dispatcher.get(f"{REQUESTS}/{mine}/candidates").get_json()["candidates"]
    assert {c["technician_id"] for c in everyone} == {region.tech_a["id"], region.tech_b["id"]}
    elsewhere = dispatcher_a.post(f"{REQUESTS}/{mine}/dispatch", json={"technician_ids": [region.tech_b["id"]],
                                                                       "reason": "closer to home"})
    assert elsewhere.status_code == 422
    assert [e["field"] for e in elsewhere.get_json()["errors"]] == ["technician_ids"]
    job = dispatcher_a.post(f"{REQUESTS}/{mine}/dispatch", json={})
    assert job.status_code == 201, job.get_json()
    assert [m["technician_id"] for m in job.get_json()["crew"]] == [region.tech_a["id"]]


def test_scp1_jobs_of_other_stations_are_not_listed_and_answer_404(region: Region) -> None:
    job_a = region.dispatched(region.request_a, region.tech_a)
    job_b = region.dispatched(region.request_b, region.tech_b)
    supervisor_a = region.scoped("supervisor", stations=[region.a["id"]])
    assert _ids(supervisor_a.get("/api/v1/jobs")) == [job_a["id"]]
    assert _ids(region.desk.dispatcher.get("/api/v1/jobs")) == [job_a["id"], job_b["id"]]
    missing = job_b["id"] + 1000
    for path in ("", "/events", "/dispatch-decision"):
        _like_missing(supervisor_a.get(f"/api/v1/jobs/{job_b['id']}{path}"), job_b["id"],
                      supervisor_a.get(f"/api/v1/jobs/{missing}{path}"), missing)
    assert supervisor_a.get(f"/api/v1/jobs/{job_a['id']}").status_code == 200


# --- reports (REP-5) and requisitions -------------------------------------------------------------------------------

def _submitted(region: Region, request: dict[str, Any], tech: dict[str, Any], supervisor: Api) -> Field:
    job = region.dispatched(request, tech)
    part = factories.part(region.desk.admin)
    stock_van(region.desk, tech["id"], part["id"])
    field = Field(desk=region.desk, supervisor=supervisor, request=request, job=job,
                  lead=region.desk.as_technician(tech), lead_technician=tech, part=part)
    field.to("submitted")
    return field


def test_rep5_scp1_a_supervisor_of_one_station_reviews_only_its_reports(region: Region) -> None:
    head_office = region.desk.login(region.desk.make_user("supervisor"))
    supervisor_a = region.scoped("supervisor", stations=[region.a["id"]])
    field_a = _submitted(region, region.request_a, region.tech_a, supervisor_a)
    field_b = _submitted(region, region.request_b, region.tech_b, supervisor_a)
    queue = supervisor_a.get("/api/v1/reports?status=submitted").get_json()
    assert [r["job_id"] for r in queue] == [field_a.job["id"]]
    assert sorted(r["job_id"] for r in head_office.get("/api/v1/reports?status=submitted").get_json()) == \
        [field_a.job["id"], field_b.job["id"]]
    # Station b's report cannot be read, approved or rejected from station a: it answers as missing.
    b_etag = etag(field_b.report())
    job_b, missing = field_b.job["id"], field_b.job["id"] + 1000
    _like_missing(supervisor_a.post(f"/api/v1/jobs/{job_b}/report/approve", headers=b_etag), job_b,
                  supervisor_a.post(f"/api/v1/jobs/{missing}/report/approve", headers=b_etag), missing)
    _like_missing(supervisor_a.post(f"/api/v1/jobs/{job_b}/report/reject", json={"reason": "x"}), job_b,
                  supervisor_a.post(f"/api/v1/jobs/{missing}/report/reject", json={"reason": "x"}), missing)
    assert supervisor_a.post(f"/api/v1/jobs/{job_b}/paid-service-approval", json={"scope": "x"}).status_code == 404
    assert field_b.report().get_json()["review_outcome"] is None
    assert supervisor_a.post(f"/api/v1/jobs/{field_a.job['id']}/report/approve",
                             headers=etag(field_a.report())).status_code == 200
    assert head_office.post(f"/api/v1/jobs/{job_b}/report/approve", headers=etag(field_b.report())).status_code == 200


def test_prt3_scp1_requisitions_of_other_stations_are_neither_listed_nor_decided(region: Region) -> None:
    job_b = region.dispatched(region.request_b, region.tech_b)
    part = factories.part(region.desk.admin)
    asked = region.desk.as_technician(region.tech_b).post("/api/v1/requisitions", json={
        "job_id": job_b["id"], "lines": [{"part_id": part["id"], "quantity": 1, "reason": "worn"}]})
    assert asked.status_code == 201, asked.get_json()
    supervisor_a = region.scoped("supervisor", stations=[region.a["id"]])
    assert supervisor_a.get("/api/v1/requisitions").get_json() == []
    ident, missing = asked.get_json()["id"], asked.get_json()["id"] + 1000
    _like_missing(supervisor_a.post(f"/api/v1/requisitions/{ident}/approve"), ident,
                  supervisor_a.post(f"/api/v1/requisitions/{missing}/approve"), missing)
    supervisor_b = region.scoped("supervisor", stations=[region.b["id"]])
    assert _ids(supervisor_b.get("/api/v1/requisitions")) == [ident]
    assert supervisor_b.post(f"/api/v1/requisitions/{ident}/approve").status_code == 200


# --- KPIs and stock -----------------------------------------------------------------------------------------------

def test_scp1_kpis_count_only_the_users_stations(region: Region) -> None:
    def rows(api: Api, **query: str) -> list[dict[str, Any]]:
        response = api.get("/api/v1/kpis", query_string=MARCH | query)
        assert response.status_code == 200, response.get_json()
        return [r for r in response.get_json()["rows"] if r["kpi"] == "major_complaint_rate"]

    head_office = region.desk.manager
    manager_a = region.scoped("manager", stations=[region.a["id"]])
    assert [r["denominator"] for r in rows(head_office)] == [2]
    assert [r["denominator"] for r in rows(manager_a)] == [1]
    assert {r["group"] for r in rows(head_office, group_by="station")} == {str(region.a["id"]), str(region.b["id"])}
    assert {r["group"] for r in rows(manager_a, group_by="station")} == {str(region.a["id"])}


def test_scp1_stock_is_that_of_the_users_stations(region: Region, as_role: Any) -> None:
    head_office = as_role("warehouse")
    part = factories.part(region.desk.admin)
    into_store = head_office.post("/api/v1/stock/receipts", json={"supplier": "Mann", "lines": [
        {"part_id": part["id"], "quantity": 3}]})
    assert into_store.status_code == 201, into_store.get_json()
    locations = {(loc["kind"], loc.get("station_id"), loc.get("technician_id")): loc["id"]
                 for loc in head_office.get("/api/v1/stock-locations?page_size=200").get_json()}
    station_b = locations[("station", region.b["id"], None)]
    station_a = locations[("station", region.a["id"], None)]
    van_a = locations[("van", None, region.tech_a["id"])]
    store = locations[("store", None, None)]
    for station in (station_a, station_b):
        received = head_office.post("/api/v1/stock/receipts", json={
            "supplier": "Mann", "location_id": station, "lines": [{"part_id": part["id"], "quantity": 3}]})
        assert received.status_code == 201, received.get_json()
    warehouse_a = region.scoped("warehouse", stations=[region.a["id"]])
    visible = _ids(warehouse_a.get("/api/v1/stock-locations?page_size=200"))
    assert station_a in visible and van_a in visible
    assert station_b not in visible and store not in visible
    assert {row["location"]["id"] for row in warehouse_a.get("/api/v1/stock").get_json()} == {station_a}
    everywhere = {row["location"]["id"] for row in head_office.get("/api/v1/stock").get_json()}
    assert everywhere == {store, station_a, station_b}
    assert {e["location"]["id"] for e in warehouse_a.get("/api/v1/stock/ledger").get_json()} == {station_a}
    missing = station_b + 1000
    _like_missing(warehouse_a.get(f"/api/v1/stock-locations/{station_b}"), station_b,
                  warehouse_a.get(f"/api/v1/stock-locations/{missing}"), missing)
    sent = warehouse_a.post("/api/v1/stock/transfers", json={
        "source_location_id": station_b, "destination_location_id": station_a,
        "lines": [{"part_id": part["id"], "quantity": 1}]})
    assert sent.status_code == 403


def test_scp1_a_serial_is_found_only_where_it_has_been_within_the_users_stations(region: Region,
                                                                                as_role: Any) -> None:
    head_office = as_role("warehouse")
    part = factories.part(region.desk.admin, serial_tracked=True)
    def receive(serial: str, **location: int) -> None:
        received = head_office.post("/api/v1/stock/receipts", json={
            "supplier": "Bosch", "lines": [{"part_id": part["id"], "quantity": 1, "serials": [serial]}], **location})
        assert received.status_code == 201, received.get_json()

    receive("SN-S")  # into the central store
    locations = {(loc["kind"], loc.get("station_id")): loc["id"]
                 for loc in head_office.get("/api/v1/stock-locations?page_size=200").get_json()}
    station_a, station_b = locations[("station", region.a["id"])], locations[("station", region.b["id"])]
    receive("SN-A", location_id=station_a)
    receive("SN-B", location_id=station_b)
    # SN-A leaves station a for station b.
    sent = head_office.post("/api/v1/stock/transfers", json={
        "source_location_id": station_a, "destination_location_id": station_b,
        "lines": [{"part_id": part["id"], "quantity": 1, "serials": ["SN-A"]}]})
    assert sent.status_code == 201, sent.get_json()
    received = head_office.post(f"/api/v1/stock/transfers/{sent.get_json()['id']}/receive",
                                headers={"If-Match": sent.headers["ETag"]})
    assert received.status_code == 200, received.get_json()

    everywhere = head_office.get("/api/v1/serials/SN-A").get_json()
    assert everywhere["location"]["id"] == station_b
    assert len(everywhere["history"]) == 5  # received at a; out of a, into transit; out of transit, into b
    warehouse_a = region.scoped("warehouse", stations=[region.a["id"]])
    mine = warehouse_a.get("/api/v1/serials/SN-A")
    assert mine.status_code == 200, mine.get_json()
    body = mine.get_json()
    assert body["status"] == "in_stock" and body["location"] is None  # at another station now
    assert [(h["location"]["id"], h["quantity"], h["reason"]) for h in body["history"]] == [
        (station_a, 1, "receipt"), (station_a, -1, "transfer_sent")]
    # Never at station a: answered as an unknown serial is.
    unknown = warehouse_a.get("/api/v1/serials/SN-NONE")
    for theirs in ("SN-B", "SN-S"):
        answer = warehouse_a.get(f"/api/v1/serials/{theirs}")
        assert answer.status_code == unknown.status_code == 404
        assert answer.get_json()["detail"].replace(theirs, "#") == unknown.get_json()["detail"].replace("SN-NONE", "#")
    warehouse_b = region.scoped("warehouse", stations=[region.b["id"]])
    assert warehouse_b.get("/api/v1/serials/SN-A").get_json()["location"]["id"] == station_b


# --- demo data ----------------------------------------------------------------------------------------------------

def test_scp1_demo_data_has_a_dispatcher_and_a_supervisor_per_region(app: Any, client: Any, database_url: str,
                                                                     tmp_path: Any) -> None:
    from click.testing import CliRunner

    from backend.cli import cli
    from backend.demo import REGIONS

    env = {"ONSITE_DATABASE_URL": database_url, "ONSITE_INSTANCE_PATH": str(tmp_path / "instance")}
    loaded = CliRunner().invoke(cli, ["demo-data"], env=env, catch_exceptions=False)
    assert loaded.exit_code == 0, loaded.output

    def board(username: str) -> set[str]:
        token = client.post("/api/v1/auth/token", json={"username": username, "password": f"{username}-demo-pass"})
        assert token.status_code == 200, token.get_json()
        api = Api(client, token.get_json()["access_token"])
        return {r["nearest_station"]["code"] for r in api.get(f"{REQUESTS}?page_size=200").get_json()}

    everywhere = board("dispatcher")
    seen: set[str] = set()
    for region, codes in REGIONS.items():
        assert f"dispatcher-{region}-demo-pass" in loaded.output and f"supervisor-{region}-demo-pass" in loaded.output
        regional = board(f"dispatcher-{region}")
        assert regional <= set(codes)
        seen |= regional
    assert seen == everywhere and len(everywhere) > 1
