from backend.accounts.models import Role
from backend.customers.models import Customer, Unit
from backend.customers.schemas import (CustomerCreateSchema, CustomerFilterSchema, CustomerSchema,
                                       CustomerUpdateSchema, UnitCreateSchema, UnitFilterSchema, UnitSchema,
                                       UnitUpdateSchema)
from backend.customers.service import apply_unit_changes, customer_search
from backend.http import crud
from backend.http.api import Blueprint
from backend.http.context import current_user

READERS = (Role.AGENT, Role.DISPATCHER, Role.SUPERVISOR, Role.MANAGER, Role.ADMIN, Role.WAREHOUSE)
WRITERS = (Role.AGENT, Role.ADMIN)
# Managers keep units' warranty terms (WAR-1, checked field by field in apply_unit_changes).
UNIT_WRITERS = (*WRITERS, Role.MANAGER)

customers_blp = Blueprint("customers", __name__, url_prefix="/api/v1/customers", description="Customers")
units_blp = Blueprint("units", __name__, url_prefix="/api/v1/units", description="Units (equipment) and warranty")

crud.register(customers_blp, crud.Resource(
    model=Customer, singular="customer", plural="customers", schema=CustomerSchema,
    create_schema=CustomerCreateSchema, update_schema=CustomerUpdateSchema, filters=CustomerFilterSchema,
    read_roles=READERS, write_roles=WRITERS, custom_filters={"q": customer_search},
))

crud.register(units_blp, crud.Resource(
    model=Unit, singular="unit", plural="units", schema=UnitSchema,
    create_schema=UnitCreateSchema, update_schema=UnitUpdateSchema, filters=UnitFilterSchema,
    read_roles=READERS, write_roles=UNIT_WRITERS, references={"customer_id": Customer},
    create=lambda _session, data: apply_unit_changes(Unit(), data, current_user()),
    update=lambda _session, unit, data: apply_unit_changes(unit, data, current_user()),
))
