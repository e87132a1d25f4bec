"""Arrangements shared by the job lifecycle and report tests (no tests in here): a dispatched job and its crew."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from typing import Any

import pytest
from PIL import Image

from backend.parts.models import Part
from backend.parts.stock.ledger import DocumentRef
from backend.parts.stock.service import central_store, issue_to_van, receive_goods, van_of
from tests import factories
from tests.conftest import START, Api
from tests.test_dispatch_support import ZHENGZHOU, Desk, etag

ON_SITE_AT = {"latitude": ZHENGZHOU[0], "longitude": ZHENGZHOU[1] + 0.01, "accuracy_m": 8.0}


def png(width: int = 40, height: int = 20, colour: str = "black") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@dataclass
class Field:
    """One job dispatched to a lead technician (and a crew mate when asked), the office around it."""

    desk: Desk
    supervisor: Api
    request: dict[str, Any]
    job: dict[str, Any]
    lead: Api
    lead_technician: dict[str, Any]
    part: dict[str, Any]

    @property
    def url(self) -> str:
        return f"/api/v1/jobs/{self.job['id']}"

    def act(self, action: str, api: Api | None = None, **body: Any) -> Any:
        return (api or self.lead).post(f"{self.url}/{action}", json=body)

    def to(self, state: str) -> None:
        """Walks the job forward through the app's happy path to `state`."""
        steps = [("accept", {}), ("depart", {}), ("arrive", {"position": ON_SITE_AT}), ("work-done", {}),
                 ("report", {}), ("sign-off", {}), ("report/submit", {})]
        reached = {"accepted": 1, "en_route": 2, "on_site": 3, "work_done": 4, "signed": 6, "submitted": 7}[state]
        for action, body in steps[:reached]:
            if action == "report":
                response = self.write_report()
            elif action == "sign-off":
                response = self.sign()
            else:
                response = self.act(action, **body)
            assert response.status_code in (200, 201), (action, response.get_json())

    def report(self, api: Api | None = None) -> Any:
        return (api or self.lead).get(f"{self.url}/report")

    def write_report(self, api: Api | None = None, **overrides: Any) -> Any:
        current = self.report(api)
        return (api or self.lead).put(f"{self.url}/report", json=complete_report(self.part["id"]) | overrides,
                                      headers=etag(current))

    def sign(self, api: Api | None = None, image: bytes | None = None, **overrides: Any) -> Any:
        current = self.report(api)
        body = {"signer_name": "Wang Li", "signature_image": b64(image or png()), "satisfaction": 5,
                "customer_comments": "Fixed quickly", "latitude": ON_SITE_AT["latitude"],
                "longitude": ON_SITE_AT["longitude"]} | overrides
        return (api or self.lead).post(f"{self.url}/report/sign-off", json=body, headers=etag(current))


def stock_van(desk: Desk, technician_id: int, part_id: int, quantity: int = 5) -> None:
    """Parts on the technician's van, as the warehouse would have issued them (the parts flow's own tests cover
    requisitions): a report line consumes them at sign-off (PRT-4)."""
    session = desk.session
    receive_goods(session, {"supplier": "Test supplier", "lines": [{"part_id": part_id, "quantity": quantity}]},
                  actor_id=None, now=START)
    issue_to_van(session, part=session.get(Part, part_id), quantity=quantity, source=central_store(session),
                 van=van_of(session, technician_id), document=DocumentRef("test", "stocking"), actor_id=None,
                 now=START)
    session.commit()


def complete_report(part_id: int) -> dict[str, Any]:
    """Everything the customer signs for (JOB-3), with one covered part line (REP-1, WAR-2, PRT-4)."""
    return {"operating_hours": 1200, "mileage_km": 48000, "usage_history": "City bus, two shifts a day",
            "fault_history": "Door stuck twice last week", "within_warranty": True,
            "warranty_reason": "Within 2 years and 100,000 km", "disassembled_before": False,
            "root_cause": "Door actuator valve worn", "responsibility": "supplier",
            "work_done": "Replaced the door actuator valve; tested 20 cycles",
            "part_lines": [{"part_id": part_id, "quantity": 1, "reason": "Valve leaks", "covered_by_warranty": True,
                            "new_serial": None, "old_serial": "OLD-1"}],
            "compensation_lines": []}


@pytest.fixture
def supervisor(desk: Desk) -> Api:
    return desk.login(desk.make_user("supervisor", station_id=desk.station["id"]))


@pytest.fixture
def field(desk: Desk, supervisor: Api) -> Field:
    request = desk.register(km=30)
    lead = desk.technician(position=ZHENGZHOU)
    response = desk.dispatch(request["id"], technician_ids=[lead["id"]])
    assert response.status_code == 201, response.get_json()
    part = factories.part(desk.admin)
    stock_van(desk, lead["id"], part["id"])
    return Field(desk=desk, supervisor=supervisor, request=request, job=response.get_json(),
                 lead=desk.as_technician(lead), lead_technician=lead, part=part)
