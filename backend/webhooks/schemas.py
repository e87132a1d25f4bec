import marshmallow as ma
from marshmallow import validate

from backend.http.fields import Flag, Text, Timestamp
from backend.notifications.models import NotificationKind
from backend.webhooks.models import DeliveryStatus

EVENT_KINDS = [kind.value for kind in NotificationKind]
# Printable ASCII after the scheme; that it names a host, and where that host leads, is checked by the service.
URL_PATTERN = r"^https?://[!-~]+$"


class WebhookCreateSchema(ma.Schema):
    url = ma.fields.String(required=True, validate=[
        validate.Length(max=2000), validate.Regexp(URL_PATTERN, error="must be an http:// or https:// URL")],
        metadata={"example": "https://erp.example.com/hooks/onsite",
                  "description": "Its host must resolve to public addresses only (checked here and before every "
                                 "delivery; loopback, private, link-local and similar addresses are refused unless "
                                 "the operator allowed their network). Redirects are not followed."})
    event_kinds = ma.fields.List(ma.fields.String(validate=validate.OneOf(EVENT_KINDS)), required=True,
                                 validate=validate.Length(min=1, max=len(EVENT_KINDS)),
                                 metadata={"description": "The notification kinds to deliver"})
    secret = Text(200, min_length=16, required=True, load_only=True,
                  metadata={"description": "Signs every delivery (X-Onsite-Signature); never shown again"})
    active = Flag(load_default=True, metadata={"description": "An inactive webhook's deliveries wait"})
    description = Text(300, allow_none=True)


class WebhookUpdateSchema(WebhookCreateSchema):
    """Any subset of the fields (loaded with partial=True)."""


class WebhookSchema(WebhookCreateSchema):
    id = ma.fields.Integer(dump_only=True)
    version = ma.fields.Integer(dump_only=True)
    created_at = Timestamp(dump_only=True)
    updated_at = Timestamp(dump_only=True)


class WebhookFilterSchema(ma.Schema):
    active = Flag(in_query=True)


class DeliverySchema(ma.Schema):
    id = ma.fields.Integer()
    webhook_id = ma.fields.Integer()
    notification_id = ma.fields.Integer()
    event = ma.fields.String()
    payload = ma.fields.Dict(metadata={"description": "The JSON document sent"})
    status = ma.fields.String(metadata={"enum": [s.value for s in DeliveryStatus]})
    attempts = ma.fields.Integer()
    next_attempt_at = Timestamp(allow_none=True)
    last_attempt_at = Timestamp(allow_none=True)
    last_status_code = ma.fields.Integer(allow_none=True)
    last_error = ma.fields.String(allow_none=True)
    delivered_at = Timestamp(allow_none=True)
    created_at = Timestamp()


class DeliveryFilterSchema(ma.Schema):
    status = ma.fields.String(validate=validate.OneOf([s.value for s in DeliveryStatus]))
