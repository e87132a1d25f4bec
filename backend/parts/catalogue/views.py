from backend.accounts.models import Role
from backend.http import crud
from backend.http.api import Blueprint
from backend.parts.catalogue.schemas import PartCreateSchema, PartFilterSchema, PartSchema, PartUpdateSchema
from backend.parts.catalogue.service import apply_part_changes
from backend.parts.models import Part

blp = Blueprint("parts", __name__, url_prefix="/api/v1/parts", description="Parts catalogue")

crud.register(blp, crud.Resource(
    model=Part, singular="part", plural="parts", schema=PartSchema,
    create_schema=PartCreateSchema, update_schema=PartUpdateSchema, filters=PartFilterSchema,
    read_roles=(), write_roles=(Role.WAREHOUSE, Role.ADMIN), search_columns=("part_number", "name"),
    update=apply_part_changes,
))
