from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.audit.recorder import Audited
from backend.db import Base, Timestamped, Versioned

if TYPE_CHECKING:
    from backend.technicians.models import Technician


class Role(StrEnum):
    TECHNICIAN = "technician"
    DISPATCHER = "dispatcher"
    SUPERVISOR = "supervisor"
    WAREHOUSE = "warehouse"
    AGENT = "agent"
    MANAGER = "manager"
    ADMIN = "admin"


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
    # The station a dispatcher or supervisor works for; escalations go to the station's people.
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"), index=True)

    role_rows: Mapped[list[UserRole]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin", order_by="UserRole.role"
    )
    technician: Mapped[Technician | None] = relationship(
        primaryjoin="User.id == Technician.user_id", viewonly=True, uselist=False)

    @property
    def technician_id(self) -> int | None:
        """The technician record of this account, if it is one: what "their own" jobs and parts are keyed by."""
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

    def has_any_role(self, roles: frozenset[str]) -> bool:
        return any(role in roles for role in self.roles)


class UserRole(Audited, Base):
    __tablename__ = "user_roles"
    __table_args__ = (CheckConstraint(f"role IN ({', '.join(repr(r) for r in ROLE_VALUES)})", name="known_role"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(20), primary_key=True, index=True)

    user: Mapped[User] = relationship(back_populates="role_rows")


class RefreshToken(Timestamped, Base):
    """One row per issued refresh token; only its hash is stored. Rotated on every use."""

    __tablename__ = "refresh_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    family: Mapped[str] = mapped_column(String(32), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()
