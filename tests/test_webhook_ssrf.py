"""Webhooks cannot be turned against the server's own network (issue 10, must-fix 7: SSRF).

A URL is resolved and refused when any address it resolves to is not public, at registration and again before
every delivery (DNS can change); the request goes to the address that was checked; redirects are not followed;
only the status line of an answer is kept. No test here sends anything beyond loopback: public names are answered
by a stand-in resolver, and the receiver listens on 127.0.0.1.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import func, select

from backend.config import ConfigurationError, Settings
from backend.notifications.service import Notice, notify
from backend.webhooks.egress import reachable
from backend.webhooks.models import Webhook
from tests.test_duties_support import Office, Receiver, office, quick_passwords, receiver  # noqa: F401

URL = "/api/v1/webhooks"
SECRET = "s3cret-shared-with-the-receiver"
EVENT = "sla.deadline_missed"
PUBLIC = "93.184.215.14"


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[list[str]]]:
    """A stand-in resolver: name -> queue of answers (each a list of addresses; the last answer repeats).
    Numeric hosts resolve as the system resolves them; other names do not resolve (conftest's no_dns)."""
    answers: dict[str, list[list[str]]] = {}
    numeric_only = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        if host not in answers:
            return numeric_only(host, port, *args, **kwargs)
        queue = answers[host]
        addresses = queue.pop(0) if len(queue) > 1 else queue[0]
        if not addresses:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [entry for address in addresses for entry in numeric_only(address, port, type=socket.SOCK_STREAM)]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers


@pytest.fixture
def allow_loopback(app, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """An on-premise deployment whose receiver is on this machine allows it with ONSITE_WEBHOOK_ALLOWED_NETWORKS."""
    onsite = app.extensions["onsite"]
    monkeypatch.setattr(onsite, "settings", replace(onsite.settings, webhook_allowed_networks="127.0.0.1/32"))


@pytest.fixture
def raise_event(app, clock) -> Callable[[], None]:  # type: ignore[no-untyped-def]
    keys = iter(range(1, 1000))

    def raise_() -> None:
        session = app.extensions["onsite"].new_session(writer=True)
        try:
            notify(session, [Notice(kind=EVENT, dedupe_key=f"event-{next(keys)}", role="manager", payload={})],
                   clock.now())
            session.commit()
        finally:
            session.close()

    return raise_


def _register(admin: Any, url: str) -> Any:
    return admin.post(URL, json={"url": url, "event_kinds": [EVENT], "secret": SECRET})


def _deliveries(admin: Any, hook: dict[str, Any]) -> list[dict[str, Any]]:
    return admin.get(f"{URL}/{hook['id']}/deliveries").get_json()


# --- registration ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("url", [
    "http://127.0.0.1/", "http://127.0.0.1:5000/api/v1/users",
    # loopback spelled as the resolver also reads it: hex, decimal, octal, shortened
    "http://0x7f000001/", "http://2130706433/", "http://0177.0.0.1/", "http://127.1/", "https://0x7f.1:8443/",
    "http://[::1]/", "http://[::ffff:127.0.0.1]/", "http://[::ffff:7f00:1]/", "http://[::127.0.0.1]/",
    "http://0.0.0.0/", "http://0/", "http://[::]/",
    # cloud metadata (link-local), private, carrier-grade NAT, unique-local, site-local, multicast, reserved
    "http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/", "http://10.0.0.5/", "http://172.16.0.1/",
    "http://192.168.1.1/", "http://100.64.0.1/", "http://[fc00::1]/", "http://[fd12:3456::1]/", "http://[fec0::1]/",
    "http://224.0.0.1/", "http://[ff02::1]/", "http://240.0.0.1/", "http://255.255.255.255/", "http://198.18.0.1/",
    # IPv6 forms that lead to a private IPv4 address: 6to4, NAT64
    "http://[2002:7f00:1::]/", "http://[2002:a00:1::]/", "http://[64:ff9b::a9fe:a9fe]/",
])
def test_a_url_that_leads_inside_is_refused_at_registration(as_role, dns, url: str) -> None:  # type: ignore
    response = _register(as_role("admin"), url)
    assert response.status_code == 422, response.get_json()
    [error] = response.get_json()["errors"]
    assert error["field"] == "url" and "not a public address" in error["detail"]


def test_a_name_is_refused_when_any_of_its_addresses_is_not_public(as_role, dns, session) -> None:  # type: ignore
    admin = as_role("admin")
    dns["inside.example.com"] = [["10.1.2.3"]]
    dns["both.example.com"] = [[PUBLIC, "127.0.0.1"]]
    dns["localhost.example.com"] = [["::1"]]
    for name in dns:
        response = _register(admin, f"https://{name}/hooks")
        assert response.status_code == 422 and response.get_json()["errors"][0]["field"] == "url"
    assert _register(admin, "https://nowhere.example.com/").get_json()["errors"][0]["detail"].startswith(
        "the host 'nowhere.example.com' does not resolve")
    assert session.scalar(select(func.count()).select_from(Webhook)) == 0


def test_a_public_receiver_is_accepted_and_a_change_to_an_inside_one_refused(as_role, dns) -> None:  # type: ignore
    admin = as_role("admin")
    dns["erp.example.com"] = [[PUBLIC, "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]]
    created = _register(admin, "https://erp.example.com/hooks/onsite")
    assert created.status_code == 201, created.get_json()
    moved = admin.patch(f"{URL}/{created.get_json()['id']}", json={"url": "http://2130706433/"},
                        headers={"If-Match": created.headers["ETag"]})
    assert moved.status_code == 422 and moved.get_json()["errors"][0]["field"] == "url"
    assert admin.get(f"{URL}/{created.get_json()['id']}").get_json()["url"] == "https://erp.example.com/hooks/onsite"


# --- delivery ----------------------------------------------------------------------------------------------------

def test_a_name_that_turns_inside_after_registration_gets_nothing(office: Office, dns, receiver: Receiver,  # noqa: F811
                                                                  raise_event) -> None:
    """DNS rebinding: public when registered, loopback when delivered to. The check is made again, and wins."""
    port = receiver.url.split(":")[2].split("/")[0]
    dns["rebind.example.com"] = [[PUBLIC], ["127.0.0.1"]]
    hook = _register(office.admin, f"http://rebind.example.com:{port}/hooks/onsite").get_json()
    raise_event()
    assert office.run("webhooks") == {"delivered": 0, "to_retry": 1, "given_up": 0}
    assert receiver.requests == []
    [delivery] = _deliveries(office.admin, hook)
    assert delivery["last_status_code"] is None
    assert delivery["last_error"].startswith("refused: the host 'rebind.example.com' is 127.0.0.1")


def test_the_request_goes_to_the_address_that_was_checked(office: Office, dns, receiver: Receiver,  # noqa: F811
                                                          allow_loopback, raise_event) -> None:
    """One resolution per attempt, checked and then connected to; the name still goes out as the Host header.
    A second lookup (a re-resolution when connecting) would find no such host and the delivery would fail."""
    port = receiver.url.split(":")[2].split("/")[0]
    dns["erp.example.com"] = [["127.0.0.1"], ["127.0.0.1"], []]  # registration, the delivery's check, then gone
    hook = _register(office.admin, f"http://erp.example.com:{port}/hooks/onsite?source=onsite").get_json()
    raise_event()
    assert office.run("webhooks") == {"delivered": 1, "to_retry": 0, "given_up": 0}
    [request] = receiver.requests
    assert request["headers"]["Host"] == f"erp.example.com:{port}"
    assert request["path"] == "/hooks/onsite?source=onsite"
    assert _deliveries(office.admin, hook)[0]["status"] == "delivered"


def test_loopback_stays_refused_at_delivery_without_the_setting(office: Office, dns, receiver: Receiver,  # noqa: F811
                                                                allow_loopback, raise_event, monkeypatch) -> None:
    """Registered while the operator allowed loopback, delivered after the setting was taken away."""
    hook = _register(office.admin, receiver.url).get_json()
    onsite = office.app.extensions["onsite"]
    monkeypatch.setattr(onsite, "settings", replace(onsite.settings, webhook_allowed_networks=""))
    raise_event()
    assert office.run("webhooks")["to_retry"] == 1
    assert receiver.requests == []
    assert "not a public address" in _deliveries(office.admin, hook)[0]["last_error"]


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_recorded_not_followed(office: Office, receiver: Receiver, allow_loopback,  # noqa: F811
                                             raise_event, status: int) -> None:
    """The receiver redirects; the answer is the outcome (a failure), and nothing is sent where it points."""
    hook = _register(office.admin, receiver.url).get_json()
    receiver.statuses = [status]
    raise_event()
    assert office.run("webhooks")["to_retry"] == 1
    assert len(receiver.requests) == 1
    [delivery] = _deliveries(office.admin, hook)
    assert delivery["last_status_code"] == status and delivery["last_error"].startswith(f"HTTP {status} ")


def test_only_the_status_line_of_an_answer_is_kept(office: Office, receiver: Receiver, allow_loopback,  # noqa: F811
                                                   raise_event) -> None:
    """What answers at the URL cannot be read back through the delivery log (the receiver's body says
    "status 500 from the receiver")."""
    hook = _register(office.admin, receiver.url).get_json()
    receiver.statuses = [500]
    raise_event()
    office.run("webhooks")
    [delivery] = _deliveries(office.admin, hook)
    assert delivery["last_error"] == "HTTP 500 Internal Server Error"
    assert "from the receiver" not in str(delivery)


# --- the address rules and the setting ---------------------------------------------------------------------------

@pytest.mark.parametrize(("address", "public"), [
    ("93.184.215.14", True), ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", True), ("1.1.1.1", True),
    ("::ffff:93.184.215.14", True), ("64:ff9b::5db8:d70e", True), ("2002:5db8:d70e::1", True),
    ("127.0.0.1", False), ("::ffff:10.0.0.1", False), ("64:ff9b::7f00:1", False), ("100.127.255.254", False),
    ("192.0.0.1", False), ("192.0.2.1", False), ("203.0.113.9", False), ("2001:db8::1", False), ("::", False),
])
def test_which_addresses_are_public(address: str, public: bool) -> None:
    assert reachable(ipaddress.ip_address(address)) is public


def test_allowed_networks_open_exactly_those_networks() -> None:
    allowed = Settings(webhook_allowed_networks="10.20.0.0/16, fd00:1::/64").webhook_networks
    assert reachable(ipaddress.ip_address("10.20.3.4"), allowed)
    assert reachable(ipaddress.ip_address("::ffff:10.20.3.4"), allowed)
    assert reachable(ipaddress.ip_address("fd00:1::5"), allowed)
    assert not reachable(ipaddress.ip_address("10.21.0.1"), allowed)
    assert not reachable(ipaddress.ip_address("169.254.169.254"), allowed)
    with pytest.raises(ConfigurationError, match="ONSITE_WEBHOOK_ALLOWED_NETWORKS"):
        Settings.from_env({"ONSITE_WEBHOOK_ALLOWED_NETWORKS": "10.0.0.0/33"})
