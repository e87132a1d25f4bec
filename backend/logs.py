"""The log, in every mode: JSON lines in production (one object per line, for a log shipper), readable text with
UTC timestamps elsewhere; one access line per request; every unexpected error with its request id, its traceback
logged once and its repeats summarised, so an outage leaves a readable log instead of thousands of tracebacks.

configure_logging runs at app creation and when a command starts (`onsite serve`, `onsite scheduler`, ...), so the
gunicorn master, its workers and the stand-alone scheduler all log the same way.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import logging
import re
import sys
import threading
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, g, has_request_context, request
from sqlalchemy import inspect

from backend.config import Settings
from backend.http.context import device_id, request_id

access_log = logging.getLogger("onsite.access")
# Static files of the console and /docs: their access lines go out at DEBUG only.
_STATIC_ENDPOINTS = frozenset({"static", "console.static", "swagger_ui_static"})
# What every LogRecord has; anything else on a record was passed in `extra` and goes into the JSON object.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
# Shown after the message in the text format (the JSON format has every field).
_TEXT_FIELDS = ("request_id", "user_id", "device_id", "error_id")


def configure_logging(settings: Settings) -> None:
    """One handler on the root logger, writing to stderr in the configured format. Safe to call again (each app
    or command start replaces the handler it put there before)."""
    handler = _StderrHandler()
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else TextFormatter())
    handler.addFilter(_add_request_context)
    root = logging.getLogger()
    for previous in [h for h in root.handlers if isinstance(h, _StderrHandler)]:
        root.removeHandler(previous)
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    # The development server's own line per request would repeat the access line; Alembic announces its plugins
    # whenever it is loaded (its migrations' own lines still show).
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is at the time (as logging's last-resort handler does), so a replaced stderr
    (a test's capture, a daemon's redirection) is followed."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def _utc_timestamp(created: float) -> str:
    return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    return {name: value for name, value in vars(record).items()
            if name not in _RECORD_ATTRIBUTES and not name.startswith("_")}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, process, the fields passed as `extra` (and the
    request's request_id, user_id and device_id), and the traceback as `exception`."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {"time": _utc_timestamp(record.created), "level": record.levelname,
                                 "logger": record.name, "message": record.getMessage(), "process": record.process}
        entry.update(_extra_fields(record))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """`2026-03-02T08:00:00.000Z INFO onsite.access: GET /api/v1/jobs 200 3.1 ms  [request_id=... user_id=7]`,
    then the traceback if there is one."""

    def format(self, record: logging.LogRecord) -> str:
        context = " ".join(f"{name}={value}" for name in _TEXT_FIELDS
                           if (value := getattr(record, name, None)) is not None)
        line = (f"{_utc_timestamp(record.created)} {record.levelname} {record.name}: {record.getMessage()}"
                + (f"  [{context}]" if context else ""))
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return line


def _add_request_context(record: logging.LogRecord) -> bool:
    """Whatever is logged while a request is served carries its request id, user and device."""
    if has_request_context():
        for name, value in (("request_id", request_id()), ("user_id", _user_id()), ("device_id", device_id())):
            if not hasattr(record, name):
                setattr(record, name, value)
    return True


def _user_id() -> int | None:
    """The signed-in user (API bearer token or console session), if any. Read from the identity map, not the
    attribute, so that it never loads anything (the request may be failing because the database is down)."""
    user = g.get("user") or g.get("console_user")
    identity = inspect(user).identity if user is not None else None
    return identity[0] if identity else None


# --- one line per request ------------------------------------------------------------------------------------------

def init_request_logging(app: Flask) -> None:
    app.before_request(_start_timer)
    app.after_request(_log_access)


def _start_timer() -> None:
    g.request_started = time.perf_counter()


def _log_access(response: Response) -> Response:
    """method, route (the URL rule, so /jobs/<id:job_id> rather than each job's path), status, duration and who;
    a request that ended in an unexpected error also names it (error_id leads to its traceback)."""
    started = g.get("request_started")
    duration_ms = round((time.perf_counter() - started) * 1000, 1) if started is not None else None
    route = request.url_rule.rule if request.url_rule is not None else None
    fields: dict[str, Any] = {"method": request.method, "route": route, "status": response.status_code,
                              "duration_ms": duration_ms, "client": request.remote_addr}
    if "unexpected_error" in g:
        fields["error"], fields["error_id"] = g.unexpected_error
    level = logging.DEBUG if request.endpoint in _STATIC_ENDPOINTS else logging.INFO
    access_log.log(level, "%s %s %s %s ms", request.method, route or "(no route)", response.status_code,
                   duration_ms, extra=fields)
    errors.flush()  # a burst of errors that has ended gets its summary now
    return response


# --- unexpected errors, summarised when they repeat ----------------------------------------------------------------

@dataclass
class _Burst:
    """One kind of error within its window: when it started, what its first record said, how many followed."""
    started: float
    logger: logging.Logger
    error: str
    first_request_id: str | None
    repeats: int = 0


class ErrorDigest:
    """Logs the first error of a kind (its type, where it was raised, and its message with numbers blanked out)
    in full, with its traceback; repeats within `window_seconds` only count, and when the window has passed one
    line says how many there were. Each request's own access line still names its error, so no request id is
    lost. Thread-safe; remembers at most `max_kinds` kinds (the oldest window closes early when full)."""

    def __init__(self, window_seconds: float = 60.0, max_kinds: int = 256,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.window_seconds, self.max_kinds, self._clock = window_seconds, max_kinds, clock
        self._bursts: OrderedDict[str, _Burst] = OrderedDict()  # oldest window first
        self._lock = threading.Lock()

    def report(self, logger: logging.Logger, message: str, error: BaseException, **fields: Any) -> str:
        """Logs `error` (or counts it as a repeat) and returns its kind's id. Within a request the access line
        gets the error's type and id."""
        error_id = error_kind(error)
        error_name = type(error).__name__
        rid = request_id() if has_request_context() else None
        with self._lock:
            now = self._clock()
            closed = self._close_windows(now)
            burst = self._bursts.get(error_id)
            first = burst is None
            if first:
                self._bursts[error_id] = _Burst(started=now, logger=logger, error=error_name, first_request_id=rid)
                if len(self._bursts) > self.max_kinds:
                    closed.append(self._bursts.popitem(last=False))
            else:
                burst.repeats += 1
        self._summarise(closed)
        if has_request_context():
            g.unexpected_error = (error_name, error_id)
        if first:
            logger.error("%s: %s: %s", message, error_name, _first_line(error), exc_info=error,
                         extra={"error": error_name, "error_id": error_id, **fields})
        return error_id

    def flush(self, *, everything: bool = False) -> None:
        """Logs the summaries of windows that have passed (all of them, at exit)."""
        if not self._bursts:  # no lock needed to see there is nothing to do
            return
        with self._lock:
            closed = self._close_windows(float("inf") if everything else self._clock())
        self._summarise(closed)

    def _close_windows(self, now: float) -> list[tuple[str, _Burst]]:
        closed = []
        while self._bursts:
            error_id, burst = next(iter(self._bursts.items()))
            if now - burst.started < self.window_seconds:
                break  # windows are equally long, so the later ones are still open too
            closed.append(self._bursts.popitem(last=False))
        return closed

    def _summarise(self, closed: list[tuple[str, _Burst]]) -> None:
        for error_id, burst in closed:
            if burst.repeats:
                burst.logger.error(
                    "%d more like error %s (%s, first logged with request %s) within %g s; each one's access line "
                    "names this error_id", burst.repeats, error_id, burst.error, burst.first_request_id,
                    self.window_seconds,
                    extra={"error": burst.error, "error_id": error_id, "repeats": burst.repeats,
                           "window_seconds": self.window_seconds, "first_request_id": burst.first_request_id,
                           **_NO_REQUEST})


# A summary may be written while some other request is served; it is not about that request.
_NO_REQUEST = {"request_id": None, "user_id": None, "device_id": None}
_NUMBERS = re.compile(r"0x[0-9a-f]+|\d+", re.IGNORECASE)


def error_kind(error: BaseException) -> str:
    """What makes two errors "the same": type, the line that raised it, and the first line of its message with
    numbers blanked out (ids and ports vary; SQLAlchemy puts the varying SQL and parameters on later lines)."""
    frames = traceback.extract_tb(error.__traceback__)
    where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else ""
    template = _NUMBERS.sub("#", _first_line(error))
    kind = f"{type(error).__module__}.{type(error).__qualname__}|{where}|{template}"
    return hashlib.sha256(kind.encode()).hexdigest()[:12]


def _first_line(error: BaseException) -> str:
    return str(error).strip().partition("\n")[0][:300]


errors = ErrorDigest()


def report_error(logger: logging.Logger, message: str, error: BaseException, **fields: Any) -> str:
    """Logs an unexpected error through the process's digest (see ErrorDigest.report)."""
    return errors.report(logger, message, error, **fields)


# The last burst's summary is written when the process ends (gunicorn workers and the scheduler exit normally).
atexit.register(lambda: errors.flush(everything=True))
