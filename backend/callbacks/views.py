"""HTTP for callbacks (RULES.md §8); the rules live in backend.callbacks.service."""

from typing import Any

from backend.accounts.models import Role
from backend.callbacks import service
from backend.callbacks.models import Callback
from backend.callbacks.schemas import CallbackFilterSchema, CallbackResultSchema, CallbackSchema
from backend.http.api import Blueprint, tagged
from backend.http.context import current_user, db, now, onsite
from backend.http.crud import get_or_404, paginate

blp = Blueprint("callbacks", __name__, url_prefix="/api/v1/callbacks",
                description="Service-quality callbacks and follow-ups (回访)")

READERS = (Role.AGENT, Role.SUPERVISOR, Role.MANAGER)


@blp.endpoint("GET", roles=READERS, takes=CallbackFilterSchema, as_kwargs=True, answers=CallbackSchema(many=True),
              paginated=True, summary="The agents' callbacks, the soonest due first")
def list_callbacks(pagination_parameters: Any, **filters: Any) -> Any:
    return paginate(db(), service.task_list(filters, now(), current_user()), pagination_parameters)


@blp.endpoint("GET", "/<id:callback_id>", roles=READERS, answers=CallbackSchema, etag=True, refuses=(404,),
              summary="Get a callback with its attempts")
def get_callback(callback_id: int) -> Any:
    callback = get_or_404(db(), Callback, callback_id, "callback")
    service.check_visible(callback, current_user())
    return tagged(callback)


@blp.endpoint("POST", "/<id:callback_id>/result", roles=(Role.AGENT,), writes=True, takes=CallbackResultSchema,
              answers=CallbackSchema, etag=True, refuses=(404, 409), summary="Record an attempt: the customer's "
                                                                             "ratings and comments, or not reached "
                                                                             "(retried until the attempts run out); "
                                                                             "may reopen the request as a complaint "
                                                                             "(CB-3)")
def post_result(data: dict[str, Any], callback_id: int) -> Any:
    callback = get_or_404(db(), Callback, callback_id, "callback", for_update=True)
    service.check_visible(callback, current_user())
    service.record_result(db(), callback, data, actor_id=current_user().id, now=now(),
                          settings=onsite().settings)
    return tagged(callback)
