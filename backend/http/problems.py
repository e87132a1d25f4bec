"""RFC 9457 problem details for every error the API returns, and the handlers that produce them."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from flask import Flask, Response, json, request
from sqlalchemy.exc import (DataError, DisconnectionError, IntegrityError, InterfaceError, OperationalError,
                            StatementError)
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from backend.db import database_busy, database_unavailable
from backend.errors import DomainError
from backend.http.context import onsite, request_id
from backend.logs import report_error

PROBLEM_MEDIA_TYPE = "application/problem+json"
# The request does not match the documented schema: a client bug. Well-formed input that a rule refuses
# (DomainError, 422) keeps the generic type, so a client can tell the two apart.
INVALID_INPUT_TYPE = "urn:onsite:problem:invalid-input"
# The database cannot serve anyone just now (unreachable, restarting, frozen, overloaded): retry after Retry-After.
DATABASE_UNAVAILABLE_TYPE = "urn:onsite:problem:database-unavailable"
# What SQLAlchemy raises when the database fails rather than the statement; backend.db.database_unavailable tells
# an outage from a bug.
DATABASE_ERRORS = (OperationalError, InterfaceError, DisconnectionError, PoolTimeoutError)
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


def _stale(error: StaleDataError) -> Response:
    """A row's version moved between read and write (backend.db.Versioned)."""
    if "If-Match" in request.headers:
        return problem(412, "the resource was changed by someone else meanwhile; fetch it again and retry")
    # The client asked for no precondition, and writes without one lock their rows before reading them
    # (backend.db.locked): this write missed its lock. Logged as the bug it is; the client may simply retry.
    report_error(log, "version clash on a write without If-Match (a row lock is missing)", error)
    return problem(409, "the resource was changed concurrently by another request; retry")


def database_trouble(error: Exception) -> tuple[str, int] | None:
    """What keeps the database from serving now and the seconds to wait before retrying, when `error` is such a
    state (an outage is logged, its repeats summarised); None for any other error."""
    reason = database_unavailable(error)
    if reason is not None:
        report_error(log, reason, error)
        return reason, onsite().settings.db_retry_after_seconds
    return ("the database is busy", 1) if database_busy(error) else None


def database_error(error: Exception) -> Response:
    trouble = database_trouble(error)
    if trouble is None:
        return _unprocessable_input(error)  # not the database's state: a bug stays a 500
    reason, retry_after = trouble
    return problem(503, f"{reason}; retry after {retry_after} s", title="Database unavailable",
                   headers={"Retry-After": str(retry_after)}, type=DATABASE_UNAVAILABLE_TYPE)


# What an input the precise checks missed raises deep down: a time with no UTC form, a number with no machine form,
# text with no UTF-8 form or that the database refuses (DataError: NUL, out of range), nesting that exhausts the
# stack. Those checks are the fix; this keeps a miss a 400 instead of a 500.
_INPUT_ERRORS = (OverflowError, RecursionError, ValueError, DataError)  # ValueError includes UnicodeError


def _unprocessable_input(error: Exception) -> Response:
    cause = error.orig if isinstance(error, StatementError) and not isinstance(error, DataError) else error
    if not isinstance(cause, _INPUT_ERRORS):
        return _unexpected(error)
    # Logged in full all the same: it means a check is missing where the value came in.
    report_error(log, "input that no check refused", error)
    return problem(400, "the request holds a value the server cannot process: out of range, not valid Unicode, "
                        "or nested too deeply")


def _unexpected(error: Exception) -> Response:
    report_error(log, "unhandled error", error)
    return problem(500, "an unexpected error occurred; it has been logged with this request_id")


def register_problem_handlers(app: Flask) -> None:
    app.register_error_handler(HTTPException, _http_exception)
    app.register_error_handler(DomainError, _domain_error)
    app.register_error_handler(IntegrityError, _integrity_error)
    app.register_error_handler(StaleDataError, _stale)
    for error_class in DATABASE_ERRORS:
        app.register_error_handler(error_class, database_error)
    for error_class in (*_INPUT_ERRORS, StatementError):
        app.register_error_handler(error_class, _unprocessable_input)
    app.register_error_handler(Exception, _unexpected)
