"""The operations console: server-rendered pages for the office (issue 11), served by the API's Flask app.

Pages live in sub-packages (board, requests, jobs, inbox, ...), each registering routes on the one `console`
blueprint with `@console_page(*roles, nav=...)` (see backend.console.pages). Writes go through the same marshmallow
schemas and service functions as /api/v1 (see backend.console.forms), so the console has no rules of its own.
"""

from __future__ import annotations

import importlib
import pkgutil

from flask import Blueprint, Flask, Response, g, request
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError, CSRFProtect

from backend.errors import DomainError
from backend.http.problems import DATABASE_ERRORS, database_error, database_trouble

bp = Blueprint("console", __name__, template_folder="templates", static_folder="static",
               static_url_path="/console/static")
csrf = CSRFProtect()

# Content-Security-Policy of every console page. A page module may add a source to a directive (e.g. a tile server
# for img-src) before the first request; 'unsafe-inline' scripts are never allowed.
CSP: dict[str, list[str]] = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}


def content_security_policy(extra: dict[str, list[str]] | None = None) -> str:
    """The policy, with `extra` sources for some directives (e.g. a configured tile server's host in img-src)."""
    extra = extra or {}
    return "; ".join(f"{directive} {' '.join(sources + extra.get(directive, []))}"
                     for directive, sources in CSP.items())


@bp.after_request
def _protect_page(response: Response) -> Response:
    # setdefault: a response with a stricter policy of its own (a photo's bytes: sandboxed) keeps it.
    response.headers.setdefault("Content-Security-Policy", content_security_policy())
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    if response.mimetype == "text/html":
        # Pages show the signed-in user's data: never from a shared cache, and gone with the back button after
        # sign-out.
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.before_request
def _check_csrf() -> None:
    # CSRF applies to console forms only; /api/v1 uses bearer tokens, which a browser never sends by itself.
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        csrf.protect()


@bp.errorhandler(CSRFError)
def _csrf_refused(error: CSRFError) -> tuple[str, int]:
    from backend.console.render import error_page
    from backend.console.i18n import lazy_gettext as _l
    return error_page(400, _l("The form had expired or did not come from this site. Go back, reload the page and "
                              "try again."))


@bp.errorhandler(DomainError)
def _refused(error: DomainError) -> tuple[str, int]:
    """A refusal outside a form (an unknown or out-of-scope id, a role) as a readable page."""
    from backend.console.i18n import lazy_gettext as _l
    from backend.console.render import error_page
    if error.status == 404:
        return error_page(404, _l("There is no such record, or it belongs to a station you do not work for."))
    return error_page(error.status, error.detail)


def _database_unavailable(error: Exception) -> ResponseReturnValue:
    """An outage as a readable page (503, Retry-After); any other database error gets the API's answer."""
    from backend.console.i18n import lazy_gettext as _l
    from backend.console.render import error_page
    trouble = database_trouble(error)
    if trouble is None:
        return database_error(error)
    # The header would read the account and its unread count from the database that just failed: shown signed out.
    g.user = g.console_user = None
    page, status = error_page(503, _l("The database cannot serve the console just now; nothing was changed. "
                                      "Wait a few seconds, then reload the page."))
    return page, status, {"Retry-After": str(trouble[1])}


for _error_class in DATABASE_ERRORS:
    bp.register_error_handler(_error_class, _database_unavailable)


def _import_pages() -> None:
    """Importing the console's modules and page packages registers their routes: a new page package needs no
    edit here."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")


def init_console(app: Flask) -> None:
    settings = app.extensions["onsite"].settings
    app.config.update(
        SESSION_COOKIE_NAME="onsite_console",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.env == "production",
        # Checked by the console's before_request only, so the token-authenticated API is left alone.
        WTF_CSRF_CHECK_DEFAULT=False,
        # A dispatcher keeps the board open all day: the token lives as long as the signed-in session.
        WTF_CSRF_TIME_LIMIT=None,
    )
    csrf.init_app(app)
    from backend.console import i18n, labels
    i18n.init_i18n(app)
    labels.init_labels(app)
    _import_pages()
    app.register_blueprint(bp)
