"""The customer's copy as a PDF, and checking its seal offline as the README says (issue 15 "The customer's copy";
RULES.md REP-3, REP-4)."""

from __future__ import annotations

import hashlib
import html
import io
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from cryptography.exceptions import InvalidSignature
from pypdf import PdfReader

from tests.test_dispatch_support import ZHENGZHOU, Desk, desk, etag, quick_passwords, settings  # noqa: F401
from tests.test_fieldwork_support import Field, field, png, supervisor  # noqa: F401

README = Path(__file__).parents[1] / "README.md"
CHINESE_FINDINGS = {"root_cause": "车门气缸阀门磨损漏气", "work_done": "更换车门气缸阀门，试验二十次开关正常"}
CHINESE_SIGNER = "王丽"
SVG_SIGNATURE = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 120 40">'
                 '<path d="M5 30 C 20 5, 40 5, 60 30 S 100 10, 115 20" stroke="#123" fill="none" stroke-width="2"/>'
                 '<text x="8" y="38" font-size="9">王丽 签字</text></svg>').encode()


def signed_copy(field: Field, image: bytes | None = None, **report: Any) -> Any:
    field.to("work_done")
    assert field.write_report(**CHINESE_FINDINGS, **report).status_code == 200
    assert field.sign(image=image, signer_name=CHINESE_SIGNER).status_code == 200
    return field.lead.get(f"{field.url}/report.pdf")


def pdf_of(response: Any) -> PdfReader:
    assert response.status_code == 200, response.get_json()
    assert response.mimetype == "application/pdf"
    return PdfReader(io.BytesIO(response.get_data()))


def text_of(reader: PdfReader) -> str:
    # Where the lines wrap is the layout's business; which characters come out is the copy's.
    return "".join("".join(page.extract_text() for page in reader.pages).split())


def fonts_of(reader: PdfReader) -> list[Any]:
    return [font.get_object() for page in reader.pages for font in page["/Resources"]["/Font"].values()]


def test_the_pdf_copy_has_the_report_its_chinese_text_in_the_embedded_font_and_the_signature(field: Field) -> None:
    signature = png(width=60, height=24, colour="blue")
    response = signed_copy(field, image=signature, compensation_lines=[{"reason": "误工补偿", "amount": "150.00"}])
    reader = pdf_of(response)
    assert "inline" in response.headers["Content-Disposition"]
    assert f"report-{field.request['number']}-v1.pdf" in response.headers["Content-Disposition"]

    text = text_of(reader)
    report = field.report().get_json()
    for expected in (field.request["number"], *CHINESE_FINDINGS.values(), CHINESE_SIGNER, "三包", "拆过", "误工补偿",
                     "150.00", field.part["name"], "OLD-1", report["seal_digest"], report["seal_key_id"]):
        assert "".join(expected.split()) in text, expected
    assert "valid—contentandsignaturematch" in text
    # The Chinese is set in the shipped font, embedded: characters extracted as themselves, not boxes.
    fonts = fonts_of(reader)
    assert fonts and all(font["/BaseFont"].endswith("+WenQuanYiMicroHei") for font in fonts)
    assert all("/FontFile2" in font["/DescendantFonts"][0].get_object()["/FontDescriptor"] for font in fonts)
    # REP-4: the customer's signature, as the picture they drew.
    [image] = [image for page in reader.pages for image in page.images]
    assert image.image.size == (60, 24)
    assert image.image.convert("RGB").getpixel((30, 12)) == (0, 0, 255)


def test_the_pdf_says_everything_report_html_says(field: Field) -> None:
    """Issue 15: the same content as report.html. Every heading and table cell of the HTML copy, and the seal,
    appear in the PDF's text."""
    reader = pdf_of(signed_copy(field, compensation_lines=[{"reason": "误工补偿", "amount": "150.00"}]))
    page = field.lead.get(f"{field.url}/report.html").get_data(as_text=True)
    shown = [html.unescape(re.sub(r"<[^>]+>", "", cell)) for cell in re.findall(
        r"<(?:h1|h2|th|td)[^>]*>(.*?)</(?:h1|h2|th|td)>", page, re.S)]
    seal = re.search(r'<div class="seal">(.*?)</div>', page, re.S).group(1).split("<br>")
    text = text_of(reader)
    missing = [value for value in shown + seal if "".join(html.unescape(value).split()) not in text]
    assert len(shown) > 40 and missing == []


def test_the_pdf_carries_the_sealed_bytes_the_seal_and_the_signature_as_given(field: Field) -> None:
    signature = png(colour="red")
    reader = pdf_of(signed_copy(field, image=signature))
    files = {name: data[0] for name, data in reader.attachments.items()}
    verdict = field.lead.get(f"{field.url}/report/verify").get_json()
    assert files["sealed-content.json"] == rfc8785.dumps(verdict["content"])
    seal = json.loads(files["seal.json"])
    assert {k: seal[k] for k in ("digest", "signature", "key_id")} == {
        k: verdict[k] for k in ("digest", "signature", "key_id")}
    assert files["signature.png"] == signature


def test_an_svg_signature_is_drawn_as_vectors_with_its_chinese_text(field: Field) -> None:
    reader = pdf_of(signed_copy(field, image=SVG_SIGNATURE))
    assert [image for page in reader.pages for image in page.images] == []  # not a raster copy
    assert "王丽签字" in text_of(reader)
    assert "cannotdraw" not in text_of(reader)
    assert reader.attachments["signature.svg"] == [SVG_SIGNATURE]


def test_an_svg_the_pdf_cannot_draw_is_said_so_and_still_attached(field: Field) -> None:
    """Text in a serif face maps to a built-in PDF font without Chinese: the page says so instead of failing."""
    serif = SVG_SIGNATURE.replace(b'font-size="9"', b'font-size="9" font-family="serif"')
    reader = pdf_of(signed_copy(field, image=serif))
    assert "ThisSVGdrawingusessomethingthisPDFcannotdraw" in text_of(reader)
    assert reader.attachments["signature.svg"] == [serif]


def test_there_is_no_pdf_copy_before_the_customer_signs(field: Field) -> None:
    field.to("on_site")
    assert field.lead.get(f"{field.url}/report.pdf").status_code == 409  # as verify: nothing signed yet
    field.write_report()
    drafted = field.lead.get(f"{field.url}/report.pdf?version=1")
    assert drafted.status_code == 409
    assert drafted.get_json()["current_status"] == "on_site"
    assert field.lead.get(f"{field.url}/report.pdf?version=7").status_code == 404
    assert field.lead.get("/api/v1/jobs/999999/report.pdf").status_code == 404


def test_during_a_correction_the_copy_is_the_version_the_customer_signed(field: Field) -> None:
    field.to("signed")
    assert field.lead.post(f"{field.url}/report/corrections").status_code == 201
    reader = pdf_of(field.lead.get(f"{field.url}/report.pdf"))
    assert json.loads(reader.attachments["sealed-content.json"][0])["version_no"] == 1
    assert field.lead.get(f"{field.url}/report.pdf?version=2").status_code == 409


def test_a_technician_off_the_crew_gets_no_copy(field: Field) -> None:
    field.to("signed")
    stranger = field.desk.as_technician(field.desk.technician(position=ZHENGZHOU))
    assert stranger.get(f"{field.url}/report.pdf").status_code == 404
    assert field.supervisor.get(f"{field.url}/report.pdf").status_code == 200


def test_a_copy_whose_signature_file_is_gone_says_so_and_is_not_valid(field: Field, settings, anonymous,
                                                                      tmp_path: Path) -> None:
    field.to("signed")
    sha = field.report().get_json()["signature_sha256"]
    (settings.instance_path / "media" / sha[:2] / sha[2:4] / sha).unlink()
    response = field.lead.get(f"{field.url}/report.pdf")
    reader = pdf_of(response)
    text = text_of(reader)
    assert "Theimageismissing" in text and "NOTVALID" in text
    assert "signature.png" not in reader.attachments
    # The README's offline check stops with the reason, as it says, not with a bare StopIteration.
    (tmp_path / "report.pdf").write_bytes(response.get_data())
    checker: dict[str, Any] = {}
    exec(compile(readme_checker(), str(README), "exec"), checker)  # noqa: S102 - the README's own code
    with pytest.raises(ValueError, match="signature image sealed is not attached"):
        checker["check_pdf"](str(tmp_path / "report.pdf"), anonymous.get("/api/v1/signing-key").get_json()[
            "public_key_pem"])


# --- the README's offline check, run as written -------------------------------------------------------------------

def readme_checker() -> str:
    section = README.read_text(encoding="utf-8").split("### Checking a report's seal offline", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_rep3_the_readmes_offline_check_verifies_a_real_copy_and_catches_a_forgery(field: Field, anonymous,
                                                                                   tmp_path: Path) -> None:
    """The README's script, run as a third party would, on the PDF and the published key, with no server."""
    response = signed_copy(field)
    (tmp_path / "report.pdf").write_bytes(response.get_data())
    key = anonymous.get("/api/v1/signing-key").get_json()
    (tmp_path / "signing-key.json").write_text(json.dumps(key))
    script = tmp_path / "check_report.py"
    script.write_text(readme_checker())
    run = subprocess.run([sys.executable, str(script), "report.pdf", "signing-key.json"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=60, check=False)
    assert (run.returncode, run.stdout.strip()) == (0, "valid"), run.stderr

    # The same functions on the verify answer, and on forgeries: content changed, digest recomputed to match.
    checker: dict[str, Any] = {}
    exec(compile(readme_checker(), str(README), "exec"), checker)  # noqa: S102 - the README's own code
    verdict = field.lead.get(f"{field.url}/report/verify").get_json()
    checker["check_seal"](verdict["content"], verdict, key["public_key_pem"])
    forged = json.loads(json.dumps(verdict["content"]))
    forged["sign_off"]["satisfaction"] = 1
    with pytest.raises(ValueError, match="not what was sealed"):
        checker["check_seal"](forged, verdict, key["public_key_pem"])
    with pytest.raises(InvalidSignature):
        checker["check_seal"](forged, verdict | {"digest": hashlib.sha256(rfc8785.dumps(forged)).hexdigest()},
                              key["public_key_pem"])
