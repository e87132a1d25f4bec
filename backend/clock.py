"""The one source of "now". Everything that needs the time takes a Clock, so tests can move it."""

from __future__ import annotations

from datetime import MAXYEAR, UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to (tests, simulations)."""

    def __init__(self, start: datetime) -> None:
        self._now = ensure_utc(start)

    def now(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> None:
        self._now = ensure_utc(moment)

    def advance(self, **delta: float) -> datetime:
        self._now += timedelta(**delta)
        return self._now


def next_month(at: datetime) -> datetime | None:
    """The first moment of the month after `at`'s, in `at`'s own zone; None after December of the calendar's last
    year."""
    if (at.year, at.month) == (MAXYEAR, 12):
        return None
    return at.replace(year=at.year + at.month // 12, month=at.month % 12 + 1, day=1, hour=0, minute=0, second=0,
                      microsecond=0)


def ensure_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: every time in Onsite carries a timezone")
    return moment.astimezone(UTC)
