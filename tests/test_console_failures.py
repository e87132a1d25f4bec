"""The failure analysis in the console (CST-3): the API's figures for whole local months, by model unless another
grouping is chosen, in Pareto order with the totals; the same CSV as the API; quality, managers and finance only."""

from __future__ import annotations

import re
from collections.abc import Callable

from flask.testing import FlaskClient

from backend.accounts.models import User
from tests.console_support import console_as
from tests.test_costs_support import books  # noqa: F401  (fixture)
from tests.test_dispatch_support import desk, quick_passwords, settings  # noqa: F401  (fixtures)
from tests.test_failure_analysis import URL, Fleet, fleet  # noqa: F401  (fixture)

LOCAL_MARCH = {"from": "2026-02-28T16:00:00+00:00", "to": "2026-03-31T16:00:00+00:00"}


def _rows(page: str) -> list[tuple[str, ...]]:
    """The table's rows as text, cell by cell."""
    body = page[page.index("<tbody>"):page.index("</tbody>")]
    cells = re.compile(r"<t[hd][^>]*>(.*?)</t[hd]>", re.S)
    return [tuple(" ".join(re.sub(r"<[^>]+>", " ", cell).split()) for cell in cells.findall(row))
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)]


def test_cst3_quality_reads_failures_by_model_then_by_part(client: FlaskClient, make_user: Callable[..., User],
                                                           fleet: Fleet) -> None:  # noqa: F811
    console = console_as(client, make_user("quality"))
    # The hand-checked figures of tests/test_failure_analysis.py, as the page shows them.
    assert _rows(console.text("/failure-analysis?from=2026-03&to=2026-03")) == [
        ("C12 coach", "4", "supplier_part: 3; assembly: 1", "4", "100.00", "80.0%", "80.0%", "3,640.00"),
        ("M8 minibus", "1", "misuse: 1", "2", "50.00", "20.0%", "100.0%", "0.00"),
        ("All", "5", "supplier_part: 3; assembly: 1; misuse: 1", "6", "83.33", "100.0%", "", "3,640.00")]
    by_part = _rows(console.text("/failure-analysis?from=2026-03&to=2026-03&group_by=part"))
    assert [row[:2] for row in by_part] == [("BRK-PAD Brk-Pad", "4"), ("ALT-24V Alt-24V", "1"), ("All", "5")]


def test_cst3_the_csv_is_the_apis_for_the_same_months(client: FlaskClient, make_user: Callable[..., User],
                                                      fleet: Fleet) -> None:  # noqa: F811
    finance = console_as(client, make_user("finance"))
    page = finance.get("/failure-analysis.csv?from=2026-03&to=2026-03&group_by=cause")
    api = fleet.quality.get(URL, query_string=LOCAL_MARCH | {"group_by": "cause"}, headers={"Accept": "text/csv"})
    assert page.status_code == 200 and page.mimetype == "text/csv"
    assert page.get_data(as_text=True) == api.get_data(as_text=True)


def test_cst3_only_quality_managers_and_finance(client: FlaskClient, make_user: Callable[..., User],
                                                fleet: Fleet) -> None:  # noqa: F811
    supervisor = console_as(client, make_user("supervisor"))
    assert 'href="/failure-analysis"' not in supervisor.text("/reviews")
    assert supervisor.get("/failure-analysis").status_code == 403
    manager = console_as(client, make_user("manager"))
    assert 'href="/failure-analysis"' in manager.text("/failure-analysis")
    refused = manager.get("/failure-analysis?from=2026-03&to=2026-02")
    assert refused.status_code == 422 and 'id="failures-to-error"' in refused.get_data(as_text=True)
