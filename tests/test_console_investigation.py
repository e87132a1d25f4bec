"""The investigation (INV-2) on the console's request page: quality and supervisors record and revise it (the
revision on the version the page showed), refusals come back beside the field and write nothing, and the other
readers see it without a form."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient

from backend.accounts.models import User
from tests import factories
from tests.console_support import Console, console_as
from tests.test_dispatch_support import Desk, desk, quick_passwords  # noqa: F401
from tests.test_investigation import BODY, path, settings  # noqa: F401

FORM = dict(BODY)


def _version(page: str) -> str:
    found = re.search(r'action="/requests/\d+/investigation">\s*<input[^>]*csrf_token[^>]*>\s*'
                      r'<input type="hidden" name="version" value="(\d+)">', page)
    assert found is not None
    return found.group(1)


def _record(console: Console, request: dict[str, Any], **changes: str) -> Any:
    return console.post(f"/requests/{request['id']}/investigation", FORM | changes)


def test_inv2_quality_records_and_revises_the_investigation(client: FlaskClient, make_user: Callable[..., User],
                                                            desk: Desk) -> None:  # noqa: F811
    request = desk.register()
    console = console_as(client, make_user("quality"))
    page = console.text(f"/requests/{request['id']}")
    assert "A quality complaint is not closed before its investigation is recorded." in page
    assert 'name="root_cause"' in page and '<option value="assembly"' in page
    assert _record(console, request).status_code == 302
    page = console.text(f"/requests/{request['id']}")
    start = page.index('data-testid="investigation"')
    shown = page[start:page.index("</dl>", start)]
    assert "assembly — Actuator hose routed against the hinge" in shown
    assert "A department: Manufacturing, assembly line 3" in shown and "The investigation was recorded." in page
    assert desk.agent.get(path(request)).get_json()["version"] == 1
    # A revision on the version the page showed goes through; a second one on the same page is refused as stale.
    version = _version(page)
    revised = _record(console, request, version=version, responsible_kind="supplier", responsible_department="",
                      responsible_supplier="Ningbo Valve Co.", reason="The hose was out of specification")
    assert revised.status_code == 302
    stale = _record(console, request, version=version, reason="Changed my mind")
    assert stale.status_code == 412 and "Someone else changed this" in stale.get_data(as_text=True)
    stored = desk.agent.get(path(request)).get_json()
    assert (stored["version"], stored["responsible_supplier"], stored["responsible_department"]) == (
        2, "Ningbo Valve Co.", None)


def test_inv2_refusals_are_shown_beside_the_field_and_nothing_is_written(client: FlaskClient,
                                                                         make_user: Callable[..., User],
                                                                         desk: Desk) -> None:  # noqa: F811
    request = desk.register()
    console = console_as(client, make_user("supervisor"))
    unnamed = _record(console, request, responsible_kind="supplier", responsible_department="")
    assert unnamed.status_code == 422
    assert re.search(r'id="investigation-responsible_supplier-error" role="alert">Name them: the responsible party '
                     r"chosen needs it\.", unnamed.get_data(as_text=True))
    unknown = _record(console, request, root_cause="gremlins")
    assert unknown.status_code == 422
    assert re.search(r'id="investigation-root_cause-error" role="alert">Choose one of the offered values\.',
                     unknown.get_data(as_text=True))
    # What was typed stays in the form.
    assert "Actuator hose routed against the hinge" in unknown.get_data(as_text=True)
    assert desk.agent.get(path(request)).status_code == 404


def test_inv2_other_readers_see_it_without_a_form(client: FlaskClient, make_user: Callable[..., User],
                                                  desk: Desk) -> None:  # noqa: F811
    request = desk.register()
    dispatcher = console_as(client, make_user("dispatcher"))
    assert 'id="investigation"' not in dispatcher.text(f"/requests/{request['id']}")
    assert _record(dispatcher, request).status_code == 403
    assert desk.login(make_user("quality")).put(path(request), json=BODY).status_code == 200
    page = dispatcher.text(f"/requests/{request['id']}")
    assert 'data-testid="investigation"' in page and 'action="/requests/' + str(request["id"]) + '/investigation"' \
        not in page


def test_inv2_nobody_on_the_crew_records_it(client: FlaskClient, make_user: Callable[..., User],
                                            desk: Desk) -> None:  # noqa: F811
    request = desk.register()
    working = make_user("technician", "supervisor", full_name="Li Ming")
    technician = factories.technician(desk.admin, working.id, desk.station["id"])
    assert desk.dispatch(request["id"], technician_ids=[technician["id"]]).status_code == 201
    console = console_as(client, working)
    page = console.text(f"/requests/{request['id']}")
    assert 'data-testid="four-eyes"' in page and f'action="/requests/{request["id"]}/investigation"' not in page
    assert _record(console, request).status_code == 403
    assert desk.agent.get(path(request)).status_code == 404
