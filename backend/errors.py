"""Domain errors. Raised by business logic, turned into problem+json by the HTTP layer."""

from __future__ import annotations


class DomainError(Exception):
    """A rule refused the request. `field` names the input at fault, if one is."""

    status = 422

    def __init__(self, field: str | None, detail: str, *, status: int | None = None, location: str = "body",
                 **extra: object) -> None:
        super().__init__(detail)
        self.field = field
        self.location = location
        self.detail = detail
        if status is not None:
            self.status = status
        self.extra = extra
        # Response headers that belong to this answer (WWW-Authenticate, Retry-After).
        self.headers: dict[str, str] = {}


class NotFound(DomainError):
    status = 404

    def __init__(self, what: str, ident: object) -> None:
        super().__init__(None, f"{what} {ident} does not exist")


class Conflict(DomainError):
    """The resource's current state does not allow this (illegal transition, duplicate, still referenced)."""

    status = 409

    def __init__(self, detail: str, **extra: object) -> None:
        super().__init__(None, detail, **extra)


class Forbidden(DomainError):
    status = 403

    def __init__(self, detail: str) -> None:
        super().__init__(None, detail)


class Unauthorized(DomainError):
    """Authentication failed. `commit` asks the caller to keep what was written (a revocation, a failed sign-in's
    count)."""

    status = 401

    def __init__(self, detail: str, *, error: str | None = None, commit: bool = False) -> None:
        super().__init__(None, detail)
        self.commit = commit
        self.headers["WWW-Authenticate"] = 'Bearer realm="onsite"' + (f', error="{error}"' if error else "")


class TooManyRequests(DomainError):
    """Refused for a while (throttling); the client may try again after `retry_after` seconds."""

    status = 429

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(None, detail)
        self.headers["Retry-After"] = str(retry_after)
