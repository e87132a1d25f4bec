"""Rendering a console page or the console's error page."""

from __future__ import annotations

from typing import Any

from flask import render_template


def render_page(template: str, *, status: int = 200, **context: Any) -> tuple[str, int]:
    return render_template(template, **context), status


def error_page(status: int, message: Any) -> tuple[str, int]:
    return render_page("console/error.html", status=status, status_code=status, message=message)
