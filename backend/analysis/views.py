"""HTTP for the failure analysis (CST-3): JSON, or CSV with `Accept: text/csv`."""

from typing import Any

from backend.analysis import service
from backend.analysis.schemas import COLUMNS, FailureAnalysisSchema, FailureQuerySchema, csv_rows
from backend.http.api import Blueprint
from backend.http.context import current_user, db
from backend.http.csv import CSV_DOC, csv_response, wants_csv

blp = Blueprint("failure_analysis", __name__, url_prefix="/api/v1/failure-analysis",
                description="Failures by model, part, supplier or cause, per 100 units in service (CST-3)")


@blp.endpoint("GET", roles=service.READERS, takes=FailureQuerySchema, answers=FailureAnalysisSchema, doc=CSV_DOC,
              summary="Parts replaced on approved reports in a period, against the units in service, Pareto order")
def get_failure_analysis(query: dict[str, Any]) -> Any:
    analysis = service.analyse(db(), current_user(), start=query["start"], end=query["end"],
                               group_by=query["group_by"])
    if wants_csv():
        return csv_response(csv_rows(analysis.rows), COLUMNS, "failure-analysis.csv")
    return {**query, "rows": analysis.rows, "totals": analysis.totals}
