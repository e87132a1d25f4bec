"""Master-data CRUD as its users see it: pagination, filters, ETag/If-Match, references (issue 2 §6)."""

import json

from tests import factories


def _pagination(response):
    return json.loads(response.headers["X-Pagination"])


def test_lists_are_paginated_with_totals(as_role):
    admin = as_role("admin")
    for _ in range(7):
        factories.station(admin)
    first = admin.get("/api/v1/stations?page_size=3")
    assert first.status_code == 200
    assert len(first.get_json()) == 3
    meta = _pagination(first)
    assert meta["total"] == 7 and meta["total_pages"] == 3 and meta["next_page"] == 2
    last = admin.get("/api/v1/stations?page_size=3&page=3")
    assert len(last.get_json()) == 1
    seen = [s["id"] for p in (1, 2, 3) for s in admin.get(f"/api/v1/stations?page_size=3&page={p}").get_json()]
    assert len(seen) == len(set(seen)) == 7


def test_a_page_past_the_end_is_empty_and_a_huge_page_is_not_an_error(as_role):
    admin = as_role("admin")
    factories.station(admin)
    for page in (2, 10**12, 2**63):
        response = admin.get(f"/api/v1/stations?page={page}")
        assert response.status_code == 200, response.get_json()
        assert response.get_json() == []


def test_page_size_over_the_maximum_is_a_422_naming_the_parameter(as_role):
    response = as_role("admin").get("/api/v1/stations?page_size=100000")
    assert response.status_code == 422
    assert [e["field"] for e in response.get_json()["errors"]] == ["page_size"]


def test_filters_narrow_lists(as_role):
    admin = as_role("admin")
    factories.station(admin, name="Zhengzhou east")
    factories.station(admin, name="Beijing south", may_receive_work=False, barred_reason="late reports")
    barred = admin.get("/api/v1/stations?may_receive_work=false").get_json()
    assert [s["name"] for s in barred] == ["Beijing south"]
    assert [s["name"] for s in admin.get("/api/v1/stations?q=zheng").get_json()] == ["Zhengzhou east"]


def test_technicians_filter_by_skill_and_station(as_role, make_user):
    admin = as_role("admin")
    north, south = factories.station(admin), factories.station(admin)
    welder = factories.technician(admin, make_user("technician").id, north["id"], skills=["body", "welding"])
    factories.technician(admin, make_user("technician").id, south["id"], skills=["electrical"])
    assert [t["id"] for t in admin.get("/api/v1/technicians?skill=welding").get_json()] == [welder["id"]]
    assert [t["id"] for t in admin.get(f"/api/v1/technicians?home_station_id={north['id']}").get_json()] \
        == [welder["id"]]


def test_update_needs_the_current_etag(as_role):
    admin = as_role("admin")
    station = factories.station(admin)
    url = f"/api/v1/stations/{station['id']}"
    etag = admin.get(url).headers["ETag"]

    missing = admin.patch(url, json={"name": "Renamed"})
    assert missing.status_code == 428

    first = admin.patch(url, json={"name": "Renamed"}, headers={"If-Match": etag})
    assert first.status_code == 200
    assert first.get_json()["name"] == "Renamed" and first.headers["ETag"] != etag

    # A second client still holding the old ETag must not overwrite the first one's change.
    stale = admin.patch(url, json={"name": "Lost update"}, headers={"If-Match": etag})
    assert stale.status_code == 412
    assert stale.get_json()["current_etag"] == first.headers["ETag"]
    assert admin.get(url).get_json()["name"] == "Renamed"


def test_delete_refuses_a_record_still_in_use(as_role):
    admin = as_role("admin")
    customer = factories.customer(admin)
    factories.unit(admin, customer["id"])
    url = f"/api/v1/customers/{customer['id']}"
    response = admin.delete(url, headers={"If-Match": admin.get(url).headers["ETag"]})
    assert response.status_code == 409
    assert admin.get(url).status_code == 200


def test_delete_an_unused_record(as_role):
    admin = as_role("admin")
    part = factories.part(admin)
    url = f"/api/v1/parts/{part['id']}"
    assert admin.delete(url, headers={"If-Match": admin.get(url).headers["ETag"]}).status_code == 204
    assert admin.get(url).status_code == 404


def test_create_returns_location_and_etag(as_role):
    admin = as_role("admin")
    response = admin.post("/api/v1/parts", json={"part_number": "ALT-1", "name": "Alternator", "unit_price": "2380.5",
                                                  "serial_tracked": True})
    assert response.status_code == 201
    assert response.headers["ETag"] == '"1"'
    assert admin.get(response.headers["Location"]).get_json()["unit_price"] == "2380.50"


def test_barring_a_station_needs_a_reason_dsp_10(as_role):
    """rule DSP-10: a station can be barred from receiving work, with the reason kept."""
    admin = as_role("admin")
    station = factories.station(admin)
    url = f"/api/v1/stations/{station['id']}"
    etag = admin.get(url).headers["ETag"]
    refused = admin.patch(url, json={"may_receive_work": False}, headers={"If-Match": etag})
    assert refused.status_code == 422
    assert refused.get_json()["errors"][0]["field"] == "barred_reason"
    barred = admin.patch(url, json={"may_receive_work": False, "barred_reason": "falsified reports"},
                         headers={"If-Match": etag})
    assert barred.status_code == 200 and barred.get_json()["barred_reason"] == "falsified reports"


def test_technician_needs_a_user_with_the_technician_role(as_role, make_user):
    admin = as_role("admin")
    station = factories.station(admin)
    clerk = make_user("agent")
    response = admin.post("/api/v1/technicians", json={"user_id": clerk.id, "home_station_id": station["id"]})
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "user_id"


def test_users_are_created_with_several_roles_and_never_show_a_password(as_role):
    admin = as_role("admin")
    response = admin.post("/api/v1/users", json={"username": "zhao.lei", "password": "long-enough-pw",
                                                  "roles": ["supervisor", "warehouse"], "full_name": "Zhao Lei"})
    assert response.status_code == 201
    body = response.get_json()
    assert body["roles"] == ["supervisor", "warehouse"]
    assert not {"password", "password_hash"} & set(body)
    duplicate = admin.post("/api/v1/users", json={"username": "ZHAO.LEI", "password": "long-enough-pw",
                                                   "roles": ["agent"]})
    assert duplicate.status_code == 409
