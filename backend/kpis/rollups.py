"""The KPI facts summed per UTC month, station and lead technician (backend.kpis.models' rollups).

A year of a million jobs is a million facts to walk, and grouping them sorts a million rows; the same year is about
60,000 rollup rows. backend.kpis.service reads a period's whole months from the rollups and only the partial months
at its ends from the facts.

Each rollup is defined by what one fact adds to it (`Rollup.contributions`), once, and that definition serves
every way the rollups are written:
- as the facts change (backend.kpis.facts deletes and derives a source's facts again): the facts taken away and
  the facts put back come back from those same statements (RETURNING, with each fact's key and contributions), and
  their difference is added to the rollup rows with `x = x + delta` (`apply`). Additions commute, so two
  transactions changing facts of the same month and station both land, on PostgreSQL too;
- `rebuild_rollups`: every rollup row summed again from the facts;
- `compare_rollups` (part of `onsite kpi-facts check`): the stored rows against freshly summed ones.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from sqlalchemy import ColumnElement, Connection, Float, Integer, and_, bindparam, case, delete, func, insert, \
    literal_column, select

from backend.config import Settings
from backend.db import insert_on_conflict
from backend.kpis.models import (DeadlineFact, DeadlineRollup, JobFact, JobRollup, KpiRollupState, RatingFact,
                                 RatingRollup, RequestFact, RequestRollup)
from backend.kpis.sql import MonthOf, WithinDays

NO_LEAD = 0  # the rollups' technician_id for facts without a lead
STATE_ID = 1
DEFAULT_WINDOW = Settings.first_time_fix_days
WINDOW = bindparam("window", type_=Float)  # the first-time-fix window, days, in the statements built once

ONE = literal_column("1", Integer)


def _one_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    """What one fact adds to a count: 1 or 0."""
    return case((condition, 1), else_=0)


Contributions = Callable[[Any, ColumnElement[float]], dict[str, ColumnElement[Any]]]


def _job(fact: Any, window: ColumnElement[float]) -> dict[str, ColumnElement[Any]]:
    revisited = and_(fact.next_request_at.is_not(None), WithinDays(fact.next_request_at, fact.done_at, window))
    return {"jobs": ONE, "complained": _one_if(fact.complained), "covered": _one_if(fact.covered),
            "revisited": _one_if(revisited), "parts": fact.parts}


def _rating(fact: Any, _window: ColumnElement[float]) -> dict[str, ColumnElement[Any]]:
    # Satisfied: a mean of the four ratings of at least 4 (CB-3).
    return {"answered": ONE, "satisfied": _one_if(fact.rating >= 16), "rated": _one_if(fact.rating.is_not(None)),
            "rating_sum": func.coalesce(fact.rating, 0)}


def _request(fact: Any, _window: ColumnElement[float]) -> dict[str, ColumnElement[Any]]:
    return {"requests": ONE, "regulator": _one_if(fact.regulator)}


def _deadline(fact: Any, _window: ColumnElement[float]) -> dict[str, ColumnElement[Any]]:
    return {"due": ONE, "met": _one_if(fact.met)}


@dataclass(frozen=True)
class Rollup:
    name: str
    model: type[Any]
    fact: type[Any]
    at: str  # the fact's time, whose month is the rollup's
    keys: tuple[str, ...]  # fact columns in the key besides month, station and technician
    contributions: Contributions  # what one fact adds, given the first-time-fix window

    @property
    def key_names(self) -> tuple[str, ...]:
        return ("month", *self.keys, "station_id", "technician_id")

    @cached_property
    def measures(self) -> tuple[str, ...]:
        return tuple(self.contributions(self.fact, WINDOW))

    def keyed(self, fact: Any) -> list[ColumnElement[Any]]:
        """Per fact: its rollup key, then its contributions (revisits within the `window` parameter), labelled as the
        rollup's columns."""
        return [MonthOf(getattr(fact, self.at)).label("month"), *(getattr(fact, k).label(k) for k in self.keys),
                fact.station_id.label("station_id"),
                func.coalesce(fact.technician_id, NO_LEAD).label("technician_id"),
                *(c.label(m) for m, c in self.contributions(fact, WINDOW).items())]

    @cached_property
    def summed(self) -> Any:
        """Every rollup row, summed from the facts (window: the `window` parameter)."""
        keyed = self.keyed(self.fact)
        keys = keyed[:len(self.key_names)]
        return select(*keys, *(func.sum(c).label(c.name) for c in keyed[len(keys):])).group_by(*keys)

    def totals(self, rows: Iterable[Sequence[Any]]) -> dict[tuple[Any, ...], list[int]]:
        """Rows of `keyed` (or of a rollup), summed by key."""
        width = len(self.key_names)
        out: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0] * len(self.measures))
        for row in rows:
            sums = out[tuple(row[:width])]
            for i, value in enumerate(row[width:]):
                sums[i] += int(value or 0)
        return out

    def apply(self, connection: Connection, taken: Iterable[Sequence[Any]], added: Iterable[Sequence[Any]]) -> None:
        """Add to the rollup rows what facts `added` add and take away what facts `taken` added."""
        change = self.totals(added)
        for key, sums in self.totals(taken).items():
            change[key] = [a - t for a, t in zip(change[key], sums, strict=True)]
        # In key order: two transactions on PostgreSQL lock shared rows in the same order, never in a cycle.
        values = [dict(zip(self.key_names + self.measures, (*key, *sums), strict=True))
                  for key, sums in sorted(change.items()) if any(sums)]
        if values:
            connection.execute(self._add(connection), values)

    def _add(self, connection: Connection) -> Any:
        """The upsert adding a row's measures to those stored, built once per database kind: building and compiling
        it each time cost more than running it."""
        key = (self.name, connection.dialect.name)
        if key not in _ADD:
            table = self.model.__table__
            upsert = insert_on_conflict(connection, table)
            _ADD[key] = upsert.on_conflict_do_update(
                index_elements=list(self.key_names), set_={m: table.c[m] + upsert.excluded[m] for m in self.measures})
        return _ADD[key]


_ADD: dict[tuple[str, str], Any] = {}  # (rollup, dialect): its upsert


ROLLUPS = (Rollup("job rollups", JobRollup, JobFact, "done_at", (), _job),
           Rollup("rating rollups", RatingRollup, RatingFact, "attempted_at", (), _rating),
           Rollup("request rollups", RequestRollup, RequestFact, "reported_at", (), _request),
           Rollup("deadline rollups", DeadlineRollup, DeadlineFact, "due_at", ("kind",), _deadline))
ROLLUP_OF = {rollup.fact: rollup for rollup in ROLLUPS}


def window_of(connection: Connection) -> float:
    """The first-time-fix window the job rollups were counted with."""
    window = connection.scalar(select(KpiRollupState.first_time_fix_days).where(KpiRollupState.id == STATE_ID))
    return DEFAULT_WINDOW if window is None else window


def rebuild_rollups(connection: Connection, window: float = DEFAULT_WINDOW,
                    progress: Callable[[str], None] = lambda _m: None) -> dict[str, int]:
    """Every rollup row summed again from the facts, revisits counted within `window` days."""
    written = {}
    for rollup in ROLLUPS:
        connection.execute(delete(rollup.model))
        connection.execute(insert(rollup.model).from_select([*rollup.key_names, *rollup.measures], rollup.summed),
                           {"window": window})
        written[rollup.name] = connection.scalar(select(func.count()).select_from(rollup.model)) or 0
        progress(f"{rollup.name}: {written[rollup.name]:,} rows")
    connection.execute(delete(KpiRollupState))
    connection.execute(insert(KpiRollupState).values(id=STATE_ID, first_time_fix_days=window))
    return written


def compare_rollups(connection: Connection,
                    mismatch: Callable[[str], None]) -> dict[str, int]:
    """Each rollup's stored rows against the facts summed now; calls `mismatch` with a description of each row
    that differs. Returns the rows checked, by rollup."""
    window = window_of(connection)
    checked = {}
    for rollup in ROLLUPS:
        summed = rollup.totals(connection.execute(rollup.summed, {"window": window}))
        stored = rollup.totals(connection.execute(select(rollup.model.__table__)))
        zero = [0] * len(rollup.measures)
        for key in sorted(summed.keys() | stored.keys()):
            if summed.get(key, zero) != stored.get(key, zero):  # a row summing to nothing is no row
                names = ", ".join(f"{n} {v}" for n, v in zip(rollup.key_names, key, strict=True))
                mismatch(f"{rollup.name} ({names}): stored {stored.get(key, zero)}, "
                         f"the facts give {summed.get(key, zero)}")
        checked[rollup.name] = len(stored)
    return checked
