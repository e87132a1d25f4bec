"""Schemas of installed parts written off (PRT-6)."""

import marshmallow as ma

from backend.http.fields import Id, Timestamp
from backend.parts.stock.schemas import PartRefSchema

class WriteOffSchema(ma.Schema):
    id = ma.fields.Integer()
    job_id = ma.fields.Integer()
    part = ma.fields.Nested(PartRefSchema)
    quantity = ma.fields.Integer()
    serial = ma.fields.String(allow_none=True)
    requisition_line_id = ma.fields.Integer(allow_none=True)
    written_off_at = Timestamp()


class WriteOffFilterSchema(ma.Schema):
    job_id = Id(in_query=True)
    part_id = Id(in_query=True)
    since = Timestamp(metadata={"description": "Written off at or after"})
