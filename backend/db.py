"""Database plumbing shared by every domain: declarative base, UTC-only datetimes, engines, mixins."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import suppress
from datetime import UTC, datetime
from functools import cache
from itertools import product
from typing import Any

from sqlalchemy import DateTime, Insert, Integer, MetaData, Table, create_engine, event, inspect, make_url
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
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


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        _create_owner_only_file(make_url(url).database)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _create_owner_only_file(database: str | None) -> None:
    """Create a new SQLite database file readable by its owner only (SQLite would use 0644); its -wal and -shm
    files take the same permissions from it."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    with suppress(FileExistsError):
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


SQLITE_MMAP_BYTES = 2**31


def _configure_sqlite(engine: Engine) -> None:
    """WAL, foreign keys, and explicit BEGINs: pysqlite's own transaction handling defers locks so late
    that a read-then-write transaction fails instead of waiting; writers ask for BEGIN IMMEDIATE."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
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


def insert_on_conflict(session: Session, table: Table) -> Insert:
    """INSERT with ON CONFLICT (an atomic upsert), which both supported databases spell the same way."""
    dialect = session.get_bind().dialect.name
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
