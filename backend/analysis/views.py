"""HTTP for the failure analysis (CST-3): JSON, or CSV with `Accept: text/csv`."""

from typing import Any

from backend.analysis import service
from backend.analysis.schemas import COLUMNS, FailureAnalysisSchema, FailureQuerySchema, FailureRowSchema
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
        rows = FailureRowSchema(many=True).dump(analysis.rows)
        for row in rows:  # one cell: "cause: failures; ..." (a cause not yet investigated is blank)
            row["root_causes"] = "; ".join(f"{c['cause'] or ''}: {c['failures']}" for c in row["root_causes"])
        return csv_response(rows, COLUMNS, "failure-analysis.csv")
    return {**query, "rows": analysis.rows, "totals": analysis.totals}
