"""Marshmallow fields and small schemas shared across domains."""

from __future__ import annotations

import re
from datetime import datetime, time
from decimal import Decimal
from typing import Any

from collections.abc import Iterable

import marshmallow as ma
from marshmallow import validate
from werkzeug.exceptions import NotFound
from werkzeug.routing import IntegerConverter, UnicodeConverter, ValidationError

from backend.clock import ensure_utc
from backend.errors import DomainError

MAX_ID = 2**31 - 1  # ids are 32-bit on PostgreSQL; larger path ids are a 404, never a database error
_SURROGATE = re.compile("[\ud800-\udfff]")


def unstorable(text: str) -> str | None:
    """Why `text` cannot be kept as database text, if it cannot: PostgreSQL refuses NUL (SQLite would keep it
    silently), and an unpaired surrogate, which JSON's \\u escapes can spell, is no character at all, so it has
    no UTF-8 form to store, hash or log."""
    if "\x00" in text:
        return "must not contain NUL characters"
    if _SURROGATE.search(text):
        return "must be valid Unicode (it holds an unpaired surrogate)"
    return None


class IdConverter(IntegerConverter):
    """`<id:name>` in a route: a positive 32-bit integer."""

    # ASCII digits only: werkzeug's \d also takes other scripts' digits, so /jobs/٤ would be job 4.
    regex = "[0-9]+"

    def __init__(self, url_map: object, *args: object, **kwargs: object) -> None:
        super().__init__(url_map, min=1, max=MAX_ID)

    def to_python(self, value: str) -> int:
        try:
            return super().to_python(value)  # type: ignore[no-any-return]
        except ValidationError:
            # No row has such an id. Saying so here, instead of letting the router try the path's other rules,
            # keeps PATCH or DELETE of it a 404: werkzeug would answer 405 because the GET rule's method differs.
            raise NotFound(f"no resource has the id {value}; ids are 1 to {MAX_ID}") from None


class TextConverter(UnicodeConverter):
    """`<name>` in a route (werkzeug's default converter): one path segment that names nothing when no database
    could store it, so it is a 404 instead of a database error."""

    def to_python(self, value: str) -> str:
        reason = unstorable(value)
        if reason is not None:
            raise NotFound(f"no resource has this name: it {reason}")
        return value


class _QueryId(ma.fields.Integer):
    """An id in a query string: ASCII digits only, as in a path (int() also reads other scripts' digits, so
    ?customer_id=٤ would be customer 4)."""

    def _validated(self, value: object) -> int:
        if isinstance(value, str) and not re.fullmatch(r"[0-9]+", value):
            raise self.make_error("invalid")
        return super()._validated(value)  # type: ignore[no-any-return]


def Id(*, in_query: bool = False, **kwargs: object) -> ma.fields.Integer:
    """A record id. JSON bodies must send a number; query strings are text by nature."""
    field = _QueryId if in_query else ma.fields.Integer
    return field(strict=not in_query, validate=validate.Range(min=1, max=MAX_ID), **kwargs)


class _StrictBoolean(ma.fields.Boolean):
    def _deserialize(self, value: object, attr: str | None, data: object, **kwargs: object) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


def Flag(*, in_query: bool = False, **kwargs: object) -> ma.fields.Boolean:
    """true or false. JSON bodies must send a boolean (marshmallow alone would take 1, "yes" or "on");
    query strings are text by nature."""
    return ma.fields.Boolean(**kwargs) if in_query else _StrictBoolean(**kwargs)


def Latitude(**kwargs: object) -> ma.fields.Float:
    return ma.fields.Float(allow_nan=False, validate=validate.Range(min=-90, max=90), **kwargs)


def Longitude(**kwargs: object) -> ma.fields.Float:
    return ma.fields.Float(allow_nan=False, validate=validate.Range(min=-180, max=180), **kwargs)


class _Timestamp(ma.fields.AwareDateTime):
    def _deserialize(self, value: object, attr: str | None, data: object, **kwargs: object) -> datetime:
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:
            # Times are compared and stored in UTC; 0001-01-01T00:00+01:00 has no UTC form in Python.
            ensure_utc(moment)
        except OverflowError:
            # Valid RFC 3339, which the spec cannot bound: refused by a rule (the generic 422), not as invalid
            # input. The parser fills in where the field was sent.
            raise DomainError(self.data_key or self.name,
                              "must be between 0001-01-01 and 9999-12-31 once converted to UTC") from None
        return moment


def Timestamp(**kwargs: object) -> ma.fields.AwareDateTime:
    """ISO 8601 with an offset; input without one is refused rather than guessed."""
    return _Timestamp(format="iso", default_timezone=None, **kwargs)


class LocalTime(ma.fields.Time):
    """A wall-clock time of day without an offset (08:00, 08:00:30), as the spec's pattern says: it is read in a
    station's time zone, so an offset would contradict it."""

    PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?$"
    default_error_messages = {"invalid": "must be a local time of day without an offset, e.g. 08:00"}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(metadata={"pattern": self.PATTERN, "example": "08:00", **kwargs.pop("metadata", {})},
                         **kwargs)

    def _deserialize(self, value: object, attr: str | None, data: object, **kwargs: object) -> time:
        if not isinstance(value, str) or not re.fullmatch(self.PATTERN, value):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


def Text(max_length: int, *, min_length: int = 0, **kwargs: object) -> ma.fields.String:
    return ma.fields.String(validate=validate.Length(min=min_length, max=max_length), **kwargs)


def Name(max_length: int = 120, **kwargs: object) -> ma.fields.String:
    """A required-looking text: blank is refused."""
    # Regexp matches from the start in Python but anywhere in JSON Schema, and the two disagree on what \s is
    # (Python counts \x1c-\x1f): spelled out, the pattern means "has a non-blank character" to both.
    return ma.fields.String(validate=[validate.Length(min=1, max=max_length),
                                      validate.Regexp(r"[ \t\n\r\f\v]*[^ \t\n\r\f\v]", error="must not be blank")],
                            **kwargs)


def Count(maximum: int = 10_000_000, **kwargs: object) -> ma.fields.Integer:
    return ma.fields.Integer(strict=True, validate=validate.Range(min=0, max=maximum), **kwargs)


class Money(ma.fields.Decimal):
    """An amount as a decimal string, e.g. "125.50": at most 10 digits before the point and 2 after (NUMERIC(12, 2)).
    JSON numbers are refused, not rounded: they are binary fractions by the time a client has sent them."""

    PATTERN = r"^[0-9]{1,10}(\.[0-9]{1,2})?$"
    default_error_messages = {"invalid_money": 'must be a string like "125.50" (up to 10 digits, 2 decimals)'}

    def __init__(self, **kwargs: object) -> None:
        metadata = {"type": "string", "pattern": self.PATTERN, "example": "125.50", **kwargs.pop("metadata", {})}
        super().__init__(places=2, as_string=True, metadata=metadata, **kwargs)

    def _deserialize(self, value: object, attr: str | None, data: object, **kwargs: object) -> Decimal:
        if not isinstance(value, str) or not re.fullmatch(self.PATTERN, value):
            raise self.make_error("invalid_money")
        return super()._deserialize(value, attr, data, **kwargs)


class PositionSchema(ma.Schema):
    latitude = Latitude(required=True)
    longitude = Longitude(required=True)
    accuracy_m = ma.fields.Float(allow_nan=False, validate=validate.Range(min=0, max=100_000), allow_none=True)


def OneOf(values: Iterable[object], metadata: dict[str, object] | None = None, **kwargs: object) -> ma.fields.String:
    """A string from a fixed set, documented as an enum in the spec."""
    choices = [str(v) for v in values]
    return ma.fields.String(validate=validate.OneOf(choices), metadata={"enum": choices, **(metadata or {})}, **kwargs)
