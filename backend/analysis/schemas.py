"""Schemas of the failure analysis (CST-3)."""

from typing import Any

import marshmallow as ma

from backend.analysis.service import FailureGroupBy
from backend.http.fields import Money, OneOf, Timestamp
from backend.http.periods import PeriodQuerySchema


class FailureQuerySchema(PeriodQuerySchema):
    group_by = OneOf(FailureGroupBy, load_default=FailureGroupBy.MODEL.value, metadata={
        "description": "model: the unit's model (the default); part; supplier: the part's maker; cause: the "
                       "investigation's root cause"})


class CauseCountSchema(ma.Schema):
    cause = ma.fields.String(allow_none=True, metadata={"description": "null: not investigated yet"})
    failures = ma.fields.Integer()


class FailureRowSchema(ma.Schema):
    group = ma.fields.String(allow_none=True, metadata={"description": "The model, part id, supplier or cause"})
    label = ma.fields.String(allow_none=True, metadata={"description": "The part's number and name"})
    failures = ma.fields.Integer(metadata={"description": "Quantities of parts replaced on approved reports"})
    root_causes = ma.fields.List(ma.fields.Nested(CauseCountSchema), metadata={"description": "Most frequent first"})
    units_in_service = ma.fields.Integer(metadata={
        "description": "Delivered before the period's end: of the model when grouped by model, else the fleet"})
    failure_rate_per_100 = ma.fields.Float(allow_none=True, metadata={"description": "Null with no units"})
    share = ma.fields.Float(allow_none=True, metadata={"description": "Of all failures in the period, 0-1"})
    cumulative_share = ma.fields.Float(allow_none=True, metadata={"description": "Down the Pareto order"})
    warranty_cost = Money(metadata={"description": "Parts replaced under warranty, at their write-off price"})


COLUMNS = ("group", "label", "failures", "root_causes", "units_in_service", "failure_rate_per_100", "share",
           "cumulative_share", "warranty_cost")


def csv_rows(rows: list[Any]) -> list[dict[str, Any]]:
    """The rows as the CSV holds them: the root causes in one cell, "cause: failures; ..." (a cause not yet
    investigated is blank)."""
    dumped = FailureRowSchema(many=True).dump(rows)
    for row in dumped:
        row["root_causes"] = "; ".join(f"{c['cause'] or ''}: {c['failures']}" for c in row["root_causes"])
    return dumped


class FailureAnalysisSchema(ma.Schema):
    start = Timestamp(data_key="from")
    end = Timestamp(data_key="to")
    group_by = OneOf(FailureGroupBy)
    rows = ma.fields.List(ma.fields.Nested(FailureRowSchema), metadata={"description": "Pareto order"})
    totals = ma.fields.Nested(FailureRowSchema)
