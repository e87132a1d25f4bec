"""Failure analysis (CST-3; 002: 物料不良汇总报表, 故障不良分析报告) on a data set whose figures are worked out by hand
in the comments."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest

from backend.parts.models import Part
from tests.conftest import Api
from tests.test_costs_support import MARCH, Books, books, day  # noqa: F401  (fixture)
from tests.test_dispatch_support import desk, quick_passwords, settings  # noqa: F401  (fixtures)

URL = "/api/v1/failure-analysis"


@dataclass
class Fleet:
    quality: Api
    alternator: Part
    pads: Part


@pytest.fixture
def fleet(books: Books) -> Fleet:
    """Units in service by the end of March: C12 coach 4 (the desk's, delivered 2024-05-01, and three more), M8
    minibus 2; not counted: a C12 delivered on 2026-04-01 (the period's end) and one with no delivery date.
    Failures on reports approved in March: 5 parts, as below."""
    alternator = books.part("ALT-24V", "2500.00", "Bosch")  # written off at 2380.00 on R1
    pads = books.part("BRK-PAD", "420.00", "Knorr-Bremse")  # never written off: the catalogue price
    c12 = books.desk.unit
    books.desk.admin.patch(f"/api/v1/units/{c12['id']}", json={"delivery_date": "2024-05-01"},
                           headers={"If-Match": books.desk.admin.get(f"/api/v1/units/{c12['id']}").headers["ETag"]})
    for delivered in (date(2025, 1, 10), date(2025, 2, 10), date(2026, 3, 31)):
        books.unit("C12 coach", delivered)
    books.unit("C12 coach", date(2026, 4, 1))
    books.unit("C12 coach", None)
    m8 = books.unit("M8 minibus", date(2025, 6, 1))
    books.unit("M8 minibus", date(2025, 7, 1))

    # R1 (C12, supplier_part): an alternator and two pads, all under warranty.
    r1 = books.request()
    books.investigation(r1, "supplier", "supplier_part", supplier="Bosch")
    j1 = books.job(r1, books.zz_tech)
    report1 = books.report(j1, approved_at=day(4), lines=((alternator, 1, True), (pads, 2, True)))
    books.write_off(j1, report1, alternator, 1, covered=True, at=day(6), unit_price="2380.00")
    # R2 (C12, assembly): one pad under warranty.
    r2 = books.request()
    books.investigation(r2, "department", "assembly")
    books.report(books.job(r2, books.zz_tech), approved_at=day(8), lines=((pads, 1, True),))
    # R3 (M8, misuse): one pad, chargeable, not warranty.
    r3 = books.request(m8, at_guangzhou=True, complaint_class="non_quality")
    books.investigation(r3, "customer", "misuse")
    books.report(books.job(r3, books.gz_tech), approved_at=day(11), lines=((pads, 1, False),))
    # Not counted: a report waiting for review, and one approved in April.
    books.report(books.job(books.request(), books.zz_tech, status="report_submitted"), approved_at=None,
                 lines=((alternator, 5, True),))
    books.report(books.job(books.request(), books.zz_tech), approved_at=day(2, month=4),
                 lines=((alternator, 7, True),))
    return Fleet(quality=books.person("quality"), alternator=alternator, pads=pads)


def analyse(api: Api, group_by: str | None = None) -> dict[str, Any]:
    response = api.get(URL, query_string=MARCH | ({"group_by": group_by} if group_by else {}))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def rows(answer: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [(row["group"], row["failures"], row["units_in_service"], row["failure_rate_per_100"], row["share"],
             row["cumulative_share"], row["warranty_cost"]) for row in answer["rows"]]


def test_failures_by_model_against_the_units_in_service(fleet: Fleet) -> None:
    answer = analyse(fleet.quality)  # by model unless told otherwise
    assert answer["group_by"] == "model"
    # C12: 1 + 2 + 1 = 4 failures of 5 (0.8), 4 units in service: 100 per 100 units; warranty cost
    #      2380.00 (the alternator's write-off price, not today's 2500.00) + 2 × 420.00 + 420.00 = 3640.00.
    # M8: 1 failure (0.2, cumulative 1.0), 2 units: 50 per 100; chargeable, so no warranty cost.
    assert rows(answer) == [("C12 coach", 4, 4, 100.0, 0.8, 0.8, "3640.00"),
                            ("M8 minibus", 1, 2, 50.0, 0.2, 1.0, "0.00")]
    assert answer["rows"][0]["root_causes"] == [{"cause": "supplier_part", "failures": 3},
                                                {"cause": "assembly", "failures": 1}]
    # The fleet: 6 units in service, 5 failures: 83.33 per 100.
    totals = answer["totals"]
    assert (totals["failures"], totals["units_in_service"], totals["failure_rate_per_100"],
            totals["warranty_cost"]) == (5, 6, 83.33, "3640.00")


def test_failures_by_part_supplier_and_cause_in_pareto_order(fleet: Fleet) -> None:
    # Parts against the whole fleet (6 units): pads 2 + 1 + 1 = 4 (66.67 per 100), alternator 1 (16.67).
    by_part = analyse(fleet.quality, "part")
    assert rows(by_part) == [(str(fleet.pads.id), 4, 6, 66.67, 0.8, 0.8, "1260.00"),
                             (str(fleet.alternator.id), 1, 6, 16.67, 0.2, 1.0, "2380.00")]
    assert by_part["rows"][0]["label"] == "BRK-PAD Brk-Pad"
    assert by_part["rows"][0]["root_causes"] == [{"cause": "supplier_part", "failures": 2},
                                                 {"cause": "assembly", "failures": 1},
                                                 {"cause": "misuse", "failures": 1}]
    assert [row[:2] for row in rows(analyse(fleet.quality, "supplier"))] == [("Knorr-Bremse", 4), ("Bosch", 1)]
    # Causes: supplier_part 3 (0.6); assembly and misuse 1 each, assembly first for its 420.00 warranty cost.
    assert rows(analyse(fleet.quality, "cause")) == [("supplier_part", 3, 6, 50.0, 0.6, 0.6, "3220.00"),
                                                     ("assembly", 1, 6, 16.67, 0.2, 0.8, "420.00"),
                                                     ("misuse", 1, 6, 16.67, 0.2, 1.0, "0.00")]


def test_failure_analysis_as_csv(fleet: Fleet) -> None:
    response = fleet.quality.get(URL, query_string=MARCH | {"group_by": "part"}, headers={"Accept": "text/csv"})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    first = next(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert (first["label"], first["failures"], first["failure_rate_per_100"], first["warranty_cost"],
            first["root_causes"]) == ("BRK-PAD Brk-Pad", "4", "66.67", "1260.00",
                                      "supplier_part: 2; assembly: 1; misuse: 1")


def test_a_period_without_failures_and_bad_input(books: Books) -> None:
    quality = books.person("quality")
    empty = analyse(quality, "cause")
    assert empty["rows"] == [] and empty["totals"]["failures"] == 0
    # The desk's unit has no delivery date, so nothing is in service to divide by.
    assert empty["totals"]["units_in_service"] == 0 and empty["totals"]["failure_rate_per_100"] is None
    for query, field in ((MARCH | {"group_by": "station"}, "group_by"),
                         ({"from": MARCH["to"], "to": MARCH["to"]}, "to")):
        response = quality.get(URL, query_string=query)
        assert response.status_code == 422 and response.mimetype == "application/problem+json"
        assert [e["field"] for e in response.get_json()["errors"]] == [field]


def test_csv_cells_a_spreadsheet_would_run_as_formulas_stay_text(books: Books) -> None:
    """A supplier named like a formula is exported as text, not run by the spreadsheet that opens the CSV; amounts
    stay numbers (backend.http.csv)."""
    rogue = books.part("GEN-1", "100.00", '=HYPERLINK("http://example.com/x","Bosch")')
    request = books.request()
    books.report(books.job(request, books.zz_tech), approved_at=day(4), lines=((rogue, 1, True),))
    quality = books.person("quality")
    response = quality.get(URL, query_string=MARCH | {"group_by": "supplier"}, headers={"Accept": "text/csv"})
    assert response.status_code == 200
    (row,) = csv.DictReader(io.StringIO(response.get_data(as_text=True)))
    assert row["group"] == '\'=HYPERLINK("http://example.com/x","Bosch")'
    assert row["warranty_cost"] == "100.00" and row["failures"] == "1"


def test_station_scope_narrows_the_failures(fleet: Fleet, books: Books) -> None:
    """SCP-1: a quality engineer of Guangzhou sees R3's pad only, against the whole fleet of its model."""
    guangzhou_quality = books.person("quality")
    books.give_stations(guangzhou_quality, books.guangzhou)
    assert rows(analyse(guangzhou_quality)) == [("M8 minibus", 1, 2, 50.0, 1.0, 1.0, "0.00")]
