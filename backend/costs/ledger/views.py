"""HTTP for the cost ledger of a request, finance's allocations (CST-2) and the cost report (CST-1): JSON, or the
report as CSV with `Accept: text/csv`. The rules live in backend.costs.ledger.service."""

from typing import Any

from backend.costs.ledger import service as costs
from backend.costs.ledger.schemas import (COLUMNS, CostAllocationDecisionSchema, CostLineSchema, CostQuerySchema,
                                          CostReportSchema, CostLedgerSchema, CostTotalsSchema)
from backend.http.api import Blueprint, etag_of, require_if_match
from backend.http.context import current_user, db, now
from backend.http.csv import CSV_DOC, csv_response, wants_csv

report_blp = Blueprint("costs", __name__, url_prefix="/api/v1/costs",
                       description="Service costs by period, per allocation (CST-1, CST-2)")
ledger_blp = Blueprint("cost_ledgers", __name__, url_prefix="/api/v1/service-requests",
                       description="A service request's cost ledger and its allocation by finance (CST-1, CST-2)")

LINE = "/<id:service_request_id>/costs/<source>/<id:source_id>"


@report_blp.endpoint("GET", roles=costs.READERS, takes=CostQuerySchema, answers=CostReportSchema, doc=CSV_DOC,
                     summary="Service costs of a period per allocation, optionally grouped; pending expenses apart")
def get_cost_report(query: dict[str, Any]) -> Any:
    report = costs.cost_report(db(), current_user(), start=query["start"], end=query["end"],
                               group_by=query["group_by"])
    if wants_csv():
        return csv_response(CostTotalsSchema(many=True).dump(report.rows), COLUMNS, "costs.csv")
    return {**query, "rows": report.rows, "totals": report.totals}


@ledger_blp.endpoint("GET", "/<id:service_request_id>/costs", roles=costs.READERS, answers=CostLedgerSchema,
                     refuses=(404,), summary="A service request's cost lines, who bears each, and its totals")
def get_ledger(service_request_id: int) -> Any:
    return costs.ledger(db(), service_request_id, current_user())


@ledger_blp.endpoint("GET", LINE, roles=costs.READERS, answers=CostLineSchema, etag=True, refuses=(404,),
                     summary="One cost line of a service request, with its allocation's ETag")
def get_cost_line(service_request_id: int, source: str, source_id: int) -> Any:
    line = costs.cost_line(db(), service_request_id, source, source_id, current_user())
    return line, {"ETag": etag_of(line.version)}


@ledger_blp.endpoint("PUT", f"{LINE}/allocation", roles=costs.ALLOCATORS, writes=True, if_match=True,
                     takes=CostAllocationDecisionSchema, answers=CostLineSchema, etag=True, refuses=(404, 409),
                     summary="Decide who bears a cost line (finance, CST-2); recorded with who decided and why")
def allocate_cost_line(data: dict[str, Any], service_request_id: int, source: str, source_id: int) -> Any:
    line = costs.cost_line(db(), service_request_id, source, source_id, current_user(), for_update=True)
    require_if_match(line.version)
    line = costs.allocate(db(), line, data, actor=current_user(), now=now())
    return line, {"ETag": etag_of(line.version)}
