from typing import Any

import marshmallow as ma

from backend.http.api import Blueprint
from backend.http.context import current_user, db, now
from backend.http.crud import paginate
from backend.http.fields import Flag, Text, Timestamp
from backend.notifications import service
from backend.notifications.models import NotificationKind

blp = Blueprint("notifications", __name__, url_prefix="/api/v1/me/notifications",
                description="The signed-in user's notifications: escalations and reminders")


class NotificationSchema(ma.Schema):
    id = ma.fields.Integer()
    kind = ma.fields.String(metadata={"enum": [k.value for k in NotificationKind]})
    payload = ma.fields.Dict()
    recipient_user_id = ma.fields.Integer(allow_none=True)
    recipient_role = ma.fields.String(allow_none=True, metadata={"description": "Set when sent to a whole role"})
    station_id = ma.fields.Integer(allow_none=True, metadata={"description": "The station it concerns, if one"})
    created_at = Timestamp()
    read_at = Timestamp(allow_none=True, metadata={"description": "When the signed-in user read it"})


class NotificationFilterSchema(ma.Schema):
    unread = Flag(in_query=True, metadata={"description": "true: only unread; false: only read"})
    kind = Text(60, min_length=1)


@blp.endpoint("GET", roles=(), takes=NotificationFilterSchema, as_kwargs=True, answers=NotificationSchema(many=True),
              paginated=True, summary="My notifications (mine and my roles', at my station), newest first")
def list_notifications(pagination_parameters: Any, **filters: Any) -> Any:
    return paginate(db(), service.inbox(current_user(), **filters), pagination_parameters)


# a malformed Idempotency-Key
@blp.endpoint("POST", "/<id:notification_id>/read", roles=(), writes=True, answers=NotificationSchema,
              refuses=(404, 422), summary="Mark one of my notifications read (again: keeps the first time)")
def read_notification(notification_id: int) -> Any:
    return service.mark_read(db(), current_user(), notification_id, now())
