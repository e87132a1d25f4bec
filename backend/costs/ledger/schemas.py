"""Schemas of the cost ledger, its allocation (CST-2) and the cost report (CST-1)."""

import marshmallow as ma

from backend.costs.ledger.service import CostGroupBy
from backend.costs.models import BorneBy
from backend.http.fields import Money, Name, OneOf, Text, Timestamp
from backend.http.periods import PeriodQuerySchema


class CostQuerySchema(PeriodQuerySchema):
    group_by = OneOf(CostGroupBy, load_default=None, metadata={
        "description": "station: the request's nearest station; model: the unit's model; part: the part written "
                       "off (other lines: null); supplier: the supplier bearing the line, else the part's maker; "
                       "cause: the investigation's root cause; month: YYYY-MM (UTC) of the line's date. Without "
                       "it, one row"})


class CostAllocationDecisionSchema(ma.Schema):
    borne_by = OneOf(BorneBy, required=True)
    supplier = Text(200, min_length=1, allow_none=True, load_default=None, metadata={
        "description": "The supplier bearing it, when borne_by is supplier; defaults to the investigation's or the "
                       "part's supplier"})
    reason = Name(1000, required=True)


class CostAllocationSchema(ma.Schema):
    borne_by = OneOf(BorneBy)
    supplier = ma.fields.String(allow_none=True)
    reason = ma.fields.String()
    decided_by_user_id = ma.fields.Integer()
    decided_at = Timestamp()


class CostLineSchema(ma.Schema):
    source = ma.fields.String(metadata={"description": "expense, part (a write-off), freight, compensation, or "
                                                       "income (money collected, REP-6)"})
    source_id = ma.fields.Integer(metadata={"description": "The id of the expense, write-off, freight charge, "
                                                          "compensation line, or report"})
    kind = ma.fields.String(metadata={"description": "travel, lodging, allowance, transport, packaging, part, "
                                                     "freight, compensation, collected"})
    service_request_id = ma.fields.Integer(attribute="request.id")
    on = Timestamp(metadata={"description": "The line's own date: the expense's day (00:00 UTC), the write-off, "
                                            "the freight's recording, the report's approval"})
    amount = Money(metadata={"description": "A freight charge shared by several requests: this request's share"})
    status = ma.fields.String(metadata={"description": "approved; an expense or freight may be pending or rejected"})
    description = ma.fields.String()
    part_id = ma.fields.Integer(allow_none=True)
    part_supplier = ma.fields.String(allow_none=True)
    covered_by_warranty = ma.fields.Boolean(allow_none=True)
    borne_by = OneOf(BorneBy, allow_none=True, metadata={"description": "null for income"})
    supplier = ma.fields.String(allow_none=True, metadata={"description": "Who bears it, when a supplier does"})
    default_borne_by = OneOf(BorneBy, attribute="default.borne_by", allow_none=True)
    default_basis = ma.fields.String(attribute="default.basis", allow_none=True,
                                     metadata={"description": "Why the default is what it is (001 §9, INV-2, INT-3)"})
    allocation = ma.fields.Nested(CostAllocationSchema, allow_none=True, metadata={
        "description": "Finance's decision, if any; null while the default stands"})
    version = ma.fields.Integer(metadata={"description": "The allocation's version (0: the default), its ETag"})


class CostTotalsSchema(ma.Schema):
    group = ma.fields.String(allow_none=True, metadata={
        "description": "The station or part id, the model, supplier, cause or month; null when not grouped, or "
                       "for lines without one (e.g. no part, no investigation yet)"})
    service_branch = Money()
    manufacturing = Money()
    supplier = Money(metadata={"description": "Borne by suppliers, gross"})
    customer = Money()
    total = Money(metadata={"description": "All approved costs (the four allocations)"})
    supplier_recovered = Money(metadata={"description": "Recovered: accepted secondary claims settled (PRT-7)"})
    supplier_net = Money(metadata={"description": "supplier - supplier_recovered"})
    income = Money(metadata={"description": "Money collected from customers (REP-6)"})
    pending = Money(metadata={"description": "Expenses and freight awaiting approval: not in the totals"})
    pending_count = ma.fields.Integer()


COLUMNS = tuple(CostTotalsSchema().fields)


class CostLedgerSchema(ma.Schema):
    service_request_id = ma.fields.Integer(attribute="service_request.id")
    number = ma.fields.String(attribute="service_request.number")
    lines = ma.fields.List(ma.fields.Nested(CostLineSchema))
    totals = ma.fields.Nested(CostTotalsSchema)


class CostReportSchema(ma.Schema):
    start = Timestamp(data_key="from")
    end = Timestamp(data_key="to")
    group_by = OneOf(CostGroupBy, allow_none=True)
    rows = ma.fields.List(ma.fields.Nested(CostTotalsSchema))
    totals = ma.fields.Nested(CostTotalsSchema)
