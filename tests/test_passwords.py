"""Passwords an attacker tries first are refused on every path that sets one (issue 10 §3): the 10,000 most common
passwords, the username itself, and anything shorter than ONSITE_PASSWORD_MIN_LENGTH."""

from dataclasses import replace

import pytest
from click.testing import CliRunner

from backend.accounts.service import check_password
from backend.app import create_app
from backend.cli import cli
from backend.demo import DEMO_USERS, TECHNICIAN_PASSWORD
from backend.errors import DomainError
from tests.conftest import PASSWORD, Api

REFUSED = [
    ("password1", "most common"),
    ("Iloveyou1", "most common"),  # case does not matter
    ("  qwerty123 ", "most common"),
    ("Ops.Lead.7", "the username"),
    ("short", "at least 8"),
]


def _password_error(response):
    assert response.status_code == 422, response.get_json()
    [error] = response.get_json()["errors"]
    assert error["field"] == "password"
    return error["detail"]


@pytest.mark.parametrize(("password", "reason"), REFUSED)
def test_creating_a_user_refuses_a_guessable_password(as_role, password, reason):
    admin = as_role("admin")
    response = admin.post("/api/v1/users", json={"username": "ops.lead.7", "password": password, "roles": ["agent"]})
    assert reason in _password_error(response)
    assert admin.get("/api/v1/users?q=ops.lead").get_json() == []


@pytest.mark.parametrize(("password", "reason"), REFUSED)
def test_changing_a_password_refuses_a_guessable_one_and_changes_nothing(client, make_user, login, as_role,
                                                                         password, reason):
    user = make_user("agent", username="Ops.Lead.7")
    api = login(user)
    admin = as_role("admin")
    url = f"/api/v1/users/{user.id}"
    etag = admin.get(url).headers["ETag"]

    response = admin.patch(url, json={"password": password}, headers={"If-Match": etag})

    assert reason in _password_error(response)
    assert admin.get(url).headers["ETag"] == etag
    assert api.get("/api/v1/me").status_code == 200  # the old sessions were not ended either
    assert client.post("/api/v1/auth/token", json={"username": user.username, "password": PASSWORD}
                       ).status_code == 200


def test_the_minimum_length_is_a_setting_and_the_schema_does_not_override_it(app, settings, clock, make_user):
    for minimum, password, status in ((12, "eleven-char", 422), (12, "twelve-chars", 201), (6, "six-ch", 201)):
        configured = create_app(replace(settings, password_min_length=minimum), clock=clock)
        try:
            client = configured.test_client()
            admin = make_user("admin")
            token = client.post("/api/v1/auth/token", json={"username": admin.username, "password": PASSWORD})
            api = Api(client, token.get_json()["access_token"])
            response = api.post("/api/v1/users", json={"username": f"new.{minimum}.{len(password)}",
                                                       "password": password, "roles": ["agent"]})
            assert response.status_code == status, (minimum, password, response.get_json())
            if status == 422:
                assert f"at least {minimum} characters" in _password_error(response)
        finally:
            configured.extensions["onsite"].engine.dispose()


@pytest.fixture
def run(database_url, tmp_path):
    def run(*args, **env):
        env = {"ONSITE_DATABASE_URL": database_url, "ONSITE_INSTANCE_PATH": str(tmp_path / "instance"), **env}
        return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)

    return run


def test_create_user_on_the_command_line_refuses_guessable_passwords(app, run, client):
    common = run("create-user", "wang.fang", "--role", "agent", "--password", "Password123")
    assert common.exit_code != 0 and "password: is one of the 10,000 most common passwords" in common.output
    own_name = run("create-user", "wang.fang", "--role", "agent", "--password", "WANG.FANG")
    assert own_name.exit_code != 0 and "password: must not be the username" in own_name.output
    too_short = run("create-user", "wang.fang", "--role", "agent", "--password", "long-enough-pw",
                    ONSITE_PASSWORD_MIN_LENGTH="20")
    assert too_short.exit_code != 0 and "at least 20 characters" in too_short.output
    assert client.post("/api/v1/auth/token", json={"username": "wang.fang", "password": "Password123"}
                       ).status_code == 401
    assert run("create-user", "wang.fang", "--role", "agent", "--password", "long-enough-pw").exit_code == 0


def test_the_demo_and_test_passwords_pass_the_rules():
    for username, password in [(u, p) for u, p, *_ in DEMO_USERS] + [("tech01", TECHNICIAN_PASSWORD),
                                                                      ("user1", PASSWORD)]:
        check_password(password, username=username, min_length=8)
    with pytest.raises(DomainError):
        check_password("dispatcher", username="dispatcher", min_length=8)
