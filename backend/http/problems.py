"""RFC 9457 problem details for every error the API returns, and the handlers that produce them."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from flask import Flask, Response, json
from sqlalchemy.exc import DataError, IntegrityError, OperationalError, StatementError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from backend.errors import DomainError
from backend.http.context import request_id

PROBLEM_MEDIA_TYPE = "application/problem+json"
# The request does not match the documented schema: a client bug. Well-formed input that a rule refuses
# (DomainError, 422) keeps the generic type, so a client can tell the two apart.
INVALID_INPUT_TYPE = "urn:onsite:problem:invalid-input"
log = logging.getLogger(__name__)

LOCATIONS = {"json": "body", "query": "query", "headers": "header", "files": "body", "form": "body",
             "multipart": "body", "path": "path", "view_args": "path"}


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem_type(status: int) -> str:
    return "urn:onsite:problem:" + _phrase(status).lower().replace(" ", "-").replace("'", "")


def problem(status: int, detail: str, *, title: str | None = None, errors: list[dict[str, Any]] | None = None,
            headers: dict[str, str] | None = None, **extra: Any) -> Response:
    body: dict[str, Any] = {
        "type": problem_type(status),
        "title": title or _phrase(status),
        "status": status,
        "detail": detail,
        "request_id": request_id(),
    }
    if errors:
        body["errors"] = errors
    body.update(extra)
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_MEDIA_TYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def field_errors(messages: Any, location: str, prefix: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Flattens marshmallow's nested message dicts into one entry per offending field."""
    if isinstance(messages, dict):
        out: list[dict[str, Any]] = []
        for key, value in messages.items():
            out.extend(field_errors(value, location, prefix if key == "_schema" else (*prefix, str(key))))
        return out
    texts = [str(m) for m in messages] if isinstance(messages, (list, tuple)) else [str(messages)]
    name = ".".join(prefix) or None
    return [{"field": name, "in": location, "pointer": "#/" + "/".join(prefix), "detail": " ".join(texts)}]


def validation_errors(data: dict[str, Any]) -> list[dict[str, Any]]:
    messages = data.get("messages") or data.get("errors") or {}
    out: list[dict[str, Any]] = []
    for location, per_location in messages.items():
        out.extend(field_errors(per_location, LOCATIONS.get(location, location)))
    return out


def _http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    errors = validation_errors(data)
    if errors:
        names = ", ".join(sorted({e["field"] or e["in"] for e in errors}))
        detail = data.get("message") or f"invalid input: {names}"
    else:
        detail = data.get("message") or error.description or _phrase(status)
    headers = dict(data.get("headers") or {})
    if status == 405 and error.get_headers():
        headers.update({k: v for k, v in error.get_headers() if k.lower() == "allow"})
    if status == 422 and errors:
        # Extra members go in last, so this `type` replaces the one derived from the status.
        return problem(status, detail, title="Invalid input", errors=errors, headers=headers, type=INVALID_INPUT_TYPE)
    return problem(status, detail, errors=errors, headers=headers)


def _domain_error(error: DomainError) -> Response:
    errors = [{"field": error.field, "in": error.location, "pointer": f"#/{error.field.replace('.', '/')}",
               "detail": error.detail}] if error.field else None
    return problem(error.status, error.detail, errors=errors, headers=error.headers, **error.extra)


def _integrity_error(error: IntegrityError) -> Response:
    log.info("integrity error: %s", error.orig)
    return problem(409, "the change conflicts with existing data (a duplicate, or a record still in use)")


def _stale(_error: StaleDataError) -> Response:
    return problem(412, "the resource was changed by someone else meanwhile; fetch it again and retry")


def _operational(error: OperationalError) -> Response:
    if "locked" in str(error.orig).lower() or "could not serialize" in str(error.orig).lower():
        return problem(503, "the database is busy; retry shortly", headers={"Retry-After": "1"})
    return _unexpected(error)


# What an input the precise checks missed raises deep down: a time with no UTC form, a number with no machine form,
# text with no UTF-8 form or that the database refuses (DataError: NUL, out of range), nesting that exhausts the
# stack. Those checks are the fix; this keeps a miss a 400 instead of a 500.
_INPUT_ERRORS = (OverflowError, RecursionError, ValueError, DataError)  # ValueError includes UnicodeError


def _unprocessable_input(error: Exception) -> Response:
    cause = error.orig if isinstance(error, StatementError) and not isinstance(error, DataError) else error
    if not isinstance(cause, _INPUT_ERRORS):
        return _unexpected(error)
    # Logged in full all the same: it means a check is missing where the value came in.
    log.error("%s from input that no check refused", type(error).__name__, exc_info=error)
    return problem(400, "the request holds a value the server cannot process: out of range, not valid Unicode, "
                        "or nested too deeply")


def _unexpected(error: Exception) -> Response:
    log.exception("unhandled error", exc_info=error)
    return problem(500, "an unexpected error occurred; it has been logged with this request_id")


def register_problem_handlers(app: Flask) -> None:
    app.register_error_handler(HTTPException, _http_exception)
    app.register_error_handler(DomainError, _domain_error)
    app.register_error_handler(IntegrityError, _integrity_error)
    app.register_error_handler(StaleDataError, _stale)
    app.register_error_handler(OperationalError, _operational)
    for error_class in (*_INPUT_ERRORS, StatementError):
        app.register_error_handler(error_class, _unprocessable_input)
    app.register_error_handler(Exception, _unexpected)
