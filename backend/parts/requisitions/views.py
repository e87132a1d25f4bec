"""HTTP for requisitions (rules PRT-3, PRT-6); the rules live in backend.parts.requisitions.service."""

from typing import Any

from backend.accounts.models import Role
from backend.http.api import Blueprint, tagged
from backend.http.context import current_user, db
from backend.http.crud import paginate
from backend.parts.http import CREATED, FLOW_READERS, WITH_ETAG, created, now
from backend.parts.requisitions import service as requisitions
from backend.parts.requisitions.schemas import (IssueSchema, RejectSchema, RequisitionCreateSchema,
                                                RequisitionFilterSchema, RequisitionSchema, ReturnSchema)

requisitions_blp = Blueprint("requisitions", __name__, url_prefix="/api/v1/requisitions",
                             description="Parts requested for a job, approved, issued, returned (PRT-3, PRT-6)")

ITEM = "/<id:requisition_id>"


@requisitions_blp.route("", methods=["POST"])
@requisitions_blp.access(Role.TECHNICIAN)
@requisitions_blp.write
@requisitions_blp.arguments(RequisitionCreateSchema)
@requisitions_blp.response(201, RequisitionSchema, **CREATED)
@requisitions_blp.alt_response(409, response="CONFLICT")
@requisitions_blp.doc(summary="Request parts for a job on your crew (PRT-3)")
def create_requisition(data: dict[str, Any]) -> Any:
    requisition = requisitions.create(db(), data, actor=current_user(), now=now())
    return created(requisition, "requisitions.get_requisition", requisition_id=requisition.id)


@requisitions_blp.route("", methods=["GET"])
@requisitions_blp.access(*FLOW_READERS)
@requisitions_blp.arguments(RequisitionFilterSchema, location="query", as_kwargs=True)
@requisitions_blp.response(200, RequisitionSchema(many=True))
@requisitions_blp.paginate()
@requisitions_blp.doc(summary="List requisitions, newest first (a technician sees their own)")
def list_requisitions(pagination_parameters: Any, **filters: Any) -> Any:
    return paginate(db(), requisitions.visible(db(), current_user(), filters), pagination_parameters)


@requisitions_blp.route(ITEM, methods=["GET"])
@requisitions_blp.access(*FLOW_READERS)
@requisitions_blp.response(200, RequisitionSchema, **WITH_ETAG)
@requisitions_blp.alt_response(404, response="NOT_FOUND")
@requisitions_blp.doc(summary="Get a requisition, with the write-off conditions each line still waits for (PRT-6)")
def get_requisition(requisition_id: int) -> Any:
    return tagged(requisitions.get_visible(db(), requisition_id, current_user()))


@requisitions_blp.route(f"{ITEM}/approve", methods=["POST"])
@requisitions_blp.access(Role.SUPERVISOR)
@requisitions_blp.write
@requisitions_blp.response(200, RequisitionSchema, **WITH_ETAG)
@requisitions_blp.alt_response(404, response="NOT_FOUND")
@requisitions_blp.alt_response(409, response="CONFLICT")
@requisitions_blp.doc(summary="Approve a pending requisition (PRT-3)")
def approve_requisition(requisition_id: int) -> Any:
    return tagged(requisitions.approve(db(), requisition_id, actor=current_user(), now=now()))


@requisitions_blp.route(f"{ITEM}/reject", methods=["POST"])
@requisitions_blp.access(Role.SUPERVISOR)
@requisitions_blp.write
@requisitions_blp.arguments(RejectSchema)
@requisitions_blp.response(200, RequisitionSchema, **WITH_ETAG)
@requisitions_blp.alt_response(404, response="NOT_FOUND")
@requisitions_blp.alt_response(409, response="CONFLICT")
@requisitions_blp.doc(summary="Reject a pending requisition, with a reason")
def reject_requisition(data: dict[str, Any], requisition_id: int) -> Any:
    return tagged(requisitions.reject(db(), requisition_id, actor=current_user(), reason=data["reason"],
                                       now=now()))


@requisitions_blp.route(f"{ITEM}/issue", methods=["POST"])
@requisitions_blp.access(Role.WAREHOUSE)
@requisitions_blp.write
@requisitions_blp.arguments(IssueSchema)
@requisitions_blp.response(200, RequisitionSchema, **WITH_ETAG)
@requisitions_blp.alt_response(404, response="NOT_FOUND")
@requisitions_blp.alt_response(409, response="CONFLICT")
@requisitions_blp.doc(summary="Issue an approved requisition from a location to the technician's van (PRT-3)")
def issue_requisition(data: dict[str, Any], requisition_id: int) -> Any:
    return tagged(requisitions.issue(db(), requisition_id, data, actor=current_user(), now=now()))


@requisitions_blp.route(f"{ITEM}/return-unused", methods=["POST"])
@requisitions_blp.access(Role.WAREHOUSE, Role.TECHNICIAN)
@requisitions_blp.write
@requisitions_blp.arguments(ReturnSchema)
@requisitions_blp.response(200, RequisitionSchema, **WITH_ETAG)
@requisitions_blp.alt_response(404, response="NOT_FOUND")
@requisitions_blp.alt_response(409, response="CONFLICT")
@requisitions_blp.doc(summary="Return parts not used from the technician's van into stock (PRT-6)")
def return_unused(data: dict[str, Any], requisition_id: int) -> Any:
    return tagged(requisitions.return_unused(db(), requisition_id, data, actor=current_user(), now=now()))
