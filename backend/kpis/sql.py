"""SQL the KPIs need that the two databases spell differently."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Dialect, Integer, String
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import Boolean, NullType, TypeDecorator, TypeEngine


class MonthOf(FunctionElement[str]):
    """`YYYY-MM` of a UTC timestamp column."""

    type = String()
    inherit_cache = True


@compiles(MonthOf)
def _month_sqlite(element: MonthOf, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite keeps UTC timestamps as ISO text.
    return f"strftime('%Y-%m', {compiler.process(element.clauses, **kw)})"


@compiles(MonthOf, "postgresql")
def _month_postgresql(element: MonthOf, compiler: SQLCompiler, **kw: Any) -> str:
    # In UTC whatever the session's time zone.
    return f"to_char({compiler.process(element.clauses, **kw)} AT TIME ZONE 'UTC', 'YYYY-MM')"


class WithinDays(FunctionElement[bool]):
    """WithinDays(later, earlier, days): timestamp `later` is at most `days` days after timestamp `earlier`."""

    type = Boolean()
    inherit_cache = True


@compiles(WithinDays)
def _within_sqlite(element: WithinDays, compiler: SQLCompiler, **kw: Any) -> str:
    later, earlier, days = (compiler.process(c, **kw) for c in element.clauses)
    return f"julianday({later}) <= julianday({earlier}) + {days}"


@compiles(WithinDays, "postgresql")
def _within_postgresql(element: WithinDays, compiler: SQLCompiler, **kw: Any) -> str:
    later, earlier, days = (compiler.process(c, **kw) for c in element.clauses)
    return f"{later} <= {earlier} + make_interval(secs => {days} * 86400)"



class IdList(TypeDecorator[list[int]]):
    """A list of ids as one parameter: a JSON array for SQLite, an integer array for PostgreSQL."""

    impl = String
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        return dialect.type_descriptor(postgresql.ARRAY(Integer) if dialect.name == "postgresql" else String())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return list(value) if dialect.name == "postgresql" else json.dumps(list(value))


class InIds(FunctionElement[bool]):
    """InIds(column, ids): `column` is one of the ids in the IdList parameter `ids`. Unlike an expanding IN, the
    statement's SQL stays the same whatever the number of ids, so it is compiled once: re-rendering the long
    statements of backend.kpis.facts for each list of ids cost more than running them."""

    # Not typed Boolean: SQLite (no native booleans) would get `... = 1` appended, and scan instead of search.
    type = NullType()
    inherit_cache = True


@compiles(InIds)
def _in_ids_sqlite(element: InIds, compiler: SQLCompiler, **kw: Any) -> str:
    column, ids = (compiler.process(c, **kw) for c in element.clauses)
    return f"{column} IN (SELECT value FROM json_each({ids}))"


@compiles(InIds, "postgresql")
def _in_ids_postgresql(element: InIds, compiler: SQLCompiler, **kw: Any) -> str:
    column, ids = (compiler.process(c, **kw) for c in element.clauses)
    return f"{column} = ANY({ids})"
