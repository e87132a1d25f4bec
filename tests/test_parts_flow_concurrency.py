"""The parts flow under real concurrency: each thread has its own client or session and so its own connection. On
PostgreSQL they truly overlap; on SQLite writers queue (BEGIN IMMEDIATE)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from backend.parts.field_use import service as field_use
from backend.reports.models import FieldReport
from tests.test_parts_flow_support import (OLD_PARTS, REQUISITIONS, Yard, desk, quick_passwords,  # noqa: F401
                                           settings, yard)

CALLERS = 4


def _together(*calls: Callable[[], Any]) -> list[Any]:
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int) -> None:
        barrier.wait()
        results[index] = calls[index]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_a_requisition_issued_by_several_keepers_at_once_is_issued_once(yard: Yard) -> None:
    """rule PRT-3: one approval, one issue; the others are told it is already issued."""
    requisition = yard.approved({"part_id": yard.filter_part["id"], "quantity": 4, "reason": "worn"})
    keepers = [yard.desk.login(yard.desk.make_user("warehouse")) for _ in range(CALLERS)]
    body = {"source_location_id": yard.store, "lines": []}

    def issue(api: Any) -> Callable[[], int]:
        client = yard.app.test_client()
        return lambda: client.post(f"{REQUISITIONS}/{requisition['id']}/issue", json=body,
                                   headers=api.headers()).status_code

    assert sorted(_together(*(issue(api) for api in keepers))) == [200] + [409] * (CALLERS - 1)
    assert yard.level(yard.van, yard.filter_part) == 4
    assert yard.level(yard.store, yard.filter_part) == 6


def test_the_old_part_arriving_while_the_approval_commits_writes_the_part_off_once(yard: Yard) -> None:
    """rule PRT-6: the receipt of the old part, made while the approval's transaction is still open, waits for it
    and then sees it, so the write-off is neither lost nor doubled."""
    yard.issued({"part_id": yard.filter_part["id"], "quantity": 1, "reason": "worn"})
    yard.work_done()
    report_id = yard.sign({"part_id": yard.filter_part["id"]}).id
    (owed,) = yard.old_parts()
    client = yard.app.test_client()
    received: list[int] = []

    def receive() -> None:
        received.append(client.post(f"{OLD_PARTS}/{owed['id']}/receive", json={"condition": "ok"},
                                    headers=yard.warehouse.headers()).status_code)

    approving = yard.app.extensions["onsite"].new_session(writer=True)
    try:
        field_use.report_approved(approving, approving.get(FieldReport, report_id), actor_id=1, now=yard.clock.now())
        arriving = threading.Thread(target=receive)
        arriving.start()
        time.sleep(0.5)  # the receipt is now waiting on the approval's locks
        approving.commit()
    finally:
        approving.close()
    arriving.join()
    assert received == [200]
    assert len(yard.write_offs()) == 1
