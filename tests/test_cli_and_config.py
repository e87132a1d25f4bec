"""The `onsite` command and configuration, as an operator uses them."""

import secrets
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from backend.cli import cli
from backend.config import DEFAULT_SECRET_KEY, ConfigurationError, Settings
from backend.customers.models import Unit
from backend.stations.models import Station
from backend.technicians.models import Technician


@pytest.fixture
def run(database_url, tmp_path):
    def run(*args):
        env = {"ONSITE_DATABASE_URL": database_url, "ONSITE_INSTANCE_PATH": str(tmp_path / "instance")}
        result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
        return result

    return run


def _counts(session):
    session.rollback()
    return tuple(session.scalar(select(func.count()).select_from(m)) for m in (Station, Technician, Unit))


def test_demo_data_is_complete_and_idempotent(app, run, session, login, client):
    first = run("demo-data")
    assert first.exit_code == 0, first.output
    counts = _counts(session)
    assert counts[0] >= 5 and counts[1] == 30 and counts[2] >= 10
    assert "admin-demo-pass" in first.output
    assert first.output.strip().splitlines()[-1].startswith("demo data ready:")

    second = run("demo-data")
    assert second.exit_code == 0, second.output
    assert _counts(session) == counts
    assert "0 created" in second.output.strip().splitlines()[-1]

    token = client.post("/api/v1/auth/token", json={"username": "dispatcher", "password": "dispatcher-demo-pass"})
    assert token.status_code == 200 and token.get_json()["roles"] == ["dispatcher"]


def test_demo_sites_lie_both_within_and_beyond_100_km_of_a_station():
    """DSP-1/DSP-2 need both kinds of site to demonstrate; the demo data must provide them."""
    from geopy.distance import geodesic

    from backend.demo import STATIONS

    sites = {"Kaifeng": (34.797, 114.307), "Foshan": (23.0215, 113.1214), "Kashgar": (39.4704, 75.9898),
             "Lhasa": (29.65, 91.1)}
    nearest = {name: min(geodesic(site, (s[3], s[4])).km for s in STATIONS) for name, site in sites.items()}
    assert nearest["Kaifeng"] < 100 and nearest["Foshan"] < 100
    assert nearest["Kashgar"] > 100 and nearest["Lhasa"] > 100


def test_create_user_with_several_roles(app, run, client):
    result = run("create-user", "ops.lead", "--role", "dispatcher", "--role", "supervisor", "--password",
                 "long-enough-pw")
    assert result.exit_code == 0, result.output
    token = client.post("/api/v1/auth/token", json={"username": "ops.lead", "password": "long-enough-pw"})
    assert sorted(token.get_json()["roles"]) == ["dispatcher", "supervisor"]


def test_create_user_refuses_an_unknown_role_and_a_short_password(app, run):
    assert "unknown role" in run("create-user", "x1", "--role", "chef", "--password", "long-enough-pw").output
    assert "at least 8" in run("create-user", "x2", "--role", "agent", "--password", "short").output


def test_db_upgrade_is_repeatable(run):
    result = run("db", "upgrade")
    assert result.exit_code == 0 and "database at revision" in result.output


def test_openapi_command_writes_the_spec(run, tmp_path):
    target = tmp_path / "spec.json"
    assert run("openapi", "--output", str(target)).exit_code == 0
    assert '"openapi": "3.0.3"' in target.read_text()


def test_production_refuses_the_default_secret(tmp_path):
    with pytest.raises(ConfigurationError, match="default ONSITE_SECRET_KEY"):
        Settings(env="production", secret_key=DEFAULT_SECRET_KEY, instance_path=tmp_path)
    Settings(env="production", secret_key=secrets.token_urlsafe(48), instance_path=tmp_path)


def test_settings_come_from_onsite_environment_variables(tmp_path):
    settings = Settings.from_env({"ONSITE_SLA_RADIUS_KM": "80.5", "ONSITE_ACCESS_TOKEN_MINUTES": "5",
                                  "ONSITE_INSTANCE_PATH": str(tmp_path),
                                  "ONSITE_DATABASE_URL": "postgresql://u:p@db/onsite"})
    assert settings.sla_radius_km == 80.5 and settings.access_token_minutes == 5
    assert settings.database_url == "postgresql+psycopg://u:p@db/onsite"
    assert Settings.from_env({"ONSITE_INSTANCE_PATH": str(tmp_path)}).database_url == \
        f"sqlite:///{Path(tmp_path) / 'onsite.db'}"
    with pytest.raises(ConfigurationError, match="ONSITE_SLA_RADIUS_KM"):
        Settings.from_env({"ONSITE_SLA_RADIUS_KM": "far"})
    with pytest.raises(ConfigurationError):
        Settings.from_env({"ONSITE_ENV": "staging"})
