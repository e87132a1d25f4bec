"""The notification outbox: escalations and reminders for people's apps, and the events webhooks carry."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, query_expression

from backend.db import Base


class NotificationKind(StrEnum):
    """Every kind a producer may raise; webhooks subscribe to these names."""

    SLA_DEADLINE_DUE_SOON = "sla.deadline_due_soon"
    SLA_DEADLINE_MISSED = "sla.deadline_missed"
    JOB_DECLINED = "job.declined"
    JOB_ESCALATED = "job.escalated"
    REPORT_SUBMITTED = "report.submitted"
    REPORT_REJECTED = "report.rejected"
    OLD_PART_OVERDUE = "old_part.overdue"
    OLD_PARTS_AWAITING_DISPOSITION = "old_parts.awaiting_disposition"


class Notification(Base):
    """Addressed to one user, or to everyone holding a role (at one station when `station_id` is set).

    `dedupe_key` names the thing notified about, so a duty that runs again, or catches up after downtime,
    never raises the same notification twice."""

    __tablename__ = "notifications"
    __table_args__ = (
        CheckConstraint("(recipient_user_id IS NULL) <> (recipient_role IS NULL)", name="one_recipient"),
        Index("ix_notifications_role_station", "recipient_role", "station_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(60))
    recipient_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    recipient_role: Mapped[str | None] = mapped_column(String(20))
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id", ondelete="CASCADE"))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column()

    # When the user a query is about read it: role notifications are read by each of their recipients separately.
    read_at: Mapped[datetime | None] = query_expression()


class NotificationRead(Base):
    __tablename__ = "notification_reads"

    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id", ondelete="CASCADE"),
                                                 primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)
    read_at: Mapped[datetime] = mapped_column()
