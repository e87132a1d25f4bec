from datetime import date
from typing import Any

import marshmallow as ma

from backend.errors import DomainError
from backend.http.fields import Timestamp

# Working days of this era. Before 1973 some zones' offsets had seconds (local mean time), which an RFC 3339
# timestamp cannot carry; at the calendar's edges a shift's local time has no UTC form in Python.
FIRST_PLANNABLE_DAY, LAST_PLANNABLE_DAY = date(1973, 1, 1), date(2999, 12, 31)


class _PlannableDay(ma.fields.Date):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> date:
        day = super()._deserialize(value, attr, data, **kwargs)
        if not FIRST_PLANNABLE_DAY <= day <= LAST_PLANNABLE_DAY:
            # A valid date the spec cannot bound: refused by a rule (the generic 422), not as invalid input, as
            # Timestamp does. The parser fills in where the field was sent.
            raise DomainError(self.data_key or self.name,
                              f"must be a day between {FIRST_PLANNABLE_DAY} and {LAST_PLANNABLE_DAY}")
        return day


class RouteQuerySchema(ma.Schema):
    date = _PlannableDay(metadata={
        "description": "The day, in the home station's time zone (YYYY-MM-DD); without it, the technician's working "
                       "day: today until the shift ends, then tomorrow"})


class RouteStopSchema(ma.Schema):
    sequence = ma.fields.Integer(metadata={"description": "1 for the first stop of the day"})
    job_id = ma.fields.Integer(allow_none=True, metadata={
        "description": "null, with the other job details, for another station's job (SCP-1): the times stand"})
    service_request_id = ma.fields.Integer(allow_none=True)
    service_request_number = ma.fields.String(allow_none=True)
    status = ma.fields.String(allow_none=True, metadata={
        "description": "on_site and en_route jobs come first, as they are; the others are ordered"})
    site_address = ma.fields.String(allow_none=True)
    site_latitude = ma.fields.Float(allow_none=True)
    site_longitude = ma.fields.Float(allow_none=True)
    fault_category = ma.fields.String(allow_none=True)
    travel_km = ma.fields.Float(metadata={"description": "From the previous stop, or where the day starts"})
    arrival = Timestamp(metadata={"description": "Planned arrival, in the home station's time zone"})
    departure = Timestamp(metadata={"description": "Planned departure: arrival plus the visit's time on site"})
    visit_minutes = ma.fields.Integer()
    due_at = Timestamp(allow_none=True, metadata={"description": "The on-site deadline still to meet (DSP-1/2)"})
    late = ma.fields.Boolean(metadata={"description": "The planned arrival is after the deadline"})
    minutes_late = ma.fields.Integer()


class UnscheduledJobSchema(ma.Schema):
    job_id = ma.fields.Integer(allow_none=True)
    service_request_id = ma.fields.Integer(allow_none=True)
    service_request_number = ma.fields.String(allow_none=True)
    status = ma.fields.String(allow_none=True)
    due_at = Timestamp(allow_none=True)
    reason = ma.fields.String()
    misses_deadline = ma.fields.Boolean(metadata={"description": "Its deadline is before the shift ends"})


class RouteSchema(ma.Schema):
    technician_id = ma.fields.Integer()
    date = ma.fields.Date()
    timezone = ma.fields.String(metadata={"description": "The home station's IANA time zone"})
    shift_start = Timestamp()
    shift_end = Timestamp()
    starts_at = Timestamp(metadata={"description": "The later of the shift start and now"})
    start_latitude = ma.fields.Float()
    start_longitude = ma.fields.Float()
    start_source = ma.fields.String(metadata={"description": "last_known_position or home_station"})
    travel_speed_kmh = ma.fields.Float()
    computed_at = Timestamp()
    stops = ma.fields.List(ma.fields.Nested(RouteStopSchema), metadata={
        "description": "In visiting order: as few missed deadlines as possible, then as few jobs left out, then "
                       "the least lateness, then the least travel (PLN-2)"})
    not_scheduled = ma.fields.List(ma.fields.Nested(UnscheduledJobSchema), metadata={
        "description": "Open jobs that do not fit in the day"})
    late_stops = ma.fields.Integer()
    missed_deadlines = ma.fields.Integer(metadata={
        "description": "Late stops plus jobs left out whose deadline is before the shift ends"})
    total_minutes_late = ma.fields.Integer()
    total_travel_km = ma.fields.Float()
