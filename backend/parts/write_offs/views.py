"""HTTP for installed parts written off (rule PRT-6); the rule lives in backend.parts.write_offs.service."""

from typing import Any

from backend.http.api import Blueprint
from backend.http.context import current_user, db
from backend.http.crud import paginate
from backend.parts.http import BOOK_READERS
from backend.parts.write_offs import service as write_offs
from backend.parts.write_offs.schemas import WriteOffFilterSchema, WriteOffSchema

write_offs_blp = Blueprint("write_offs", __name__, url_prefix="/api/v1/write-offs",
                           description="Installed parts written off (销帐, PRT-6)")


@write_offs_blp.endpoint("GET", roles=BOOK_READERS, takes=WriteOffFilterSchema, as_kwargs=True,
                         answers=WriteOffSchema(many=True), paginated=True,
                         summary="Installed parts written off, newest first (PRT-6)")
def list_write_offs(pagination_parameters: Any, **filters: Any) -> Any:
    return paginate(db(), write_offs.list_write_offs(filters, current_user()), pagination_parameters)
