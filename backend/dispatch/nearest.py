"""Where dispatch reckons every technician to be, and the nearest of them to a site (DSP-6), at any fleet size.

A technician is at their last known fix, else at their home station. Every process keeps all of them in a k-nearest
index: unit vectors in a KD-tree (scipy's cKDTree). The chord between two unit vectors grows with the great-circle
angle between them, so the tree hands out technicians in order of that angle, and the angle times the smallest
radius of curvature of the WGS-84 ellipsoid is a lower bound on the geodesic (the largest, an upper bound). The
exact geodesic is measured only while a technician could still make the list, so the answer is the full scan's: the
same technicians, the same distances to the metre (`exact_km`: geopy's distance, reached through PROJ's C code of
the same algorithm).

With each position the index keeps whether the technician may be sent at all and their skills, so a search passes
over those who cannot qualify without asking the database, and asks it (`keep`) only about the nearest of the rest:
once in the usual search. The database has the last word on those the index offers; one the index holds
unavailable is not offered, so the index must be as fresh as the positions are.

Fresh in every process: every change to a technician, their skills or a station is audited in its own transaction
(backend.audit.recorder), so the audit log's ids are a change feed. Each search asks the caller's session for the
newest audit id (one primary-key lookup); when it is past what the index has applied, the index reads the new
entries on a connection of its own (committed changes only, so a transaction that rolls back never reaches the
index), re-reads the technicians and stations they name, and patches itself. Changes the session sees beyond those
are its own transaction's, patched in for that search alone. Writes that bypass the ORM leave no audit record and
are not seen until the process restarts (the backend makes none to technicians, their skills or stations), nor is a
change whose transaction held its audit id longer than _HOLE_SECONDS before committing.
"""

from __future__ import annotations

import math
import threading
import time
import weakref
from bisect import insort
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pyproj import Geod
from scipy.spatial import cKDTree
from sqlalchemy import (ColumnElement, Connection, Engine, Select, and_, bindparam, func, literal, or_, select,
                        union_all)
from sqlalchemy.orm import Session

from backend.audit.models import AuditEntry
from backend.dispatch.eligibility import criteria
from backend.dispatch.geo import DISTANCE_DECIMALS, Found, Point, distance_km
from backend.stations.models import Station
from backend.technicians.models import Technician, TechnicianSkill

LAST_KNOWN_POSITION = "last_known_position"
HOME_STATION = "home_station"

# Along any path on the ellipsoid ds² = M(φ)²dφ² + N(φ)²cos²φ dλ², with the meridional radius M ≥ a(1 − e²) and
# N ≥ a: every path, the geodesic included, is at least a(1 − e²) times as long as the same path on the unit sphere,
# where geodetic latitude and longitude are spherical coordinates. a(1 − e²) = 6335.439 km (M at the equator).
_SMALLEST_RADIUS_KM = 6335.439 * (1 - 1e-9)
# And M, N ≤ a/√(1 − e²) = 6399.594 km (both at the poles): the image of the great circle is a path no longer than
# the angle times that, so the geodesic is no longer either.
_LARGEST_RADIUS_KM = 6399.594 * (1 + 1e-9)
# Distances are rounded to the metre: one just beyond the bound may round down by half a metre.
_ROUNDING_KM = 10 ** -DISTANCE_DECIMALS
# Technicians the first look into the tree takes per place wanted; a batch widens by _WIDEN_FACTOR until it holds
# enough who may qualify, far enough out to settle them. In the benchmark's fleet (a third to two thirds eligible, by
# skill) 3 and 8 per place were no faster than 5.
_FIRST_LOOK_PER_WANTED = 5
_WIDEN_FACTOR = 4
# Patches pile up beside the tree; past this share of the fleet the tree is rebuilt with them.
_REBUILD_SHARE = 50
_REBUILD_AT_LEAST = 1_000
# The change feed: a transaction may hold an audit id for a while before it commits (PostgreSQL hands out ids in
# the order of the inserts, not of the commits), so ids missing below the newest one are looked for again until
# they show up or are this old (then they were rolled back). A rebuild also looks this many ids back.
_HOLE_SECONDS = 300.0
_LOOK_BACK_IDS = 10_000
_MAX_DELTA = 20_000  # more new audit entries than this at once: rebuild rather than patch
_NEWEST_AUDIT_ID = select(func.max(AuditEntry.id))
_TRACKED = (Technician.__tablename__, Station.__tablename__, TechnicianSkill.__tablename__)
_NEWER = AuditEntry.id > bindparam("watermark")
_ENTRIES = (select(AuditEntry.id, AuditEntry.entity_type, AuditEntry.entity_id).order_by(AuditEntry.id)
            .limit(_MAX_DELTA + 1))
_NEW_ENTRIES = _ENTRIES.where(_NEWER)
_TRACKED_ENTRIES = select(AuditEntry.entity_type, AuditEntry.entity_id).where(AuditEntry.entity_type.in_(_TRACKED))
_NEW_TRACKED_ENTRIES = _TRACKED_ENTRIES.where(_NEWER)
_WGS84 = Geod(ellps="WGS84")
# PROJ and geopy both run Karney's algorithm (in C, and in Python: a few µs against some 40 µs) and agree to a few
# nanometres, so they round to the same metre unless the distance is this close to half a metre.
_HALF_METRE_MARGIN_M = 1e-3


@dataclass(frozen=True)
class Position:
    technician_id: int
    latitude: float
    longitude: float
    source: str
    home_station_id: int
    # What the index filters by (DSP-6), read with the position: the technician and their station may be sent
    # (backend.dispatch.eligibility without skill or stations), and the technician's skills.
    available: bool
    skills: frozenset[str]


_AVAILABLE = and_(*(condition for _words, condition in criteria(None, None))).label("available")
# A technician's skills in one column: skills are [a-z0-9_-] (backend.technicians.schemas.Skill), so a comma parts them.
_SKILLS = (select(func.aggregate_strings(TechnicianSkill.skill, ","))
           .where(TechnicianSkill.technician_id == Technician.id).correlate(Technician).scalar_subquery())


def positions(db: Session | Connection, *conditions: ColumnElement[bool]) -> list[Position]:
    """Technicians where dispatch reckons them to be: their last known position, else their home station (DSP-6),
    with whether they may be sent and their skills. `conditions` may name technicians' columns only."""
    with_fix = (select(Technician.id, Technician.last_latitude, Technician.last_longitude,
                       literal(LAST_KNOWN_POSITION), Technician.home_station_id, _AVAILABLE, _SKILLS)
                .join(Station, Station.id == Technician.home_station_id)
                .where(*conditions, Technician.last_latitude.is_not(None)))
    at_home = (select(Technician.id, Station.latitude, Station.longitude, literal(HOME_STATION),
                      Technician.home_station_id, _AVAILABLE, _SKILLS)
               .join(Station, Station.id == Technician.home_station_id)
               .where(*conditions, Technician.last_latitude.is_(None)))
    skill_sets: dict[str | None, frozenset[str]] = {}  # a fleet has few combinations of skills: one set each
    found = []
    for ident, latitude, longitude, source, station, available, joined in db.execute(union_all(with_fix, at_home)):
        skills = skill_sets.get(joined)
        if skills is None:
            skills = skill_sets[joined] = frozenset(joined.split(",")) if joined else frozenset()
        found.append(Position(ident, latitude, longitude, source, station, bool(available), skills))
    return found


def unit_vectors(latitudes: Any, longitudes: Any) -> np.ndarray:
    lat, lon = np.radians(np.asarray(latitudes, dtype=float)), np.radians(np.asarray(longitudes, dtype=float))
    return np.column_stack((np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)))


def exact_km(site: Point, where: Point) -> float:
    """`backend.dispatch.geo.distance_km` (geopy's geodesic, rounded to the metre), in a tenth of the time: PROJ's
    distance rounds to the same metre, and where it is too close to call, geopy itself decides."""
    _forward, _back, metres = _WGS84.inv(site[1], site[0], where[1], where[0])
    if abs(metres % 1 - 0.5) < _HALF_METRE_MARGIN_M:
        return distance_km(site, where)
    return round(metres / 1000, DISTANCE_DECIMALS)


def geodesic_lower_bound_km(chord: float) -> float:
    """No two points `chord` apart as unit vectors are closer than this on WGS-84, rounded to the metre."""
    return 2 * math.asin(min(1.0, chord / 2)) * _SMALLEST_RADIUS_KM - _ROUNDING_KM


def geodesic_upper_bound_km(chord: float) -> float:
    """No two points `chord` apart as unit vectors are farther than this on WGS-84, rounded to the metre."""
    return 2 * math.asin(min(1.0, chord / 2)) * _LARGEST_RADIUS_KM + _ROUNDING_KM


class _Tree:
    """An immutable k-nearest index over a list of positions."""

    def __init__(self, items: Sequence[Position]) -> None:
        self.items = list(items)
        vectors = unit_vectors([p.latitude for p in self.items], [p.longitude for p in self.items])
        self.tree = cKDTree(vectors) if self.items else None


class _View:
    """The tree and the patches since it was built (technician id → new position, None when gone). Never changed
    once made, so searches read it without a lock while the next one is being made."""

    def __init__(self, tree: _Tree, patches: Mapping[int, Position | None] | None = None) -> None:
        self.tree, self.patches = tree, dict(patches or {})
        self._moved = [p for p in self.patches.values() if p is not None]
        self._moved_vectors = unit_vectors([p.latitude for p in self._moved], [p.longitude for p in self._moved])

    def patched(self, changes: Mapping[int, Position | None]) -> _View:
        patches = {**self.patches, **changes}
        if len(patches) <= max(_REBUILD_AT_LEAST, len(self.tree.items) // _REBUILD_SHARE):
            return _View(self.tree, patches)
        kept = [p for p in self.tree.items if p.technician_id not in patches]
        return _View(_Tree(kept + [p for p in patches.values() if p is not None]))

    def by_angle(self, site: Point, at_least: int,
                 qualifies: Callable[[Position], bool]) -> Iterator[tuple[list[tuple[float, Position]], float]]:
        """Batches of (chord, position) of the technicians that `qualifies` accepts, nearest first, each with the
        chord that nobody not yet handed out is nearer than (inf when everyone has been). A batch reaches far
        enough to settle its `at_least` nearest: nobody beyond it can be nearer on the ellipsoid."""
        lat, lon = math.radians(site[0]), math.radians(site[1])
        centre = np.array((math.cos(lat) * math.cos(lon), math.cos(lat) * math.sin(lon), math.sin(lat)))
        moved = sorted(((c, p) for c, p in zip(np.linalg.norm(self._moved_vectors - centre, axis=1).tolist(),
                                               self._moved, strict=True) if qualifies(p)),
                       key=lambda pair: pair[0]) if self._moved else []
        items, size, patches = self.tree.items, len(self.tree.items), self.patches
        handed_out: set[int] = set()  # tree rows: ties may come in another order as k grows
        k, next_moved = _FIRST_LOOK_PER_WANTED * max(at_least, 1), 0
        while True:
            batch: list[tuple[float, Position]] = []
            frontier = math.inf
            while len(handed_out) < size:
                k = min(k, size)
                chords, rows = self.tree.tree.query(centre, [*range(1, k + 1)])
                frontier = float(chords[-1]) if k < size else math.inf
                # Plain Python from here: numpy's per-call cost is more than these few dozen rows' worth.
                for chord, row in zip(chords.tolist(), rows.tolist(), strict=True):
                    if row in handed_out:
                        continue
                    handed_out.add(row)
                    p = items[row]
                    if p.technician_id not in patches and qualifies(p):
                        batch.append((chord, p))
                k *= _WIDEN_FACTOR
                if _settled(batch, moved[next_moved:], at_least, frontier):
                    break
            while next_moved < len(moved) and moved[next_moved][0] <= frontier:
                batch.append(moved[next_moved])
                next_moved += 1
            batch.sort(key=lambda pair: pair[0])
            yield batch, frontier
            if frontier == math.inf:
                return

    def nearest(self, site: Point, *, at_least: int, keep: Callable[[list[int]], Iterable[int]],
                qualifies: Callable[[Position], bool] = lambda _p: True) -> list[Found[Position]]:
        """The `at_least` nearest technicians that `keep` keeps (all of them, when there are fewer), with any tied
        with the last, nearest first, each with its exact geodesic distance. Only those that `qualifies` accepts
        (what the index knows of them) are considered; `keep(ids)` has the last word on them (one query per call),
        and is asked only about those that could still make the list: in the usual search, once."""
        found: list[Found[Position]] = []
        measured: dict[tuple[float, float], float] = {}  # those based at one station share a position
        waiting: list[tuple[float, Position]] = []  # handed out, not yet asked about, nearest first
        frontier = 0.0  # nobody handed out yet: everyone is at least this far
        batches = self.by_angle(site, at_least, qualifies)

        def beaten(chord: float) -> bool:
            return len(found) >= at_least and geodesic_lower_bound_km(chord) > found[at_least - 1].distance_km

        while True:
            waiting = [(chord, p) for chord, p in waiting if not beaten(chord)]
            missing = at_least - len(found)
            if not waiting or 0 < missing and len(waiting) < missing:
                if frontier == math.inf or beaten(frontier):
                    if not waiting:
                        break
                else:
                    batch, frontier = next(batches)
                    waiting = sorted(waiting + batch, key=lambda pair: pair[0])
                    continue
            # Those that could still be among the `at_least` nearest: within the farthest that the missing ones
            # could be (or, with the list full, not beaten by its last).
            reach = (found[at_least - 1].distance_km if missing <= 0 else
                     geodesic_upper_bound_km(waiting[missing - 1][0]) if len(waiting) >= missing else math.inf)
            asked = [(chord, p) for chord, p in waiting if geodesic_lower_bound_km(chord) <= reach]
            waiting = waiting[len(asked):]
            kept = set(keep([p.technician_id for _chord, p in asked]))
            for _chord, p in asked:
                if p.technician_id in kept:
                    where = (p.latitude, p.longitude)
                    if where not in measured:
                        measured[where] = exact_km(site, where)
                    insort(found, Found(p, measured[where]), key=lambda f: f.distance_km)
        if len(found) > at_least:
            found = [f for f in found if f.distance_km <= found[at_least - 1].distance_km]
        return found


def _settled(batch: list[tuple[float, Position]], moved: list[tuple[float, Position]], at_least: int,
             frontier: float) -> bool:
    """Whether a batch reaching to `frontier` (with the moved ones inside it) settles its `at_least` nearest by
    chord: nobody beyond the frontier can be nearer on the ellipsoid than the farthest of them can be. (The database
    may still refuse some of them; then the search takes another batch.)"""
    if frontier == math.inf:
        return True
    chords = sorted([chord for chord, _p in batch] + [chord for chord, _p in moved if chord <= frontier])
    return len(chords) >= at_least and \
        geodesic_lower_bound_km(frontier) > geodesic_upper_bound_km(chords[at_least - 1])


@dataclass(frozen=True)
class _Feed:
    """How far the audit log has been applied: every id up to `watermark`, except `holes` (ids not visible when
    last read: still in an open transaction, or rolled back), each with when it was first missed."""

    watermark: int = 0
    holes: dict[int, float] = field(default_factory=dict)

    def entries(self) -> tuple[Select[Any], dict[str, int]]:
        """The statement reading the entries not applied yet (id, entity type and id, in id order), and its
        parameters."""
        return self._unseen(_ENTRIES, _NEW_ENTRIES)

    def tracked_entries(self) -> tuple[Select[Any], dict[str, int]]:
        """The same for the entries about technicians, their skills and stations (entity type and id only)."""
        return self._unseen(_TRACKED_ENTRIES, _NEW_TRACKED_ENTRIES)

    def _unseen(self, base: Select[Any], newer: Select[Any]) -> tuple[Select[Any], dict[str, int]]:
        # Built once for the usual case (no holes): making a statement and its cache key costs a catch-up more than
        # running it. With holes, an OR (never one with an empty IN, which costs a full scan).
        statement = base.where(or_(_NEWER, AuditEntry.id.in_(sorted(self.holes)))) if self.holes else newer
        return statement, {"watermark": self.watermark}

    def advanced(self, seen: Collection[int], now: float) -> _Feed:
        """After reading the unseen ids: `seen` were visible, so any id below the highest of them that was not is
        missing (again)."""
        newest = max([self.watermark, *seen])
        missing = {ident: since for ident, since in self.holes.items() if ident not in seen}
        missing.update((ident, now) for ident in range(self.watermark + 1, newest + 1) if ident not in seen)
        return _Feed(newest, {ident: since for ident, since in missing.items() if now - since < _HOLE_SECONDS})


class PositionIndex:
    """One database's technicians, kept fresh through the audit log. Searches share it; syncs take turns."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._view: _View | None = None
        self._feed = _Feed()
        # What searches read without the lock: the tree and the feed it is current to, swapped as one. Read apart, a
        # search could pair an old tree with a newer feed and take it for current.
        self._published: tuple[_View, _Feed] | None = None

    def current(self, session: Session) -> _View:
        """The index as `session` sees the technicians: what is committed (or newer), and its own changes."""
        published = self._published
        if published is not None and not self._behind(session, published[1]):
            return published[0]
        with self._lock:
            with _reader(session) as connection:
                if self._view is None:
                    self._rebuild(connection)
                self._catch_up(connection)
            view, feed = self._view, self._feed
            assert view is not None
            self._published = (view, feed)
        # Whatever the session sees beyond that is its own transaction's (demo data dispatches what it has just made):
        # patched in for this search only, so a rollback leaves nothing behind.
        connection = session.connection()
        own = connection.execute(*feed.tracked_entries()).all()
        return view.patched(_changes(connection, own)) if own else view

    @staticmethod
    def _behind(session: Session, feed: _Feed) -> bool:
        """One primary-key lookup (and one per id still missing): has the audit log moved past `feed`?"""
        connection = session.connection()  # Core: the ORM's own work would cost more than the query
        if not feed.holes:
            return (connection.execute(_NEWEST_AUDIT_ID).scalar() or 0) > feed.watermark
        filled = select(func.count()).where(AuditEntry.id.in_(sorted(feed.holes))).scalar_subquery()
        newest_id, filled_count = connection.execute(select(_NEWEST_AUDIT_ID.scalar_subquery(), filled)).one()
        return (newest_id or 0) > feed.watermark or filled_count > 0

    def _rebuild(self, connection: Connection) -> None:
        newest = connection.execute(_NEWEST_AUDIT_ID).scalar() or 0
        self._view = _View(_Tree(positions(connection)))
        # Changes already committed before `newest` are in the positions just read; a look back finds the ids that
        # were still in open transactions, so the catch-up that follows treats them as any other missing id.
        self._feed = _Feed(watermark=max(0, newest - _LOOK_BACK_IDS))

    def _catch_up(self, connection: Connection) -> None:
        assert self._view is not None
        feed = self._feed
        entries = connection.execute(*feed.entries()).all()
        if len(entries) > _MAX_DELTA:
            self._view = None
            self._rebuild(connection)
            return self._catch_up(connection)
        changes = _changes(connection, entries)
        if changes:
            self._view = self._view.patched(changes)
        self._feed = feed.advanced({e.id for e in entries}, time.monotonic())


def _changes(db: Session | Connection, entries: Iterable[Any]) -> dict[int, Position | None]:
    """Where the technicians named by these audit entries are now (None: gone), and those of the stations named."""
    # A skill's entity id is "<technician id>/<skill>".
    technicians = {int(e.entity_id.split("/")[0]) for e in entries
                   if e.entity_type in (Technician.__tablename__, TechnicianSkill.__tablename__)}
    stations = {int(e.entity_id) for e in entries if e.entity_type == Station.__tablename__}
    if not technicians and not stations:
        return {}
    # Each condition only when there is something in it: an OR with an empty IN costs a full scan.
    named = ([Technician.id.in_(sorted(technicians))] if technicians else []) + \
            ([Technician.home_station_id.in_(sorted(stations))] if stations else [])
    changes: dict[int, Position | None] = dict.fromkeys(technicians)
    changes.update((p.technician_id, p) for p in positions(db, or_(*named)))
    return changes


def _engine(session: Session) -> Engine:
    bind = session.get_bind()
    return bind if isinstance(bind, Engine) else bind.engine


def _reader(session: Session) -> Connection:
    """A connection of the session's database apart from the session's own: it sees only what is committed. Never
    a writer's (backend.db.writer_session): SQLite would make it wait for the write lock the session may hold."""
    return _engine(session).connect().execution_options(onsite_writer=False)


# One index per database, whichever engine (a writer's is a copy with other options) the session is bound to: they
# share the connection pool.
_indexes: weakref.WeakKeyDictionary[Any, PositionIndex] = weakref.WeakKeyDictionary()
_indexes_lock = threading.Lock()


def index_for(session: Session) -> _View:
    """The position index of the session's database, as the session sees the technicians."""
    pool = _engine(session).pool
    with _indexes_lock:
        index = _indexes.get(pool)
        if index is None:
            index = _indexes[pool] = PositionIndex()
    return index.current(session)
