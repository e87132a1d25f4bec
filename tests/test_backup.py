"""`onsite backup` and `onsite restore` (issue 12, item 7): a backup taken while the API keeps writing restores
every acknowledged row, every photo and every report seal (REP-3); nothing is ever overwritten; the backup is
owner-only and says that it holds secrets."""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask
from sqlalchemy import make_url, select, text

from backend import migrate
from backend.app import create_app
from backend.backup import service
from backend.backup.service import BackupError
from backend.cli import cli
from backend.clock import ManualClock
from backend.config import Settings
from backend.db import make_engine
from backend.dispatch.models import Job, ServiceRequest
from backend.reports.service import current_report, verify
from tests.conftest import START, Api
from tests.test_dispatch_support import desk, quick_passwords, settings  # noqa: F401
from tests.test_fieldwork_support import Field, field, png, supervisor  # noqa: F401

_restore_targets = itertools.count(1)


@pytest.fixture
def empty_database(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A database with nothing in it to restore into: a new SQLite file, or a new PostgreSQL database."""
    if not database_url.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'restored' / 'onsite.db'}"
        return
    server = make_url(database_url)
    name = f"{server.database}_restore_{next(_restore_targets)}"
    admin = make_engine(server.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield server.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def restored_settings(settings: Settings, empty_database: str, tmp_path: Path) -> Settings:
    return replace(settings, database_url=empty_database, instance_path=tmp_path / "restored")


def _photo(field: Field, colour: str) -> bytes:
    image = png(colour=colour)
    response = field.lead.post(f"{field.url}/photos", data={"file": (io.BytesIO(image), f"{colour}.png")},
                               content_type="multipart/form-data")
    assert response.status_code == 201, response.get_json()
    return image


def _signed_with_photos(field: Field) -> list[bytes]:
    """The job on site, two photos taken, the report written and signed by the customer (sealed, REP-3)."""
    field.to("on_site")
    photos = [_photo(field, "red"), _photo(field, "green")]
    assert field.act("work-done").status_code == 200
    assert field.write_report().status_code == 200
    assert field.sign().status_code == 200
    return photos


class Writer(threading.Thread):
    """An agent registering service requests through the API, one after another, recording each 201."""

    def __init__(self, app: Flask, field: Field) -> None:
        super().__init__(daemon=True)
        self.api = Api(app.test_client(), field.desk.agent.token)
        self.body = field.desk.intake_body(km=20)
        self.acknowledged: list[int] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            response = self.api.post("/api/v1/service-requests", json=self.body)
            if response.status_code == 201:
                self.acknowledged.append(response.get_json()["id"])

    def wait_for(self, more: int) -> None:
        """Until `more` further writes have been acknowledged."""
        wanted = len(self.acknowledged) + more
        deadline = time.monotonic() + 30
        while len(self.acknowledged) < wanted:
            assert time.monotonic() < deadline, "the API stopped acknowledging writes during the backup"
            time.sleep(0.005)


def test_a_backup_taken_under_write_load_restores_every_acknowledged_row_photo_and_seal(
        app: Flask, field: Field, settings: Settings, restored_settings: Settings, clock: ManualClock,
        tmp_path: Path, is_postgres: bool) -> None:
    photos = _signed_with_photos(field)
    writer = Writer(app, field)
    writer.start()
    try:
        writer.wait_for(5)
        before_backup = set(writer.acknowledged)
        # Every step of the backup waits for further acknowledged writes: the app writes all through it.
        service.backup(settings, tmp_path / "backup", now=clock.now(), progress=lambda _message: writer.wait_for(2))
        during_backup = set(writer.acknowledged) - before_backup
        writer.wait_for(2)
    finally:
        writer.stop.set()
        writer.join()
    assert len(during_backup) >= 2

    service.restore(restored_settings, tmp_path / "backup", progress=lambda _message: None)

    restored = create_app(restored_settings, clock=clock)
    session = restored.extensions["onsite"].new_session()
    try:
        requests = set(session.scalars(select(ServiceRequest.id)))
        assert before_backup <= requests  # every row acknowledged before the backup began
        assert requests <= set(writer.acknowledged) | {field.request["id"]}  # and nothing nobody wrote
        job = session.get(Job, field.job["id"])
        assert job is not None
        onsite = restored.extensions["onsite"]
        verdict = verify(job, current_report(session, job), signer=onsite.signer, store=onsite.media)
        assert verdict.valid, verdict.reason
    finally:
        session.close()
    lead = Api(restored.test_client(), field.lead.token)
    listed = lead.get(f"{field.url}/photos").get_json()
    assert [hashlib.sha256(lead.get(f"{field.url}/photos/{p['id']}/content").data).hexdigest() for p in listed] \
        == [hashlib.sha256(image).hexdigest() for image in photos]
    assert lead.get(f"{field.url}/report/verify").get_json()["valid"] is True
    if not is_postgres:  # PostgreSQL checks every foreign key as pg_restore adds its constraint
        with sqlite3.connect(make_url(restored_settings.database_url).database) as db:
            assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    restored.extensions["onsite"].engine.dispose()


def _modes(root: Path) -> set[tuple[str, int]]:
    return {("dir" if path.is_dir() else "file", stat.S_IMODE(path.stat().st_mode))
            for path in [root, *root.rglob("*")]}


def test_the_backup_is_owner_only_and_its_manifest_says_what_it_holds(
        app: Flask, field: Field, settings: Settings, clock: ManualClock, tmp_path: Path) -> None:
    photos = _signed_with_photos(field)
    signature = field.report().get_json()["signature_sha256"]
    previous = os.umask(0o022)  # a common umask, which would leave new files world-readable
    try:
        outcome = service.backup(settings, tmp_path / "backup", now=clock.now(), progress=lambda _message: None)
    finally:
        os.umask(previous)

    assert _modes(tmp_path / "backup") == {("dir", 0o700), ("file", 0o600)}
    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
    assert (manifest["format"], manifest["format_version"], manifest["created_at"]) == (
        "onsite-backup", 1, START.isoformat())
    database = manifest["database"]
    assert database["kind"] == ("postgresql" if settings.database_url.startswith("postgresql") else "sqlite")
    assert database["alembic_revision"] == migrate.current_head(settings.database_url)
    assert (database["tables"]["service_requests"], database["tables"]["jobs"], database["tables"]["job_photos"],
            database["tables"]["alembic_version"]) == (1, 1, 2, 1)
    assert manifest["media"]["count"] == 3
    assert manifest["media"]["files"] == sorted([hashlib.sha256(image).hexdigest() for image in photos]
                                                + [signature])
    assert manifest["signing_key"] | {"sha256": None} == {
        "included": True, "key_id": app.extensions["onsite"].signer.key_id, "source": "file",
        "file": "signing-key.pem", "sha256": None}
    assert (tmp_path / "backup" / "signing-key.pem").read_bytes() == settings.signing_key_path.read_bytes()
    assert "holds secrets" in outcome.notices[0] and "password hashes" in outcome.notices[0]
    assert "report signing key" in outcome.notices[0]


def test_a_backup_never_overwrites_an_existing_path(app: Flask, settings: Settings, clock: ManualClock,
                                                    tmp_path: Path) -> None:
    (tmp_path / "folder").mkdir()
    (tmp_path / "file").write_text("last week's backup")
    for existing in (tmp_path / "folder", tmp_path / "file"):
        with pytest.raises(BackupError, match="already exists"):
            service.backup(settings, existing, now=clock.now(), progress=lambda _message: None)
    assert list((tmp_path / "folder").iterdir()) == []
    assert (tmp_path / "file").read_text() == "last week's backup"


def test_a_restore_refuses_a_database_that_is_not_empty(app: Flask, field: Field, settings: Settings,
                                                        clock: ManualClock, tmp_path: Path) -> None:
    _signed_with_photos(field)
    service.backup(settings, tmp_path / "backup", now=clock.now(), progress=lambda _message: None)
    elsewhere = replace(settings, instance_path=tmp_path / "elsewhere")  # the same, non-empty database
    with pytest.raises(BackupError, match="is not empty"):
        service.restore(elsewhere, tmp_path / "backup", progress=lambda _message: None)
    assert not elsewhere.media_path.exists() and not elsewhere.signing_key_path.exists()  # nothing written


def _tables(url: str) -> list[str]:
    if url.startswith("sqlite") and not Path(make_url(url).database or "").exists():
        return []
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.scalars(text("SELECT name FROM sqlite_master WHERE type = 'table'") if url.startswith("sqlite")
                                else text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).all()
    finally:
        engine.dispose()


def test_a_restore_never_replaces_a_different_signing_key(app: Flask, field: Field, settings: Settings,
                                                          restored_settings: Settings, clock: ManualClock,
                                                          tmp_path: Path) -> None:
    _signed_with_photos(field)
    service.backup(settings, tmp_path / "backup", now=clock.now(), progress=lambda _message: None)
    restored_settings.instance_path.mkdir()
    other_key = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    restored_settings.signing_key_path.write_bytes(other_key)
    with pytest.raises(BackupError, match="different signing key"):
        service.restore(restored_settings, tmp_path / "backup", progress=lambda _message: None)
    assert restored_settings.signing_key_path.read_bytes() == other_key
    assert _tables(restored_settings.database_url) == []


def test_a_restore_refuses_a_backup_whose_files_do_not_match_the_manifest(
        app: Flask, field: Field, settings: Settings, restored_settings: Settings, clock: ManualClock,
        tmp_path: Path) -> None:
    _signed_with_photos(field)
    service.backup(settings, tmp_path / "backup", now=clock.now(), progress=lambda _message: None)
    photo = next(path for path in (tmp_path / "backup" / "media").rglob("*") if path.is_file())
    photo.write_bytes(png(colour="blue"))
    with pytest.raises(BackupError, match="do not match their hash"):
        service.restore(restored_settings, tmp_path / "backup", progress=lambda _message: None)
    assert _tables(restored_settings.database_url) == []
    assert not restored_settings.media_path.exists()


def test_a_signing_key_from_the_environment_is_not_in_the_backup_and_the_operator_is_told(
        app: Flask, field: Field, settings: Settings, restored_settings: Settings, clock: ManualClock,
        tmp_path: Path) -> None:
    _signed_with_photos(field)  # sealed with the instance's key file
    pem = settings.signing_key_path.read_text()
    from_env = replace(settings, signing_key=pem)
    outcome = service.backup(from_env, tmp_path / "backup", now=clock.now(), progress=lambda _message: None)
    assert any("ONSITE_SIGNING_KEY and is NOT in this backup" in notice for notice in outcome.notices)
    assert not (tmp_path / "backup" / "signing-key.pem").exists()
    assert json.loads((tmp_path / "backup" / "manifest.json").read_text())["signing_key"]["included"] is False
    assert "signing key NOT included" in outcome.summary

    restored = service.restore(restored_settings, tmp_path / "backup", progress=lambda _message: None)
    assert any("set ONSITE_SIGNING_KEY to that key" in notice for notice in restored.notices)


def test_a_restore_from_an_older_release_says_to_run_db_upgrade(
        app: Flask, settings: Settings, restored_settings: Settings, clock: ManualClock, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    revision = migrate.current_head(settings.database_url)
    service.backup(settings, tmp_path / "backup", now=clock.now(), progress=lambda _message: None)
    monkeypatch.setattr(migrate, "current_head", lambda _url: "9999_a_later_release")  # as newer code would say
    outcome = service.restore(restored_settings, tmp_path / "backup", progress=lambda _message: None)
    assert any(f"is at revision {revision}, this version of Onsite expects 9999_a_later_release: run "
               f"`onsite db upgrade`" in notice for notice in outcome.notices)


def test_the_commands_show_progress_warn_of_secrets_and_end_with_a_summary(
        app: Flask, field: Field, settings: Settings, restored_settings: Settings, tmp_path: Path) -> None:
    _signed_with_photos(field)

    def run(*args: str, using: Settings) -> Any:
        env = {"ONSITE_DATABASE_URL": using.database_url, "ONSITE_INSTANCE_PATH": str(using.instance_path),
               "ONSITE_SIGNING_KEY": ""}
        return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)

    backup = run("backup", str(tmp_path / "backup"), using=settings)
    assert backup.exit_code == 0, backup.output
    lines = backup.output.rstrip().splitlines()
    assert any(line.startswith("  media: 3/3 files") for line in lines)
    assert any(line.startswith("WARNING: this backup holds secrets") for line in lines)
    assert lines[-1].startswith(f"backup written to {tmp_path / 'backup'}: ")
    assert "3 media files" in lines[-1] and "signing key included" in lines[-1]

    again = run("backup", str(tmp_path / "backup"), using=settings)
    assert again.exit_code == 1 and "already exists" in again.output

    restore = run("restore", str(tmp_path / "backup"), using=restored_settings)
    assert restore.exit_code == 0, restore.output
    lines = restore.output.rstrip().splitlines()
    assert lines[0].startswith(f"  checking {tmp_path / 'backup'} against its manifest")
    assert lines[-1].startswith(f"restored {tmp_path / 'backup'} into ") and "all as the manifest counts" in lines[-1]

    twice = run("restore", str(tmp_path / "backup"), using=restored_settings)
    assert twice.exit_code == 1 and "is not empty" in twice.output


def test_without_pg_dump_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(service.shutil, "which", lambda _name: None)
    monkeypatch.setattr(service, "PG_BIN_GLOB", str(tmp_path / "postgresql" / "*" / "bin"))
    with pytest.raises(BackupError, match="pg_dump was not found .* apt-get install postgresql-client"):
        service.find_pg_tool("pg_dump")


@pytest.mark.postgres_only
def test_on_postgresql_the_backup_is_a_pg_dump_archive_restored_with_pg_restore(
        app: Flask, field: Field, settings: Settings, restored_settings: Settings, clock: ManualClock,
        tmp_path: Path, is_postgres: bool) -> None:
    if not is_postgres:
        pytest.skip("pg_dump and pg_restore")
    _signed_with_photos(field)
    said: list[str] = []
    service.backup(settings, tmp_path / "backup", now=clock.now(), progress=said.append)
    dump = tmp_path / "backup" / "database.pgdump"
    assert dump.read_bytes()[:5] == b"PGDMP"  # pg_dump's custom format, which pg_restore reads selectively
    outcome = service.restore(restored_settings, tmp_path / "backup", progress=said.append)
    assert "all as the manifest counts" in outcome.summary
    assert {"pg_dump: table public.job_photos", "pg_restore: table public.job_photos"} <= set(said)
    assert sorted(_tables(restored_settings.database_url)) == sorted(_tables(settings.database_url))
