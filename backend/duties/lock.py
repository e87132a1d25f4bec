"""The lock that lets exactly one scheduler run duties, however many processes and machines start one.

PostgreSQL: a session-level advisory lock on a connection of its own, held for as long as the scheduler leads; the
server frees it the moment that connection ends, crash included. SQLite (one machine): a lease row whose holder
renews it; a stand-by takes over once the holder releases it or, after a crash, once it has expired.

Fencing: a leader can lose the lock without noticing at once (its lock connection killed by a server restart, its
lease run out while the process was paused). So every transaction of a duty starts with `fence`, which checks, in
that very transaction, that this holder still holds the lock, and raises `LeadershipLost` otherwise: a deposed
leader's next transaction is refused before it writes anything. The `scheduler_leases` row names the current holder
on both databases (on PostgreSQL the advisory lock decides who may write it), and the check reads it under a lock
that the row's next claimant must wait for:
- SQLite: duty transactions are writer transactions (BEGIN IMMEDIATE), so nobody can take the lease over between
  the check and the commit.
- PostgreSQL: the check reads the row FOR SHARE and also asks pg_locks whether the lock connection still holds the
  advisory lock. A new leader's claim (an UPDATE of the row) waits for the old leader's running transactions, and
  those begun after it see the new holder. So the transactions of two leaders never interleave.
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


class LeadershipLost(Exception):
    """This scheduler no longer holds the lock: the transaction it was starting must not go ahead."""


class SchedulerLock(Protocol):
    holder: str

    def try_acquire(self) -> bool:
        """Takes the lock, or confirms (renewing it if need be) that this holder still has it."""

    def fence(self, connection: Connection) -> None:
        """Raises LeadershipLost unless this holder holds the lock, checked inside the connection's transaction."""

    def release(self) -> None: ...


def lock_for(engine: Engine, clock: Clock, holder: str, lease: timedelta, *, connect_timeout: int | None = None,
             statement_timeout: int | None = None) -> SchedulerLock:
    """The timeouts (PostgreSQL) keep a frozen server from holding the lock keeper forever, as they do requests."""
    if engine.dialect.name == "postgresql":
        return AdvisoryLock(engine, clock, holder, connect_timeout=connect_timeout, statement_timeout=statement_timeout)
    return LeaseLock(engine, clock, holder, lease)


def _lost(holder: str, current: object) -> LeadershipLost:
    return LeadershipLost(f"scheduler {holder} no longer holds the lock (now: {current or 'nobody'})")


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

    def fence(self, connection: Connection) -> None:
        table = SchedulerLease.__table__
        lease = connection.execute(select(table.c.holder, table.c.expires_at)
                                   .where(table.c.name == LOCK_NAME)).first()
        if lease is None or lease.holder != self.holder or lease.expires_at <= self._clock.now():
            raise _lost(self.holder, lease and lease.holder)

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
    def __init__(self, engine: Engine, clock: Clock, holder: str, *, connect_timeout: int | None = None,
                 statement_timeout: int | None = None) -> None:
        # Unpooled, so that closing the connection really ends the server session, which frees the lock.
        self._engine = make_engine(engine.url.render_as_string(hide_password=False), poolclass=NullPool,
                                   connect_timeout=connect_timeout, statement_timeout=statement_timeout)
        self._clock, self.holder = clock, holder
        self._connection: Connection | None = None
        self._backend_pid: int | None = None  # the lock connection's server process, which pg_locks names

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
                self._claim(connection)
                self._backend_pid = connection.scalar(text("SELECT pg_backend_pid()"))
                self._connection, connection = connection, None
                return True
            return False
        except DBAPIError as exc:
            log.warning("scheduler lock not taken: %s", exc.orig)
            return False
        finally:
            if connection is not None:
                connection.close()

    def _claim(self, connection: Connection) -> None:
        """Names this holder in the lease row (see fence). Only the advisory lock's holder writes it, so there is
        no race for it; the UPDATE waits for the previous leader's transactions still running."""
        table = SchedulerLease.__table__
        now = self._clock.now()
        claim = {"holder": self.holder, "acquired_at": now, "expires_at": now}  # the lock does not expire here
        if connection.execute(update(table).where(table.c.name == LOCK_NAME).values(claim)).rowcount == 0:
            connection.execute(insert(table).values(name=LOCK_NAME, **claim))

    def fence(self, connection: Connection) -> None:
        table = SchedulerLease.__table__
        holds_lock = text("EXISTS (SELECT FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = :pid)")
        holder = connection.scalar(select(table.c.holder).where(table.c.name == LOCK_NAME, holds_lock)
                                   .with_for_update(read=True, of=table), {"pid": self._backend_pid})
        if holder != self.holder:
            raise _lost(self.holder, holder)

    def release(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
