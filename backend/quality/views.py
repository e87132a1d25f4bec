"""HTTP for investigations (INV-2); the rules live in backend.quality.service."""

from typing import Any

from flask import request

from backend.dispatch.service import READERS, get_request
from backend.errors import DomainError, NotFound
from backend.http.api import Blueprint, require_if_match, tagged
from backend.http.context import current_user, db, now, onsite
from backend.quality import service
from backend.quality.schemas import InvestigationInputSchema, InvestigationSchema, RootCauseListSchema

blp = Blueprint("investigations", __name__, url_prefix="/api/v1",
                description="Investigation and responsibility of a service request (INV-2)")

ITEM = "/service-requests/<id:service_request_id>/investigation"


@blp.endpoint("GET", ITEM, roles=READERS, answers=InvestigationSchema, etag=True, refuses=(404,),
              summary="The request's investigation: root cause, countermeasure, the responsible party and why")
def get_investigation(service_request_id: int) -> Any:
    get_request(db(), service_request_id, current_user())
    investigation = service.investigation_of(db(), service_request_id)
    if investigation is None:
        raise NotFound("investigation of service request", service_request_id)
    return tagged(investigation)


@blp.endpoint("PUT", ITEM, roles=service.INVESTIGATORS, writes=True, if_match=True, takes=InvestigationInputSchema,
              answers=InvestigationSchema, etag=True, refuses=(404, 409),
              summary="Record the investigation (INV-2): without If-Match while there is none, then only with the "
                      "If-Match of the version it changes; every version is audited")
def put_investigation(data: dict[str, Any], service_request_id: int) -> Any:
    service_request = get_request(db(), service_request_id, current_user(), for_update=True)
    investigation = service.investigation_of(db(), service_request_id)
    if investigation is not None:
        require_if_match(investigation.version)
    elif "If-Match" in request.headers:
        raise DomainError("If-Match", "there is no investigation yet: create it without If-Match", status=412,
                          location="header")
    decided = service.decide(db(), service_request, investigation, data, actor=current_user(), now=now(),
                             settings=onsite().settings)
    return tagged(decided)


@blp.endpoint("GET", "/root-causes", roles=READERS, answers=RootCauseListSchema,
              summary="The root-cause codes an investigation chooses from (ONSITE_ROOT_CAUSE_CODES)")
def get_root_causes() -> Any:
    return {"codes": list(onsite().settings.root_causes)}
