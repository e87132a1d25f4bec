from typing import Any

from sqlalchemy import select

from backend.accounts.models import Role
from backend.http import crud
from backend.http.api import Blueprint
from backend.http.context import db, onsite
from backend.webhooks.models import Webhook, WebhookDelivery
from backend.webhooks.schemas import (DeliveryFilterSchema, DeliverySchema, WebhookCreateSchema, WebhookFilterSchema,
                                      WebhookSchema, WebhookUpdateSchema)
from backend.webhooks.service import apply_webhook_changes

blp = Blueprint("webhooks", __name__, url_prefix="/api/v1/webhooks",
                description="Webhooks: notification events signed and delivered to other systems (admin)")

crud.register(blp, crud.Resource(
    model=Webhook, singular="webhook", plural="webhooks", schema=WebhookSchema, create_schema=WebhookCreateSchema,
    update_schema=WebhookUpdateSchema, filters=WebhookFilterSchema, read_roles=(Role.ADMIN,),
    write_roles=(Role.ADMIN,),
    create=lambda _session, data: apply_webhook_changes(Webhook(), data, onsite().settings.webhook_networks),
    update=lambda _session, webhook, data: apply_webhook_changes(webhook, data, onsite().settings.webhook_networks),
))


@blp.endpoint("GET", "/<id:webhook_id>/deliveries", roles=(Role.ADMIN,), takes=DeliveryFilterSchema, as_kwargs=True,
              answers=DeliverySchema(many=True), paginated=True, refuses=(404,),
              summary="A webhook's deliveries and their attempts, newest first")
def list_deliveries(pagination_parameters: Any, webhook_id: int, **filters: Any) -> Any:
    session = db()
    crud.get_or_404(session, Webhook, webhook_id, "webhook")
    stmt = select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id)
    if "status" in filters:
        stmt = stmt.where(WebhookDelivery.status == filters["status"])
    return crud.paginate(session, stmt.order_by(WebhookDelivery.id.desc()), pagination_parameters)
