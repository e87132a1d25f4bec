"""Database plumbing shared by every domain: declarative base, UTC-only datetimes, engines, mixins."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Integer, MetaData, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, declared_attr, mapped_column, sessionmaker
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
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


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


def clock_of(session: Session) -> Clock:
    return session.info.get("clock") or SystemClock()


@event.listens_for(Session, "before_flush")
def _stamp_times(session: Session, _flush_context: Any, _instances: Any) -> None:
    """created_at/updated_at come from the session's injected clock, never from the database server."""
    now = clock_of(session).now()
    for obj in session.new:
        if isinstance(obj, Timestamped):
            obj.created_at = obj.created_at or now
            obj.updated_at = now
    for obj in session.dirty:
        if isinstance(obj, Timestamped) and session.is_modified(obj, include_collections=False):
            obj.updated_at = now
