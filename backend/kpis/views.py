"""HTTP for the KPIs (RULES.md §9): JSON, or the same table as CSV with `Accept: text/csv`."""

from typing import Any

from backend.accounts.models import Role
from backend.http.api import Blueprint
from backend.http.context import current_user, db, now, onsite
from backend.http.csv import CSV_DOC, csv_response, wants_csv
from backend.kpis import service
from backend.kpis.schemas import COLUMNS, KpiQuerySchema, KpiRowSchema, KpiTableSchema

blp = Blueprint("kpis", __name__, url_prefix="/api/v1/kpis", description="KPIs against their targets")


@blp.endpoint("GET", roles=(Role.MANAGER, Role.SUPERVISOR), takes=KpiQuerySchema, answers=KpiTableSchema,
              doc=CSV_DOC,
              summary="KPIs for a period, optionally by station, technician or month, each beside its target")
def get_kpis(query: dict[str, Any]) -> Any:
    as_of = now()
    rows = service.compute(db(), start=query["start"], end=query["end"], group_by=query["group_by"], now=as_of,
                           settings=onsite().settings, user=current_user())
    if wants_csv():
        return csv_response(KpiRowSchema(many=True).dump(rows), COLUMNS, "kpis.csv")
    return {**query, "as_of": as_of, "rows": rows}

