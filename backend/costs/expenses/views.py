"""HTTP for technicians' expenses (CST-1); the rules live in backend.costs.expenses.service."""

from typing import Any

from backend.accounts.models import Role
from backend.costs.expenses import service as expenses
from backend.costs.expenses.schemas import ExpenseCreateSchema, ExpenseFilterSchema, ExpenseSchema
from backend.http.api import Blueprint, created, tagged
from backend.http.context import current_user, db, now
from backend.http.crud import paginate
from backend.parts.requisitions.schemas import RejectSchema

blp = Blueprint("expenses", __name__, url_prefix="/api/v1/expenses",
                description="Technicians' travel, lodging, allowance, transport and packaging expenses (CST-1)")

ITEM = "/<id:expense_id>"
READERS = (Role.TECHNICIAN, *expenses.ALL_EXPENSES)


@blp.endpoint("POST", roles=(Role.TECHNICIAN,), writes=True, takes=ExpenseCreateSchema, answers=ExpenseSchema,
              status=201, etag=True, location=True, refuses=(409,),
              summary="Raise an expense for a job you are on; it waits for a supervisor off the crew")
def create_expense(data: dict[str, Any]) -> Any:
    expense = expenses.raise_expense(db(), data, actor=current_user(), now=now())
    return created(expense, "expenses.get_expense", expense_id=expense.id)


@blp.endpoint("GET", roles=READERS, takes=ExpenseFilterSchema, as_kwargs=True, answers=ExpenseSchema(many=True),
              paginated=True, summary="List expenses, newest first (a technician sees those they raised)")
def list_expenses(pagination_parameters: Any, **filters: Any) -> Any:
    return paginate(db(), expenses.visible_expenses(current_user(), filters), pagination_parameters)


@blp.endpoint("GET", ITEM, roles=READERS, answers=ExpenseSchema, etag=True, refuses=(404,), summary="Get an expense")
def get_expense(expense_id: int) -> Any:
    return tagged(expenses.get_expense(db(), expense_id, current_user()))


@blp.endpoint("POST", f"{ITEM}/approve", roles=(Role.SUPERVISOR,), writes=True, answers=ExpenseSchema, etag=True,
              refuses=(404, 409), summary="Approve a pending expense (not on the job's crew: four eyes)")
def approve_expense(expense_id: int) -> Any:
    return tagged(expenses.decide_expense(db(), expense_id, approve=True, reason=None, actor=current_user(),
                                          now=now()))


@blp.endpoint("POST", f"{ITEM}/reject", roles=(Role.SUPERVISOR,), writes=True, takes=RejectSchema,
              answers=ExpenseSchema, etag=True, refuses=(404, 409),
              summary="Reject a pending expense, with a reason")
def reject_expense(data: dict[str, Any], expense_id: int) -> Any:
    return tagged(expenses.decide_expense(db(), expense_id, approve=False, reason=data["reason"],
                                          actor=current_user(), now=now()))
