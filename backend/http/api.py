"""flask-smorest Api and Blueprint, extended with access control, transactions and idempotent replay.

A view declares what it is with one `Blueprint.endpoint(...)` call, which applies the decorators in the one order
that works (outermost first): route, access/public, write, arguments, response. Access runs before argument parsing
so an anonymous caller gets 401, not a validation error.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from copy import deepcopy
from functools import wraps
from typing import Any, Callable

import flask_smorest
import marshmallow as ma
from flask import Response, g, request, url_for
from flask_smorest.pagination import PaginationMetadataSchema
from flask_smorest.utils import deepupdate, prepare_response
from sqlalchemy.exc import IntegrityError
from webargs.flaskparser import FlaskParser, abort
from werkzeug.datastructures import CombinedMultiDict

from backend import idempotency
from backend.accounts.models import User
from backend.accounts.service import decode_access_token, session_is_current
from backend.audit.recorder import AuditContext, set_audit_context
from backend.errors import DomainError, Forbidden, Unauthorized
from backend.http.context import db, device_id, load_signed_in_user, onsite, request_id
from backend.http.fields import unstorable
from backend.http.problems import LOCATIONS, PROBLEM_MEDIA_TYPE

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
            if name in _ERROR_HEADERS:
                response["headers"] = _ERROR_HEADERS[name]
            prepare_response(response, self.spec, PROBLEM_MEDIA_TYPE)
            self.spec.components.response(name, response, lazy=True)

    def _register_pagination_header(self) -> None:
        # The header carries JSON, which OpenAPI describes with `content`; a `schema` would mean the simple
        # style (k,v,k,v). Every paginated 200 sends it.
        self.spec.components.header("PAGINATION", {
            "description": "Pagination metadata", "required": True,
            "content": {"application/json": {"schema": PaginationMetadataSchema}}}, lazy=True)


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
    "CONTENT_TOO_LARGE": "The body is larger than the server accepts",
    "TOO_MANY_REQUESTS": "Too many attempts; try again after Retry-After seconds",
    "SERVICE_UNAVAILABLE": "The database cannot serve requests just now; try again after Retry-After seconds",
}
# Headers an error response always carries, by response name.
_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before trying again",
                                "schema": {"type": "integer", "minimum": 1}}}
_ERROR_HEADERS = {"TOO_MANY_REQUESTS": _RETRY_AFTER, "SERVICE_UNAVAILABLE": _RETRY_AFTER}
_IDEMPOTENCY_KEY_PATTERN = r"^[!-~]([ -~]*[!-~])?$"
# Where flask-smorest arguments come from the request body.
_BODY_LOCATIONS = frozenset({"json", "form", "files", "multipart"})


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
    claims = decode_access_token(token.strip(), app.token_policy, app.clock.now())
    user = load_signed_in_user(db(), claims.user_id)
    if user is None or not user.active:
        raise Unauthorized("account is disabled or gone", error="invalid_token")
    if not session_is_current(user, claims.session_epoch):
        raise Unauthorized("session ended (password changed or signed out everywhere); sign in again",
                           error="invalid_token")
    return user


def _set_audit_actor(user_id: int | None, name: str) -> None:
    rule = request.url_rule.rule if request.url_rule else request.path
    set_audit_context(db(), AuditContext(actor_user_id=user_id, actor_name=name, request_id=request_id(),
                                         device_id=device_id(), action=f"{request.method} {rule}"))


def _unstorable_field(value: Any, path: tuple[str, ...] = ()) -> tuple[str, str] | None:
    """The dotted path of the first key or string inside `value` that no database can keep as text, and why."""
    if isinstance(value, str):
        reason = unstorable(value)
        return None if reason is None or not path else (".".join(path), reason)
    items = value.items() if isinstance(value, Mapping) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found = _unstorable_field(str(key), (*path, str(key))) or _unstorable_field(item, (*path, str(key)))
        if found is not None:
            return found
    return None


# Far deeper than any schema here. Python's JSON parser, marshmallow and the checks above recurse, so a body nested
# a thousand deep would exhaust the stack.
MAX_JSON_DEPTH = 32


def _nesting(value: Any) -> int:
    """How deeply arrays and objects nest in `value` (a scalar is 0), found level by level, without recursion."""
    depth, level = 0, [value]
    while containers := [item for item in level if isinstance(item, (dict, list))]:
        depth += 1
        level = [child for item in containers for child in (item.values() if isinstance(item, dict) else item)]
    return depth


class _ArgumentsParser(FlaskParser):
    # multipart/form-data with files and fields in one schema (a photo and its caption); flask-smorest documents
    # one request body per operation, so the two cannot be separate arguments.
    __location_map__ = {**FlaskParser.__location_map__, "multipart": "load_multipart"}

    def load_multipart(self, req: Any, schema: ma.Schema) -> Any:
        return self._makeproxy(CombinedMultiDict([req.form, req.files]), schema)

    def load_json(self, req: Any, schema: ma.Schema) -> Any:
        """webargs' (malformed JSON is a 400), also refusing bodies nested too deeply and numbers too long to read
        (Python converts at most 4,300 digits), which the JSON parser reports with other exceptions."""
        too_deep = f"Invalid JSON body: nested more than {MAX_JSON_DEPTH} levels deep."
        try:
            data = super().load_json(req, schema)
        except RecursionError:
            abort(400, messages={"json": [too_deep]})
        except ValueError:  # JSONDecodeError, also a ValueError, is handled by webargs
            abort(400, messages={"json": ["Invalid JSON body: a number has too many digits."]})
        if _nesting(data) > MAX_JSON_DEPTH:
            abort(400, messages={"json": [too_deep]})
        return data

    def parse(self, argmap: Any, req: Any = None, *, location: str | None = None, **kwargs: Any) -> Any:
        try:
            return super().parse(argmap, req, location=location, **kwargs)
        except DomainError as error:
            # A field's own rule (a Timestamp with no UTC form) cannot know where the field was sent.
            location = location or self.location
            error.location = LOCATIONS.get(location, location)
            raise

    def pre_load(self, location_data: Any, *, schema: ma.Schema, req: Any, location: str) -> Any:
        # Every location: the spec allows any string, but a NUL or an unpaired surrogate would fail the request
        # with a 500 where it is stored, hashed or encoded, instead of a 422 naming the field.
        found = _unstorable_field(location_data)
        if found is not None:
            raise DomainError(*found, location=LOCATIONS.get(location, location))
        return location_data


# The documented refusals an endpoint may name, by status: the component response each one refers to.
REFUSALS = {401: "UNAUTHORIZED", 404: "NOT_FOUND", 409: "CONFLICT", 413: "CONTENT_TOO_LARGE", 415: "DEFAULT_ERROR",
            422: "UNPROCESSABLE_ENTITY", 429: "TOO_MANY_REQUESTS", 503: "SERVICE_UNAVAILABLE"}
PUBLIC = "public"
"""`roles=PUBLIC`: deliberately open to anonymous callers."""
LOCATION_HEADER = {"Location": {"schema": {"type": "string"}, "required": True}}


class Blueprint(flask_smorest.Blueprint):
    DEFAULT_PAGINATION_PARAMETERS = {"page": 1, "page_size": 50, "max_page_size": 200}
    DEFAULT_LOCATION_CONTENT_TYPE_MAPPING = {**flask_smorest.Blueprint.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING,
                                             "multipart": "multipart/form-data"}
    ARGUMENTS_PARSER = _ArgumentsParser()

    def endpoint(self, method: str, rule: str = "", *, roles: str | Iterable[str], summary: str,
                 writes: bool = False, if_match: bool = False,
                 takes: Any = None, takes_from: str | None = None, as_kwargs: bool = False,
                 answers: Any = None, status: int = 200, etag: bool = False, location: bool = False,
                 headers: Mapping[str, Any] | None = None, paginated: bool = False, refuses: Iterable[int] = (),
                 name: str | None = None, doc: Mapping[str, Any] | None = None, **response: Any
                 ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Everything an endpoint is, in one place: who may call it (`roles`: role names, () for any signed-in
        user, or PUBLIC), whether it `writes` (one transaction, Idempotency-Key replay) and needs `if_match`, what
        it `takes` (a query schema for GET, else a JSON body; `takes_from` for another location), what it
        `answers` (schema, `status`, with an `etag` and/or a `location` header), whether it is `paginated`, and
        which refusals it documents beyond those every endpoint can give (`refuses`: statuses from REFUSALS).

        Applies flask-smorest's decorators in the one order that works: route, access, write, arguments,
        response, pagination, documentation."""
        answer_headers = {**(ETAG_HEADER if etag else {}), **(LOCATION_HEADER if location else {}), **(headers or {})}

        def declare(view: Callable[..., Any]) -> Callable[..., Any]:
            view = self.doc(summary=summary, **(doc or {}))(view)
            for refused in refuses:
                view = self.alt_response(refused, response=REFUSALS[refused])(view)
            if paginated:
                view = self.paginate()(view)
            view = self.response(status, answers, **({"headers": answer_headers} if answer_headers else {}),
                                 **response)(view)
            if takes is not None:
                source = takes_from or ("query" if method == "GET" else "json")
                view = self.arguments(takes, location=source, **({"as_kwargs": True} if as_kwargs else {}))(view)
            if writes:
                view = self.write(view)
            if if_match:
                view = self.needs_if_match(view)
            view = self.public(view) if roles == PUBLIC else self.access(*roles)(view)
            return self.route(rule, methods=[method], **({"endpoint": name} if name else {}))(view)

        return declare

    def arguments(self, schema: Any, *, location: str = "json", **kwargs: Any
                  ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """flask-smorest's, also documenting how a body can fail before it is validated: unparsable, too large."""
        decorator = super().arguments(schema, location=location, **kwargs)
        if location not in _BODY_LOCATIONS:
            return decorator

        def with_body_responses(func: Callable[..., Any]) -> Callable[..., Any]:
            wrapper = decorator(func)
            _add_responses(wrapper, (400, "BAD_REQUEST"), (413, "CONTENT_TOO_LARGE"))
            return wrapper

        return with_body_responses

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
        """Documents the If-Match header and what it can answer (stale 412, missing 428, malformed 422); the view
        calls require_if_match once it has the current version."""
        _add_parameters(func, IF_MATCH_PARAMETER)
        _add_responses(func, (412, "PRECONDITION_FAILED"), (422, "UNPROCESSABLE_ENTITY"),
                       (428, "PRECONDITION_REQUIRED"))
        return func

    def write(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """One transaction per write; with an Idempotency-Key, a retry replays the first response."""

        @wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            session = db()
            key = request.headers.get(IDEMPOTENCY_HEADER)
            # Checked on every write, anonymous ones too, as documented (only signed-in writes are replayed).
            if key is not None and (len(key) > idempotency.MAX_KEY_LENGTH
                                    or not re.fullmatch(_IDEMPOTENCY_KEY_PATTERN, key)):
                raise DomainError(IDEMPOTENCY_HEADER, f"must be 1 to {idempotency.MAX_KEY_LENGTH} visible ASCII "
                                  "characters (inner spaces allowed), e.g. a UUID", location="header")
            user = g.get("user")
            if key is None or user is None:
                return _commit_or_rollback(session, lambda: func(*args, **kwargs))
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
            "schema": {"type": "string", "maxLength": idempotency.MAX_KEY_LENGTH,
                       "pattern": _IDEMPOTENCY_KEY_PATTERN}})
        # A malformed key, or one already used for a different request (as the IETF draft says).
        _add_responses(wrapper, (422, "UNPROCESSABLE_ENTITY"))
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


def etag_of(version: int | str) -> str:
    return f'"{version}"'


def entity_version(resource: Any) -> int | str:
    """What a resource's ETag names: its row version, unless the resource says more (a report's row version
    restarts with each report version, so the report tags both)."""
    return getattr(resource, "entity_version", resource.version)


def tagged(resource: Any, **headers: str) -> tuple[Any, dict[str, str]]:
    """The resource with its ETag. Flushes first: the version moves on at flush, and the answer must carry the
    version the write produced, not the one read."""
    db().flush()
    return resource, {"ETag": etag_of(entity_version(resource)), **headers}


def created(resource: Any, endpoint: str, **ident: int) -> tuple[Any, dict[str, str]]:
    """A new resource with its ETag and where to read it (`endpoint`, `ident`: its GET view and path ids)."""
    return tagged(resource, Location=url_for(endpoint, **ident))


def require_if_match(current_version: int | str) -> None:
    """Updates must name the version they were based on, so a stale write is refused, never applied."""
    check_if_match(request.headers.get("If-Match"), current_version)


def check_if_match(supplied: str | None, current_version: int | str) -> None:
    """require_if_match's judgement of a supplied tag; the console passes the version its form was rendered with."""
    if supplied is None:
        raise DomainError("If-Match", "send the ETag you read in If-Match", status=428, location="header")
    if len(supplied) > _IF_MATCH_MAX_LENGTH or not re.fullmatch(_IF_MATCH_PATTERN, supplied):
        raise DomainError("If-Match", 'must be * or the ETag you read, e.g. "3"', location="header")
    candidates = set(re.findall(_ENTITY_TAG, supplied)) or {"*"}
    if "*" not in candidates and etag_of(current_version) not in candidates:
        raise DomainError("If-Match", f"stale: the current version is {etag_of(current_version)}", status=412,
                          location="header", current_etag=etag_of(current_version))


_ENTITY_TAG = r'(?:W/)?"[!#-~]*"'  # RFC 9110 §8.8.3, ASCII only
_IF_MATCH_PATTERN = rf"^(\*|{_ENTITY_TAG}( *, *{_ENTITY_TAG})*)$"
_IF_MATCH_MAX_LENGTH = 200
IF_MATCH_PARAMETER = {"in": "header", "name": "If-Match", "required": True,
                      "description": "The ETag of the version this update is based on.",
                      "schema": {"type": "string", "maxLength": _IF_MATCH_MAX_LENGTH, "pattern": _IF_MATCH_PATTERN}}
ETAG_HEADER = {"ETag": {"description": "Version of the resource, for If-Match", "schema": {"type": "string"},
                        "required": True}}
