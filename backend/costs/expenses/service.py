"""Technicians' expenses (CST-1): travel, lodging and allowance (001 §9.1), transport and packaging (§9.2), raised by
a technician for a job they were on, with amount, date and receipt number; approved or rejected by a supervisor who
was not on its crew (four eyes, backend.dispatch.service.check_may_decide). Expenses are the books, not the
customer's case: they may still be raised and decided once the request is closed (001 §3.4.3: the technician
claims them back at base, after the job). Plain functions, no Flask."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from backend.accounts.models import Role, User
from backend.costs.models import Expense, ExpenseKind, ExpenseStatus
from backend.db import locked
from backend.dispatch.models import Job
from backend.dispatch.service import check_may_decide, is_on_crew, of_jobs_within_scope
from backend.errors import Conflict, DomainError, NotFound

# Who sees every expense (of their stations, SCP-1); a technician sees the ones they raised.
ALL_EXPENSES = frozenset({Role.SUPERVISOR, Role.MANAGER, Role.FINANCE, Role.ADMIN})
# An allowance (补助) is a daily rate, not a bill: the only kind without a receipt.
NEEDS_NO_RECEIPT = frozenset({ExpenseKind.ALLOWANCE})


def raise_expense(session: Session, data: dict[str, Any], *, actor: User, now: datetime) -> Expense:
    job = session.get(Job, data["job_id"])
    if job is None or not is_on_crew(job, actor):
        # A job the technician was not on reads as missing, so job ids cannot be probed.
        raise DomainError("job_id", f"no job of yours with id {data['job_id']}")
    if job.status == "declined":
        raise DomainError("job_id", f"you declined job {job.id}; it has no expenses")
    if data["amount"] <= 0:
        raise DomainError("amount", "must be more than zero")
    if data["incurred_on"] > now.date():
        raise DomainError("incurred_on", "must not be in the future")
    if data["incurred_on"] < job.assigned_at.date():
        raise DomainError("incurred_on", f"is before job {job.id} was assigned ({job.assigned_at.date()})")
    if data.get("receipt_number") is None and data["kind"] not in NEEDS_NO_RECEIPT:
        raise DomainError("receipt_number", f"a {data['kind']} expense needs the number of its receipt")
    expense = Expense(**data, technician_id=actor.technician_id, status=ExpenseStatus.PENDING.value,
                      raised_by_user_id=actor.id, raised_at=now)
    session.add(expense)
    session.flush()
    return expense


def visible_expenses(user: User, filters: dict[str, Any]) -> Select[Any]:
    stmt = select(Expense)
    if user.has_any_role(ALL_EXPENSES):
        stmt = stmt.where(of_jobs_within_scope(Expense.job_id, user))
    else:
        stmt = stmt.where(Expense.technician_id == user.technician_id)
    for name in ("status", "job_id", "kind"):
        if name in filters:
            stmt = stmt.where(getattr(Expense, name) == filters[name])
    if "service_request_id" in filters:
        stmt = stmt.where(Expense.job_id.in_(select(Job.id).where(
            Job.service_request_id == filters["service_request_id"])))
    return stmt.order_by(Expense.id.desc())


def get_expense(session: Session, expense_id: int, user: User) -> Expense:
    expense = session.scalar(visible_expenses(user, {}).where(Expense.id == expense_id))
    if expense is None:
        raise NotFound("expense", expense_id)
    return expense


def decide_expense(session: Session, expense_id: int, *, approve: bool, reason: str | None, actor: User,
                   now: datetime) -> Expense:
    expense = locked(session, Expense, expense_id)
    if expense is None:
        raise NotFound("expense", expense_id)
    check_may_decide(session.get_one(Job, expense.job_id), actor, "expense", expense_id)
    if expense.status != ExpenseStatus.PENDING:
        raise Conflict(f"expense {expense.number} is already {expense.status}", current_status=expense.status)
    expense.status = (ExpenseStatus.APPROVED if approve else ExpenseStatus.REJECTED).value
    expense.decided_at, expense.decided_by_user_id, expense.reject_reason = now, actor.id, reason
    session.flush()
    return expense
