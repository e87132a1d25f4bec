"""Field service reports (REP-1..6, JOB-3, WAR-1/2). One row per version: a correction after sign-off is a new
version with a new signature, and the signed one is kept unchanged (REP-3)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, CheckConstraint, Float, ForeignKey, Index, Integer, Numeric, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.audit.recorder import Audited
from backend.db import Base, Versioned
from backend.media.models import Media

DRAFT, SIGNED, SUPERSEDED = "draft", "signed", "superseded"


class FieldReport(Audited, Versioned, Base):
    __tablename__ = "field_reports"
    __table_args__ = (
        Index("uq_field_reports_job_version", "job_id", "version_no", unique=True),
        # Exactly one version of a job's report is current (draft or signed); older ones are superseded.
        Index("uq_field_reports_one_current", "job_id", unique=True,
              sqlite_where=text("status != 'superseded'"), postgresql_where=text("status != 'superseded'")),
        CheckConstraint("satisfaction IS NULL OR satisfaction BETWEEN 1 AND 5", name="satisfaction_1_to_5"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    version_no: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12))
    author_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    # JOB-3: what the technician heard, saw and checked on site.
    operating_hours: Mapped[int | None] = mapped_column(Integer)
    mileage_km: Mapped[int | None] = mapped_column(Integer)
    usage_history: Mapped[str | None] = mapped_column(Text)
    fault_history: Mapped[str | None] = mapped_column(Text)
    within_warranty: Mapped[bool | None] = mapped_column(Boolean)
    warranty_reason: Mapped[str | None] = mapped_column(Text)
    disassembled_before: Mapped[bool | None] = mapped_column(Boolean)
    root_cause: Mapped[str | None] = mapped_column(Text)
    responsibility: Mapped[str | None] = mapped_column(String(20))
    work_done: Mapped[str | None] = mapped_column(Text)
    # REP-6: money the technician collected is recorded and handed in in full.
    cash_collected: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    cash_receipt_number: Mapped[str | None] = mapped_column(String(60))

    # REP-4: the customer's sign-off, after the work (REP-2).
    signer_name: Mapped[str | None] = mapped_column(String(120))
    signature_kind: Mapped[str | None] = mapped_column(String(10))
    signature_sha256: Mapped[str | None] = mapped_column(ForeignKey("media.sha256"))
    customer_comments: Mapped[str | None] = mapped_column(Text)
    satisfaction: Mapped[int | None] = mapped_column(Integer)
    signed_at: Mapped[datetime | None] = mapped_column()
    signed_device_time: Mapped[datetime | None] = mapped_column()
    signed_latitude: Mapped[float | None] = mapped_column(Float)
    signed_longitude: Mapped[float | None] = mapped_column(Float)
    # REP-3: the seal over the canonical content (see backend.reports.signing).
    seal_digest: Mapped[str | None] = mapped_column(String(64))
    seal_signature: Mapped[str | None] = mapped_column(String(200))
    seal_key_id: Mapped[str | None] = mapped_column(String(32))

    # REP-5: the supervisor's review, outside the seal (it happens after the customer signed).
    submitted_at: Mapped[datetime | None] = mapped_column(index=True)
    reviewed_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column()
    review_outcome: Mapped[str | None] = mapped_column(String(10))
    review_reason: Mapped[str | None] = mapped_column(Text)

    part_lines: Mapped[list[ReportPartLine]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="ReportPartLine.line_no")
    compensation_lines: Mapped[list[CompensationLine]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="CompensationLine.line_no")

    @property
    def entity_version(self) -> str:
        """The ETag names the report version and the row version: each report version is a new row whose row
        version starts again at 1, so the row version alone could let a tag read from version 1 approve version 2."""
        return f"{self.version_no}.{self.version}"


class ReportPartLine(Audited, Base):
    """A part replaced on site (REP-1, WAR-2, PRT-4): why, how many, covered or chargeable, new and old serial."""

    __tablename__ = "report_part_lines"
    __table_args__ = (CheckConstraint("quantity > 0", name="positive_quantity"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("field_reports.id", ondelete="CASCADE"), index=True)
    line_no: Mapped[int] = mapped_column(Integer)
    part_id: Mapped[int] = mapped_column(ForeignKey("parts.id"))
    part_number: Mapped[str] = mapped_column(String(60))
    part_name: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    covered_by_warranty: Mapped[bool] = mapped_column(Boolean)
    new_serial: Mapped[str | None] = mapped_column(String(80))
    old_serial: Mapped[str | None] = mapped_column(String(80))


class CompensationLine(Audited, Base):
    """Compensation given to the customer, with its reason (REP-1)."""

    __tablename__ = "report_compensation_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("field_reports.id", ondelete="CASCADE"), index=True)
    line_no: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))


class PaidServiceApproval(Audited, Base):
    """A supervisor's prior approval of chargeable work on a job (REP-6)."""

    __tablename__ = "paid_service_approvals"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), unique=True)
    approved_by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime] = mapped_column()
    scope: Mapped[str] = mapped_column(Text)
    estimated_amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))


class JobPhoto(Audited, Base):
    __tablename__ = "job_photos"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    media_sha256: Mapped[str] = mapped_column(ForeignKey("media.sha256"))
    caption: Mapped[str | None] = mapped_column(String(300))
    taken_at: Mapped[datetime | None] = mapped_column()
    uploaded_at: Mapped[datetime] = mapped_column()
    uploaded_by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))

    media: Mapped[Media] = relationship(lazy="joined")
