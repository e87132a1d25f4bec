"""Tamper evidence (REP-3) and image intake for signatures and photos (REP-4), below the HTTP layer."""

import base64
import io
import os
import stat

import pytest
from PIL import Image

from backend.errors import DomainError
from backend.media.sniff import sniff_image
from backend.media.store import FileMediaStore
from backend.reports.signing import ReportSigner, Seal, canonical_bytes

CONTENT = {"report": {"root_cause": "worn alternator brushes", "parts": [{"part": "ALT-24V-150", "quantity": 1,
                                                                          "new_serial": "A1", "old_serial": "A0"}]},
           "signer": "Sun Hao", "signed_at": "2026-03-02T10:00:00+00:00", "signature_sha256": "ab" * 32}


def _png(width=4, height=2):
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(buffer, format="PNG")
    return buffer.getvalue()


def _jpeg():
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "black").save(buffer, format="JPEG")
    return buffer.getvalue()


def test_canonical_form_ignores_key_order_and_whitespace():
    shuffled = {"signed_at": CONTENT["signed_at"], "signer": "Sun Hao", "signature_sha256": "ab" * 32,
                "report": {"parts": CONTENT["report"]["parts"], "root_cause": "worn alternator brushes"}}
    assert canonical_bytes(shuffled) == canonical_bytes(CONTENT)
    assert b" " not in canonical_bytes({"a": 1, "b": [1, 2]})


def test_a_sealed_report_verifies_and_any_change_breaks_it(tmp_path):
    signer = ReportSigner.load(tmp_path / "key.pem")
    seal = signer.seal(CONTENT)
    assert signer.verify(CONTENT, seal).valid

    altered = {**CONTENT, "report": {**CONTENT["report"], "parts": [{**CONTENT["report"]["parts"][0],
                                                                     "old_serial": "SWAPPED"}]}}
    verdict = signer.verify(altered, seal)
    assert not verdict.valid and "digest" in verdict.reason

    # Someone with database access recomputes the digest for the altered content: the signature gives it away.
    forged = Seal(digest=__import__("hashlib").sha256(canonical_bytes(altered)).hexdigest(),
                  signature=seal.signature, key_id=seal.key_id)
    verdict = signer.verify(altered, forged)
    assert not verdict.valid and "signature" in verdict.reason


def test_another_key_cannot_produce_a_seal_that_verifies(tmp_path):
    ours = ReportSigner.load(tmp_path / "ours.pem")
    theirs = ReportSigner.load(tmp_path / "theirs.pem")
    forged = theirs.seal(CONTENT)
    assert not ours.verify(CONTENT, Seal(forged.digest, forged.signature, ours.key_id)).valid
    assert not ours.verify(CONTENT, forged).valid


def test_the_key_persists_privately_and_can_come_from_the_environment(tmp_path):
    path = tmp_path / "instance" / "signing-key.pem"
    first = ReportSigner.load(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert ReportSigner.load(path).key_id == first.key_id
    from_env = ReportSigner.load(tmp_path / "unused.pem", pem_from_env=path.read_text())
    assert from_env.key_id == first.key_id and not (tmp_path / "unused.pem").exists()
    jwk = first.public_jwk()
    assert jwk["kty"] == "OKP" and jwk["crv"] == "Ed25519" and len(base64.urlsafe_b64decode(jwk["x"] + "=")) == 32


def test_png_jpeg_and_clean_svg_are_recognised_by_content():
    assert sniff_image(_png(4, 2), "signature", max_bytes=10_000).media_type == "image/png"
    assert (sniff_image(_png(4, 2), "signature", max_bytes=10_000).width,) == (4,)
    assert sniff_image(_jpeg(), "signature", max_bytes=10_000).media_type == "image/jpeg"
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><path d="M0 0L10 10"/></svg>'
    assert sniff_image(svg, "signature", max_bytes=10_000).media_type == "image/svg+xml"


@pytest.mark.parametrize(("data", "status"), [
    (b"GIF89a....", 415),
    (b"%PDF-1.7 not an image", 415),
    (b"", 422),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, 422),
    (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', 415),
    (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>', 415),
    (b'<svg xmlns="http://www.w3.org/2000/svg"><image href="http://evil.example/x.png"/></svg>', 415),
    (b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x "y">]><svg>&x;</svg>', 415),
    (b"<html><body>hi</body></html>", 415),
])
def test_bad_images_are_refused(data, status):
    with pytest.raises(DomainError) as refused:
        sniff_image(data, "signature", max_bytes=10_000)
    assert refused.value.status == status and refused.value.field == "signature"


def test_a_truncated_png_and_an_oversized_image_are_refused():
    with pytest.raises(DomainError) as truncated:
        sniff_image(_png(64, 64)[:-30], "photo", max_bytes=100_000)
    assert truncated.value.status == 422
    with pytest.raises(DomainError) as too_big:
        sniff_image(_png(), "photo", max_bytes=10)
    assert too_big.value.status == 413


def test_media_store_is_content_addressed(tmp_path):
    store = FileMediaStore(tmp_path / "media")
    data = _png()
    sha = store.put(data)
    assert store.put(data) == sha and store.get(sha) == data
    assert len(list((tmp_path / "media").rglob("*"))) == 3  # two fan-out folders and one file
    with pytest.raises(KeyError):
        store.get("../../etc/passwd")
