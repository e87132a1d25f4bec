"""Backup and restore of a whole installation: the database (an online, consistent snapshot taken while the app
keeps serving), the media store and the report signing key, with a manifest that lets a restore check every file.
No Flask and no click here: `onsite backup` and `onsite restore` are thin wrappers.

A backup is a new folder, readable by its owner only:

    manifest.json         what is inside, with hashes; written last, so a folder without it is an unfinished backup
    database.sqlite3      SQLite: a copy made by SQLite's online backup API, checked before it is kept
    database.pgdump       PostgreSQL: pg_dump's custom format, taken in the snapshot the manifest's counts come from
    media/ab/cd/<sha256>  every file the database's media table names, in the media store's own layout
    signing-key.pem       the report sealing key (REP-3), unless it comes from ONSITE_SIGNING_KEY
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from sqlalchemy import Connection, Engine, create_engine, func, inspect, make_url, select, table, text
from sqlalchemy.exc import OperationalError

from backend import migrate
from backend.clock import ensure_utc
from backend.config import Settings
from backend.db import make_engine
from backend.media.models import Media
from backend.media.store import FileMediaStore
from backend.reports.signing import key_id_of

FORMAT = "onsite-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SQLITE_FILE = "database.sqlite3"
PG_DUMP_FILE = "database.pgdump"
KEY_FILE = "signing-key.pem"
MEDIA_DIR = "media"
# Where Debian and Ubuntu put each PostgreSQL major version's client tools, which are not always on PATH.
PG_BIN_GLOB = "/usr/lib/postgresql/*/bin"
PG_CLIENT_ADVICE = ("install the PostgreSQL client tools of the server's major version or newer (Debian/Ubuntu: "
                    "apt-get install postgresql-client; elsewhere the postgresql client package) and put them on "
                    "PATH")
SECRETS_WARNING = ("this backup holds secrets: users' password hashes, refresh-token hashes, webhook signing "
                   "secrets and customers' personal data and photos{key}. Keep it encrypted, readable only by the "
                   "operators, and off the machine it protects.")
MEDIA_PROGRESS_EVERY = 100
# What pg_dump and pg_restore say (with --verbose) as they reach each table's rows.
PG_TABLE_LINE = re.compile(r'(?:dumping contents of|processing data for) table "(?P<table>[^"]+)"')

Progress = Callable[[str], None]


class BackupError(RuntimeError):
    """A backup or restore that cannot go ahead; the message says why and what to do instead."""


@dataclass
class Outcome:
    """What a backup or restore did: notices the operator must read, and a one-line summary."""

    summary: str
    notices: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DatabaseFacts:
    """What one consistent view of the database holds."""

    revision: str | None
    tables: dict[str, int]
    media: list[str]

    @property
    def rows(self) -> int:
        return sum(self.tables.values())


# --- backup ------------------------------------------------------------------------------------------------------

def backup(settings: Settings, destination: Path, *, now: datetime, progress: Progress) -> Outcome:
    """Writes a backup of this installation into the new folder `destination` (an existing path is refused)."""
    started = time.monotonic()
    kind = database_kind(settings.database_url)
    try:
        destination.mkdir(mode=0o700)  # fails on anything already there: a backup never overwrites
    except FileExistsError:
        raise BackupError(f"{destination} already exists: a backup never overwrites anything; give a new path") \
            from None
    except FileNotFoundError:
        raise BackupError(f"{destination.parent} does not exist: create it first (owner-only, e.g. mkdir -m 700)") \
            from None
    destination.chmod(0o700)  # whatever the umask
    try:
        manifest, notices = _write_backup(settings, destination, kind, now, progress)
    except BaseException:
        shutil.rmtree(destination, ignore_errors=True)  # ours alone: made above, never a half backup left behind
        raise
    database, media, key = manifest["database"], manifest["media"], manifest["signing_key"]
    summary = (f"backup written to {destination}: {kind} database at revision {database['alembic_revision']}, "
               f"{len(database['tables'])} tables, {sum(database['tables'].values()):,} rows; "
               f"{media['count']:,} media files ({_megabytes(media['bytes'])}); signing key "
               f"{'included' if key['included'] else 'NOT included'}; {time.monotonic() - started:.1f} s")
    return Outcome(summary, notices)


def _write_backup(settings: Settings, destination: Path, kind: str, now: datetime,
                  progress: Progress) -> tuple[dict[str, Any], list[str]]:
    if kind == "sqlite":
        database_file, facts = _snapshot_sqlite(settings.database_url, destination / SQLITE_FILE, progress)
    else:
        database_file, facts = _dump_postgresql(settings.database_url, destination / PG_DUMP_FILE, progress)
    progress(f"database: revision {facts.revision}, {len(facts.tables)} tables, {facts.rows:,} rows "
             f"({_megabytes(database_file.stat().st_size)})")
    # After the snapshot: every file a row in it names was stored before that row committed, so it is on disk.
    copied, missing, media_bytes = _copy_media(FileMediaStore(settings.media_path),
                                               FileMediaStore(destination / MEDIA_DIR), facts.media, progress)
    key_id, key_source = key_in_use(settings)
    included = key_source == "file"
    if included:
        _write_private(destination / KEY_FILE, settings.signing_key_path.read_bytes())
    key_phrase = ", and the report signing key" if included else ""
    notices = [SECRETS_WARNING.format(key=key_phrase)]
    if key_source == "ONSITE_SIGNING_KEY":
        notices.append(f"the report signing key (id {key_id}) comes from ONSITE_SIGNING_KEY and is NOT in this "
                       f"backup: keep it elsewhere, as safely; without it no restored report's seal can be verified")
    if missing:
        notices.append(f"{len(missing)} media files named in the database are missing or damaged in "
                       f"{settings.media_path} and are not in this backup: {', '.join(missing[:5])}"
                       f"{' ...' if len(missing) > 5 else ''}")
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created_at": ensure_utc(now).isoformat(),
        "contains_secrets": SECRETS_WARNING.format(key=key_phrase),
        "database": {"kind": kind, "file": database_file.name, "sha256": _file_sha256(database_file),
                     "bytes": database_file.stat().st_size, "alembic_revision": facts.revision,
                     "tables": facts.tables},
        "media": {"count": len(copied), "bytes": media_bytes, "files": copied, "missing": missing},
        "signing_key": {"included": included, "key_id": key_id, "source": key_source,
                        "file": KEY_FILE if included else None,
                        "sha256": _file_sha256(destination / KEY_FILE) if included else None},
    }
    # Last: its presence is what marks the backup complete.
    _write_private(destination / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True).encode())
    return manifest, notices


def _snapshot_sqlite(url: str, target: Path, progress: Progress) -> tuple[Path, DatabaseFacts]:
    source = make_url(url).database
    if not source or source == ":memory:" or not Path(source).is_file():
        raise BackupError(f"there is no SQLite database file at {source!r} to back up")
    progress(f"copying the SQLite database {source} ({_megabytes(Path(source).stat().st_size)}) "
             f"with SQLite's online backup")
    _write_private(target, b"")  # owner-only before SQLite writes a page into it
    engine = make_engine(url)  # the app's own connection set-up: WAL, busy timeout
    try:
        with closing(engine.raw_connection()) as live, closing(sqlite3.connect(target)) as copy:
            # In one step, so the whole copy is read in one transaction: a consistent snapshot, which writers (WAL)
            # do not wait for. Copied in several steps, it would start over whenever the app wrote in between.
            live.driver_connection.backup(copy)
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
            _check_sqlite(copy, f"the copy of {source}")
    finally:
        engine.dispose()
    return target, _facts_of_sqlite_file(target)


def _check_sqlite(connection: sqlite3.Connection, what: str) -> None:
    integrity = [row[0] for row in connection.execute("PRAGMA integrity_check")]
    if integrity != ["ok"]:
        raise BackupError(f"{what} fails SQLite's integrity check ({'; '.join(integrity[:3])}): the database is "
                          f"damaged")
    broken = connection.execute("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise BackupError(f"{what} has {len(broken)} rows whose foreign keys point nowhere (first: {broken[0]})")


def _facts_of_sqlite_file(path: Path) -> DatabaseFacts:
    # A plain engine: the app's would switch the file to WAL.
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            return facts_of(connection)
    finally:
        engine.dispose()


def _dump_postgresql(url: str, target: Path, progress: Progress) -> tuple[Path, DatabaseFacts]:
    pg_dump = find_pg_tool("pg_dump")
    conninfo, environment = _libpq(url)
    engine = make_engine(url)
    try:
        with _reaching(url), engine.connect().execution_options(isolation_level="REPEATABLE READ") as connection, \
                connection.begin():
            # pg_dump reads in the snapshot this transaction exports, so the counts in the manifest are exactly
            # what the dump holds, whatever the app writes meanwhile.
            snapshot = connection.scalar(text("SELECT pg_export_snapshot()"))
            connection.execute(text("SET LOCAL statement_timeout = 0"))  # counting a big table outlasts a request
            progress("counting rows in the snapshot")
            facts = facts_of(connection)
            progress(f"running {pg_dump} (custom format) in the same snapshot")
            with _open_private(target) as output:
                _run([pg_dump, "--format=custom", "--verbose", f"--snapshot={snapshot}", f"--dbname={conninfo}"],
                     environment, progress, stdout=output)
    finally:
        engine.dispose()
    return target, facts


def _copy_media(source: FileMediaStore, target: FileMediaStore, hashes: list[str],
                progress: Progress) -> tuple[list[str], list[str], int]:
    """Copies each named file, checking its bytes against its name; returns (copied, missing or damaged, bytes)."""
    copied: list[str] = []
    missing: list[str] = []
    size = 0
    progress(f"copying {len(hashes):,} media files")
    for done, sha256 in enumerate(hashes, 1):
        try:
            data = source.get(sha256)
        except (OSError, KeyError):
            data = None
        if data is None or hashlib.sha256(data).hexdigest() != sha256:
            missing.append(sha256)
        else:
            target.put(data)
            copied.append(sha256)
            size += len(data)
        if done % MEDIA_PROGRESS_EVERY == 0 or done == len(hashes):
            progress(f"media: {done:,}/{len(hashes):,} files")
    return copied, missing, size


# --- restore -----------------------------------------------------------------------------------------------------

def restore(settings: Settings, source: Path, *, progress: Progress) -> Outcome:
    """Restores the backup in `source` into the configured database, which must be empty, and the instance folder
    (media, signing key). Everything is checked against the manifest before anything is written."""
    started = time.monotonic()
    manifest = read_manifest(source)
    kind = database_kind(settings.database_url)
    if manifest["database"]["kind"] != kind:
        raise BackupError(f"this is a backup of a {manifest['database']['kind']} database, but "
                          f"ONSITE_DATABASE_URL names a {kind} one: restore it into the same kind of database")
    progress(f"checking {source} against its manifest (made {manifest['created_at']})")
    _verify_files(source, manifest, progress)
    settings.create_instance_path()
    engine = make_engine(settings.database_url)
    try:
        with _reaching(settings.database_url):
            _require_empty(engine)
        notices = _check_key(settings, source, manifest)
        if manifest["signing_key"]["included"] and not settings.signing_key_path.exists():
            _write_private(settings.signing_key_path, (source / KEY_FILE).read_bytes())
        media = manifest["media"]["files"]
        _copy_media(FileMediaStore(source / MEDIA_DIR), FileMediaStore(settings.media_path), media, progress)
        progress(f"restoring the {kind} database ({_megabytes(manifest['database']['bytes'])})")
        if kind == "sqlite":
            _restore_sqlite(engine, source / SQLITE_FILE)
        else:
            _restore_postgresql(settings.database_url, source / PG_DUMP_FILE, progress)
        with engine.connect() as connection:
            facts = facts_of(connection)
    finally:
        engine.dispose()
    if facts.tables != manifest["database"]["tables"]:
        differing = sorted(name for name in facts.tables.keys() | manifest["database"]["tables"].keys()
                           if facts.tables.get(name) != manifest["database"]["tables"].get(name))
        raise BackupError(f"the restored database's row counts differ from the manifest's in {', '.join(differing)}")
    head = migrate.current_head(settings.database_url)
    if facts.revision != head:
        notices.append(f"the restored database is at revision {facts.revision}, this version of Onsite expects "
                       f"{head}: run `onsite db upgrade` before serving (a backup from a newer Onsite needs that "
                       f"version installed instead)")
    summary = (f"restored {source} into {_safe_url(settings.database_url)}: revision {facts.revision}, "
               f"{len(facts.tables)} tables, {facts.rows:,} rows, all as the manifest counts; "
               f"{len(media):,} media files; signing key "
               f"{'restored' if manifest['signing_key']['included'] else 'not in the backup'}; "
               f"{time.monotonic() - started:.1f} s")
    return Outcome(summary, notices)


def read_manifest(source: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((source / MANIFEST).read_bytes())
    except FileNotFoundError:
        raise BackupError(f"{source} has no {MANIFEST}: it is not an Onsite backup, or one that did not finish") \
            from None
    except ValueError as exc:
        raise BackupError(f"{source / MANIFEST} is not valid JSON ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{source / MANIFEST} is not an Onsite backup manifest")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise BackupError(f"{source} is backup format version {manifest.get('format_version')}; this version of "
                          f"Onsite reads version {FORMAT_VERSION}")
    return manifest


def _verify_files(source: Path, manifest: dict[str, Any], progress: Progress) -> None:
    database, key = manifest["database"], manifest["signing_key"]
    files = [(source / database["file"], database["sha256"])]
    if key["included"]:
        files.append((source / key["file"], key["sha256"]))
    for path, expected in files:
        if not path.is_file():
            raise BackupError(f"{path} is missing from the backup")
        if _file_sha256(path) != expected:
            raise BackupError(f"{path} does not match the hash in the manifest: the backup is damaged or altered")
    store = FileMediaStore(source / MEDIA_DIR)
    bad: list[str] = []
    for done, sha256 in enumerate(manifest["media"]["files"], 1):
        try:
            intact = hashlib.sha256(store.get(sha256)).hexdigest() == sha256
        except (OSError, KeyError):
            intact = False
        if not intact:
            bad.append(sha256)
        if done % MEDIA_PROGRESS_EVERY == 0:
            progress(f"checked {done:,}/{len(manifest['media']['files']):,} media files")
    if bad:
        raise BackupError(f"{len(bad)} media files are missing from the backup or do not match their hash "
                          f"(first: {bad[0]}): the backup is damaged or altered")


def _require_empty(engine: Engine) -> None:
    with engine.connect() as connection:
        tables = inspect(connection).get_table_names()
    if tables:
        raise BackupError(f"the database {_safe_url(str(engine.url))} is not empty (it has {len(tables)} tables): a "
                          f"restore goes only into an empty database (a new SQLite file, or a new PostgreSQL "
                          f"database made with createdb), so nothing is overwritten")


def _check_key(settings: Settings, source: Path, manifest: dict[str, Any]) -> list[str]:
    """Refuses a restore whose key would clash with this installation's; returns what the operator must know."""
    wanted = manifest["signing_key"]["key_id"]
    if manifest["signing_key"]["included"]:
        if settings.signing_key and key_id_of_pem(settings.signing_key.encode()) != wanted:
            raise BackupError(f"ONSITE_SIGNING_KEY is not the key the backup's reports were sealed with ({wanted}): "
                              f"unset it so the backup's key file is used, or restore elsewhere")
        existing = settings.signing_key_path
        if existing.exists() and key_id_of_pem(existing.read_bytes()) != key_id_of_pem((source / KEY_FILE)
                                                                                        .read_bytes()):
            raise BackupError(f"{existing} holds a different signing key than the backup's ({wanted}): it is never "
                              f"overwritten; move it away first if it is not needed")
        return []
    current, _ = key_in_use(settings)
    if wanted is not None and current != wanted:
        return [f"the backup's reports were sealed with key {wanted}, which is not in the backup: set "
                f"ONSITE_SIGNING_KEY to that key before serving, or no report seal will verify"]
    return []


def _restore_sqlite(engine: Engine, backup_file: Path) -> None:
    # Read-only, so a backup on write-protected media restores too; SQLite's backup API writes the target's pages
    # under its own locks, which is safe even if something has the (empty) file open.
    with closing(sqlite3.connect(f"{backup_file.resolve().as_uri()}?mode=ro", uri=True)) as copy, \
            closing(engine.raw_connection()) as target:
        copy.backup(target.driver_connection)


def _restore_postgresql(url: str, dump: Path, progress: Progress) -> None:
    conninfo, environment = _libpq(url)
    # One transaction: a failed restore leaves the database empty, not half filled. Owners and grants are the
    # target server's business (its role names may differ).
    _run([find_pg_tool("pg_restore"), "--exit-on-error", "--single-transaction", "--no-owner", "--no-privileges",
          "--verbose", f"--dbname={conninfo}", str(dump)], environment, progress)


# --- shared ------------------------------------------------------------------------------------------------------

def database_kind(url: str) -> str:
    kind = make_url(url).get_backend_name()
    if kind not in ("sqlite", "postgresql"):
        raise BackupError(f"backups support SQLite and PostgreSQL, not {kind}")
    return kind


def facts_of(connection: Connection) -> DatabaseFacts:
    names = sorted(inspect(connection).get_table_names())
    tables = {name: connection.scalar(select(func.count()).select_from(table(name))) or 0 for name in names}
    revisions = (connection.scalars(text("SELECT version_num FROM alembic_version")).all()
                 if "alembic_version" in tables else [])
    stored = Media.__table__.c.sha256  # the table, not the ORM class: no mapper set-up needed
    media = connection.scalars(select(stored).order_by(stored)).all() if Media.__tablename__ in tables else []
    return DatabaseFacts(",".join(sorted(revisions)) or None, tables, list(media))


def key_in_use(settings: Settings) -> tuple[str | None, str | None]:
    """(key id, where the key comes from: "ONSITE_SIGNING_KEY", "file" or None when there is none yet)."""
    if settings.signing_key:
        return key_id_of_pem(settings.signing_key.encode()), "ONSITE_SIGNING_KEY"
    if settings.signing_key_path.exists():
        return key_id_of_pem(settings.signing_key_path.read_bytes()), "file"
    return None, None


def key_id_of_pem(pem: bytes) -> str:
    key = serialization.load_pem_private_key(pem, password=None)
    return key_id_of(key.public_key())  # type: ignore[arg-type]


def find_pg_tool(name: str) -> str:
    """The PostgreSQL client program `name`: on PATH, else the newest version Debian's packages installed."""
    found = shutil.which(name)
    if found:
        return found
    candidates = [path for path in glob.glob(f"{PG_BIN_GLOB}/{name}") if os.access(path, os.X_OK)]
    if candidates:
        return max(candidates, key=lambda path: [int(n) for n in re.findall(r"\d+", path)])
    raise BackupError(f"{name} was not found on PATH nor in {PG_BIN_GLOB}: {PG_CLIENT_ADVICE}")


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq connection URI for the PostgreSQL tools, with the password in their environment rather than on
    the command line, where every user of the machine could read it."""
    parsed = make_url(url)
    environment = dict(os.environ)
    if parsed.password is not None:
        environment["PGPASSWORD"] = str(parsed.password)
    return parsed.set(drivername="postgresql", password=None).render_as_string(hide_password=False), environment


def _run(command: list[str], environment: dict[str, str], progress: Progress, **kwargs: Any) -> None:
    """Runs a PostgreSQL tool in --verbose mode, passing on each table it reaches as progress."""
    name = Path(command[0]).name
    said: list[str] = []
    # English messages whatever the locale, so the table lines are recognised.
    with subprocess.Popen(command, env=environment | {"LC_ALL": "C"}, stderr=subprocess.PIPE, text=True,
                          errors="replace", **kwargs) as process:
        for line in process.stderr or ():
            said.append(line.rstrip())
            if reached := PG_TABLE_LINE.search(line):
                progress(f"{name}: table {reached['table']}")
    if process.returncode != 0:
        raise BackupError(f"{name} failed (exit status {process.returncode}): {chr(10).join(said[-20:])}")


@contextmanager
def _reaching(url: str) -> Iterator[None]:
    """A database that cannot be reached is the operator's to fix, not a traceback."""
    try:
        yield
    except OperationalError as exc:
        raise BackupError(f"cannot use the database {_safe_url(url)}: {exc.orig}") from exc


def _safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _open_private(path: Path) -> Any:
    """A new file, readable by its owner only from the moment it exists (and never an existing one)."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")


def _write_private(path: Path, data: bytes) -> None:
    with _open_private(path) as handle:
        handle.write(data)


def _file_sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"
