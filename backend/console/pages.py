"""How a console page is declared, guarded and listed in the navigation.

Add a page:

    from backend.console import bp
    from backend.console.pages import console_page
    from backend.console.render import render_page
    from backend.console.i18n import lazy_gettext as _l

    @bp.route("/reviews")
    @console_page(*REVIEWERS, nav=_l("Reviews"), order=30)
    def reviews():
        return render_page("console/reviews/queue.html", reports=...)

`console_page` signs the person in (or sends them to the sign-in page), refuses technicians (they use the app) and
roles not listed with a readable 403 page, sets the audit actor like the API does, and - with `nav` - puts a link
in the header shown only to the listed roles. Use the API's role tuples (e.g. backend.dispatch.service.READERS) so
both doors admit the same people. The link's endpoint is `console.<function name>`, so do not pass `endpoint=`
to the route.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from flask import g, redirect, request, url_for
from flask.typing import ResponseReturnValue

from backend.accounts.models import ROLE_VALUES, Role, User
from backend.console.auth import signed_in_user
from backend.console.i18n import lazy_gettext as _l
from backend.console.render import error_page, render_page
from backend.http.api import _set_audit_actor

# Everyone but the technician works in the console.
OFFICE_ROLES = frozenset(ROLE_VALUES) - {Role.TECHNICIAN}


@dataclass(frozen=True)
class NavLink:
    endpoint: str
    label: Any  # a lazy string, translated when shown
    roles: frozenset[str]
    order: int

    def visible_to(self, user: User) -> bool:
        return user.has_any_role(self.roles)


NAV: list[NavLink] = []


def console_page(*roles: str, nav: Any = None, order: int = 100) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Guards a console view: signed in, an office role, and one of `roles` (any office role when none given)."""
    allowed = frozenset(roles) or OFFICE_ROLES

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> ResponseReturnValue:
            user = signed_in_user()
            if user is None:
                target = request.full_path if request.method == "GET" else None
                return redirect(url_for("console.sign_in", next=target.rstrip("?") if target else None))
            if not user.has_any_role(OFFICE_ROLES):
                return render_page("console/technician.html", status=403)
            if not user.has_any_role(allowed):
                return error_page(403, _l("Your roles do not include this page. Ask an administrator if you need it."))
            g.user = user
            _set_audit_actor(user.id, user.username)
            return view(*args, **kwargs)

        guarded.console_roles = allowed  # type: ignore[attr-defined]
        if nav is not None:
            NAV.append(NavLink(f"console.{view.__name__}", nav, allowed, order))
            NAV.sort(key=lambda link: link.order)
        return guarded

    return decorator


def nav_links(user: User | None) -> list[NavLink]:
    """The links the header offers: none to a technician (no console), else the pages their roles open."""
    if user is None or not user.has_any_role(OFFICE_ROLES):
        return []
    return [link for link in NAV if link.visible_to(user)]

