"""HTTP for dispatch plans; the rules live in backend.planning.plans.service."""

from typing import Any

from backend.dispatch.service import DISPATCHERS, PLANNERS
from backend.http.api import Blueprint, created, require_if_match, tagged
from backend.http.crud import paginate
from backend.http.context import current_user, db, onsite
from backend.planning.plans import service
from backend.planning.plans.schemas import (DispatchPlanSchema, DispatchPlanSummarySchema, PlanCommitSchema,
                                           PlanCreateSchema)

blp = Blueprint("dispatch_plans", __name__, url_prefix="/api/v1/dispatch-plans",
                description="Joint dispatch plans for many requests at once (PLN-1)")
ITEM = "/<id:plan_id>"


@blp.endpoint("POST", roles=DISPATCHERS, writes=True, takes=PlanCreateSchema, answers=DispatchPlanSchema,
              status=201, etag=True, location=True, refuses=(409,),
              summary="Plan the open requests jointly: fewest missed deadlines, then least lateness, then least "
                      "travel, within a job limit per technician; compared with one-by-one dispatch (PLN-1)")
def create_dispatch_plan(data: dict[str, Any]) -> Any:
    plan = service.create_plan(db(), service.PlanOrder(**data), actor=current_user(), now=onsite().clock.now(),
                               settings=onsite().settings)
    return created(plan, "dispatch_plans.get_dispatch_plan", plan_id=plan.id)


@blp.endpoint("GET", roles=PLANNERS, answers=DispatchPlanSummarySchema(many=True), paginated=True,
              summary="Dispatch plans within your stations, newest first, without their requests")
def list_dispatch_plans(pagination_parameters: Any) -> Any:
    return paginate(db(), service.visible_plans(current_user()), pagination_parameters)


@blp.endpoint("GET", ITEM, roles=PLANNERS, answers=DispatchPlanSchema, etag=True, refuses=(404,),
              summary="Get a dispatch plan, with the reason for each assignment and the greedy baseline")
def get_dispatch_plan(plan_id: int) -> Any:
    return tagged(service.get_plan(db(), plan_id, current_user()))


@blp.endpoint("POST", f"{ITEM}/commit", roles=DISPATCHERS, writes=True, if_match=True, takes=PlanCommitSchema,
              answers=DispatchPlanSchema, etag=True, refuses=(404, 409),
              summary="Create the plan's jobs in one transaction, less any dropped, with any swaps (each with a "
                      "reason); 409 naming what changed since the plan, and nothing created (PLN-1, DSP-8; If-Match "
                      "required)")
def commit_dispatch_plan(data: dict[str, Any], plan_id: int) -> Any:
    plan = service.get_plan(db(), plan_id, current_user(), for_update=True)
    require_if_match(plan.version)
    order = service.CommitOrder(drop=data["drop"], swaps=[service.Swap(**swap) for swap in data["swaps"]])
    service.commit_plan(db(), plan, order, actor=current_user(), now=onsite().clock.now(),
                        settings=onsite().settings)
    return tagged(plan)
