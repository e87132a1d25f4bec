"""The `onsite` command. Every subcommand reads its settings (ONSITE_DATABASE_URL, ...) from the environment."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from sqlalchemy.orm import Session

from backend.config import ConfigurationError, Settings

DEFAULT_SPEC_PATH = Path("openapi/openapi.json")


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group()
def cli() -> None:
    """Onsite: field-service dispatch and mobile-technician backend."""


@cli.group("db")
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
@click.option("--revision", default="heads", show_default=True)
def db_upgrade(revision: str) -> None:
    """Migrate the database schema (creates the database file on SQLite)."""
    from backend import migrate

    settings = _settings()
    settings.instance_path.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(settings.database_url, revision)
    click.echo(f"database at revision {migrate.current_head(settings.database_url)}")


@cli.command("create-user")
@click.argument("username")
@click.option("--role", "roles", multiple=True, required=True, help="Repeat for several roles.")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--full-name", default=None)
def create_user(username: str, roles: tuple[str, ...], password: str, full_name: str | None) -> None:
    """Create a user account with one or more roles."""
    from backend.accounts.service import create_user as create
    from backend.errors import DomainError

    app = _app()
    with _cli_session(app, "create-user") as session:
        try:
            user = create(session, username=username, password=password, roles=list(roles), full_name=full_name)
        except DomainError as exc:
            raise click.ClickException(f"{exc.field}: {exc.detail}") from exc
        session.commit()
        click.echo(f"created user {user.username} (id {user.id}) with roles {', '.join(user.roles)}")


@cli.command("demo-data")
def demo_data() -> None:
    """Load demo stations, technicians, customers, units, parts and one user per role (idempotent)."""
    from backend.demo import load_demo_data

    app = _app()
    with _cli_session(app, "demo-data") as session:
        summary = load_demo_data(session, progress=lambda message: click.echo(f"  {message}"))
        session.commit()
    click.echo("demo users (username / password):")
    for username, password, roles in summary.credentials:
        click.echo(f"  {username:<16} {password:<22} {', '.join(roles)}")
    click.echo(summary.line())


@cli.command("openapi")
@click.option("--output", type=click.Path(path_type=Path), default=DEFAULT_SPEC_PATH, show_default=True)
def openapi(output: Path) -> None:
    """Write the OpenAPI document generated from the code."""
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render_openapi(), encoding="utf-8")
    click.echo(f"wrote {output}")


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--production", is_flag=True, help="Run under gunicorn with several worker processes.")
@click.option("--workers", default=None, type=int, help="gunicorn workers (default: 2 x CPUs + 1).")
def serve(host: str, port: int, production: bool, workers: int | None) -> None:
    """Serve the API (development server, or gunicorn with --production)."""
    if production:
        _serve_gunicorn(host, port, workers or (2 * (os.cpu_count() or 1) + 1))
        return
    app = _app()
    click.echo(f"Onsite on http://{host}:{port}  (API docs: http://{host}:{port}/docs)")
    app.run(host=host, port=port, threaded=True, use_reloader=False)


def _serve_gunicorn(host: str, port: int, workers: int) -> None:
    from gunicorn.app.base import BaseApplication

    settings = _settings()

    class OnsiteGunicorn(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("accesslog", "-")

        def load(self):  # type: ignore[no-untyped-def]
            from backend.app import create_app

            return create_app(settings)

    click.echo(f"Onsite (gunicorn, {workers} workers) on http://{host}:{port}")
    OnsiteGunicorn().run()


def render_openapi() -> str:
    app = _app(Settings.from_env(database_url="sqlite://"))
    spec = app.extensions["flask-smorest"]["apis"][""]["ext_obj"].spec.to_dict()
    return json.dumps(spec, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _app(settings: Settings | None = None):  # type: ignore[no-untyped-def]
    from backend.app import create_app

    return create_app(settings or _settings())


@contextmanager
def _cli_session(app, action: str) -> Iterator[Session]:  # type: ignore[no-untyped-def]
    """A write session for a command, audited as the command's own action."""
    from backend.audit.recorder import AuditContext, set_audit_context

    session = app.extensions["onsite"].new_session(writer=True)
    actor = f"cli:{os.environ.get('USER', 'unknown')}"
    set_audit_context(session, AuditContext(actor_user_id=None, actor_name=actor, action=f"onsite {action}"))
    try:
        yield session
    finally:
        session.close()
