"""The console's catalogs: every text has its Chinese, and the committed .mo is the .po compiled (so no helper can
forget a translation or the compile step; scripts/i18n.sh does both)."""

from __future__ import annotations

from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from backend.console.i18n import TRANSLATIONS

CATALOG = TRANSLATIONS / "zh_Hans_CN" / "LC_MESSAGES"


def _messages(catalog) -> dict:  # type: ignore[no-untyped-def]
    return {m.id: m.string for m in catalog if m.id}


def test_every_msgid_has_a_chinese_translation() -> None:
    with open(CATALOG / "messages.po", "rb") as f:
        catalog = read_po(f)
    untranslated = [m.id for m in catalog if m.id and not (m.string if isinstance(m.string, str) else all(m.string))]
    assert not untranslated, f"translate these in messages.po, then run scripts/i18n.sh: {untranslated}"
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    assert not fuzzy, f"fuzzy (guessed) translations to check: {fuzzy}"


def test_the_compiled_catalog_matches_the_po_file() -> None:
    with open(CATALOG / "messages.po", "rb") as f:
        po = {k: v for k, v in _messages(read_po(f)).items() if v}  # untranslated ones are the other test's
    with open(CATALOG / "messages.mo", "rb") as f:
        mo = _messages(read_mo(f))
    assert mo == po, "messages.mo is stale: run scripts/i18n.sh"
