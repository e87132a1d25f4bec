"""Languages of the console (Flask-Babel): English and Simplified Chinese, from the browser's Accept-Language,
switchable in the header and remembered in the session. Times are shown in the station's own time zone.

Translation workflow: mark text with `_()` / `lazy_gettext()` in Python and `{{ _("...") }}` in templates, then run
`scripts/i18n.sh` (extract, update, compile) and fill the new msgstr in
backend/console/translations/zh_Hans_CN/LC_MESSAGES/messages.po (Babel's name for zh_CN); tests/test_console_i18n.py fails on any msgid left
untranslated or a stale .mo.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import babel.dates
import babel.numbers
from flask import Flask, redirect, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import Babel, get_locale, gettext, lazy_gettext, ngettext

from backend.console import bp

__all__ = ["gettext", "lazy_gettext", "ngettext", "LANGUAGES", "local_time", "number"]

TRANSLATIONS = Path(__file__).parent / "translations"
# Locale code -> its name in its own language (how a language switch names it).
LANGUAGES = {"en": "English", "zh_CN": "中文"}
from backend.stations.models import DEFAULT_TIMEZONE
_SESSION_KEY = "language"


def select_locale() -> str:
    chosen = session.get(_SESSION_KEY)
    if chosen in LANGUAGES:
        return chosen
    # "zh", "zh-CN", "zh-Hans" ... all read Simplified Chinese best.
    best = request.accept_languages.best_match(["en", "zh_CN", "zh"], default="en")
    return "zh_CN" if best.startswith("zh") else "en"


def current_language() -> str:
    """The page's language as one of LANGUAGES' codes (Babel would say zh_Hans_CN)."""
    return "zh_CN" if get_locale().language == "zh" else "en"


def init_i18n(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "en")
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS)
    Babel(app, locale_selector=select_locale)
    app.jinja_env.filters["local_time"] = local_time
    app.jinja_env.filters["iso_local_time"] = lambda text, station=None: local_time(
        datetime.fromisoformat(text) if text else None, station)
    app.jinja_env.filters["number"] = number


def station_zone(station: Any) -> ZoneInfo:
    """The station's time zone (stations.timezone), Asia/Shanghai for none."""
    return ZoneInfo(getattr(station, "timezone", None) or DEFAULT_TIMEZONE)


def local_time(moment: datetime | None, station: Any = None, *, with_zone: bool = True) -> str:
    """`moment` in the station's time zone (Asia/Shanghai without one), formatted for the page's language, with
    the zone named: "Mar 2, 2026 16:00 China Standard Time" / "2026年3月2日 16:00 中国标准时间"."""
    if moment is None:
        return "—"
    try:
        local = moment.astimezone(station_zone(station))
    except OverflowError:
        # Within hours of the calendar's end (a device clock far off) a time may have no wall-clock form in the
        # station's zone; it is shown in UTC, with the zone named, rather than failing the page.
        local = moment.astimezone(UTC)
    locale = current_language()
    text = f"{babel.dates.format_skeleton('yMMMd', local, locale=locale)} {babel.dates.format_time(local, 'HH:mm', locale=locale)}"
    if with_zone:
        text += f" {babel.dates.get_timezone_name(local, locale=locale)}"
    return text


def number(value: float | int | None, digits: int = 0) -> str:
    if value is None:
        return "—"
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return babel.numbers.format_decimal(value, format=pattern, locale=current_language())


@bp.route("/language", methods=["POST"])
def switch_language() -> ResponseReturnValue:
    chosen = request.form.get("language", "")
    if chosen in LANGUAGES:
        session[_SESSION_KEY] = chosen
    return redirect(_same_site(request.form.get("next")) or url_for("console.home"))


def _same_site(target: str | None) -> str | None:
    """Only a path on this site, so the switch and the sign-in cannot be used to bounce someone elsewhere.

    Browsers drop tabs and line breaks inside a URL and read a backslash as a slash ("/<tab>/evil.example" is
    "//evil.example"), so a target holding any of them, or any other control or space character, is refused."""
    if not target or "\\" in target or any(char.isspace() or not char.isprintable() for char in target):
        return None
    parts = urlsplit(target)
    if not target.startswith("/") or parts.scheme or parts.netloc:
        return None
    return target
