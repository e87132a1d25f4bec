"""Accounts: passwords, sign-in and its throttling, access and refresh tokens, sessions. No Flask in here."""

from __future__ import annotations

import hashlib
import math
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache, lru_cache
from importlib import resources

import jwt
from sqlalchemy import ColumnElement, Table, case, delete, func, select, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from backend.accounts.models import ROLE_VALUES, LoginThrottle, RefreshToken, User
from backend.config import Settings
from backend.db import insert_on_conflict
from backend.errors import DomainError, TooManyRequests, Unauthorized
from backend.http.fields import MAX_ID

JWT_ALGORITHM = "HS256"
# A hash to compare against when the username is unknown, so both paths cost the same time.
_DUMMY_HASH = generate_password_hash("onsite-timing-equaliser")
# A throttled key is locked for 1, 2, 4, 8 minutes ... per failure past its limit, never longer than 15 minutes.
_FIRST_LOCK = timedelta(minutes=1)
_LONGEST_LOCK = timedelta(minutes=15)
_THROTTLE: Table = LoginThrottle.__table__  # type: ignore[assignment]
# A user id as the token's `sub`: digits only, within the id range (no 500 from a database overflow).
_SUBJECT = re.compile(r"[1-9][0-9]{0,9}")


@cache
def _common_passwords() -> frozenset[str]:
    """The 10,000 most common passwords, lowercased (Django's list by Royce Williams; see common-passwords.LICENSE)."""
    text = resources.files(__package__).joinpath("common-passwords.txt").read_text(encoding="utf-8")
    return frozenset(text.splitlines())


def check_password(password: str, *, username: str, min_length: int) -> None:
    """Refuses the passwords an attacker tries first: short ones, the most common ones, the username itself."""
    if len(password) < min_length:
        raise DomainError("password", f"must be at least {min_length} characters")
    folded = password.strip().lower()
    if folded == username.strip().lower():
        raise DomainError("password", "must not be the username")
    if folded in _common_passwords():
        raise DomainError("password", "is one of the 10,000 most common passwords; choose one less easy to guess")


def hash_password(password: str) -> str:
    return generate_password_hash(password)  # scrypt, werkzeug's default


def validate_roles(roles: list[str]) -> list[str]:
    unknown = sorted(set(roles) - set(ROLE_VALUES))
    if unknown:
        raise DomainError("roles", f"unknown role(s): {', '.join(unknown)}; known: {', '.join(ROLE_VALUES)}")
    if not roles:
        raise DomainError("roles", "a user needs at least one role")
    return sorted(set(roles))


def find_user(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(func.lower(User.username) == username.strip().lower()))


def create_user(session: Session, *, username: str, password: str, roles: list[str], min_password_length: int,
                full_name: str | None = None, **details: object) -> User:
    username = username.strip()
    if find_user(session, username) is not None:
        raise DomainError("username", f"{username!r} is taken", status=409)
    check_password(password, username=username, min_length=min_password_length)
    user = User(username=username, full_name=full_name or username, password_hash=hash_password(password),
                active=True, **details)
    user.roles = validate_roles(roles)
    session.add(user)
    session.flush()
    return user


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    expires_in: int
    refresh_token: str
    user: User


def change_password(session: Session, user: User, password: str, *, min_length: int, now: datetime) -> None:
    """A new password ends every session begun with the old one (whoever knew it is signed out)."""
    check_password(password, username=user.username, min_length=min_length)
    user.password_hash = hash_password(password)
    end_sessions(session, user, now)


def set_active(session: Session, user: User, active: bool, now: datetime) -> None:
    if user.active and not active:
        end_sessions(session, user, now)
    user.active = active


def end_sessions(session: Session, user: User, now: datetime) -> None:
    """Signs the user out everywhere: refresh tokens are revoked, and access tokens stop working at their next
    use, as they carry the old epoch (see session_is_current)."""
    user.session_epoch += 1
    session.execute(update(RefreshToken).where(RefreshToken.user_id == user.id, RefreshToken.revoked_at.is_(None))
                    .values(revoked_at=now))


def session_is_current(user: User, session_epoch: int) -> bool:
    """Whether a session begun in `session_epoch` (a token's `sep`, a console cookie's epoch) still holds."""
    return user.active and user.session_epoch == session_epoch


@dataclass(frozen=True)
class TokenPolicy:
    secret_key: str
    access_lifetime: timedelta
    refresh_lifetime: timedelta
    # A sign-in's refresh tokens all end this long after the password was given, however often rotated.
    family_lifetime: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenPolicy:
        return cls(secret_key=settings.secret_key, access_lifetime=timedelta(minutes=settings.access_token_minutes),
                   refresh_lifetime=timedelta(days=settings.refresh_token_days),
                   family_lifetime=timedelta(days=settings.refresh_family_days))


def authenticate(session: Session, username: str, password: str, *, address: str, settings: Settings,
                 now: datetime) -> User:
    """Checks a sign-in, throttled per username and per client address. While either is locked the password is
    not even checked (TooManyRequests). A failure raises Unauthorized asking for a commit, so it is counted; a
    success clears the username's count (not the address's: a valid account must not reset it)."""
    keys = {f"user:{username.strip().lower()}": settings.login_max_failures_per_user,
            f"addr:{address}": settings.login_max_failures_per_address}
    _refuse_if_locked(session, list(keys), now)
    user = find_user(session, username)
    # Unknown usernames cost the same hash check and count the same, so neither tells which accounts exist.
    matches = check_password_hash(user.password_hash if user is not None else _DUMMY_HASH, password)
    if user is None or not matches or not user.active:
        for key, limit in keys.items():
            _count_failure(session, key, limit, now, timedelta(minutes=settings.login_window_minutes))
        raise Unauthorized("wrong username or password", commit=True)
    session.execute(delete(LoginThrottle).where(LoginThrottle.key == next(iter(keys))))
    return user


def _refuse_if_locked(session: Session, keys: list[str], now: datetime) -> None:
    until = session.scalar(select(func.max(LoginThrottle.blocked_until)).where(LoginThrottle.key.in_(keys)))
    if until is not None and until > now:
        raise TooManyRequests("too many failed sign-ins; try again later",
                              retry_after=math.ceil((until - now).total_seconds()))


def _decayed(now: datetime, window: timedelta) -> ColumnElement[bool]:
    """A count is forgotten once a whole quiet window has passed since its last failure and the end of its lock
    (so waiting out a lock does not by itself start the count afresh)."""
    return func.coalesce(_THROTTLE.c.blocked_until, _THROTTLE.c.last_failure_at) <= now - window


def _count_failure(session: Session, key: str, limit: int, now: datetime, window: timedelta) -> None:
    """One atomic increment (INSERT ... ON CONFLICT), so concurrent failures in any process all count. From the
    limit on, each failure locks the key for twice as long as the one before, up to the longest lock."""
    decayed = _decayed(now, window)
    stmt = insert_on_conflict(session, _THROTTLE).values(key=key, failures=1, last_failure_at=now)
    stmt = stmt.on_conflict_do_update(index_elements=[_THROTTLE.c.key], set_={
        "failures": case((decayed, 1), else_=_THROTTLE.c.failures + 1),
        "blocked_until": case((decayed, None), else_=_THROTTLE.c.blocked_until),
        "last_failure_at": now})
    failures = session.scalar(stmt.returning(_THROTTLE.c.failures))
    if failures is not None and failures >= limit:
        lock = min(_LONGEST_LOCK, _FIRST_LOCK * 2 ** min(failures - limit, 4))
        session.execute(update(_THROTTLE).where(_THROTTLE.c.key == key).values(blocked_until=now + lock))


def purge_login_throttle(session: Session, now: datetime, settings: Settings) -> dict[str, int]:
    """The `login-throttle` duty: forgets the counts that have decayed."""
    result = session.execute(delete(LoginThrottle).where(
        _decayed(now, timedelta(minutes=settings.login_window_minutes))))
    return {"forgotten": result.rowcount or 0}


def _hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_tokens(session: Session, user: User, policy: TokenPolicy, now: datetime) -> TokenPair:
    """Tokens for a new sign-in: a new refresh family, which ends after the family lifetime at the latest."""
    return _issue(session, user, policy, now, family=secrets.token_hex(16),
                  family_expires_at=now + policy.family_lifetime)


def _issue(session: Session, user: User, policy: TokenPolicy, now: datetime, *, family: str,
           family_expires_at: datetime) -> TokenPair:
    lifetime = int(policy.access_lifetime.total_seconds())
    claims = {"sub": str(user.id), "sep": user.session_epoch, "roles": user.roles, "iat": int(now.timestamp()),
              "exp": int(now.timestamp()) + lifetime, "jti": secrets.token_hex(8)}
    access = jwt.encode(claims, policy.secret_key, algorithm=JWT_ALGORITHM)
    refresh_secret = secrets.token_urlsafe(32)
    session.add(RefreshToken(user_id=user.id, family=family, token_hash=_hash_token(refresh_secret),
                             expires_at=min(now + policy.refresh_lifetime, family_expires_at),
                             family_expires_at=family_expires_at, session_epoch=user.session_epoch))
    session.flush()
    return TokenPair(access_token=access, expires_in=lifetime, refresh_token=refresh_secret, user=user)


def rotate_refresh_token(session: Session, refresh_secret: str, policy: TokenPolicy, now: datetime) -> TokenPair:
    """A refresh token is good once. Presenting a used one means it leaked: the whole family is revoked."""
    row = session.scalar(select(RefreshToken).where(RefreshToken.token_hash == _hash_token(refresh_secret))
                         .with_for_update())
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        raise Unauthorized("refresh token is invalid or expired")
    if row.used_at is not None:
        _revoke_family(session, row.family, now)
        raise Unauthorized("refresh token was already used; all sessions from it are signed out", commit=True)
    user = session.get(User, row.user_id)
    if user is None or not session_is_current(user, row.session_epoch):
        raise Unauthorized("session ended (account disabled, password changed or signed out); sign in again")
    row.used_at = now
    # The new token keeps the family's absolute expiry: refreshing never extends a sign-in.
    return _issue(session, user, policy, now, family=row.family, family_expires_at=row.family_expires_at)


def sign_out(session: Session, refresh_secret: str, now: datetime) -> None:
    """Ends the sign-in this refresh token belongs to (every token of its family). An unknown token is no error:
    the answer must not tell anyone which tokens exist, and signing out twice is harmless."""
    family = select(RefreshToken.family).where(RefreshToken.token_hash == _hash_token(refresh_secret))
    _revoke_family(session, family.scalar_subquery(), now)


def open_browser_session(session: Session, user: User, policy: TokenPolicy, now: datetime) -> str:
    """A sign-in for a front end that keeps its own session cookie (the console): a refresh family whose token is
    never handed out, so it ends like any other sign-in - signed out, all sessions ended, or its lifetime over.
    Returns the family id, which the cookie keeps (it is no credential at the API)."""
    family = secrets.token_hex(16)
    _issue(session, user, policy, now, family=family, family_expires_at=now + policy.family_lifetime)
    return family


def browser_session_is_live(session: Session, family: str, now: datetime) -> bool:
    return session.scalar(select(RefreshToken.id).where(
        RefreshToken.family == family, RefreshToken.revoked_at.is_(None), RefreshToken.expires_at > now)
        .limit(1)) is not None


def close_browser_session(session: Session, family: str, now: datetime) -> None:
    _revoke_family(session, family, now)


def _revoke_family(session: Session, family: str | ColumnElement[str], now: datetime) -> None:
    session.execute(update(RefreshToken).where(RefreshToken.family == family, RefreshToken.revoked_at.is_(None))
                    .values(revoked_at=now))


@dataclass(frozen=True)
class AccessClaims:
    user_id: int
    session_epoch: int
    expires: int  # seconds since the epoch


def decode_access_token(token: str, policy: TokenPolicy, now: datetime) -> AccessClaims:
    """Checks the signature, the claims' types and ranges, the lifetime against the configured one (a token minted
    for longer is refused) and the expiry against the injected clock, not the machine's."""
    claims = _verified_claims(token, policy)
    if claims.expires <= now.timestamp():
        raise Unauthorized("access token expired", error="invalid_token")
    return claims


# A mobile app sends the same token with every request until it refreshes it, and checking its signature costs
# about a tenth of a cached read; what a token says cannot change, so each verified one is remembered (per key and
# lifetime: the policy is part of the cache key). Only tokens that verified are kept (an exception is not cached),
# so a flood of forged ones cannot push out the real ones. The expiry, which depends on the clock, is checked on
# every use.
@lru_cache(maxsize=4096)
def _verified_claims(token: str, policy: TokenPolicy) -> AccessClaims:
    try:
        claims = jwt.decode(token, policy.secret_key, algorithms=[JWT_ALGORITHM],
                            options={"verify_exp": False, "require": ["sub", "exp", "iat", "sep"]})
    except jwt.InvalidTokenError as exc:
        raise Unauthorized("access token is invalid", error="invalid_token") from exc
    subject, epoch, issued, expires = claims["sub"], claims["sep"], claims["iat"], claims["exp"]
    if not (isinstance(subject, str) and _SUBJECT.fullmatch(subject) and int(subject) <= MAX_ID
            and all(type(value) is int for value in (epoch, issued, expires))):
        raise Unauthorized("access token is invalid", error="invalid_token")
    if expires - issued > policy.access_lifetime.total_seconds():
        raise Unauthorized("access token lives longer than this server allows", error="invalid_token")
    return AccessClaims(user_id=int(subject), session_epoch=epoch, expires=expires)
