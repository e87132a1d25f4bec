"""Builders for master data through the API, with sensible defaults a test can override."""

from __future__ import annotations

import itertools
from typing import Any

_seq = itertools.count(1)


def create(api: Any, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = api.post(path, json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def station(api: Any, **overrides: Any) -> dict[str, Any]:
    n = next(_seq)
    body = {"code": f"ST{n}", "name": f"Station {n}", "address": f"{n} Service Road", "latitude": 34.7466,
            "longitude": 113.6254} | overrides
    return create(api, "/api/v1/stations", body)


def customer(api: Any, **overrides: Any) -> dict[str, Any]:
    n = next(_seq)
    return create(api, "/api/v1/customers", {"name": f"Customer {n}", "contact_person": "Sun Hao",
                                             "phones": ["+86 371 2356 0001"]} | overrides)


def unit(api: Any, customer_id: int, **overrides: Any) -> dict[str, Any]:
    n = next(_seq)
    return create(api, "/api/v1/units", {"customer_id": customer_id, "model": "C12 coach",
                                         "serial_number": f"SN{n:06d}"} | overrides)


def part(api: Any, **overrides: Any) -> dict[str, Any]:
    n = next(_seq)
    return create(api, "/api/v1/parts", {"part_number": f"P-{n}", "name": f"Part {n}", "unit_price": "12.50"}
                  | overrides)


def technician(api: Any, user_id: int, home_station_id: int, **overrides: Any) -> dict[str, Any]:
    return create(api, "/api/v1/technicians", {"user_id": user_id, "home_station_id": home_station_id,
                                               "skills": ["body"], "on_shift": True} | overrides)
