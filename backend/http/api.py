"""flask-smorest Api and Blueprint, extended with access control, transactions and idempotent replay.

Decorator order on a view (outermost first): route, access/public, write, arguments, response.
Access runs before argument parsing so an anonymous caller gets 401, not a validation error.
"""

from __future__ import annotations

from copy import deepcopy
from functools import wraps
from typing import Any, Callable

import flask_smorest
import marshmallow as ma
from flask import Response, g, request
from flask_smorest.utils import deepupdate, prepare_response
from sqlalchemy.exc import IntegrityError

from backend import idempotency
from backend.accounts.models import User
from backend.accounts.service import decode_access_token
from backend.audit.recorder import AuditContext, set_audit_context
from backend.errors import DomainError, Forbidden, Unauthorized
from backend.http.context import db, device_id, onsite, request_id
from backend.http.problems import PROBLEM_MEDIA_TYPE, problem

BEARER = [{"bearerAuth": []}]
IDEMPOTENCY_HEADER = "Idempotency-Key"
_REPLAYED_HEADER = "Idempotent-Replayed"
_REPLAYABLE_HEADERS = ("ETag", "Location", "Content-Type")


class ProblemSchema(ma.Schema):
    """RFC 9457 problem details."""

    class Meta:
        # Extension members (RFC 9457 §3.2) carry specifics, e.g. current_etag on a 412.
        unknown = ma.INCLUDE

    type = ma.fields.String(required=True, metadata={"description": "URI identifying the kind of problem"})
    title = ma.fields.String(required=True)
    status = ma.fields.Integer(required=True)
    detail = ma.fields.String(required=True)
    request_id = ma.fields.String()
    errors = ma.fields.List(ma.fields.Dict(), metadata={"description": "One entry per offending field"})


class Api(flask_smorest.Api):
    ERROR_SCHEMA = ProblemSchema

    def _register_error_handlers(self) -> None:
        """Problem handlers are registered by the app factory (backend.http.problems)."""

    def _register_responses(self) -> None:
        for name, status in _ERROR_RESPONSES.items():
            response = {"description": status, "schema": self.ERROR_SCHEMA}
            prepare_response(response, self.spec, PROBLEM_MEDIA_TYPE)
            self.spec.components.response(name, response, lazy=True)


_ERROR_RESPONSES = {
    "DEFAULT_ERROR": "Error (problem details)",
    "UNAUTHORIZED": "Missing, invalid or expired access token",
    "FORBIDDEN": "The caller's roles or ownership do not allow this",
    "NOT_FOUND": "No such resource",
    "CONFLICT": "The resource's state does not allow this",
    "PRECONDITION_FAILED": "If-Match does not match the current version",
    "PRECONDITION_REQUIRED": "If-Match is required for this update",
    "UNPROCESSABLE_CONTENT": "Invalid input; `errors` names the fields",
    "UNPROCESSABLE_ENTITY": "Invalid input; `errors` names the fields",
    "BAD_REQUEST": "Malformed request",
}


def _add_doc(func: Callable[..., Any], **doc: Any) -> None:
    func._apidoc = deepcopy(getattr(func, "_apidoc", {}))  # type: ignore[attr-defined]
    func._apidoc["manual_doc"] = deepupdate(deepcopy(func._apidoc.get("manual_doc", {})), doc)  # type: ignore


def _add_responses(func: Callable[..., Any], *statuses: tuple[int, str]) -> None:
    apidoc = func._apidoc = deepcopy(getattr(func, "_apidoc", {}))  # type: ignore[attr-defined]
    responses = apidoc.setdefault("response", {}).setdefault("responses", {})
    for status, ref in statuses:
        responses.setdefault(status, []).append(ref)


def _add_parameters(func: Callable[..., Any], *parameters: dict[str, Any]) -> None:
    apidoc = func._apidoc = deepcopy(getattr(func, "_apidoc", {}))  # type: ignore[attr-defined]
    apidoc.setdefault("arguments", {}).setdefault("parameters", []).extend(parameters)


def authenticate_request() -> User:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("an access token is required (Authorization: Bearer <token>)")
    app = onsite()
    user_id = decode_access_token(token.strip(), app.settings.secret_key, app.clock.now())
    user = db().get(User, user_id)
    if user is None or not user.active:
        raise Unauthorized("account is disabled or gone", error="invalid_token")
    return user


def _set_audit_actor(user_id: int | None, name: str) -> None:
    rule = request.url_rule.rule if request.url_rule else request.path
    set_audit_context(db(), AuditContext(actor_user_id=user_id, actor_name=name, request_id=request_id(),
                                         device_id=device_id(), action=f"{request.method} {rule}"))


class Blueprint(flask_smorest.Blueprint):
    DEFAULT_PAGINATION_PARAMETERS = {"page": 1, "page_size": 50, "max_page_size": 200}

    def access(self, *roles: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Only authenticated users holding one of `roles` may call the view (any role when none given)."""
        allowed = frozenset(roles)

        def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
            @wraps(func)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                user = authenticate_request()
                if allowed and not user.has_any_role(allowed):
                    raise Forbidden(f"this needs one of the roles: {', '.join(sorted(allowed))}")
                g.user = user
                _set_audit_actor(user.id, user.username)
                return func(*args, **kwargs)

            wrapper.access_roles = allowed or frozenset({"*"})  # type: ignore[attr-defined]
            _add_doc(wrapper, security=BEARER)
            _add_responses(wrapper, (401, "UNAUTHORIZED"), (403, "FORBIDDEN"))
            return wrapper

        return decorator

    def public(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """Marks a view as deliberately open to anonymous callers."""

        @wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            _set_audit_actor(None, "anonymous")
            return func(*args, **kwargs)

        wrapper.access_roles = frozenset({"public"})  # type: ignore[attr-defined]
        _add_doc(wrapper, security=[])
        return wrapper

    @staticmethod
    def needs_if_match(func: Callable[..., Any]) -> Callable[..., Any]:
        """Documents the If-Match header; the view calls require_if_match once it has the current version."""
        _add_parameters(func, IF_MATCH_PARAMETER)
        return func

    def write(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """One transaction per write; with an Idempotency-Key, a retry replays the first response."""

        @wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            session = db()
            key = request.headers.get(IDEMPOTENCY_HEADER)
            user = g.get("user")
            if key is None or user is None:
                return _commit_or_rollback(session, lambda: func(*args, **kwargs))
            if not 0 < len(key) <= idempotency.MAX_KEY_LENGTH or not key.isprintable():
                raise DomainError(IDEMPOTENCY_HEADER, f"must be 1 to {idempotency.MAX_KEY_LENGTH} printable characters",
                                  location="header")
            print_ = idempotency.fingerprint(request.method, request.full_path, request.get_data())
            stored = idempotency.lookup(session, user.id, key)
            if stored is None:
                try:
                    record = idempotency.claim(session, user_id=user.id, key=key, fingerprint=print_,
                                               now=onsite().clock.now())
                except IntegrityError:
                    # A concurrent request with the same key got there first and has finished; replay it.
                    session.rollback()
                    stored = idempotency.lookup(session, user.id, key)
                    if stored is None:
                        raise
                else:
                    return _commit_or_rollback(session, lambda: _run_and_remember(func, args, kwargs, record))
            if stored.fingerprint != print_:
                raise DomainError(IDEMPOTENCY_HEADER, "this key was already used for a different request",
                                  location="header")
            replay = Response(stored.body, status=stored.status_code)
            replay.headers.update(stored.headers)
            replay.headers[_REPLAYED_HEADER] = "true"
            return replay

        _add_parameters(wrapper, {
            "in": "header", "name": IDEMPOTENCY_HEADER, "required": False,
            "description": "Client-chosen key; a retry with the same key and body replays the first response "
                           "instead of acting again (kept at least 7 days).",
            "schema": {"type": "string", "minLength": 1, "maxLength": idempotency.MAX_KEY_LENGTH}})
        return wrapper


def _commit_or_rollback(session: Any, action: Callable[[], Any]) -> Any:
    try:
        result = action()
    except Unauthorized as exc:
        session.commit() if exc.commit else session.rollback()
        raise
    except BaseException:
        session.rollback()
        raise
    session.commit()
    return result


def _run_and_remember(func: Callable[..., Any], args: Any, kwargs: Any,
                      record: idempotency.IdempotencyRecord) -> Any:
    response = func(*args, **kwargs)
    if isinstance(response, Response) and 200 <= response.status_code < 300:
        headers = {name: response.headers[name] for name in _REPLAYABLE_HEADERS if name in response.headers}
        idempotency.complete(record, idempotency.StoredResponse(response.status_code, headers, response.get_data()))
    else:
        db().delete(record)  # only successes are replayed; anything else may be retried for real
    return response


def etag_of(version: int) -> str:
    return f'"{version}"'


def require_if_match(current_version: int) -> None:
    """Updates must name the version they were based on, so a stale write is refused, never applied."""
    supplied = request.headers.get("If-Match")
    if supplied is None:
        raise DomainError("If-Match", "send the ETag you read in If-Match", status=428, location="header")
    candidates = {tag.strip() for tag in supplied.split(",")}
    if "*" not in candidates and etag_of(current_version) not in candidates:
        raise DomainError("If-Match", f"stale: the current version is {etag_of(current_version)}", status=412,
                          location="header", current_etag=etag_of(current_version))


IF_MATCH_PARAMETER = {"in": "header", "name": "If-Match", "required": True,
                      "description": "The ETag of the version this update is based on.",
                      "schema": {"type": "string", "minLength": 1, "maxLength": 200}}
ETAG_HEADER = {"ETag": {"description": "Version of the resource, for If-Match", "schema": {"type": "string"},
                        "required": True}}
