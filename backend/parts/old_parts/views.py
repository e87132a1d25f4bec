"""HTTP for old parts owed back (rules PRT-5, PRT-7); the rules live in backend.parts.old_parts.service."""

from typing import Any

from backend.accounts.models import Role
from backend.http.api import Blueprint, tagged
from backend.http.context import current_user, db, now
from backend.http.crud import paginate
from backend.parts.http import FLOW_READERS
from backend.parts.old_parts import service as old_parts
from backend.parts.old_parts.schemas import (DisposeSchema, ExcuseSchema, OldPartFilterSchema, OldPartSchema,
                                             ReceiveOldPartSchema)

old_parts_blp = Blueprint("old_parts", __name__, url_prefix="/api/v1/old-parts",
                          description="Old parts owed back, received, excused and disposed of (PRT-5, PRT-7)")

OLD_PART = "/<id:old_part_id>"


@old_parts_blp.endpoint("GET", roles=FLOW_READERS, takes=OldPartFilterSchema, as_kwargs=True,
                        answers=OldPartSchema(many=True), paginated=True,
                        summary="Old parts owed back, by due time (a technician sees their own)")
def list_old_parts(pagination_parameters: Any, **filters: Any) -> Any:
    return paginate(db(), old_parts.visible(db(), current_user(), filters, now()), pagination_parameters)


@old_parts_blp.endpoint("GET", OLD_PART, roles=FLOW_READERS, answers=OldPartSchema, etag=True, refuses=(404,),
                        summary="Get an old part")
def get_old_part(old_part_id: int) -> Any:
    return tagged(old_parts.get_visible(db(), old_part_id, current_user(), now()))


@old_parts_blp.endpoint("POST", f"{OLD_PART}/receive", roles=(Role.WAREHOUSE,), writes=True, takes=ReceiveOldPartSchema,
                        answers=OldPartSchema, etag=True, refuses=(404, 409),
                        summary="Record the old part received, with its condition (PRT-5)")
def receive_old_part(data: dict[str, Any], old_part_id: int) -> Any:
    return tagged(old_parts.receive(db(), old_part_id, condition=data["condition"], actor=current_user(),
                                     now=now()))


@old_parts_blp.endpoint("POST", f"{OLD_PART}/excuse", roles=(Role.SUPERVISOR,), writes=True, takes=ExcuseSchema,
                        answers=OldPartSchema, etag=True, refuses=(404, 409),
                        summary="Excuse an old part that cannot come back, with the reason (PRT-5)")
def excuse_old_part(data: dict[str, Any], old_part_id: int) -> Any:
    return tagged(old_parts.excuse(db(), old_part_id, reason=data["reason"], note=data.get("note"),
                                    actor=current_user(), now=now()))


@old_parts_blp.endpoint("POST", f"{OLD_PART}/dispose", roles=(Role.WAREHOUSE,), writes=True, takes=DisposeSchema,
                        answers=OldPartSchema, etag=True, refuses=(404, 409),
                        summary="Repair a received old part into stock, or scrap it (PRT-7)")
def dispose_old_part(data: dict[str, Any], old_part_id: int) -> Any:
    return tagged(old_parts.dispose(db(), old_part_id, data, actor=current_user(), now=now()))
