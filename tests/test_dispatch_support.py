"""Arrangements shared by the service request and dispatch tests (no tests in here)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from geopy.distance import geodesic
from sqlalchemy import update
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from backend.accounts import service as accounts_service
from backend.config import Settings
from backend.technicians.models import Technician
from tests import factories
from tests.conftest import Api

ZHENGZHOU = (34.7466, 113.6254)


def site(km: float, bearing: float = 90.0, origin: tuple[float, float] = ZHENGZHOU) -> dict[str, float]:
    """A site exactly `km` (geodesic, WGS-84) from `origin`."""
    point = geodesic(kilometers=km).destination(origin, bearing)
    return {"site_latitude": point.latitude, "site_longitude": point.longitude}


@dataclass
class Desk:
    """The office: one user per role, a station at Zhengzhou, a customer with a unit."""

    admin: Api
    agent: Api
    dispatcher: Api
    manager: Api
    station: dict[str, Any]
    customer: dict[str, Any]
    unit: dict[str, Any]
    make_user: Callable[..., Any]
    login: Callable[..., Api]
    session: Session

    def intake_body(self, km: float = 50.0, bearing: float = 90.0, origin: tuple[float, float] = ZHENGZHOU,
                    **overrides: Any) -> dict[str, Any]:
        """A request whose site is `km` from `origin` (by default: east of the Zhengzhou station)."""
        return {"customer_id": self.customer["id"], "unit_id": self.unit["id"], "site_address": "Depot 3",
                **site(km, bearing, origin), "fault_description": "Rear door will not close",
                "fault_category": "body", "channel": "phone", "complaint_class": "quality",
                "supplier_needed": False} | overrides

    def register(self, km: float = 50.0, **overrides: Any) -> dict[str, Any]:
        response = self.agent.post("/api/v1/service-requests", json=self.intake_body(km, **overrides))
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    def technician(self, *, position: tuple[float, float] | None = None, station: dict[str, Any] | None = None,
                   name: str | None = None, **overrides: Any) -> dict[str, Any]:
        """A technician (on shift, skill `body` by default), last seen at `position` or never."""
        user = self.make_user("technician", full_name=name)
        tech = factories.technician(self.admin, user.id, (station or self.station)["id"], **overrides)
        if position is not None:
            self.place(tech["id"], position)
        tech["user"] = user
        return tech

    def place(self, technician_id: int, position: tuple[float, float]) -> None:
        self.session.execute(update(Technician).where(Technician.id == technician_id)
                             .values(last_latitude=position[0], last_longitude=position[1]))
        self.session.commit()

    def as_technician(self, tech: dict[str, Any]) -> Api:
        return self.login(tech["user"])

    def dispatch(self, request_id: int, **body: Any) -> Any:
        return self.dispatcher.post(f"/api/v1/service-requests/{request_id}/dispatch", json=body)


@pytest.fixture(autouse=True)
def quick_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test here signs in several people; scrypt's deliberate 0.3 s per hash is not what is under test."""
    monkeypatch.setattr(accounts_service, "generate_password_hash",
                        partial(generate_password_hash, method="pbkdf2:sha256:1"))


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """As conftest's, but the SLA tests move the clock by days and the sign-ins must outlive that."""
    return Settings(env="testing", database_url=database_url, instance_path=tmp_path / "instance",
                    access_token_minutes=400 * 24 * 60)


@pytest.fixture
def desk(as_role: Callable[..., Api], make_user: Callable[..., Any], login: Callable[..., Api],
         session: Session) -> Desk:
    admin = as_role("admin")
    station = factories.station(admin, code="ZZ", latitude=ZHENGZHOU[0], longitude=ZHENGZHOU[1])
    customer = factories.customer(admin)
    unit = factories.unit(admin, customer["id"])
    return Desk(admin=admin, agent=as_role("agent"), dispatcher=as_role("dispatcher"), manager=as_role("manager"),
                station=station, customer=customer, unit=unit, make_user=make_user, login=login, session=session)


def etag(response: Any) -> dict[str, str]:
    return {"If-Match": response.headers["ETag"]}
