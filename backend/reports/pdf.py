"""The customer's copy of a signed report as a PDF, for their e-mail and the archive (issue 15): the same content as
report.html — findings, part and compensation lines, the signature or stamp, the seal and how to check it offline.

Text is set in WenQuanYi Micro Hei (shipped in fonts/ with its licence), embedded as a subset of the glyphs used,
so Chinese reads the same on every machine. A TrueType font, so the text is written as Identity-H glyph ids with a
ToUnicode map, the form every viewer and text extractor reads. The exact bytes that were sealed, the seal and the
original signature image travel inside the PDF as attachments, so a verifier needs nothing but this file and the
public key. No Flask here.
"""

from __future__ import annotations

import io
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from fpdf import FPDF, FontFace
from fpdf.enums import WrapMode, XPos, YPos

from backend.dispatch.models import Job
from backend.reports.customer_copy import Section, sections, sign_off_rows
from backend.reports.models import FieldReport
from backend.reports.service import sealed_content
from backend.reports.signing import ALGORITHM, CANONICALIZATION, Verdict, canonical_bytes

FONT_FILE = Path(__file__).parent / "fonts" / "wqy-microhei.ttc"
FONT_FACE = 0  # of the collection: WenQuanYi Micro Hei (1 is its monospaced twin)
# fpdf2's SVG renderer resolves text without a font-family to "sans-serif" and looks that name up among the
# document's fonts first: registered under it, the CJK font also writes the text inside an SVG signature or stamp.
FAMILY = "sans-serif"
SEALED_CONTENT_FILE = "sealed-content.json"
SEAL_FILE = "seal.json"
SIGNATURE_FILES = {"image/png": "signature.png", "image/jpeg": "signature.jpg", "image/svg+xml": "signature.svg"}
SIGNING_KEY_PATH = "/api/v1/signing-key"
# fpdf2 subsets the font with fontTools, which logs every glyph list at INFO: dozens of lines for each copy.
logging.getLogger("fontTools.subset").setLevel(logging.WARNING)

LABEL_WIDTH = 48  # mm, of the page's 180 between margins
SIGNATURE_BOX = (80, 40)  # mm; the image is fitted inside, keeping its proportions (a raster one never enlarged)
LABEL_STYLE = FontFace(fill_color=(243, 243, 243))
HEADING_STYLE = FontFace(emphasis="", fill_color=(230, 230, 230))  # one weight shipped: no bold
GREY = (85, 85, 85)
SEAL_BACKGROUND = (247, 247, 247)
CSS_PIXEL = 25.4 / 96  # mm: a raster image is shown at most at its size on a screen, as report.html shows it


@dataclass(frozen=True)
class SignatureImage:
    data: bytes
    media_type: str
    width: int | None = None  # pixels, for a raster image
    height: int | None = None


def report_pdf(job: Job, report: FieldReport, *, signature: SignatureImage | None, verdict: Verdict,
               made_at: datetime) -> bytes:
    """The PDF of a signed version. `signature` is None when its file is gone from the media store (the verdict
    then says so); `verdict` is the seal checked now, at `made_at`."""
    request = job.service_request
    sealed = canonical_bytes(sealed_content(job, report))
    pdf = _Document(footer=f"Field service report {request.number} · version {report.version_no}")
    pdf.set_title(f"Field service report {request.number} v{report.version_no}")
    pdf.set_author("Onsite")
    pdf.set_creation_date(made_at)
    pdf.add_font(FAMILY, fname=str(FONT_FILE), collection_font_number=FONT_FACE)
    pdf.set_font(FAMILY, size=10)
    pdf.add_page()

    pdf.set_font_size(16)
    pdf.cell(text="Field service report", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font_size(10)
    pdf.set_text_color(*GREY)
    pdf.cell(text=f"Request {request.number} · job {job.id} · version {report.version_no} · {report.status}",
             new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(0)

    for section in sections(job, report):
        _heading(pdf, section.title)
        if not section.columns:
            _label_table(pdf, section.rows)
        elif section.rows:
            _grid(pdf, section)
        else:
            pdf.multi_cell(0, text=section.when_empty, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    _heading(pdf, "Customer sign-off")
    _label_table(pdf, sign_off_rows(report))
    pdf.ln(2)
    if pdf.will_page_break(SIGNATURE_BOX[1] + 8):  # the caption stays with its image
        pdf.add_page()
    pdf.cell(text=f"{(report.signature_kind or 'signature').capitalize()}:", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    _signature(pdf, signature)

    _heading(pdf, "Verification")
    pdf.multi_cell(0, text=verification_text(report, verdict, made_at), align="L", new_x=XPos.LMARGIN,
                   new_y=YPos.NEXT)
    pdf.ln(2)
    with pdf.local_context(font_size_pt=7.5, fill_color=SEAL_BACKGROUND):
        pdf.multi_cell(0, text=f"digest {report.seal_digest}\nsignature {report.seal_signature}\n"
                               f"content {sealed.decode()}", align="L", wrapmode=WrapMode.CHAR, fill=True,
                       padding=2, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    pdf.embed_file(bytes=sealed, basename=SEALED_CONTENT_FILE, mime_type="application/json",
                   modification_date=made_at, creation_date=made_at,
                   desc="The RFC 8785 canonical JSON the seal covers, byte for byte")
    seal = {"algorithm": ALGORITHM, "canonicalization": CANONICALIZATION, "digest": report.seal_digest,
            "signature": report.seal_signature, "key_id": report.seal_key_id}
    pdf.embed_file(bytes=json.dumps(seal, indent=2).encode(), basename=SEAL_FILE, mime_type="application/json",
                   modification_date=made_at, creation_date=made_at,
                   desc="The seal: SHA-256 digest of the content, Ed25519 signature over the raw digest, key id")
    if signature is not None:
        pdf.embed_file(bytes=signature.data, basename=SIGNATURE_FILES[signature.media_type],
                       mime_type=signature.media_type, modification_date=made_at, creation_date=made_at,
                       desc=f"The {report.signature_kind} as the customer gave it; its SHA-256 is in the content")
    return bytes(pdf.output())


def verification_text(report: FieldReport, verdict: Verdict, made_at: datetime) -> str:
    checked = "valid" if verdict.valid else "NOT VALID"
    return (
        f"The server sealed this report at sign-off (REP-3). Checked when this copy was made "
        f"({made_at.isoformat()} UTC): {checked} — {verdict.reason}.\n"
        f"To check it yourself, offline: the attachment {SEALED_CONTENT_FILE} holds the exact bytes sealed, the "
        f"RFC 8785 canonical JSON printed below as content; {SEAL_FILE} holds the seal. The SHA-256 of those bytes "
        f"is the digest. The signature is {ALGORITHM} over the 32 raw bytes of that digest (not its hex text, not "
        f"the JSON), base64-encoded, and verifies with public key {report.seal_key_id}, published at "
        f"{SIGNING_KEY_PATH}. The SHA-256 of the attached {report.signature_kind} image equals "
        f"sign_off.signature_sha256 in the content."
    )


# --- layout ------------------------------------------------------------------------------------------------------

class _Document(FPDF):
    def __init__(self, footer: str) -> None:
        super().__init__(format="A4")
        self._footer_text = footer
        self.set_margins(15, 15, 15)
        self.set_auto_page_break(True, margin=15)

    def footer(self) -> None:
        self.set_y(-11)
        self.set_font(FAMILY, size=8)
        self.set_text_color(*GREY)
        self.cell(0, text=f"{self._footer_text} · page {self.page_no()}/{{nb}}", align="C")
        self.set_text_color(0)


def _heading(pdf: FPDF, text: str) -> None:
    pdf.ln(4)
    pdf.set_font_size(13)
    pdf.cell(text=text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font_size(10)
    pdf.ln(1)


def _label_table(pdf: FPDF, rows: list[tuple[str, ...]]) -> None:
    with pdf.table(col_widths=(LABEL_WIDTH, pdf.epw - LABEL_WIDTH), first_row_as_headings=False,
                   text_align="LEFT", line_height=5.5, padding=1.2) as table:
        for label, value in rows:
            row = table.row()
            row.cell(label, style=LABEL_STYLE)
            row.cell(value)


def _grid(pdf: FPDF, section: Section) -> None:
    with pdf.table(col_widths=section.widths, headings_style=HEADING_STYLE, text_align="LEFT", line_height=5.5,
                   padding=1.2) as table:
        table.row(section.columns)
        for values in section.rows:
            table.row(values)


def _signature(pdf: FPDF, signature: SignatureImage | None) -> None:
    width, height = SIGNATURE_BOX
    if signature is None:
        pdf.multi_cell(0, text="The image is missing from the server's media store (see the verdict below).",
                       new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        return
    if signature.width and signature.height:
        scale = min(1, width / (signature.width * CSS_PIXEL), height / (signature.height * CSS_PIXEL))
        width, height = signature.width * CSS_PIXEL * scale, signature.height * CSS_PIXEL * scale
    try:
        pdf.image(io.BytesIO(signature.data), w=width, h=height, keep_aspect_ratio=True)
    except Exception:  # noqa: BLE001 - fpdf2 draws most of SVG, not all; whatever it cannot, the copy says so
        if signature.media_type != "image/svg+xml":
            raise
        pdf.multi_cell(0, text=f"This SVG drawing uses something this PDF cannot draw (text in a font other than "
                               f"sans-serif, for one); the original is attached as "
                               f"{SIGNATURE_FILES[signature.media_type]}.", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
