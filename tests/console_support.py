"""Driving the console with Flask's test client: sign in through the form, post forms with their CSRF token
(no tests in here)."""

from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient

from backend.accounts.models import User
from tests.conftest import PASSWORD

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Console:
    """A browser's view of the console: one cookie jar, forms posted with the page's CSRF token."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def csrf_token(self) -> str:
        page = self.client.get("/sign-in").get_data(as_text=True)
        found = _CSRF.search(page)
        if found is None:  # signed in: /sign-in redirects; any console page carries the token in its header
            found = _CSRF.search(self.client.get("/inbox").get_data(as_text=True))
        assert found is not None
        return found.group(1)

    def sign_in(self, user: User | str, password: str = PASSWORD, **extra: str) -> Any:
        username = user if isinstance(user, str) else user.username
        return self.post("/sign-in", {"username": username, "password": password, **extra})

    def get(self, url: str, **kwargs: Any) -> Any:
        return self.client.get(url, **kwargs)

    def post(self, url: str, data: dict[str, Any] | None = None, *, csrf: bool = True, **kwargs: Any) -> Any:
        data = dict(data or {})
        if csrf:
            data.setdefault("csrf_token", self.csrf_token())
        return self.client.post(url, data=data, **kwargs)

    def text(self, url: str) -> str:
        response = self.get(url)
        assert response.status_code == 200, (response.status_code, response.get_data(as_text=True)[:2000])
        return response.get_data(as_text=True)


def console_as(client: FlaskClient, user: User) -> Console:
    console = Console(client)
    response = console.sign_in(user)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return console
