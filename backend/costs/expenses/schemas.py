"""Schemas of technicians' expenses (CST-1)."""

import marshmallow as ma

from backend.costs.models import ExpenseKind, ExpenseStatus
from backend.http.fields import Id, Money, Name, OneOf, Text, Timestamp


class ExpenseCreateSchema(ma.Schema):
    job_id = Id(required=True, metadata={"description": "A job you are on"})
    kind = OneOf(ExpenseKind, required=True, metadata={
        "description": "travel, lodging, allowance (the service branch's, 001 §9.1); transport, packaging "
                       "(manufacturing cost, §9.2)"})
    amount = Money(required=True, metadata={"description": "More than zero"})
    incurred_on = ma.fields.Date(required=True, metadata={
        "description": "The day it was spent (YYYY-MM-DD); not before the job was assigned, not in the future"})
    receipt_number = Name(60, allow_none=True, load_default=None, metadata={
        "description": "Required except for an allowance"})
    description = Text(1000, allow_none=True, load_default=None)


class ExpenseSchema(ma.Schema):
    id = ma.fields.Integer()
    number = ma.fields.String(metadata={"description": "EX-<6 digits>"})
    job_id = ma.fields.Integer()
    service_request_id = ma.fields.Integer(attribute="job.service_request_id")
    technician_id = ma.fields.Integer()
    kind = OneOf(ExpenseKind)
    amount = Money()
    incurred_on = ma.fields.Date()
    receipt_number = ma.fields.String(allow_none=True)
    description = ma.fields.String(allow_none=True)
    status = OneOf(ExpenseStatus)
    raised_by_user_id = ma.fields.Integer()
    raised_at = Timestamp()
    decided_at = Timestamp(allow_none=True)
    decided_by_user_id = ma.fields.Integer(allow_none=True)
    reject_reason = ma.fields.String(allow_none=True)
    version = ma.fields.Integer()


class ExpenseFilterSchema(ma.Schema):
    status = OneOf(ExpenseStatus)
    kind = OneOf(ExpenseKind)
    job_id = Id(in_query=True)
    service_request_id = Id(in_query=True)
