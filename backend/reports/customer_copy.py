"""What the customer's copy of a report says, once for both renderings: the HTML page (report.html) and the PDF
(backend.reports.pdf). Each renders these sections; neither decides what goes in them."""

from __future__ import annotations

from dataclasses import dataclass

from backend.dispatch.models import Job
from backend.reports.models import FieldReport


@dataclass(frozen=True)
class Section:
    title: str
    rows: list[tuple[str, ...]]
    columns: tuple[str, ...] = ()  # a table with these headings; without, rows are (label, value) pairs
    widths: tuple[int, ...] | None = None  # the columns' relative widths, for a page of fixed width (the PDF)
    when_empty: str = "None."


def sections(job: Job, report: FieldReport) -> list[Section]:
    """Customer and unit, findings, parts replaced, and compensation when there is any: the copy above the
    sign-off."""
    listed = [Section("Customer and unit", _customer_rows(job)), Section("Findings", _finding_rows(report)),
              Section("Parts replaced", _part_rows(report),
                      columns=("#", "Part", "Qty", "Reason", "Warranty", "New serial", "Old serial"),
                      widths=(8, 42, 10, 50, 22, 24, 24))]
    if report.compensation_lines:
        listed.append(Section("Compensation", [(str(line.line_no), line.reason, str(line.amount))
                                               for line in report.compensation_lines],
                              columns=("#", "Reason", "Amount"), widths=(8, 142, 30)))
    return listed


def sign_off_rows(report: FieldReport) -> list[tuple[str, str]]:
    return [("Signed by", f"{report.signer_name} ({report.signature_kind})"),
            ("Signed at (UTC)", report.signed_at.isoformat() if report.signed_at else ""),
            ("Satisfaction", f"{report.satisfaction} / 5"),
            ("Comments", _text(report.customer_comments))]


def _customer_rows(job: Job) -> list[tuple[str, ...]]:
    request = job.service_request
    customer = request.customer
    crew = ", ".join(f"{member.name} (lead)" if member.is_lead else member.name for member in job.crew)
    return [("Customer", customer.name),
            ("Contact", " ".join(filter(None, (customer.contact_person, ", ".join(customer.phones))))),
            ("Site", request.site_address),
            ("Unit", f"{request.unit.model} · {request.unit.serial_number}"),
            ("Fault reported", request.fault_description),
            ("Technicians", crew)]


def _finding_rows(report: FieldReport) -> list[tuple[str, ...]]:
    rows = [("Operating hours", _text(report.operating_hours)),
            ("Mileage (km)", _text(report.mileage_km)),
            ("Usage", _text(report.usage_history)),
            ("Before the fault", _text(report.fault_history)),
            ("Within warranty (三包)", " ".join(filter(None, (_yes_no(report.within_warranty),
                                                               report.warranty_reason)))),
            ("Disassembled before (拆过)", _yes_no(report.disassembled_before)),
            ("Root cause", _text(report.root_cause)),
            ("Responsibility", _text(report.responsibility)),
            ("Work done", _text(report.work_done))]
    if report.cash_collected is not None:
        rows.append(("Money collected", f"{report.cash_collected} (receipt {report.cash_receipt_number})"))
    return rows


def _part_rows(report: FieldReport) -> list[tuple[str, ...]]:
    return [(str(line.line_no), f"{line.part_number} {line.part_name}", str(line.quantity), line.reason,
             "covered" if line.covered_by_warranty else "chargeable", _text(line.new_serial), _text(line.old_serial))
            for line in report.part_lines]


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _yes_no(value: bool | None) -> str:
    return {True: "yes", False: "no"}.get(value, "")
