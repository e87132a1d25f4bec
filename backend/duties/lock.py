"""The lock that lets exactly one scheduler run duties, however many processes and machines start one.

PostgreSQL: a session-level advisory lock on a connection of its own, held for as long as the scheduler leads; the
server frees it the moment that connection ends, crash included. SQLite (one machine): a lease row whose holder
renews it; a stand-by takes over once the holder releases it or, after a crash, once it has expired.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta
from typing import Protocol

from sqlalchemy import case, insert, select, text, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from backend.clock import Clock
from backend.db import make_engine
from backend.duties.models import SchedulerLease

LOCK_NAME = "onsite.scheduler"
# Advisory locks take a 64-bit key; derived from the name so that other advisory lock users do not collide by chance.
ADVISORY_KEY = int.from_bytes(hashlib.sha256(LOCK_NAME.encode()).digest()[:8], "big", signed=True)
log = logging.getLogger(__name__)


class SchedulerLock(Protocol):
    def try_acquire(self) -> bool:
        """Takes the lock, or confirms (renewing it if need be) that this holder still has it."""

    def release(self) -> None: ...


def lock_for(engine: Engine, clock: Clock, holder: str, lease: timedelta) -> SchedulerLock:
    if engine.dialect.name == "postgresql":
        return AdvisoryLock(engine)
    return LeaseLock(engine, clock, holder, lease)


class LeaseLock:
    def __init__(self, engine: Engine, clock: Clock, holder: str, lease: timedelta) -> None:
        # Writer transactions (BEGIN IMMEDIATE on SQLite): contenders queue for the lock instead of failing.
        self._engine = engine.execution_options(onsite_writer=True)
        self._clock, self.holder, self._lease = clock, holder, lease

    def try_acquire(self) -> bool:
        table = SchedulerLease.__table__
        now = self._clock.now()
        mine = table.c.holder == self.holder
        # Renewal of our own lease or takeover of an expired one, in one conditional UPDATE: a contender's UPDATE
        # re-checks the condition after the winner's (even under PostgreSQL's READ COMMITTED), and fails it.
        take = (update(table).where(table.c.name == LOCK_NAME, mine | (table.c.expires_at <= now))
                .values(holder=self.holder, expires_at=now + self._lease,
                        acquired_at=case((mine, table.c.acquired_at), else_=now)))
        try:
            with self._engine.begin() as conn:
                if conn.execute(take).rowcount == 1:
                    return True
                if conn.execute(select(table.c.name).where(table.c.name == LOCK_NAME)).first() is not None:
                    return False  # someone else's lease is still running
                conn.execute(insert(table).values(name=LOCK_NAME, holder=self.holder, acquired_at=now,
                                                  expires_at=now + self._lease))
                return True
        except DBAPIError as exc:  # a lost race for the first row, or the database is unavailable: try again later
            log.warning("scheduler lease not taken: %s", exc.orig)
            return False

    def release(self) -> None:
        """Ends the lease now, so a stand-by takes over at its next try instead of waiting for the expiry."""
        table = SchedulerLease.__table__
        try:
            with self._engine.begin() as conn:
                conn.execute(update(table).where(table.c.name == LOCK_NAME, table.c.holder == self.holder)
                             .values(expires_at=self._clock.now()))
        except DBAPIError as exc:
            log.warning("scheduler lease not released (it will expire by itself): %s", exc.orig)


class AdvisoryLock:
    def __init__(self, engine: Engine) -> None:
        # Unpooled, so that closing the connection really ends the server session, which frees the lock.
        self._engine = make_engine(engine.url.render_as_string(hide_password=False), poolclass=NullPool)
        self._connection: Connection | None = None

    def try_acquire(self) -> bool:
        if self._connection is not None:
            try:
                self._connection.exec_driver_sql("SELECT 1")  # the lock lives exactly as long as this connection
                return True
            except DBAPIError as exc:
                log.warning("lost the connection that held the scheduler lock: %s", exc.orig)
                self.release()
                return False
        connection = None
        try:
            connection = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            if connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_KEY}):
                self._connection, connection = connection, None
                return True
            return False
        except DBAPIError as exc:
            log.warning("scheduler lock not taken: %s", exc.orig)
            return False
        finally:
            if connection is not None:
                connection.close()

    def release(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
