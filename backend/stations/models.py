from __future__ import annotations

from sqlalchemy import Boolean, Float, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.audit.recorder import Audited
from backend.db import Base, Versioned

DEFAULT_TIMEZONE = "Asia/Shanghai"


class Station(Audited, Versioned, Base):
    __tablename__ = "stations"
    __table_args__ = (Index("ix_stations_lat_lon", "latitude", "longitude"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    address: Mapped[str] = mapped_column(String(300))
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # DSP-10: a station can be barred from receiving work (停止派工) as a sanction; the reason is kept.
    may_receive_work: Mapped[bool] = mapped_column(Boolean, default=True)
    barred_reason: Mapped[str | None] = mapped_column(String(300))
    # The IANA zone the station works in: the console shows its requests' times in it, with the zone named.
    timezone: Mapped[str] = mapped_column(String(64), default=DEFAULT_TIMEZONE, server_default=DEFAULT_TIMEZONE)
