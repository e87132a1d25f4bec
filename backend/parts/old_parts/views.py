"""HTTP for old parts owed back (rules PRT-5, PRT-7); the rules live in backend.parts.old_parts.service."""

from typing import Any

from backend.accounts.models import Role
from backend.http.api import Blueprint, tagged
from backend.http.context import current_user, db
from backend.http.crud import paginate
from backend.parts.http import FLOW_READERS, WITH_ETAG, now
from backend.parts.old_parts import service as old_parts
from backend.parts.old_parts.schemas import (DisposeSchema, ExcuseSchema, OldPartFilterSchema, OldPartSchema,
                                             ReceiveOldPartSchema)

old_parts_blp = Blueprint("old_parts", __name__, url_prefix="/api/v1/old-parts",
                          description="Old parts owed back, received, excused and disposed of (PRT-5, PRT-7)")

OLD_PART = "/<id:old_part_id>"


@old_parts_blp.route("", methods=["GET"])
@old_parts_blp.access(*FLOW_READERS)
@old_parts_blp.arguments(OldPartFilterSchema, location="query", as_kwargs=True)
@old_parts_blp.response(200, OldPartSchema(many=True))
@old_parts_blp.paginate()
@old_parts_blp.doc(summary="Old parts owed back, by due time (a technician sees their own)")
def list_old_parts(pagination_parameters: Any, **filters: Any) -> Any:
    return paginate(db(), old_parts.visible(db(), current_user(), filters, now()), pagination_parameters)


@old_parts_blp.route(OLD_PART, methods=["GET"])
@old_parts_blp.access(*FLOW_READERS)
@old_parts_blp.response(200, OldPartSchema, **WITH_ETAG)
@old_parts_blp.alt_response(404, response="NOT_FOUND")
@old_parts_blp.doc(summary="Get an old part")
def get_old_part(old_part_id: int) -> Any:
    return tagged(old_parts.get_visible(db(), old_part_id, current_user(), now()))


@old_parts_blp.route(f"{OLD_PART}/receive", methods=["POST"])
@old_parts_blp.access(Role.WAREHOUSE)
@old_parts_blp.write
@old_parts_blp.arguments(ReceiveOldPartSchema)
@old_parts_blp.response(200, OldPartSchema, **WITH_ETAG)
@old_parts_blp.alt_response(404, response="NOT_FOUND")
@old_parts_blp.alt_response(409, response="CONFLICT")
@old_parts_blp.doc(summary="Record the old part received, with its condition (PRT-5)")
def receive_old_part(data: dict[str, Any], old_part_id: int) -> Any:
    return tagged(old_parts.receive(db(), old_part_id, condition=data["condition"], actor=current_user(),
                                     now=now()))


@old_parts_blp.route(f"{OLD_PART}/excuse", methods=["POST"])
@old_parts_blp.access(Role.SUPERVISOR)
@old_parts_blp.write
@old_parts_blp.arguments(ExcuseSchema)
@old_parts_blp.response(200, OldPartSchema, **WITH_ETAG)
@old_parts_blp.alt_response(404, response="NOT_FOUND")
@old_parts_blp.alt_response(409, response="CONFLICT")
@old_parts_blp.doc(summary="Excuse an old part that cannot come back, with the reason (PRT-5)")
def excuse_old_part(data: dict[str, Any], old_part_id: int) -> Any:
    return tagged(old_parts.excuse(db(), old_part_id, reason=data["reason"], note=data.get("note"),
                                    actor=current_user(), now=now()))


@old_parts_blp.route(f"{OLD_PART}/dispose", methods=["POST"])
@old_parts_blp.access(Role.WAREHOUSE)
@old_parts_blp.write
@old_parts_blp.arguments(DisposeSchema)
@old_parts_blp.response(200, OldPartSchema, **WITH_ETAG)
@old_parts_blp.alt_response(404, response="NOT_FOUND")
@old_parts_blp.alt_response(409, response="CONFLICT")
@old_parts_blp.doc(summary="Repair a received old part into stock, or scrap it (PRT-7)")
def dispose_old_part(data: dict[str, Any], old_part_id: int) -> Any:
    return tagged(old_parts.dispose(db(), old_part_id, data, actor=current_user(), now=now()))
