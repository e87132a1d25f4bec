"""HTTP for a technician's day (PLN-2); the rules live in backend.planning.routes.service."""

from typing import Any

from backend.accounts.models import Role
from backend.http.api import Blueprint
from backend.http.context import current_user, db, now, onsite
from backend.planning.routes import service
from backend.planning.routes.schemas import RouteQuerySchema, RouteSchema
from backend.technicians.views import OFFICE_ROLES

blp = Blueprint("routes", __name__, url_prefix="/api/v1", description="A technician's day: ordered stops (PLN-2)")

ABOUT = (" in visiting order, with planned arrival and departure within the shift, each flagged if late for its "
         "deadline; the jobs that do not fit are listed as not scheduled (PLN-2)")


@blp.endpoint("GET", "/me/route", roles=(Role.TECHNICIAN,), takes=RouteQuerySchema, answers=RouteSchema,
              refuses=(404,), summary="Your open jobs for a day" + ABOUT)
def get_my_route(query: dict[str, Any]) -> Any:
    technician = service.own_technician(db(), current_user())
    route, _jobs = service.day_route(db(), technician, query.get("date"), now=now(),
                                     terms=service.RouteTerms.from_settings(onsite().settings))
    return route


@blp.endpoint("GET", "/technicians/<id:technician_id>/route", roles=OFFICE_ROLES, takes=RouteQuerySchema,
              answers=RouteSchema, refuses=(404,), summary="A technician's open jobs for a day" + ABOUT)
def get_technician_route(query: dict[str, Any], technician_id: int) -> Any:
    user = current_user()
    technician = service.technician_in_scope(db(), technician_id, user)
    route, jobs = service.day_route(db(), technician, query.get("date"), now=now(),
                                    terms=service.RouteTerms.from_settings(onsite().settings))
    return service.as_seen_by(route, jobs, user)
