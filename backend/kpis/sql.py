"""SQL the KPIs need that the two databases spell differently."""

from __future__ import annotations

from typing import Any

from sqlalchemy import String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import Boolean


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

