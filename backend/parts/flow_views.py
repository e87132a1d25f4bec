"""HTTP for the parts flow on jobs (rules PRT-3..PRT-8): requisitions, old parts, write-offs, supplier claims and
freight. The rules live in backend.parts.requisitions, .old_parts, .claims and .field_use."""

from datetime import datetime
from typing import Any

from flask import url_for

from backend.accounts.models import Role
from backend.http.api import ETAG_HEADER, Blueprint, tagged
from backend.http.context import current_user, db, onsite
from backend.http.crud import get_or_404, paginate
from backend.parts import claims, old_parts, requisitions
from backend.parts.flow_schemas import (DisposeSchema, ExcuseSchema, FreightCreateSchema, FreightFilterSchema,
                                        FreightSchema, IssueSchema, OldPartFilterSchema, OldPartSchema,
                                        ReceiveOldPartSchema, RejectSchema, RequisitionCreateSchema,
                                        RequisitionFilterSchema, RequisitionSchema, ReturnSchema,
                                        SettleClaimSchema, SupplierClaimCreateSchema, SupplierClaimFilterSchema,
                                        SupplierClaimSchema, WriteOffFilterSchema, WriteOffSchema)
from backend.parts.models import SupplierClaim

requisitions_blp = Blueprint("requisitions", __name__, url_prefix="/api/v1/requisitions",
                             description="Parts requested for a job, approved, issued, returned (PRT-3, PRT-6)")
old_parts_blp = Blueprint("old_parts", __name__, url_prefix="/api/v1/old-parts",
                          description="Old parts owed back, received, excused and disposed of (PRT-5, PRT-7)")
write_offs_blp = Blueprint("write_offs", __name__, url_prefix="/api/v1/write-offs",
                           description="Installed parts written off (销帐, PRT-6)")
claims_blp = Blueprint("supplier_claims", __name__, url_prefix="/api/v1/supplier-claims",
                       description="Secondary claims of old parts to their suppliers (二次索赔, PRT-7)")
freight_blp = Blueprint("freight", __name__, url_prefix="/api/v1/freight",
                        description="Shipping costs of mailed warranty parts (PRT-8)")

# Technicians see their own; the office and the warehouse see all (the service layer narrows technicians).
FLOW_READERS = (Role.TECHNICIAN, Role.DISPATCHER, Role.SUPERVISOR, Role.WAREHOUSE, Role.MANAGER, Role.ADMIN)
BOOK_READERS = (Role.WAREHOUSE, Role.SUPERVISOR, Role.MANAGER, Role.ADMIN)
ITEM = "/<id:requisition_id>"
OLD_PART = "/<id:old_part_id>"
CLAIM = "/<id:claim_id>"
FREIGHT = "/<id:freight_id>"
CREATED = {"headers": {**ETAG_HEADER, "Location": {"schema": {"type": "string"}, "required": True}}}
WITH_ETAG = {"headers": ETAG_HEADER}


def _created(resource: Any, endpoint: str, **ident: int) -> tuple[Any, dict[str, str]]:
    return tagged(resource, Location=url_for(endpoint, **ident))


def _now() -> datetime:
    return onsite().clock.now()


# --- requisitions ------------------------------------------------------------------------------------------------

@requisitions_blp.route("", methods=["POST"])
@requisitions_blp.access(Role.TECHNICIAN)
@requisitions_blp.write
@requisitions_blp.arguments(RequisitionCreateSchema)
@requisitions_blp.response(201, RequisitionSchema, **CREATED)
@requisitions_blp.alt_response(409, response="CONFLICT")
@requisitions_blp.doc(summary="Request parts for a job on your crew (PRT-3)")
def create_requisition(data: dict[str, Any]) -> Any:
    requisition = requisitions.create(db(), data, actor=current_user(), now=_now())
    return _created(requisition, "requisitions.get_requisition", requisition_id=requisition.id)


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
    return tagged(requisitions.approve(db(), requisition_id, actor=current_user(), now=_now()))


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
                                       now=_now()))


@requisitions_blp.route(f"{ITEM}/issue", methods=["POST"])
@requisitions_blp.access(Role.WAREHOUSE)
@requisitions_blp.write
@requisitions_blp.arguments(IssueSchema)
@requisitions_blp.response(200, RequisitionSchema, **WITH_ETAG)
@requisitions_blp.alt_response(404, response="NOT_FOUND")
@requisitions_blp.alt_response(409, response="CONFLICT")
@requisitions_blp.doc(summary="Issue an approved requisition from a location to the technician's van (PRT-3)")
def issue_requisition(data: dict[str, Any], requisition_id: int) -> Any:
    return tagged(requisitions.issue(db(), requisition_id, data, actor=current_user(), now=_now()))


@requisitions_blp.route(f"{ITEM}/return-unused", methods=["POST"])
@requisitions_blp.access(Role.WAREHOUSE, Role.TECHNICIAN)
@requisitions_blp.write
@requisitions_blp.arguments(ReturnSchema)
@requisitions_blp.response(200, RequisitionSchema, **WITH_ETAG)
@requisitions_blp.alt_response(404, response="NOT_FOUND")
@requisitions_blp.alt_response(409, response="CONFLICT")
@requisitions_blp.doc(summary="Return parts not used from the technician's van into stock (PRT-6)")
def return_unused(data: dict[str, Any], requisition_id: int) -> Any:
    return tagged(requisitions.return_unused(db(), requisition_id, data, actor=current_user(), now=_now()))


# --- old parts ---------------------------------------------------------------------------------------------------

@old_parts_blp.route("", methods=["GET"])
@old_parts_blp.access(*FLOW_READERS)
@old_parts_blp.arguments(OldPartFilterSchema, location="query", as_kwargs=True)
@old_parts_blp.response(200, OldPartSchema(many=True))
@old_parts_blp.paginate()
@old_parts_blp.doc(summary="Old parts owed back, by due time (a technician sees their own)")
def list_old_parts(pagination_parameters: Any, **filters: Any) -> Any:
    return paginate(db(), old_parts.visible(db(), current_user(), filters, _now()), pagination_parameters)


@old_parts_blp.route(OLD_PART, methods=["GET"])
@old_parts_blp.access(*FLOW_READERS)
@old_parts_blp.response(200, OldPartSchema, **WITH_ETAG)
@old_parts_blp.alt_response(404, response="NOT_FOUND")
@old_parts_blp.doc(summary="Get an old part")
def get_old_part(old_part_id: int) -> Any:
    return tagged(old_parts.get_visible(db(), old_part_id, current_user(), _now()))


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
                                     now=_now()))


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
                                    actor=current_user(), now=_now()))


@old_parts_blp.route(f"{OLD_PART}/dispose", methods=["POST"])
@old_parts_blp.access(Role.WAREHOUSE)
@old_parts_blp.write
@old_parts_blp.arguments(DisposeSchema)
@old_parts_blp.response(200, OldPartSchema, **WITH_ETAG)
@old_parts_blp.alt_response(404, response="NOT_FOUND")
@old_parts_blp.alt_response(409, response="CONFLICT")
@old_parts_blp.doc(summary="Repair a received old part into stock, or scrap it (PRT-7)")
def dispose_old_part(data: dict[str, Any], old_part_id: int) -> Any:
    return tagged(old_parts.dispose(db(), old_part_id, data, actor=current_user(), now=_now()))


# --- write-offs --------------------------------------------------------------------------------------------------

@write_offs_blp.route("", methods=["GET"])
@write_offs_blp.access(*BOOK_READERS)
@write_offs_blp.arguments(WriteOffFilterSchema, location="query", as_kwargs=True)
@write_offs_blp.response(200, WriteOffSchema(many=True))
@write_offs_blp.paginate()
@write_offs_blp.doc(summary="Installed parts written off, newest first (PRT-6)")
def list_write_offs(pagination_parameters: Any, **filters: Any) -> Any:
    return paginate(db(), old_parts.list_write_offs(filters, current_user()), pagination_parameters)


# --- supplier claims ---------------------------------------------------------------------------------------------

@claims_blp.route("", methods=["POST"])
@claims_blp.access(Role.WAREHOUSE)
@claims_blp.write
@claims_blp.arguments(SupplierClaimCreateSchema)
@claims_blp.response(201, SupplierClaimSchema, **CREATED)
@claims_blp.alt_response(409, response="CONFLICT")
@claims_blp.doc(summary="Claim received old parts of one supplier back from it (PRT-7)")
def create_claim(data: dict[str, Any]) -> Any:
    claim = claims.create_claim(db(), data, actor=current_user(), now=_now())
    return _created(claim, "supplier_claims.get_claim", claim_id=claim.id)


@claims_blp.route("", methods=["GET"])
@claims_blp.access(*BOOK_READERS)
@claims_blp.arguments(SupplierClaimFilterSchema, location="query", as_kwargs=True)
@claims_blp.response(200, SupplierClaimSchema(many=True))
@claims_blp.paginate()
@claims_blp.doc(summary="List supplier claims, newest first")
def list_claims(pagination_parameters: Any, **filters: Any) -> Any:
    return paginate(db(), claims.list_claims(filters), pagination_parameters)


@claims_blp.route(CLAIM, methods=["GET"])
@claims_blp.access(*BOOK_READERS)
@claims_blp.response(200, SupplierClaimSchema, **WITH_ETAG)
@claims_blp.alt_response(404, response="NOT_FOUND")
@claims_blp.doc(summary="Get a supplier claim")
def get_claim(claim_id: int) -> Any:
    return tagged(get_or_404(db(), SupplierClaim, claim_id, "supplier claim"))


@claims_blp.route(f"{CLAIM}/send", methods=["POST"])
@claims_blp.access(Role.WAREHOUSE)
@claims_blp.write
@claims_blp.response(200, SupplierClaimSchema, **WITH_ETAG)
@claims_blp.alt_response(404, response="NOT_FOUND")
@claims_blp.alt_response(409, response="CONFLICT")
@claims_blp.doc(summary="Mark an open claim sent to the supplier")
def send_claim(claim_id: int) -> Any:
    return tagged(claims.send_claim(db(), claim_id, now=_now()))


@claims_blp.route(f"{CLAIM}/settle", methods=["POST"])
@claims_blp.access(Role.WAREHOUSE)
@claims_blp.write
@claims_blp.arguments(SettleClaimSchema)
@claims_blp.response(200, SupplierClaimSchema, **WITH_ETAG)
@claims_blp.alt_response(404, response="NOT_FOUND")
@claims_blp.alt_response(409, response="CONFLICT")
@claims_blp.doc(summary="Record the supplier's answer: accepted with the amount recovered, or rejected")
def settle_claim(data: dict[str, Any], claim_id: int) -> Any:
    return tagged(claims.settle_claim(db(), claim_id, data, actor=current_user(), now=_now()))


# --- freight -----------------------------------------------------------------------------------------------------

@freight_blp.route("", methods=["POST"])
@freight_blp.access(Role.TECHNICIAN, Role.WAREHOUSE)
@freight_blp.write
@freight_blp.arguments(FreightCreateSchema)
@freight_blp.response(201, FreightSchema, **CREATED)
@freight_blp.doc(summary="Record the freight of mailed warranty parts; you are its handler (PRT-8)")
def create_freight(data: dict[str, Any]) -> Any:
    charge = claims.record_freight(db(), data, actor=current_user(), now=_now())
    return _created(charge, "freight.get_freight", freight_id=charge.id)


@freight_blp.route("", methods=["GET"])
@freight_blp.access(Role.TECHNICIAN, *BOOK_READERS)
@freight_blp.arguments(FreightFilterSchema, location="query", as_kwargs=True)
@freight_blp.response(200, FreightSchema(many=True))
@freight_blp.paginate()
@freight_blp.doc(summary="List freight charges, newest first (a technician sees those they handled)")
def list_freight(pagination_parameters: Any, **filters: Any) -> Any:
    return paginate(db(), claims.visible_freight(current_user(), filters), pagination_parameters)


@freight_blp.route(FREIGHT, methods=["GET"])
@freight_blp.access(Role.TECHNICIAN, *BOOK_READERS)
@freight_blp.response(200, FreightSchema, **WITH_ETAG)
@freight_blp.alt_response(404, response="NOT_FOUND")
@freight_blp.doc(summary="Get a freight charge")
def get_freight(freight_id: int) -> Any:
    return tagged(claims.get_freight(db(), freight_id, current_user()))


@freight_blp.route(f"{FREIGHT}/approve", methods=["POST"])
@freight_blp.access(Role.SUPERVISOR)
@freight_blp.write
@freight_blp.response(200, FreightSchema, **WITH_ETAG)
@freight_blp.alt_response(404, response="NOT_FOUND")
@freight_blp.alt_response(409, response="CONFLICT")
@freight_blp.doc(summary="Approve a freight charge for write-off (PRT-8)")
def approve_freight(freight_id: int) -> Any:
    return tagged(claims.decide_freight(db(), freight_id, approve=True, reason=None, actor=current_user(),
                                         now=_now()))


@freight_blp.route(f"{FREIGHT}/reject", methods=["POST"])
@freight_blp.access(Role.SUPERVISOR)
@freight_blp.write
@freight_blp.arguments(RejectSchema)
@freight_blp.response(200, FreightSchema, **WITH_ETAG)
@freight_blp.alt_response(404, response="NOT_FOUND")
@freight_blp.alt_response(409, response="CONFLICT")
@freight_blp.doc(summary="Reject a freight charge, with a reason")
def reject_freight(data: dict[str, Any], freight_id: int) -> Any:
    return tagged(claims.decide_freight(db(), freight_id, approve=False, reason=data["reason"],
                                         actor=current_user(), now=_now()))
