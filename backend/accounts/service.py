"""Accounts: password hashing, login, access and refresh tokens. No Flask in here."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from backend.accounts.models import ROLE_VALUES, RefreshToken, User
from backend.errors import DomainError, Unauthorized

MIN_PASSWORD_LENGTH = 8
JWT_ALGORITHM = "HS256"
# A hash to compare against when the username is unknown, so both paths cost the same time.
_DUMMY_HASH = generate_password_hash("onsite-timing-equaliser")


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise DomainError("password", f"must be at least {MIN_PASSWORD_LENGTH} characters")
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


def create_user(session: Session, *, username: str, password: str, roles: list[str], full_name: str | None = None,
                **details: object) -> User:
    username = username.strip()
    if find_user(session, username) is not None:
        raise DomainError("username", f"{username!r} is taken", status=409)
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


@dataclass(frozen=True)
class TokenPolicy:
    secret_key: str
    access_lifetime: timedelta
    refresh_lifetime: timedelta


def authenticate(session: Session, username: str, password: str) -> User:
    user = find_user(session, username)
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        raise Unauthorized("wrong username or password")
    if not check_password_hash(user.password_hash, password) or not user.active:
        raise Unauthorized("wrong username or password")
    return user


def _hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_tokens(session: Session, user: User, policy: TokenPolicy, now: datetime, family: str | None = None
                 ) -> TokenPair:
    lifetime = int(policy.access_lifetime.total_seconds())
    claims = {"sub": str(user.id), "roles": user.roles, "iat": int(now.timestamp()),
              "exp": int(now.timestamp()) + lifetime, "jti": secrets.token_hex(8)}
    access = jwt.encode(claims, policy.secret_key, algorithm=JWT_ALGORITHM)
    refresh_secret = secrets.token_urlsafe(32)
    session.add(RefreshToken(user_id=user.id, family=family or secrets.token_hex(16),
                             token_hash=_hash_token(refresh_secret), expires_at=now + policy.refresh_lifetime))
    session.flush()
    return TokenPair(access_token=access, expires_in=lifetime, refresh_token=refresh_secret, user=user)


def rotate_refresh_token(session: Session, refresh_secret: str, policy: TokenPolicy, now: datetime) -> TokenPair:
    """A refresh token is good once. Presenting a used one means it leaked: the whole family is revoked."""
    row = session.scalar(select(RefreshToken).where(RefreshToken.token_hash == _hash_token(refresh_secret))
                         .with_for_update())
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        raise Unauthorized("refresh token is invalid or expired")
    if row.used_at is not None:
        session.execute(update(RefreshToken).where(RefreshToken.family == row.family, RefreshToken.revoked_at.is_(None))
                        .values(revoked_at=now))
        raise Unauthorized("refresh token was already used; all sessions from it are signed out", commit=True)
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        raise Unauthorized("account is disabled")
    row.used_at = now
    return issue_tokens(session, user, policy, now, family=row.family)


def decode_access_token(token: str, secret_key: str, now: datetime) -> int:
    """Returns the user id. Expiry is checked against the injected clock, not the machine's."""
    try:
        claims = jwt.decode(token, secret_key, algorithms=[JWT_ALGORITHM],
                            options={"verify_exp": False, "require": ["sub", "exp", "iat"]})
        if int(claims["exp"]) <= now.timestamp():
            raise Unauthorized("access token expired", error="invalid_token")
        return int(claims["sub"])
    except (jwt.InvalidTokenError, ValueError, TypeError) as exc:
        raise Unauthorized("access token is invalid", error="invalid_token") from exc
