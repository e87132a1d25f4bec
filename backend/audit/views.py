from typing import Any

import marshmallow as ma
from sqlalchemy import select

from backend.accounts.models import Role
from backend.audit.models import AuditEntry
from backend.http.api import Blueprint
from backend.http.context import db
from backend.http.crud import paginate
from backend.http.fields import Id, Text, Timestamp

blp = Blueprint("audit", __name__, url_prefix="/api/v1/audit", description="Audit trail")


class AuditEntrySchema(ma.Schema):
    id = ma.fields.Integer()
    at = Timestamp()
    actor_user_id = ma.fields.Integer(allow_none=True)
    actor_name = ma.fields.String()
    request_id = ma.fields.String(allow_none=True)
    device_id = ma.fields.String(allow_none=True)
    action = ma.fields.String()
    entity_type = ma.fields.String()
    entity_id = ma.fields.String()
    change = ma.fields.String(metadata={"enum": ["create", "update", "delete"]})
    before = ma.fields.Dict(allow_none=True)
    after = ma.fields.Dict(allow_none=True)


class AuditFilterSchema(ma.Schema):
    entity_type = Text(60, min_length=1)
    entity_id = Text(60, min_length=1)
    actor_user_id = Id(in_query=True)
    request_id = Text(64, min_length=1)
    since = Timestamp()
    until = Timestamp()


@blp.endpoint("GET", roles=(Role.ADMIN, Role.MANAGER), takes=AuditFilterSchema, as_kwargs=True,
              answers=AuditEntrySchema(many=True), paginated=True, summary="Audit entries, newest first")
def list_audit(pagination_parameters: Any, **filters: Any) -> Any:
    stmt = select(AuditEntry)
    for name in ("entity_type", "entity_id", "actor_user_id", "request_id"):
        if name in filters:
            stmt = stmt.where(getattr(AuditEntry, name) == filters[name])
    if "since" in filters:
        stmt = stmt.where(AuditEntry.at >= filters["since"])
    if "until" in filters:
        stmt = stmt.where(AuditEntry.at < filters["until"])
    return paginate(db(), stmt.order_by(AuditEntry.id.desc()), pagination_parameters)
