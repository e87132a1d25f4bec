"""HTTP for the KPIs (RULES.md §9): JSON, or the same table as CSV with `Accept: text/csv`."""

import csv
import io
from typing import Any

from flask import Response, request

from backend.accounts.models import Role
from backend.errors import DomainError
from backend.http.api import Blueprint
from backend.http.context import current_user, db, onsite
from backend.kpis import service
from backend.kpis.schemas import COLUMNS, KpiQuerySchema, KpiRowSchema, KpiTableSchema

blp = Blueprint("kpis", __name__, url_prefix="/api/v1/kpis", description="KPIs against their targets")

CSV = "text/csv"


@blp.route("", methods=["GET"])
@blp.access(Role.MANAGER, Role.SUPERVISOR)
@blp.arguments(KpiQuerySchema, location="query")
@blp.response(200, KpiTableSchema)
@blp.doc(summary="KPIs for a period, optionally by station, technician or month, each beside its target",
         responses={200: {"content": {CSV: {"schema": {"type": "string"}}}}})
def get_kpis(query: dict[str, Any]) -> Any:
    if query["start"] >= query["end"]:
        raise DomainError("to", "must be after `from`", location="query")
    now = onsite().clock.now()
    rows = service.compute(db(), start=query["start"], end=query["end"], group_by=query["group_by"], now=now,
                           settings=onsite().settings, user=current_user())
    if request.accept_mimetypes.best_match(["application/json", CSV]) == CSV:
        return _csv(rows)
    return {**query, "as_of": now, "rows": rows}


def _csv(rows: list[service.Row]) -> Response:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(KpiRowSchema(many=True).dump(rows))
    return Response(out.getvalue(), mimetype=CSV,
                    headers={"Content-Disposition": 'attachment; filename="kpis.csv"'})
