from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base


class SchedulerLease(Base):
    """Who runs the scheduled duties. SQLite: the lease itself; the holder renews `expires_at`, anyone may take an
    expired lease. PostgreSQL: the holder of the advisory lock writes its name here; `expires_at` is unused. On both,
    the fence every duty transaction checks (backend.duties.lock)."""

    __tablename__ = "scheduler_leases"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    acquired_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()
