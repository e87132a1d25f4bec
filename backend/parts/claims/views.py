"""HTTP for supplier claims (rule PRT-7) and freight (rule PRT-8); the rules live in backend.parts.claims.service."""

from typing import Any

from backend.accounts.models import Role
from backend.http.api import Blueprint, created, tagged
from backend.http.context import current_user, db, now
from backend.http.crud import get_or_404, paginate
from backend.parts.claims import service as claims
from backend.parts.claims.schemas import (FreightCreateSchema, FreightFilterSchema, FreightSchema, SettleClaimSchema,
                                          SupplierClaimCreateSchema, SupplierClaimFilterSchema, SupplierClaimSchema)
from backend.parts.http import BOOK_READERS
from backend.parts.models import SupplierClaim
from backend.parts.requisitions.schemas import RejectSchema

claims_blp = Blueprint("supplier_claims", __name__, url_prefix="/api/v1/supplier-claims",
                       description="Secondary claims of old parts to their suppliers (二次索赔, PRT-7)")
freight_blp = Blueprint("freight", __name__, url_prefix="/api/v1/freight",
                        description="Shipping costs of mailed warranty parts (PRT-8)")

CLAIM = "/<id:claim_id>"
FREIGHT = "/<id:freight_id>"


@claims_blp.endpoint("POST", roles=(Role.WAREHOUSE,), writes=True, takes=SupplierClaimCreateSchema,
                     answers=SupplierClaimSchema, status=201, etag=True, location=True, refuses=(409,),
                     summary="Claim received old parts of one supplier back from it (PRT-7)")
def create_claim(data: dict[str, Any]) -> Any:
    claim = claims.create_claim(db(), data, actor=current_user(), now=now())
    return created(claim, "supplier_claims.get_claim", claim_id=claim.id)


@claims_blp.endpoint("GET", roles=BOOK_READERS, takes=SupplierClaimFilterSchema, as_kwargs=True,
                     answers=SupplierClaimSchema(many=True), paginated=True,
                     summary="List supplier claims, newest first")
def list_claims(pagination_parameters: Any, **filters: Any) -> Any:
    return paginate(db(), claims.list_claims(filters), pagination_parameters)


@claims_blp.endpoint("GET", CLAIM, roles=BOOK_READERS, answers=SupplierClaimSchema, etag=True, refuses=(404,),
                     summary="Get a supplier claim")
def get_claim(claim_id: int) -> Any:
    return tagged(get_or_404(db(), SupplierClaim, claim_id, "supplier claim"))


@claims_blp.endpoint("POST", f"{CLAIM}/send", roles=(Role.WAREHOUSE,), writes=True, answers=SupplierClaimSchema,
                     etag=True, refuses=(404, 409), summary="Mark an open claim sent to the supplier")
def send_claim(claim_id: int) -> Any:
    return tagged(claims.send_claim(db(), claim_id, now=now()))


@claims_blp.endpoint("POST", f"{CLAIM}/settle", roles=(Role.WAREHOUSE,), writes=True, takes=SettleClaimSchema,
                     answers=SupplierClaimSchema, etag=True, refuses=(404, 409),
                     summary="Record the supplier's answer: accepted with the amount recovered, or rejected")
def settle_claim(data: dict[str, Any], claim_id: int) -> Any:
    return tagged(claims.settle_claim(db(), claim_id, data, actor=current_user(), now=now()))



# --- freight -----------------------------------------------------------------------------------------------------

@freight_blp.endpoint("POST", roles=(Role.TECHNICIAN, Role.WAREHOUSE), writes=True, takes=FreightCreateSchema,
                      answers=FreightSchema, status=201, etag=True, location=True,
                      summary="Record the freight of mailed warranty parts; you are its handler (PRT-8)")
def create_freight(data: dict[str, Any]) -> Any:
    charge = claims.record_freight(db(), data, actor=current_user(), now=now())
    return created(charge, "freight.get_freight", freight_id=charge.id)


@freight_blp.endpoint("GET", roles=(Role.TECHNICIAN, *BOOK_READERS), takes=FreightFilterSchema, as_kwargs=True,
                      answers=FreightSchema(many=True), paginated=True,
                      summary="List freight charges, newest first (a technician sees those they handled)")
def list_freight(pagination_parameters: Any, **filters: Any) -> Any:
    return paginate(db(), claims.visible_freight(current_user(), filters), pagination_parameters)


@freight_blp.endpoint("GET", FREIGHT, roles=(Role.TECHNICIAN, *BOOK_READERS), answers=FreightSchema, etag=True,
                      refuses=(404,), summary="Get a freight charge")
def get_freight(freight_id: int) -> Any:
    return tagged(claims.get_freight(db(), freight_id, current_user()))


@freight_blp.endpoint("POST", f"{FREIGHT}/approve", roles=(Role.SUPERVISOR,), writes=True, answers=FreightSchema,
                      etag=True, refuses=(404, 409), summary="Approve a freight charge for write-off (PRT-8)")
def approve_freight(freight_id: int) -> Any:
    return tagged(claims.decide_freight(db(), freight_id, approve=True, reason=None, actor=current_user(),
                                         now=now()))


@freight_blp.endpoint("POST", f"{FREIGHT}/reject", roles=(Role.SUPERVISOR,), writes=True, takes=RejectSchema,
                      answers=FreightSchema, etag=True, refuses=(404, 409),
                      summary="Reject a freight charge, with a reason")
def reject_freight(data: dict[str, Any], freight_id: int) -> Any:
    return tagged(claims.decide_freight(db(), freight_id, approve=False, reason=data["reason"],
                                         actor=current_user(), now=now()))
