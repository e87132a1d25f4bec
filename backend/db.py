"""Database plumbing shared by every domain: declarative base, UTC-only datetimes, engines, mixins."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import suppress
from datetime import UTC, datetime
from functools import cache
from itertools import product
from typing import Any

import psycopg
from sqlalchemy import (URL, Connection, DateTime, Insert, Integer, MetaData, Table, create_engine, event, inspect,
                        make_url, select)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.exc import TimeoutError as SATimeoutError
from sqlalchemy.orm import (ONETOMANY, DeclarativeBase, Mapped, Mapper, Session, declared_attr, mapped_column,
                            sessionmaker)
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.types import TypeDecorator

from backend.clock import Clock, SystemClock, ensure_utc

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as UTC; SQLite hands back naive values, which are UTC by construction."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else ensure_utc(value)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


class Timestamped:
    created_at: Mapped[datetime] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column()


class Versioned(Timestamped):
    """Optimistic locking: every UPDATE checks and bumps `version`, which is also the resource's ETag."""

    version: Mapped[int] = mapped_column(Integer, nullable=False)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.version}


def make_engine(url: str, *, connect_timeout: int | None = None, statement_timeout: int | None = None,
                **kwargs: Any) -> Engine:
    """An engine for `url`. The timeouts (seconds) bound how long PostgreSQL may keep a caller waiting: a
    connection attempt, and each statement (cancelled by the server; if the server does not answer at all, the
    client gives up `connect_timeout` later). SQLite's analogue of the statement timeout is how long a writer
    queues for the write lock. Without them (migrations, the scheduler lock) PostgreSQL waits unbounded."""
    if url.startswith("sqlite"):
        _create_owner_only_file(make_url(url).database)
        busy_timeout = statement_timeout or SQLITE_BUSY_TIMEOUT_SECONDS
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": busy_timeout}, **kwargs)
        _configure_sqlite(engine, busy_timeout)
        return engine
    if connect_timeout is not None and kwargs.get("poolclass") is not NullPool:
        kwargs.setdefault("pool_timeout", connect_timeout)  # every pooled connection busy: fail, do not queue on
    engine = create_engine(url, pool_pre_ping=True,
                           connect_args=_postgresql_connect_args(make_url(url), connect_timeout, statement_timeout),
                           **kwargs)
    _configure_postgresql(engine, connect_timeout, statement_timeout)
    return engine


# TCP keepalives notice a database host that vanished (power loss, a network partition) from an idle pooled
# connection in about idle + interval x count = 60 s. Any libpq parameter in the URL's query overrides these.
POSTGRESQL_KEEPALIVES = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10, "keepalives_count": 3}


def _postgresql_connect_args(url: URL, connect_timeout: int | None, statement_timeout: int | None) -> dict[str, Any]:
    args: dict[str, Any] = {name: value for name, value in POSTGRESQL_KEEPALIVES.items() if name not in url.query}
    if connect_timeout is not None and "connect_timeout" not in url.query:
        args["connect_timeout"] = connect_timeout
    if statement_timeout is not None:
        # The URL's own options come last, so a statement_timeout given there wins.
        options = [f"-c statement_timeout={statement_timeout * 1000}", url.query.get("options")]
        args["options"] = " ".join(option for option in options if isinstance(option, str))
    return args


# psycopg's timeout of a wait; private, but its public base (OperationalError) is far wider. Resolved at import, so a
# psycopg release that renames it fails at start-up, not as a 500 on the first frozen database.
_PSYCOPG_WAIT_TIMEOUT: type[Exception] = psycopg.errors._WaitTimeout  # noqa: SLF001


class _DeadlineConnection(psycopg.Connection[Any]):
    """A connection that stops waiting for a server that does not answer. statement_timeout is enforced by the
    server, so a frozen (paused, swapped out, half-partitioned) server would keep a request waiting forever: the
    kernel still acknowledges its packets, so keepalives do not see it either."""

    answer_timeout: float | None = None  # set from the pool's events, see _configure_postgresql

    def wait(self, gen: Any, *args: Any, timeout: float | None = None, **kwargs: Any) -> Any:
        if timeout is not None or self.answer_timeout is None:  # psycopg's own bounded waits (cancel, notifies)
            return super().wait(gen, *args, timeout=timeout, **kwargs)
        try:
            return super().wait(gen, *args, timeout=self.answer_timeout, **kwargs)
        except _PSYCOPG_WAIT_TIMEOUT:
            # Mid-protocol, the connection cannot be used again; closed, SQLAlchemy sees a disconnect.
            self.pgconn.finish()
            raise psycopg.OperationalError(
                f"the database server did not answer within {self.answer_timeout:g} s") from None


def _configure_postgresql(engine: Engine, connect_timeout: int | None, statement_timeout: int | None) -> None:
    @event.listens_for(engine, "handle_error")
    def _unreachable_is_disconnect(context: Any) -> None:
        # A failure to connect at all (refused, timed out, the server starting up) is a disconnect too, so that
        # the error says the connection is unusable (connection_invalidated) like one lost mid-request.
        if context.connection is None and isinstance(context.original_exception, psycopg.OperationalError):
            context.is_disconnect = True

    if connect_timeout is None or statement_timeout is None:
        return

    @event.listens_for(engine, "do_connect")
    def _connect(_dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        return _DeadlineConnection.connect(*cargs, **cparams)

    # A connection waiting in the pool is next used for pool_pre_ping's ping, which a healthy server answers at
    # once: it gets no longer than a connection attempt. Checked out (after the ping), statements get their timeout
    # plus the same margin, so the server's own statement_timeout normally answers first (the connection survives).
    @event.listens_for(engine, "checkin")
    def _await_ping(dbapi_connection: Any, _record: Any) -> None:
        if dbapi_connection is not None:
            dbapi_connection.answer_timeout = connect_timeout

    @event.listens_for(engine, "checkout")
    def _await_statements(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        dbapi_connection.answer_timeout = statement_timeout + connect_timeout


def database_unavailable(error: BaseException) -> str | None:
    """Why the database cannot serve anyone just now (unreachable, restarting, frozen, overloaded), or None when
    `error` is anything else: the request itself or the code is at fault, and a retry would fail the same way."""
    if isinstance(error, SATimeoutError):  # pool_timeout: every pooled connection stayed busy
        return "every database connection stayed busy"
    if isinstance(error, DisconnectionError) or (isinstance(error, DBAPIError) and error.connection_invalidated):
        return "the database cannot be reached"
    sqlstate = getattr(error.orig, "sqlstate", None) if isinstance(error, DBAPIError) else None
    if sqlstate == "57014":  # query_canceled: only statement_timeout cancels statements here
        return "the database did not answer within the statement timeout"
    # Connection exceptions; insufficient resources (too many connections, disk full, out of memory); the server
    # shutting down, crashed or starting up.
    if sqlstate is not None and sqlstate.startswith(("08", "53", "57P")):
        return "the database cannot serve requests just now"
    return None


# PostgreSQL's serialization_failure, deadlock_detected (it rolls one transaction back so the other proceeds) and
# lock_not_available (a lock_timeout set in the URL's options ran out). By code: the messages follow lc_messages.
BUSY_SQLSTATES = ("40001", "40P01", "55P03")


def database_busy(error: BaseException) -> bool:
    """SQLite's lock still held after the busy timeout, or PostgreSQL giving up on a lock wait or a conflict that
    the same request retried in a moment gets past."""
    cause = getattr(error, "orig", None)
    if isinstance(cause, sqlite3.Error):
        primary_code = getattr(cause, "sqlite_errorcode", 0) & 0xFF  # an extended code's low byte
        return primary_code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return getattr(cause, "sqlstate", None) in BUSY_SQLSTATES


def _create_owner_only_file(database: str | None) -> None:
    """Create a new SQLite database file readable by its owner only (SQLite would use 0644); its -wal and -shm
    files take the same permissions from it."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    with suppress(FileExistsError):
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


SQLITE_MMAP_BYTES = 2**31
SQLITE_BUSY_TIMEOUT_SECONDS = 30


def _configure_sqlite(engine: Engine, busy_timeout: int) -> None:
    """WAL, foreign keys, and explicit BEGINs: pysqlite's own transaction handling defers locks so late
    that a read-then-write transaction fails instead of waiting; writers ask for BEGIN IMMEDIATE."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout * 1000}")
        # Reports (the KPIs) follow index lookups across big tables; through the default 2 MiB page cache they are
        # disk-bound. Memory-mapped reads use the OS page cache instead (a mapping, not an allocation).
        cursor.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get("onsite_writer", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def writer_session(factory: sessionmaker[Session]) -> Session:
    """A session whose transaction takes the write lock up front on SQLite (a no-op on PostgreSQL)."""
    engine = factory.kw["bind"]
    return factory(bind=engine.execution_options(onsite_writer=True))


def locked(session: Session, model: type[Any], ident: Any) -> Any:
    """The row read afresh under a lock held until commit (None if there is none).

    Every write that does not ask for If-Match reads the rows it will update this way: a concurrent writer of the
    row then waits for the first to commit and decides on what it committed, instead of failing the version check
    at flush (see Versioned). On PostgreSQL it is FOR NO KEY UPDATE, the lock an UPDATE takes anyway, so rows
    referring to this one can still be inserted meanwhile; on SQLite the writer's BEGIN IMMEDIATE already holds the
    database. Whoever locks several rows takes them in one order, a service request before its job.

    A row the session already holds (a technician's own record, loaded with the signed-in user) is locked first and
    read afresh after: SQLAlchemy checks a held instance's version on a FOR UPDATE load and refuses one committed
    meanwhile, the very case the lock is for."""
    lock = {"key_share": True, "of": model}
    if session.identity_map.get(session.identity_key(model, ident)) is None:
        return session.get(model, ident, with_for_update=lock, populate_existing=True)
    key_columns = inspect(model).primary_key
    idents = ident if isinstance(ident, tuple) else (ident,)
    session.execute(select(*key_columns).where(*(c == v for c, v in zip(key_columns, idents)))
                    .with_for_update(**lock))
    return session.get(model, ident, populate_existing=True)


def insert_on_conflict(bind: Session | Connection, table: Table) -> Insert:
    """INSERT with ON CONFLICT (an atomic upsert), which both supported databases spell the same way."""
    dialect = (bind.dialect if isinstance(bind, Connection) else bind.get_bind().dialect).name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)  # type: ignore[return-value]


def clock_of(session: Session) -> Clock:
    return session.info.get("clock") or SystemClock()


@event.listens_for(Session, "before_flush")
def _stamp_times(session: Session, _flush_context: Any, _instances: Any) -> None:
    """created_at/updated_at come from the session's injected clock, never from the database server.

    The rows an object owns (its delete-orphan collections: a technician's skills, a user's roles, a report's
    lines) are part of it: adding, removing or editing one changes the owner too, so its updated_at moves, it is
    UPDATEd, and a versioned owner's version (its ETag) goes up. Otherwise a stale If-Match would still match."""
    now = clock_of(session).now()
    for obj in session.new:
        if isinstance(obj, Timestamped):
            obj.created_at = obj.created_at or now
            obj.updated_at = now
    changed = {obj for obj in session.dirty if session.is_modified(obj)}  # collections included
    owners = {owner for obj in [*session.new, *changed, *session.deleted] for owner in _owners(session, obj)}
    for obj in changed | owners:
        if isinstance(obj, Timestamped) and obj not in session.new and obj not in session.deleted:
            obj.updated_at = now
            flag_modified(obj, "updated_at")  # an UPDATE even when the clock has not moved since the last one


def _owners(session: Session, child: Any) -> Iterator[Any]:
    """The objects holding `child` in a collection they own, found by its foreign key (old and new value), so an
    edit made to the child alone, with its owner not even loaded, still reaches the owner."""
    state = inspect(child)
    for owner_class, keys in _owning_collections(state.mapper):
        for ident in product(*(state.attrs[key].history.sum() for key in keys)):
            owner = None if None in ident else session.get(owner_class, ident)
            if owner is not None:
                yield owner


@cache
def _owning_collections(mapper: Mapper[Any]) -> list[tuple[type[Any], list[str]]]:
    """(owner class, the child's attributes holding the owner's primary key in order) for every delete-orphan
    collection of a timestamped class whose items are of `mapper`'s class."""
    found = []
    for owner in mapper.registry.mappers:
        if not issubclass(owner.class_, Timestamped):
            continue
        for prop in owner.relationships:
            if (prop.direction is ONETOMANY and prop.cascade.delete_orphan and not prop.viewonly
                    and mapper.isa(prop.mapper)):
                child_column = dict(prop.local_remote_pairs)
                found.append((owner.class_, [mapper.get_property_by_column(child_column[column]).key
                                             for column in owner.primary_key]))
    return found
