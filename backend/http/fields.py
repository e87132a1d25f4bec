"""Marshmallow fields and small schemas shared across domains."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate
from werkzeug.routing import IntegerConverter

MAX_ID = 2**31 - 1  # ids are 32-bit on PostgreSQL; larger path ids are a 404, never a database error


class IdConverter(IntegerConverter):
    """`<id:name>` in a route: a positive 32-bit integer."""

    def __init__(self, url_map: object, *args: object, **kwargs: object) -> None:
        super().__init__(url_map, min=1, max=MAX_ID)


def Id(**kwargs: object) -> ma.fields.Integer:
    return ma.fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_ID), **kwargs)


def Latitude(**kwargs: object) -> ma.fields.Float:
    return ma.fields.Float(allow_nan=False, validate=validate.Range(min=-90, max=90), **kwargs)


def Longitude(**kwargs: object) -> ma.fields.Float:
    return ma.fields.Float(allow_nan=False, validate=validate.Range(min=-180, max=180), **kwargs)


def Timestamp(**kwargs: object) -> ma.fields.AwareDateTime:
    """ISO 8601 with an offset; input without one is refused rather than guessed."""
    return ma.fields.AwareDateTime(format="iso", default_timezone=None, **kwargs)


def Text(max_length: int, *, min_length: int = 0, **kwargs: object) -> ma.fields.String:
    return ma.fields.String(validate=validate.Length(min=min_length, max=max_length), **kwargs)


def Name(max_length: int = 120, **kwargs: object) -> ma.fields.String:
    """A required-looking text: blank is refused."""
    return ma.fields.String(validate=[validate.Length(min=1, max=max_length),
                                      validate.Regexp(r"\S", error="must not be blank")], **kwargs)


def Count(maximum: int = 10_000_000, **kwargs: object) -> ma.fields.Integer:
    return ma.fields.Integer(strict=True, validate=validate.Range(min=0, max=maximum), **kwargs)


class PositionSchema(ma.Schema):
    latitude = Latitude(required=True)
    longitude = Longitude(required=True)
    accuracy_m = ma.fields.Float(allow_nan=False, validate=validate.Range(min=0, max=100_000), allow_none=True)
