"""Optimistic locking covers a resource's collections: a change to only a technician's skills, a user's roles or
stations, a report's lines or a request's deadlines still raises the version (the ETag), so a second edit sent
with the old, now stale, If-Match is refused (412) instead of silently overwriting the first (issue 10)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.accounts.models import User
from backend.dispatch.models import Deadline
from tests import factories
from tests.conftest import Api
from tests.test_dispatch_support import Desk, desk, etag, quick_passwords, settings  # noqa: F401
from tests.test_fieldwork_support import Field, complete_report, field, supervisor  # noqa: F401
from tests.test_parts_flow_support import REQUISITIONS, Yard, yard  # noqa: F401


def _patch_twice_with_one_etag(api: Api, url: str, first: dict[str, Any], second: dict[str, Any]) -> Any:
    """Two clients read the same version; the first edit must make the second one stale."""
    read = api.get(url)
    changed = api.patch(url, json=first, headers=etag(read))
    assert changed.status_code == 200, changed.get_json()
    assert changed.headers["ETag"] != read.headers["ETag"]
    assert changed.get_json()["version"] == read.get_json()["version"] + 1
    assert api.get(url).headers["ETag"] == changed.headers["ETag"]
    stale = api.patch(url, json=second, headers=etag(read))
    assert stale.status_code == 412, stale.get_json()
    return api.get(url).get_json()


def test_changing_only_a_technicians_skills_raises_its_version(as_role, make_user) -> None:  # type: ignore
    admin = as_role("admin")
    station = factories.station(admin)
    technician = factories.technician(admin, make_user("technician").id, station["id"], skills=["body"])
    url = f"/api/v1/technicians/{technician['id']}"
    after = _patch_twice_with_one_etag(admin, url, {"skills": ["body", "engine"]}, {"skills": ["electrics"]})
    assert after["skills"] == ["body", "engine"]


def test_changing_only_a_users_roles_raises_its_version(as_role, make_user) -> None:  # type: ignore
    admin = as_role("admin")
    url = f"/api/v1/users/{make_user('agent').id}"
    after = _patch_twice_with_one_etag(admin, url, {"roles": ["agent", "dispatcher"]}, {"roles": ["warehouse"]})
    assert after["roles"] == ["agent", "dispatcher"]


def test_changing_only_a_users_stations_raises_its_version(as_role, make_user,  # type: ignore
                                                        session: Session) -> None:
    """SCP-1's station set is a collection of the user, changed here below the API: the mechanism is the same
    for every owned collection, whichever endpoint changes it."""
    admin = as_role("admin")
    station = factories.station(admin)
    user = session.get(User, make_user("supervisor").id)
    version = user.version
    user.station_ids = [station["id"]]
    session.commit()
    assert user.version == version + 1
    user.station_ids = []
    session.commit()
    assert user.version == version + 2


def test_changing_only_a_reports_lines_raises_its_version(field: Field) -> None:
    field.to("on_site")
    body = complete_report(field.part["id"])
    assert field.write_report().status_code == 200
    read = field.report()
    only_a_line = body | {"part_lines": [body["part_lines"][0] | {"reason": "Valve leaks at the seal"}]}
    changed = field.lead.put(f"{field.url}/report", json=only_a_line, headers=etag(read))
    assert changed.status_code == 200, changed.get_json()
    assert changed.headers["ETag"] != read.headers["ETag"]
    stale = field.lead.put(f"{field.url}/report", json=body | {"compensation_lines": []}, headers=etag(read))
    assert stale.status_code == 412
    assert field.report().get_json()["part_lines"][0]["reason"] == "Valve leaks at the seal"


def test_editing_an_owned_row_alone_raises_its_owners_version(desk: Desk, session: Session) -> None:
    """A deadline edited by itself, its request not even loaded: the request's ETag still moves (DSP-1)."""
    request = desk.register()
    url = f"/api/v1/service-requests/{request['id']}"
    read = desk.dispatcher.get(url)
    deadline = session.scalars(select(Deadline).where(Deadline.service_request_id == request["id"])).first()
    deadline.due_at += timedelta(hours=1)
    session.commit()
    assert desk.dispatcher.get(url).headers["ETag"] != read.headers["ETag"]



def test_returning_parts_on_a_requisitions_lines_raises_its_version(yard: Yard) -> None:
    """PRT-6: a return changes only the lines' returned quantities; the requisition's ETag moves all the same."""
    requisition = yard.issued({"part_id": yard.filter_part["id"], "quantity": 2, "reason": "routine change"})
    url = f"{REQUISITIONS}/{requisition['id']}"
    before = yard.tech_api.get(url)
    returned = yard.tech_api.post(f"{url}/return-unused", json={"destination_location_id": yard.store,
                                                                  "lines": [{"line_no": 1, "quantity": 1}]})
    assert returned.status_code == 200, returned.get_json()
    after = yard.tech_api.get(url)
    assert after.get_json()["lines"][0]["returned_quantity"] == 1
    assert after.get_json()["status"] == before.get_json()["status"]
    assert after.headers["ETag"] == returned.headers["ETag"] != before.headers["ETag"]
