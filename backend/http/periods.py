"""A report's period in a query: [from, to), as the KPIs, the cost report and the failure analysis take it."""

from typing import Any

import marshmallow as ma

from backend.errors import DomainError
from backend.http.fields import Timestamp


class PeriodQuerySchema(ma.Schema):
    start = Timestamp(data_key="from", required=True, metadata={"description": "Start of the period (included)"})
    end = Timestamp(data_key="to", required=True, metadata={"description": "End of the period (excluded)"})

    @ma.validates_schema
    def _ends_after_it_starts(self, data: dict[str, Any], **_kwargs: object) -> None:
        if data["start"] >= data["end"]:
            raise DomainError("to", "must be after `from`", location="query")
