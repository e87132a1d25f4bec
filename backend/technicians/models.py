from __future__ import annotations

from datetime import datetime, time

from sqlalchemy import Boolean, Float, ForeignKey, Index, String, Time
from sqlalchemy.orm import Mapped, backref, mapped_column, relationship

from backend.accounts.models import User
from backend.audit.recorder import Audited
from backend.db import Base, Versioned

DEFAULT_SHIFT_START = time(8)
DEFAULT_SHIFT_END = time(18)


class Technician(Audited, Versioned, Base):
    __tablename__ = "technicians"
    __table_args__ = (Index("ix_technicians_last_lat_lon", "last_latitude", "last_longitude"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    home_station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    on_shift: Mapped[bool] = mapped_column(Boolean, default=False)
    last_latitude: Mapped[float | None] = mapped_column(Float)
    last_longitude: Mapped[float | None] = mapped_column(Float)
    last_accuracy_m: Mapped[float | None] = mapped_column(Float)
    # Server receipt time decides freshness; the device's own clock is kept beside it, untrusted.
    last_position_at: Mapped[datetime | None] = mapped_column()
    last_position_device_time: Mapped[datetime | None] = mapped_column()
    # Working hours, local times in the home station's time zone (PLN-2): a day's route fits between them.
    shift_start: Mapped[time] = mapped_column(Time, default=DEFAULT_SHIFT_START, server_default="08:00:00")
    shift_end: Mapped[time] = mapped_column(Time, default=DEFAULT_SHIFT_END, server_default="18:00:00")

    # Declared on this side only (User.technician is its read-only backref), so accounts never import technicians.
    user: Mapped[User] = relationship(lazy="joined", backref=backref("technician", uselist=False, viewonly=True))
    skill_rows: Mapped[list[TechnicianSkill]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="TechnicianSkill.skill")

    @property
    def skills(self) -> list[str]:
        return [row.skill for row in self.skill_rows]

    @skills.setter
    def skills(self, skills: list[str]) -> None:
        wanted = sorted(set(skills))
        self.skill_rows = [r for r in self.skill_rows if r.skill in wanted] + [
            TechnicianSkill(skill=s) for s in wanted if s not in self.skills]

    @property
    def name(self) -> str:
        return self.user.full_name


class TechnicianSkill(Audited, Base):
    __tablename__ = "technician_skills"

    technician_id: Mapped[int] = mapped_column(ForeignKey("technicians.id", ondelete="CASCADE"), primary_key=True)
    skill: Mapped[str] = mapped_column(String(40), primary_key=True, index=True)
