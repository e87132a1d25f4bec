"""HTTP for callbacks (RULES.md §8); the rules live in backend.callbacks.service."""

from typing import Any

from backend.accounts.models import Role
from backend.callbacks import service
from backend.callbacks.models import Callback
from backend.callbacks.schemas import CallbackFilterSchema, CallbackResultSchema, CallbackSchema
from backend.http.api import ETAG_HEADER, Blueprint, tagged
from backend.http.context import current_user, db, onsite
from backend.http.crud import get_or_404, paginate

blp = Blueprint("callbacks", __name__, url_prefix="/api/v1/callbacks",
                description="Service-quality callbacks and follow-ups (回访)")

READERS = (Role.AGENT, Role.SUPERVISOR, Role.MANAGER)
WITH_ETAG = {"headers": ETAG_HEADER}


@blp.route("", methods=["GET"])
@blp.access(*READERS)
@blp.arguments(CallbackFilterSchema, location="query", as_kwargs=True)
@blp.response(200, CallbackSchema(many=True))
@blp.paginate()
@blp.doc(summary="The agents' callbacks, the soonest due first")
def list_callbacks(pagination_parameters: Any, **filters: Any) -> Any:
    return paginate(db(), service.task_list(filters, onsite().clock.now()), pagination_parameters)


@blp.route("/<id:callback_id>", methods=["GET"])
@blp.access(*READERS)
@blp.response(200, CallbackSchema, **WITH_ETAG)
@blp.alt_response(404, response="NOT_FOUND")
@blp.doc(summary="Get a callback with its attempts")
def get_callback(callback_id: int) -> Any:
    callback = get_or_404(db(), Callback, callback_id, "callback")
    return tagged(callback)


@blp.route("/<id:callback_id>/result", methods=["POST"])
@blp.access(Role.AGENT)
@blp.write
@blp.arguments(CallbackResultSchema)
@blp.response(200, CallbackSchema, **WITH_ETAG)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(409, response="CONFLICT")
@blp.doc(summary="Record an attempt: the customer's ratings and comments, or not reached (retried until the "
                 "attempts run out); may reopen the request as a complaint (CB-3)")
def post_result(data: dict[str, Any], callback_id: int) -> Any:
    callback = get_or_404(db(), Callback, callback_id, "callback", for_update=True)
    service.record_result(db(), callback, data, actor_id=current_user().id, now=onsite().clock.now(),
                          settings=onsite().settings)
    return tagged(callback)
