"""The old-parts duties (PRT-5, PRT-7).

- `old-parts` (daily): an outstanding old part past its due time is marked overdue, once (`marked_overdue_at`),
  and the technician who owes it and the warehouse of its station are told.
- `monthly-old-parts` (the 1st of each month): each station's supervisors and warehouse get the list of received
  old parts still awaiting disposition (supplier claim, repair or scrap), once per station and month.
Both look at everything due up to now, not at a recent window, so a run after downtime catches up; dedupe keys
make each notification happen once however often they run.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.accounts.models import Role
from backend.config import Settings
from backend.notifications.models import NotificationKind
from backend.notifications.service import Notice, notify
from backend.parts.models import ObligationStatus, OldPartObligation

# Rows per transaction: a long catch-up commits as it goes and never holds SQLite's write lock for long.
BATCH = 200


def mark_overdue(session: Session, now: datetime, _settings: Settings) -> dict[str, int]:
    kind = NotificationKind.OLD_PART_OVERDUE
    # Rows another transaction is changing (a concurrent run, the warehouse receiving the part) are left for the
    # next run rather than waited for.
    stmt = (select(OldPartObligation)
            .where(OldPartObligation.status == ObligationStatus.OUTSTANDING, OldPartObligation.due_at < now,
                   OldPartObligation.marked_overdue_at.is_(None))
            .order_by(OldPartObligation.due_at, OldPartObligation.id).limit(BATCH)
            .with_for_update(skip_locked=True))
    marked = 0
    while batch := session.scalars(stmt).all():
        notices = []
        for obligation in batch:
            obligation.marked_overdue_at = now
            payload = {"old_part_id": obligation.id, "number": obligation.number, "job_id": obligation.job_id,
                       "part_number": obligation.part.part_number, "serial": obligation.serial,
                       "due_at": obligation.due_at.isoformat(), "technician_id": obligation.technician_id,
                       "station_id": obligation.station_id}
            key = f"{kind}:{obligation.number}"
            notices.append(Notice(kind=kind, dedupe_key=f"{key}:technician", payload=payload,
                                  user_id=obligation.technician.user_id))
            notices.append(Notice(kind=kind, dedupe_key=f"{key}:warehouse", payload=payload,
                                  role=Role.WAREHOUSE, station_id=obligation.station_id))
        notify(session, notices, now)
        session.commit()
        marked += len(batch)
    return {"old_parts_marked_overdue": marked}


def monthly_list(session: Session, now: datetime, _settings: Settings) -> dict[str, int]:
    """rule PRT-7: old parts received are processed monthly; this month's list goes out once per station."""
    kind = NotificationKind.OLD_PARTS_AWAITING_DISPOSITION
    month = f"{now:%Y-%m}"
    waiting = session.scalars(select(OldPartObligation).where(OldPartObligation.status == ObligationStatus.RECEIVED,
                                                              OldPartObligation.disposition.is_(None))
                              .order_by(OldPartObligation.station_id, OldPartObligation.id)).all()
    by_station: dict[int, list[OldPartObligation]] = defaultdict(list)
    for obligation in waiting:
        by_station[obligation.station_id].append(obligation)
    notices = []
    for station_id, old_parts in by_station.items():
        payload = {"month": month, "station_id": station_id, "count": len(old_parts),
                   "old_parts": [{"old_part_id": o.id, "number": o.number, "part_number": o.part.part_number,
                                  "supplier": o.part.supplier, "serial": o.serial, "quantity": o.quantity}
                                 for o in old_parts]}
        for role in (Role.SUPERVISOR, Role.WAREHOUSE):
            notices.append(Notice(kind=kind, dedupe_key=f"{kind}:{month}:station-{station_id}:{role}",
                                  payload=payload, role=role, station_id=station_id))
    created = notify(session, notices, now)
    session.commit()
    return {"stations_notified": len({n.station_id for n in created})}
