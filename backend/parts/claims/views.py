"""HTTP for supplier claims (rule PRT-7) and freight (rule PRT-8); the rules live in backend.parts.claims.service."""

from typing import Any

from backend.accounts.models import Role
from backend.http.api import Blueprint, tagged
from backend.http.context import current_user, db
from backend.http.crud import get_or_404, paginate
from backend.parts.claims import service as claims
from backend.parts.claims.schemas import (FreightCreateSchema, FreightFilterSchema, FreightSchema, SettleClaimSchema,
                                          SupplierClaimCreateSchema, SupplierClaimFilterSchema, SupplierClaimSchema)
from backend.parts.http import BOOK_READERS, CREATED, WITH_ETAG, created, now
from backend.parts.models import SupplierClaim
from backend.parts.requisitions.schemas import RejectSchema

claims_blp = Blueprint("supplier_claims", __name__, url_prefix="/api/v1/supplier-claims",
                       description="Secondary claims of old parts to their suppliers (二次索赔, PRT-7)")
freight_blp = Blueprint("freight", __name__, url_prefix="/api/v1/freight",
                        description="Shipping costs of mailed warranty parts (PRT-8)")

CLAIM = "/<id:claim_id>"
FREIGHT = "/<id:freight_id>"


@claims_blp.route("", methods=["POST"])
@claims_blp.access(Role.WAREHOUSE)
@claims_blp.write
@claims_blp.arguments(SupplierClaimCreateSchema)
@claims_blp.response(201, SupplierClaimSchema, **CREATED)
@claims_blp.alt_response(409, response="CONFLICT")
@claims_blp.doc(summary="Claim received old parts of one supplier back from it (PRT-7)")
def create_claim(data: dict[str, Any]) -> Any:
    claim = claims.create_claim(db(), data, actor=current_user(), now=now())
    return created(claim, "supplier_claims.get_claim", claim_id=claim.id)


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
    return tagged(claims.send_claim(db(), claim_id, now=now()))


@claims_blp.route(f"{CLAIM}/settle", methods=["POST"])
@claims_blp.access(Role.WAREHOUSE)
@claims_blp.write
@claims_blp.arguments(SettleClaimSchema)
@claims_blp.response(200, SupplierClaimSchema, **WITH_ETAG)
@claims_blp.alt_response(404, response="NOT_FOUND")
@claims_blp.alt_response(409, response="CONFLICT")
@claims_blp.doc(summary="Record the supplier's answer: accepted with the amount recovered, or rejected")
def settle_claim(data: dict[str, Any], claim_id: int) -> Any:
    return tagged(claims.settle_claim(db(), claim_id, data, actor=current_user(), now=now()))



# --- freight -----------------------------------------------------------------------------------------------------

@freight_blp.route("", methods=["POST"])
@freight_blp.access(Role.TECHNICIAN, Role.WAREHOUSE)
@freight_blp.write
@freight_blp.arguments(FreightCreateSchema)
@freight_blp.response(201, FreightSchema, **CREATED)
@freight_blp.doc(summary="Record the freight of mailed warranty parts; you are its handler (PRT-8)")
def create_freight(data: dict[str, Any]) -> Any:
    charge = claims.record_freight(db(), data, actor=current_user(), now=now())
    return created(charge, "freight.get_freight", freight_id=charge.id)


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
                                         now=now()))


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
                                         actor=current_user(), now=now()))
