"""Stored responses for retried writes (Idempotency-Key). A mobile app on a flaky network may send the same
write many times; the first one acts, the others get the first one's response back."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, LargeBinary, String, UniqueConstraint, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from backend.config import Settings
from backend.db import Base

MAX_KEY_LENGTH = 200


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("user_id", "key", name="uq_idempotency_user_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH))
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    headers: Mapped[dict[str, Any]] = mapped_column(JSON)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(index=True)


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    headers: dict[str, str]
    body: bytes


def fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(b"\n".join([method.encode(), path.encode(), body])).hexdigest()


def lookup(session: Session, user_id: int, key: str) -> IdempotencyRecord | None:
    return session.scalar(select(IdempotencyRecord).where(IdempotencyRecord.user_id == user_id,
                                                          IdempotencyRecord.key == key))


def claim(session: Session, *, user_id: int, key: str, fingerprint: str, now: datetime) -> IdempotencyRecord:
    """Reserves the key inside the request's transaction, before acting. A concurrent request with the same
    key blocks on the unique index until this one ends, then fails with IntegrityError and replays."""
    record = IdempotencyRecord(user_id=user_id, key=key, fingerprint=fingerprint, status_code=0, headers={},
                               body=b"", created_at=now)
    session.add(record)
    session.flush()
    return record


def complete(record: IdempotencyRecord, response: StoredResponse) -> None:
    record.status_code = response.status_code
    record.headers = response.headers
    record.body = response.body


def purge_expired(session: Session, now: datetime, retention: timedelta) -> int:
    result = session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.created_at < now - retention))
    return result.rowcount or 0


def purge_duty(session: Session, now: datetime, settings: Settings) -> dict[str, int]:
    """The `idempotency-keys` duty: keys are kept the promised days (an app may replay a week-old queue), then go."""
    return {"purged": purge_expired(session, now, timedelta(days=settings.idempotency_retention_days))}
