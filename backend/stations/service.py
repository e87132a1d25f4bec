"""Station rules."""

from typing import Any
from zoneinfo import available_timezones

from backend.errors import DomainError
from backend.stations.models import Station

_ZONES = frozenset(available_timezones())


def apply_station_changes(station: Station, data: dict[str, Any]) -> Station:
    if "timezone" in data and data["timezone"] not in _ZONES:
        raise DomainError("timezone", "must be an IANA time zone name, e.g. Asia/Shanghai")
    for name, value in data.items():
        setattr(station, name, value)
    # rule DSP-10: barring a station from work (停止派工) is a sanction; it must say why.
    if not station.may_receive_work and not (station.barred_reason or "").strip():
        raise DomainError("barred_reason", "barring a station from receiving work needs a reason")
    if station.may_receive_work:
        station.barred_reason = None
    return station
