"""Per-application services (settings, clock, database) and per-request state (session, user)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from flask import current_app, g, request
from sqlalchemy import bindparam, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, joinedload, sessionmaker

from backend.accounts.models import User
from backend.accounts.service import TokenPolicy
from backend.clock import Clock
from backend.config import Settings
from backend.db import writer_session
from backend.media.store import FileMediaStore, MediaStore
from backend.reports.signing import ReportSigner
from backend.technicians.models import Technician

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
REQUEST_ID_HEADER = "X-Request-Id"
DEVICE_ID_HEADER = "X-Device-Id"


@dataclass
class Onsite:
    settings: Settings
    clock: Clock
    engine: Engine
    session_factory: sessionmaker[Session]

    @cached_property
    def token_policy(self) -> TokenPolicy:
        return TokenPolicy.from_settings(self.settings)

    @cached_property
    def signer(self) -> ReportSigner:
        return ReportSigner.load(self.settings.signing_key_path, self.settings.signing_key or None)

    @cached_property
    def media(self) -> MediaStore:
        return FileMediaStore(self.settings.media_path)

    def new_session(self, *, writer: bool = False) -> Session:
        session = writer_session(self.session_factory) if writer else self.session_factory()
        session.info["clock"] = self.clock
        return session


def onsite() -> Onsite:
    return current_app.extensions["onsite"]


def db() -> Session:
    """The request's session; writes take the write lock up front (see backend.db)."""
    if "db" not in g:
        g.db = onsite().new_session(writer=request.method not in READ_METHODS)
    return g.db


def close_session(_exc: BaseException | None = None) -> None:
    session = g.pop("db", None)
    if session is not None:
        session.close()


def request_id() -> str:
    if "request_id" not in g:
        supplied = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = supplied if 0 < len(supplied) <= 64 and supplied.isprintable() else uuid.uuid4().hex
    return g.request_id


def device_id() -> str | None:
    supplied = request.headers.get(DEVICE_ID_HEADER, "")[:120]
    # Kept with audit entries, so printable text only (PostgreSQL cannot even store a NUL in text).
    return supplied if supplied and supplied.isprintable() else None


def current_user() -> User:
    return g.user


# What every signed-in request consults about its user, in the one statement that also checks the account is active
# and the session current: roles (access), stations (SCP-1 scope) and the technician record (a technician's own
# jobs). The technician's skills are not needed to serve a request and load only if touched. Built once: a statement
# made per call (or session.get with options) spends more on its cache key than on the query.
_SIGNED_IN_USER = select(User).where(User.id == bindparam("user_id")).options(
    joinedload(User.role_rows), joinedload(User.station_rows),
    joinedload(User.technician).lazyload(Technician.skill_rows))


def load_signed_in_user(session: Session, user_id: int) -> User | None:
    return session.scalars(_SIGNED_IN_USER, {"user_id": user_id}).unique().one_or_none()


def now() -> datetime:
    """The application clock's time: the one time source of every view (tests swap the clock)."""
    return onsite().clock.now()
