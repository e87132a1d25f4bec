"""Signing in and out of the console, and the signed-in person of each request.

The session is Flask's signed cookie (HttpOnly, SameSite=Lax, Secure in production; see init_console) holding the
user id, the account's session epoch and the id of the sign-in's refresh family (accounts.open_browser_session).
Every request reloads the account and the family, so a disabled account, a changed password (a new epoch), ended
sessions, the family's lifetime running out and signing out (the family revoked: a copy of the cookie taken
before is worthless) all end the session at once.
"""

from __future__ import annotations

import marshmallow as ma
from flask import g, redirect, request, session, url_for
from flask.typing import ResponseReturnValue

from backend.accounts import service as accounts
from backend.accounts.models import User
from backend.accounts.schemas import TokenRequestSchema
from backend.console import bp
from backend.console.forms import ConsoleForm
from backend.console.i18n import _same_site
from backend.console.i18n import lazy_gettext as _l
from backend.console.render import render_page
from backend.errors import TooManyRequests, Unauthorized
from backend.http.api import _set_audit_actor
from backend.http.context import db, load_signed_in_user, onsite

_USER_KEY = "user_id"
_EPOCH_KEY = "session_epoch"
_FAMILY_KEY = "sign_in"


def signed_in_user() -> User | None:
    """The account this browser is signed in as, if the session still holds; else the session is ended."""
    if "console_user" in g:
        return g.console_user
    user = None
    user_id = session.get(_USER_KEY)
    if user_id is not None:
        user = load_signed_in_user(db(), user_id)
        if (user is None or not accounts.session_is_current(user, session.get(_EPOCH_KEY, -1))
                or not accounts.browser_session_is_live(db(), str(session.get(_FAMILY_KEY)), onsite().clock.now())):
            _end_session()
            user = None
    g.console_user = user
    return user


def _end_session() -> None:
    language = session.get("language")
    session.clear()
    if language:
        session["language"] = language


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> ResponseReturnValue:
    target = _same_site(request.values.get("next"))
    if request.method == "GET":
        if signed_in_user() is not None:
            return redirect(target or url_for("console.home"))
        return render_page("console/sign_in.html", form=ConsoleForm("sign_in"), next=target)
    form = ConsoleForm("sign_in", request.form, fields=("username", "password"))
    _set_audit_actor(None, "anonymous")
    session_, app = db(), onsite()
    try:
        # The API's sign-in: its schema (what that refuses, such as a NUL or an overlong name, names no account and
        # is not counted), then its throttling per username and per address.
        credentials = form.load(TokenRequestSchema())
        user = accounts.authenticate(session_, credentials["username"], credentials["password"],
                                     address=request.remote_addr or "unknown", settings=app.settings,
                                     now=app.clock.now())
    except ma.ValidationError:
        return _sign_in_refused(form, target, 422)
    except (Unauthorized, TooManyRequests) as refusal:
        # A failure is committed so that it counts towards the throttle.
        session_.commit() if getattr(refusal, "commit", False) else session_.rollback()
        return _sign_in_refused(form, target, refusal.status, refusal.headers.get("Retry-After"))
    family = accounts.open_browser_session(session_, user, app.token_policy, app.clock.now())
    session_.commit()
    _end_session()
    session[_USER_KEY] = user.id
    session[_EPOCH_KEY] = user.session_epoch
    session[_FAMILY_KEY] = family
    return redirect(target or url_for("console.home"))


def _sign_in_refused(form: ConsoleForm, target: str | None, status: int,
                     retry_after: str | None = None) -> ResponseReturnValue:
    form.message = (_l("Too many failed sign-ins. Wait a while, then try again.") if status == 429
                    else _l("Wrong username or password, or the account is disabled."))
    form.values.pop("password", None)
    page, status = render_page("console/sign_in.html", status=status, form=form, next=target)
    # While locked, the same Retry-After as the API's 429.
    return page, status, {"Retry-After": retry_after} if retry_after else {}


@bp.route("/sign-out", methods=["POST"])
def sign_out() -> ResponseReturnValue:
    family = session.get(_FAMILY_KEY)
    if family is not None:
        accounts.close_browser_session(db(), str(family), onsite().clock.now())
        db().commit()
    _end_session()
    return redirect(url_for("console.sign_in"))
