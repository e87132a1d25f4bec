import marshmallow as ma

from backend.http.fields import OneOf, Timestamp
from backend.http.periods import PeriodQuerySchema
from backend.kpis.service import GroupBy

COLUMNS = ("kpi", "detail", "group", "value", "numerator", "denominator", "target", "target_met")


class KpiQuerySchema(PeriodQuerySchema):
    group_by = OneOf(GroupBy, load_default=None, metadata={
        "description": "station: the request's nearest station; technician: the job's lead technician; month: "
                       "YYYY-MM (UTC) of the event counted. Without it, one figure per KPI"})


class KpiRowSchema(ma.Schema):
    kpi = ma.fields.String(metadata={"description": "service_timeliness, satisfaction, satisfaction_mean, "
                                                    "service_complaint_rate, major_complaint_rate, first_time_fix, "
                                                    "callback_coverage, old_parts_outstanding, old_parts_overdue, "
                                                    "jobs_per_technician, parts_per_technician"})
    detail = ma.fields.String(allow_none=True, metadata={"description": "The deadline kind, for service_timeliness"})
    group = ma.fields.String(allow_none=True, metadata={
        "description": "The station or technician id, or the month; null when not grouped (or for requests with "
                       "no technician yet)"})
    value = ma.fields.Float(allow_none=True, metadata={
        "description": "A share 0-1, a mean rating, a count or a figure per technician; null with nothing to count"})
    numerator = ma.fields.Float(allow_none=True)
    denominator = ma.fields.Integer(allow_none=True)
    target = ma.fields.String(allow_none=True, metadata={"description": "e.g. \">= 90%\" (DSP-5)"})
    target_met = ma.fields.Boolean(allow_none=True)


class KpiTableSchema(ma.Schema):
    start = Timestamp(data_key="from")
    end = Timestamp(data_key="to")
    group_by = OneOf(GroupBy, allow_none=True)
    as_of = Timestamp(metadata={"description": "Now: open deadlines past it count as missed; old parts are as of it"})
    rows = ma.fields.List(ma.fields.Nested(KpiRowSchema))
