"""Who bears a cost line by default (CST-2), and how an amount is shared out in whole cents. No database, no Flask.

The defaults, first match wins:
1. the investigation holds a supplier responsible (INV-2): the supplier bears every line of the request, recovered
   through its secondary claim (PRT-7);
2. the investigation holds the customer responsible, or, with no investigation yet, the complaint is non-quality
   (INT-3): the customer bears every line (001 §5.2: the costs are recovered from the customer);
3. a part replaced outside warranty is chargeable to the customer (WAR-1);
4. travel, lodging and allowances are the service branch's (001 §9.1);
5. everything else (repair, parts, transport, packaging, freight, compensation) is manufacturing cost (§9.2).
A department, an employee or a third party held responsible changes nothing: the company bears the cost, and
finance may still allocate a line otherwise."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from backend.costs.models import BorneBy, ExpenseKind

SERVICE_BRANCH_KINDS = frozenset({ExpenseKind.TRAVEL, ExpenseKind.LODGING, ExpenseKind.ALLOWANCE})
NON_QUALITY = "non_quality"
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Responsibility:
    """What the investigation decided, as far as costs care."""

    kind: str
    supplier: str | None


@dataclass(frozen=True)
class Allocation:
    borne_by: BorneBy
    supplier: str | None
    basis: str


def default_allocation(kind: str, *, responsibility: Responsibility | None, complaint_class: str,
                       covered_by_warranty: bool | None, part_supplier: str | None) -> Allocation:
    """`kind`: an expense kind, or part, freight, compensation. `covered_by_warranty` and `part_supplier` are a
    part line's (None for other lines)."""
    if responsibility is not None and responsibility.kind == "supplier":
        supplier = responsibility.supplier or part_supplier
        return Allocation(BorneBy.SUPPLIER, supplier, f"the investigation holds the supplier {supplier} responsible")
    if responsibility is not None and responsibility.kind == "customer":
        return Allocation(BorneBy.CUSTOMER, None, "the investigation holds the customer responsible")
    if responsibility is None and complaint_class == NON_QUALITY:
        return Allocation(BorneBy.CUSTOMER, None, "a non-quality complaint is chargeable to the customer (INT-3)")
    if covered_by_warranty is False:
        return Allocation(BorneBy.CUSTOMER, None, "a part replaced outside warranty is chargeable (WAR-1)")
    if kind in SERVICE_BRANCH_KINDS:
        return Allocation(BorneBy.SERVICE_BRANCH, None, "travel, lodging and allowances are the service branch's "
                                                        "(001 §9.1)")
    return Allocation(BorneBy.MANUFACTURING, None, "repair, parts, transport and packaging are manufacturing cost "
                                                   "(001 §9.2)")


def share_out(total: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """`total` split in proportion to `weights`, in whole cents that add up to exactly `total`: each gets its
    share rounded down, and the cents left over go to the largest remainders (the earliest on a tie). Equal
    weights split evenly. All-zero weights count as equal."""
    if not weights:
        return []
    if not any(weights):
        weights = [Decimal(1)] * len(weights)
    cents = int((total / CENT).to_integral_value())
    whole = sum(weights)
    exact = [Decimal(cents) * weight / whole for weight in weights]
    shares = [int(share) for share in exact]  # down, as amounts are not negative
    by_remainder = sorted(range(len(exact)), key=lambda i: (-(exact[i] - shares[i]), i))
    for i in by_remainder[:cents - sum(shares)]:
        shares[i] += 1
    return [Decimal(share) * CENT for share in shares]
