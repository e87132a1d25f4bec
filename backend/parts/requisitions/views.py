"""HTTP for requisitions (rules PRT-3, PRT-6); the rules live in backend.parts.requisitions.service."""

from typing import Any

from backend.accounts.models import Role
from backend.http.api import Blueprint, created, tagged
from backend.http.context import current_user, db, now
from backend.http.crud import paginate
from backend.parts.http import FLOW_READERS
from backend.parts.requisitions import service as requisitions
from backend.parts.requisitions.schemas import (IssueSchema, RejectSchema, RequisitionCreateSchema,
                                                RequisitionFilterSchema, RequisitionSchema, ReturnSchema)

requisitions_blp = Blueprint("requisitions", __name__, url_prefix="/api/v1/requisitions",
                             description="Parts requested for a job, approved, issued, returned (PRT-3, PRT-6)")

ITEM = "/<id:requisition_id>"


@requisitions_blp.endpoint("POST", roles=(Role.TECHNICIAN,), writes=True, takes=RequisitionCreateSchema,
                           answers=RequisitionSchema, status=201, etag=True, location=True, refuses=(409,),
                           summary="Request parts for a job on your crew (PRT-3)")
def create_requisition(data: dict[str, Any]) -> Any:
    requisition = requisitions.create(db(), data, actor=current_user(), now=now())
    return created(requisition, "requisitions.get_requisition", requisition_id=requisition.id)


@requisitions_blp.endpoint("GET", roles=FLOW_READERS, takes=RequisitionFilterSchema, as_kwargs=True,
                           answers=RequisitionSchema(many=True), paginated=True,
                           summary="List requisitions, newest first (a technician sees their own)")
def list_requisitions(pagination_parameters: Any, **filters: Any) -> Any:
    return paginate(db(), requisitions.visible(db(), current_user(), filters), pagination_parameters)


@requisitions_blp.endpoint("GET", ITEM, roles=FLOW_READERS, answers=RequisitionSchema, etag=True, refuses=(404,),
                           summary="Get a requisition, with the write-off conditions each line still waits for (PRT-6)")
def get_requisition(requisition_id: int) -> Any:
    return tagged(requisitions.get_visible(db(), requisition_id, current_user()))


@requisitions_blp.endpoint("POST", f"{ITEM}/approve", roles=(Role.SUPERVISOR,), writes=True, answers=RequisitionSchema,
                           etag=True, refuses=(404, 409), summary="Approve a pending requisition (PRT-3)")
def approve_requisition(requisition_id: int) -> Any:
    return tagged(requisitions.approve(db(), requisition_id, actor=current_user(), now=now()))


@requisitions_blp.endpoint("POST", f"{ITEM}/reject", roles=(Role.SUPERVISOR,), writes=True, takes=RejectSchema,
                           answers=RequisitionSchema, etag=True, refuses=(404, 409),
                           summary="Reject a pending requisition, with a reason")
def reject_requisition(data: dict[str, Any], requisition_id: int) -> Any:
    return tagged(requisitions.reject(db(), requisition_id, actor=current_user(), reason=data["reason"],
                                       now=now()))


@requisitions_blp.endpoint("POST", f"{ITEM}/issue", roles=(Role.WAREHOUSE,), writes=True, takes=IssueSchema,
                           answers=RequisitionSchema, etag=True, refuses=(404, 409),
                           summary="Issue an approved requisition from a location to the technician's van (PRT-3)")
def issue_requisition(data: dict[str, Any], requisition_id: int) -> Any:
    return tagged(requisitions.issue(db(), requisition_id, data, actor=current_user(), now=now()))


@requisitions_blp.endpoint("POST", f"{ITEM}/return-unused", roles=(Role.WAREHOUSE, Role.TECHNICIAN), writes=True,
                           takes=ReturnSchema, answers=RequisitionSchema, etag=True, refuses=(404, 409),
                           summary="Return parts not used from the technician's van into stock (PRT-6)")
def return_unused(data: dict[str, Any], requisition_id: int) -> Any:
    return tagged(requisitions.return_unused(db(), requisition_id, data, actor=current_user(), now=now()))
