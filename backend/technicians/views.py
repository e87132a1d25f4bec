from typing import Any

from backend.accounts.models import Role
from backend.http import crud
from backend.http.api import Blueprint, etag_of
from backend.http.context import current_user, db, now
from backend.stations.models import Station
from backend.technicians.models import Technician, TechnicianSkill
from backend.technicians.schemas import (PositionReportSchema, TechnicianCreateSchema, TechnicianFilterSchema,
                                         TechnicianSchema, TechnicianUpdateSchema)
from backend.technicians.service import apply_technician_changes, create_technician, report_position

blp = Blueprint("technicians", __name__, url_prefix="/api/v1/technicians", description="Technicians")

OFFICE_ROLES = (Role.DISPATCHER, Role.SUPERVISOR, Role.MANAGER, Role.ADMIN)

crud.register(blp, crud.Resource(
    model=Technician, singular="technician", plural="technicians", schema=TechnicianSchema,
    create_schema=TechnicianCreateSchema, update_schema=TechnicianUpdateSchema, filters=TechnicianFilterSchema,
    read_roles=OFFICE_ROLES, write_roles=(Role.ADMIN, Role.SUPERVISOR),
    references={"home_station_id": Station},
    custom_filters={"skill": lambda stmt, skill: stmt.where(Technician.skill_rows.any(TechnicianSkill.skill == skill))},
    create=create_technician, update=lambda _session, technician, data: apply_technician_changes(technician, data),
))


@blp.endpoint("PUT", "/<id:technician_id>/position", roles=(Role.TECHNICIAN,), writes=True, takes=PositionReportSchema,
              answers=TechnicianSchema, etag=True, refuses=(404,),
              summary="Report the technician's current position (from their own device)")
def put_position(data: dict[str, Any], technician_id: int) -> Any:
    # Locked: two reports crossing are applied one after the other, the latest device time kept (report_position).
    technician = crud.get_or_404(db(), Technician, technician_id, "technician", for_update=True)
    report_position(technician, current_user(), latitude=data["latitude"], longitude=data["longitude"],
                    accuracy_m=data.get("accuracy_m"), device_time=data.get("device_time"),
                    received_at=now())
    db().flush()
    return technician, {"ETag": etag_of(technician.version)}
