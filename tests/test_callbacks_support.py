"""Arrangements shared by the callback and KPI tests (no tests in here): jobs are put straight into the database
with the state a test needs, as the job lifecycle's own tests cover how they get there."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from geopy.distance import geodesic
from sqlalchemy.orm import Session

from backend.dispatch.models import Job, JobTechnician
from tests import factories
from tests.conftest import Api
from tests.test_duties_support import GUANGZHOU, ZHENGZHOU, Office, office, quick_passwords, settings  # noqa: F401


@dataclass
class Field:
    """The office (stations at Zhengzhou and Guangzhou, a customer with a unit, an agent) and a technician at each
    station."""

    office: Office
    session: Session
    zz_tech: int
    gz_tech: int

    def request(self, *, near: tuple[float, float] = ZHENGZHOU, **overrides: Any) -> dict[str, Any]:
        site = geodesic(kilometers=20).destination(near, 90.0)
        return self.office.register(site_latitude=site.latitude, site_longitude=site.longitude, **overrides)

    def job(self, request: dict[str, Any], *, technician: int, done_at: datetime | None,
            status: str = "work_done", helpers: tuple[int, ...] = ()) -> int:
        """A job of `request` led by `technician`, its work done at `done_at`."""
        job = Job(service_request_id=request["id"], status=status, assigned_at=done_at or self.office_now(),
                  work_done_at=done_at, crew=[JobTechnician(technician_id=technician, is_lead=True),
                                              *(JobTechnician(technician_id=h, is_lead=False) for h in helpers)])
        self.session.add(job)
        self.session.commit()
        return job.id

    def office_now(self) -> datetime:
        return self.office.app.extensions["onsite"].clock.now()

    def technician(self, station: dict[str, Any]) -> int:
        user = self.office.make_user("technician")
        return factories.technician(self.office.admin, user.id, station["id"])["id"]


@pytest.fixture
def field(office: Office, session: Session) -> Field:  # noqa: F811
    made = Field(office=office, session=session, zz_tech=0, gz_tech=0)
    made.zz_tech, made.gz_tech = made.technician(office.zhengzhou), made.technician(office.guangzhou)
    return made


def callbacks(api: Api, **query: Any) -> list[dict[str, Any]]:
    response = api.get("/api/v1/callbacks", query_string=query)
    assert response.status_code == 200, response.get_json()
    return response.get_json()
