"""The notifications inbox (everyone in the office): SLA misses, escalations, rejections; mark as read."""

from __future__ import annotations

from flask import g, redirect, request, url_for
from flask.typing import ResponseReturnValue

from backend.console import bp
from backend.console.forms import ConsoleForm
from backend.console.pages import console_page
from backend.console.render import error_page, render_page
from backend.http.context import db, onsite
from backend.notifications import service

PAGE_SIZE = 100


@bp.route("/inbox")
@console_page()
def inbox() -> ResponseReturnValue:
    only_unread = request.args.get("unread") == "1"
    notifications = db().scalars(service.inbox(g.user, unread=True if only_unread else None).limit(PAGE_SIZE)).all()
    return render_page("console/inbox/inbox.html", notifications=notifications, only_unread=only_unread)


@bp.route("/inbox/<id:notification_id>/read", methods=["POST"])
@console_page()
def mark_notification_read(notification_id: int) -> ResponseReturnValue:
    form = ConsoleForm("read", request.form)
    form.submit(lambda: service.mark_read(db(), g.user, notification_id, onsite().clock.now()))
    if form.failed:
        return error_page(form.status, form.message)
    return redirect(url_for("console.inbox", unread=request.form.get("unread") or None))
