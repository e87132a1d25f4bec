"""Service costs in the console (CST-1, CST-2): the API's cost report for whole local months, one row per group with
the total, pending expenses apart, the same figures as CSV; finance, managers and quality only."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable

from flask.testing import FlaskClient

from backend.accounts.models import User
from tests.console_support import console_as
from tests.test_costs import COSTS, March, march  # noqa: F401  (fixture)
from tests.test_costs_support import books  # noqa: F401  (fixture)
from tests.test_dispatch_support import desk, quick_passwords, settings  # noqa: F401  (fixtures)
from tests.test_parts_flow_support import yard  # noqa: F401  (fixture)

# March 2026 on the calendar of Zhengzhou (UTC+8).
LOCAL_MARCH = {"from": "2026-02-28T16:00:00+00:00", "to": "2026-03-31T16:00:00+00:00"}


def _row(page: str, group: str) -> dict[str, str]:
    row = page[page.index(f'<tr data-group="{group}">'):]
    row = row[:row.index("</tr>")]
    return {column: " ".join(re.sub(r"<[^>]+>", " ", text).split())
            for column, text in re.findall(r'<td class="num" data-column="(\w+)">(.*?)</td>', row, re.S)}


def test_cst1_finance_reads_the_costs_of_local_months_by_station(client: FlaskClient,
                                                                 make_user: Callable[..., User],
                                                                 march: March) -> None:  # noqa: F811
    page = console_as(client, make_user("finance")).text("/costs?from=2026-03&to=2026-03&group_by=station")
    api = march.finance.get(COSTS, query_string=LOCAL_MARCH | {"group_by": "station"}).get_json()
    station = str(march.books.desk.station["id"])
    assert march.books.desk.station["name"] in page
    zz = _row(page, station)
    # The hand-checked figures of tests/test_costs.py, as the page shows them.
    assert (zz["total"], zz["supplier_recovered"], zz["supplier_net"]) == ("4,415.50", "2,000.00", "850.00")
    assert zz["pending"] == "60.00 1 to approve"  # the allowance awaiting approval, not in the total
    (api_zz,) = [row for row in api["rows"] if row["group"] == station]
    assert zz["total"].replace(",", "") == api_zz["total"]
    assert _row(page, "total")["total"].replace(",", "") == api["totals"]["total"]


def test_cst1_the_csv_is_the_apis_for_the_same_months(client: FlaskClient, make_user: Callable[..., User],
                                                      march: March) -> None:  # noqa: F811
    manager = console_as(client, make_user("manager"))
    by_part = manager.text("/costs?from=2026-03&to=2026-03&group_by=part")
    assert "ALT-24V" in by_part and "No part" in by_part  # a part by its number; the lines of no part together
    response = manager.get("/costs.csv?from=2026-03&to=2026-03&group_by=cause")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    api = march.finance.get(COSTS, query_string=LOCAL_MARCH | {"group_by": "cause"}, headers={"Accept": "text/csv"})
    assert response.get_data(as_text=True) == api.get_data(as_text=True)
    assert any(row["group"] == "supplier_part" for row in csv.DictReader(io.StringIO(api.get_data(as_text=True))))


def test_costs_are_for_finance_managers_and_quality_and_refuse_a_bad_month(client: FlaskClient,
                                                                          make_user: Callable[..., User],
                                                                          march: March) -> None:  # noqa: F811
    dispatcher = console_as(client, make_user("dispatcher"))
    assert 'href="/costs"' not in dispatcher.text("/board") and dispatcher.get("/costs").status_code == 403
    quality = console_as(client, make_user("quality"))
    refused = quality.get("/costs?from=2026-13&to=2026-03")
    assert refused.status_code == 422
    assert re.search(r'id="costs-from-error" role="alert">Enter a month\.', refused.get_data(as_text=True))
    assert 'data-testid="costs"' not in refused.get_data(as_text=True)


def test_cst1_by_month_is_one_row_per_local_month_adding_up_to_the_total(
        client: FlaskClient, make_user: Callable[..., User], march: March) -> None:  # noqa: F811
    page = console_as(client, make_user("finance")).text("/costs?from=2026-02&to=2026-03&group_by=month")
    assert re.findall(r'<tr data-group="([^"]*)">', page) == ["2026-02", "2026-03", "total"]
    february, march_row, total = (_row(page, group) for group in ("2026-02", "2026-03", "total"))
    assert february["service_branch"] == "1,000.00"  # R2's travel of 27 February (tests/test_costs.py)
    amount = lambda row: float(row["total"].replace(",", ""))  # noqa: E731
    assert amount(february) + amount(march_row) == amount(total)
