"""`/`: the way into the console, and what every page's header needs."""

from __future__ import annotations

from typing import Any

from flask import g, redirect, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import func, select

from backend.accounts.models import User
from backend.console import bp
from backend.console.auth import signed_in_user
from backend.console.i18n import LANGUAGES, current_language
from backend.console.labels import ROLE_LABELS
from backend.console.pages import OFFICE_ROLES, console_page, nav_links
from backend.console.render import render_page
from backend.http.context import db, onsite
from backend.notifications.service import inbox


@bp.route("/")
def home() -> ResponseReturnValue:
    """Signed out: the sign-in page. Signed in: the first page the person's roles open (the board for the office)."""
    user = signed_in_user()
    if user is None:
        return redirect(url_for("console.sign_in"))
    links = nav_links(user)
    if links and user.has_any_role(OFFICE_ROLES):
        return redirect(url_for(links[0].endpoint))
    return start()


@console_page()
def start() -> ResponseReturnValue:
    return render_page("console/home.html")


def unread_count(user: User) -> int:
    return db().scalar(select(func.count()).select_from(inbox(user, unread=True).subquery())) or 0


@bp.context_processor
def _page_context() -> dict[str, Any]:
    user = g.get("user") or signed_in_user()
    settings = onsite().settings
    return {
        "user": user,
        "nav": nav_links(user),
        "role_labels": ROLE_LABELS,
        "office": user is not None and user.has_any_role(OFFICE_ROLES),
        "unread": unread_count(user) if user is not None and user.has_any_role(OFFICE_ROLES) else 0,
        "languages": LANGUAGES,
        "locale": current_language(),
        "html_lang": current_language().replace("_", "-"),
        "server_now": onsite().clock.now().isoformat(),
        "urgent_seconds": int(settings.console_urgent_hours * 3600),
        "here": request.full_path.rstrip("?"),
    }
