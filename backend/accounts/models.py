from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.audit.recorder import Audited
from backend.db import Base, Timestamped, Versioned


class Role(StrEnum):
    TECHNICIAN = "technician"
    DISPATCHER = "dispatcher"
    SUPERVISOR = "supervisor"
    WAREHOUSE = "warehouse"
    AGENT = "agent"
    MANAGER = "manager"
    ADMIN = "admin"
    # 001 §1.6: quality inspection decides who is responsible; finance audits and allocates service costs (§1.9).
    QUALITY = "quality"
    FINANCE = "finance"


ROLE_VALUES = tuple(r.value for r in Role)


class User(Audited, Versioned, Base):
    __tablename__ = "users"
    __audit_exclude__ = frozenset({"password_hash"})

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    full_name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(40))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Every access and refresh token carries the epoch it was issued in; raising it ends all the user's sessions.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The station a dispatcher or supervisor works for; escalations go to the station's people.
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"), index=True)

    role_rows: Mapped[list[UserRole]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin", order_by="UserRole.role"
    )
    # SCP-1: the stations an office user acts for; none means the whole company (head office).
    station_rows: Mapped[list[UserStation]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="UserStation.station_id"
    )

    @property
    def technician_id(self) -> int | None:
        """The technician record of this account, if it is one: what "their own" jobs and parts are keyed by.
        `technician` is the backref that backend.technicians.models declares, so accounts need not import it."""
        return self.technician.id if self.technician is not None else None

    @property
    def roles(self) -> list[str]:
        return [r.role for r in self.role_rows]

    @roles.setter
    def roles(self, roles: list[str]) -> None:
        wanted = sorted(set(roles))
        self.role_rows = [r for r in self.role_rows if r.role in wanted] + [
            UserRole(role=role) for role in wanted if role not in self.roles
        ]

    @property
    def station_ids(self) -> list[int]:
        return [r.station_id for r in self.station_rows]

    @station_ids.setter
    def station_ids(self, station_ids: list[int]) -> None:
        wanted = sorted(set(station_ids))
        self.station_rows = [r for r in self.station_rows if r.station_id in wanted] + [
            UserStation(station_id=station_id) for station_id in wanted if station_id not in self.station_ids
        ]

    def has_any_role(self, roles: frozenset[str]) -> bool:
        return any(role in roles for role in self.roles)


class UserRole(Audited, Base):
    __tablename__ = "user_roles"
    __table_args__ = (CheckConstraint(f"role IN ({', '.join(repr(r) for r in ROLE_VALUES)})", name="known_role"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(20), primary_key=True, index=True)

    user: Mapped[User] = relationship(back_populates="role_rows")


class UserStation(Audited, Base):
    __tablename__ = "user_stations"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    # No cascade from the station: deleting it must not silently widen this user's scope to the whole company.
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"), primary_key=True, index=True)


class RefreshToken(Timestamped, Base):
    """One row per issued refresh token; only its hash is stored. Rotated on every use."""

    __tablename__ = "refresh_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    family: Mapped[str] = mapped_column(String(32), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The token's own expiry, never later than its family's: a sign-in does not slide forever by refreshing.
    expires_at: Mapped[datetime] = mapped_column()
    family_expires_at: Mapped[datetime] = mapped_column()
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    used_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()


class LoginThrottle(Base):
    """Failed sign-ins per username ("user:<lowercased name>") and per client address ("addr:<ip>"), in the
    database so that every process and machine counts together."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_failure_at: Mapped[datetime] = mapped_column(index=True)
    blocked_until: Mapped[datetime | None] = mapped_column()
