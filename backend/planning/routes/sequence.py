"""The order of one technician's stops for a day (PLN-2), solved exactly. Pure: no database, no Flask.

A route is compared with another on, in this order:
1. missed deadlines: stops reached after their deadline, plus stops left out of the day whose deadline falls
   before the day ends (they will be late whatever happens);
2. stops left out of the day (a late visit beats none);
3. total lateness;
4. total travel.
So no deadline is given up to save kilometres while an order exists that meets it. A stop is in the day when its
work ends by the end of the shift.

The solver is a dynamic programme over subsets (Held-Karp, with deadlines). A label is a partial route: the set of
stops visited, the last one, its clock, and its objective so far. What is still to come depends only on the set,
the last stop and the clock, and a later clock never helps (it can only make later stops late or not fit), so of
two labels for the same set and last stop, one whose objective so far is no better and whose clock is no earlier
can never end in a better route: each (set, last stop) keeps only its Pareto front over (objective, clock). That is
exact, unlike keeping only the best objective. Each layer (routes of k stops) is one batch of numpy operations.
Times are whole seconds and distances whole metres, so every comparison is exact.

Bounds cut the search without changing the answer: a partial route whose objective so far, with the deadlines it can
no longer meet and the stops it can no longer fit (by the quickest way there), is already worse than a whole route
found is dropped. The first whole route comes from a narrow pass of the same search (a beam of the most promising
partial routes of each length), which is usually close to the optimum, so little else survives the bound.
"""

from __future__ import annotations

from collections.abc import Sequence as Seq
from dataclasses import dataclass

import numpy as np

# 2^12 sets x 12 last stops: solved in tens of milliseconds (docs/performance.md), each further stop doubling
# that. Of a day of more stops the caller orders its most urgent ones here and appends the rest.
MAX_EXACT_STOPS = 12
# Beyond any time or distance here, with room to add to it: no deadline, or no leg.
_UNBOUNDED = np.iinfo(np.int64).max // 4
_LAST_STOP_BITS = MAX_EXACT_STOPS.bit_length()
_BEAM_WIDTH = 128  # measured: narrower leaves a looser bound, wider costs more than it saves
_RANK_BITS = 22


@dataclass(frozen=True)
class Stop:
    duration_s: int
    # Seconds after the route starts; negative when already overdue; None: no deadline.
    due_s: int | None


@dataclass(frozen=True)
class Route:
    order: tuple[int, ...]  # indices into the stops, in visiting order
    left_out: tuple[int, ...]  # the stops that do not fit in the day
    missed: int
    lateness_s: int
    travel_m: int

    @property
    def objective(self) -> tuple[int, int, int, int]:
        return (self.missed, len(self.left_out), self.lateness_s, self.travel_m)


def solve(stops: Seq[Stop], travel_s: Seq[Seq[int]], travel_m: Seq[Seq[int]], horizon_s: int) -> Route:
    """The best route. `travel_s`/`travel_m`: (n+1) x (n+1) travel times and distances, row and column 0 being
    where the route starts and i + 1 being stop i. `horizon_s`: the end of the shift, seconds after the start."""
    if len(stops) > MAX_EXACT_STOPS:
        raise ValueError(f"at most {MAX_EXACT_STOPS} stops are solved exactly, not {len(stops)}")
    day = _Day(stops, travel_s, travel_m, horizon_s)
    zero = np.zeros(1, dtype=np.int64)
    layer = _Layer(set=zero, last=zero, clock=zero, late=zero, lateness=zero, metres=zero, parent=zero - 1)
    layers = [layer]
    best, best_row = day.best_ending(layer)
    best_at = (0, best_row)
    # Any whole route bounds the search, and the tighter the bound the less is searched: the best of a quick
    # narrow search (a beam) is usually close to the optimum.
    bound = min(best, day.beam_search(layer, best))
    for depth in range(1, day.n + 1):
        layer = day.grow(layer, bound)
        if layer.set.size == 0:
            break
        layers.append(layer)
        found, row = day.best_ending(layer)
        if found < best:
            best, best_at = found, (depth, row)
            bound = min(bound, best)

    order: list[int] = []
    depth, row = best_at
    while depth > 0:
        order.append(int(layers[depth].last[row]) - 1)
        row = int(layers[depth].parent[row])
        depth -= 1
    order.reverse()
    missed, left_out, lateness, travel = best
    visited = set(order)
    return Route(order=tuple(order), left_out=tuple(i for i in range(day.n) if i not in visited), missed=missed,
                 lateness_s=lateness, travel_m=travel)


Objective = tuple[int, int, int, int]


@dataclass(frozen=True)
class _Layer:
    """Partial routes of one length, one per row: visited set (bit i: stop i), last stop (0 = the start), clock
    when its work ends, stops reached late, lateness (less the overdue-at-start constants), metres, parent row."""

    set: np.ndarray
    last: np.ndarray
    clock: np.ndarray
    late: np.ndarray
    lateness: np.ndarray
    metres: np.ndarray
    parent: np.ndarray

    def take(self, rows: np.ndarray) -> _Layer:
        return _Layer(**{name: getattr(self, name)[rows] for name in self.__dataclass_fields__})


class _Day:
    def __init__(self, stops: Seq[Stop], travel_s: Seq[Seq[int]], travel_m: Seq[Seq[int]], horizon_s: int) -> None:
        n = self.n = len(stops)
        self.horizon = horizon_s
        self.duration = np.array([s.duration_s for s in stops], dtype=np.int64)
        self.due = np.array([_UNBOUNDED if s.due_s is None else s.due_s for s in stops], dtype=np.int64)
        self.seconds = np.asarray(travel_s, dtype=np.int64).reshape(n + 1, n + 1)
        self.metres = np.asarray(travel_m, dtype=np.int64).reshape(n + 1, n + 1)
        self.bits = np.left_shift(np.int64(1), np.arange(n, dtype=np.int64))
        in_set = ((np.arange(1 << n, dtype=np.int64)[:, None] & self.bits) != 0).astype(np.int64)
        # A stop already overdue at the start adds its overdue seconds to the lateness whenever it is visited: a
        # constant of the set, kept apart (so lateness packs into few bits) and added back when sets are compared.
        self.overdue_by_set = in_set @ np.maximum(-self.due, 0)
        self.due_or_start = np.maximum(self.due, 0)
        # The shortest leg into each stop (from anywhere else), summed over a set: for the bound.
        legs_in = self.metres[:, 1:].copy()
        legs_in[np.arange(1, n + 1), np.arange(n)] = _UNBOUNDED
        self.nearest_leg_by_set = in_set @ legs_in.min(axis=0, initial=_UNBOUNDED)
        # A stop left out whose deadline is before the day ends will be missed too (rule 1).
        self.missed_if_left_out = self.due <= horizon_s
        # The quickest way between two points, through others or not: a lower bound of any arrival, for the bound.
        quickest = self.seconds.copy()
        for via in range(n + 1):
            quickest = np.minimum(quickest, quickest[:, via:via + 1] + quickest[via:via + 1, :])
        quickest = quickest[:, 1:]
        # For the bound: past these clocks a stop can no longer be reached in time (if missing it counts), or fit.
        self.too_late_for = _Thresholds(np.where(self.missed_if_left_out, self.due - quickest, horizon_s),
                                        self.bits, horizon_s)
        self.no_room_for = _Thresholds(horizon_s - self.duration - quickest, self.bits, horizon_s)
        self.missed_bits = int(self.bits[self.missed_if_left_out].sum())
        self.every_stop = (1 << n) - 1
        self.packing = _Packing(n, horizon_s, self.metres)

    def grow(self, layer: _Layer, bound: Objective) -> _Layer:
        """Every partial route one stop longer that fits in the day, can still beat `bound` and is on the Pareto
        front of its (set, last stop)."""
        arrive = layer.clock[:, None] + self.seconds[layer.last, 1:]
        depart = arrive + self.duration
        rows, cols = np.nonzero(((layer.set[:, None] & self.bits) == 0) & (depart <= self.horizon))
        arrival = arrive[rows, cols]
        grown = _Layer(set=layer.set[rows] | self.bits[cols], last=cols + 1, clock=depart[rows, cols],
                       late=layer.late[rows] + (arrival > self.due[cols]),
                       lateness=layer.lateness[rows] + np.maximum(arrival - self.due_or_start[cols], 0),
                       metres=layer.metres[rows] + self.metres[layer.last[rows], cols + 1], parent=rows)
        grown = grown.take(np.nonzero(~self._cannot_beat(grown, bound))[0])
        return grown.take(_pareto_front(grown, self.packing))

    def _cannot_beat(self, layer: _Layer, bound: Objective) -> np.ndarray:
        """Rows whose every completion is worse than `bound`. Lower bounds, in the objective's order: stops already
        late, plus those that can no longer be reached in time (late if visited, missed if left out); stops that
        can no longer fit in the day; then, for completions leaving out no more than those, lateness and metres."""
        unvisited = ~layer.set & self.every_stop
        missed = layer.late + np.bitwise_count(unvisited & self.too_late_for.stops(layer.last, layer.clock))
        no_room = unvisited & self.no_room_for.stops(layer.last, layer.clock)
        # With no more left out than that, every other stop is still to be visited, with its overdue-at-start
        # seconds, and reached by some leg.
        to_come = unvisited & ~no_room
        lateness = layer.lateness + self.overdue_by_set[layer.set | to_come]
        metres = layer.metres + self.nearest_leg_by_set[to_come]
        return _worse((missed, np.bitwise_count(no_room), lateness, metres), bound)

    def best_ending(self, layer: _Layer) -> tuple[Objective, int]:
        """The best of these partial routes taken as whole routes, with its row."""
        unvisited = ~layer.set & self.every_stop
        missed = layer.late + np.bitwise_count(unvisited & self.missed_bits)
        left_out = np.bitwise_count(unvisited)
        lateness = layer.lateness + self.overdue_by_set[layer.set]
        # lexsort is stable: among equals, the row found first (lower stop indices) wins.
        row = int(np.lexsort((layer.metres, lateness, left_out, missed))[0])
        return (int(missed[row]), int(left_out[row]), int(lateness[row]), int(layer.metres[row])), row

    def beam_search(self, root: _Layer, bound: Objective) -> Objective:
        """The objective of a good whole route: the same search keeping only the most promising partial routes
        (fewest late, least lateness, fewest metres) of each length."""
        layer = root
        for _ in range(self.n):
            layer = self.grow(layer, bound)
            if layer.set.size == 0:
                break
            layer = layer.take(np.lexsort((layer.metres, layer.lateness, layer.late))[:_BEAM_WIDTH])
            bound = min(bound, self.best_ending(layer)[0])
        return bound


class _Thresholds:
    """For each last stop, a clock per stop past which something holds for that stop; `stops(last, clock)` gives,
    per row, the set of stops (as bits) whose threshold its clock has passed. Each last stop's thresholds are
    sorted once, so a row needs one binary search instead of a comparison per stop."""

    def __init__(self, thresholds: np.ndarray, bits: np.ndarray, horizon_s: int) -> None:
        points, n = thresholds.shape
        # Clocks run from 0 to the horizon, so thresholds outside [-1, horizon] behave like those ends.
        clipped = np.clip(thresholds, -1, horizon_s) + 1
        order = np.argsort(clipped, axis=1, kind="stable")
        self.stride = horizon_s + 3
        self.n = n
        self.keys = (np.arange(points)[:, None] * self.stride + np.take_along_axis(clipped, order, axis=1)).ravel()
        prefix = np.zeros((points, n + 1), dtype=np.int64)
        prefix[:, 1:] = np.bitwise_or.accumulate(bits[order], axis=1)
        self.prefix = prefix.ravel()

    def stops(self, last: np.ndarray, clock: np.ndarray) -> np.ndarray:
        passed = np.searchsorted(self.keys, last * self.stride + clock + 1) - last * self.n
        return self.prefix[last * (self.n + 1) + passed]


def _worse(values: tuple[np.ndarray, ...], bound: Objective) -> np.ndarray:
    """Rows whose tuple of values is lexicographically greater than `bound`."""
    worse = values[-1] > bound[-1]
    for value, limit in zip(values[-2::-1], bound[-2::-1], strict=True):
        worse = (value > limit) | ((value == limit) & worse)
    return worse


@dataclass(frozen=True)
class _Packing:
    """Bit widths to pack a row's objective so far, and its (group, clock, rank), each into one int64, so a layer
    is sorted with one argsort instead of a lexsort over several keys."""

    late_shift: int
    lateness_shift: int
    group_shift: int
    clock_shift: int

    def __init__(self, n: int, horizon_s: int, metres: np.ndarray) -> None:
        metre_bits = int(max(n, 1) * int(metres.max(initial=0))).bit_length()
        # Overdue-at-start constants are kept apart, so lateness per stop is at most the horizon.
        lateness_bits = (max(n, 1) * max(horizon_s, 0)).bit_length()
        clock_bits = max(horizon_s, 0).bit_length()
        group_bits = n + _LAST_STOP_BITS
        if n.bit_length() + lateness_bits + metre_bits > 62 or group_bits + clock_bits + _RANK_BITS > 62:
            raise ValueError("the day is too long or the distances too great to pack into 64 bits")
        object.__setattr__(self, "lateness_shift", metre_bits)
        object.__setattr__(self, "late_shift", metre_bits + lateness_bits)
        object.__setattr__(self, "clock_shift", _RANK_BITS)
        object.__setattr__(self, "group_shift", _RANK_BITS + clock_bits)


def _pareto_front(layer: _Layer, keys: _Packing) -> np.ndarray:
    """The rows no other row of the same (set, last stop) dominates: none has a clock as early and an objective so
    far (late, lateness, metres, compared in that order) as good. Of exact duplicates one is kept."""
    if layer.set.size == 0:
        return layer.set
    objective = (layer.late << keys.late_shift) | (layer.lateness << keys.lateness_shift) | layer.metres
    # Dense rank of the objective, so that "as good" is a small integer comparison.
    distinct, rank = np.unique(objective, return_inverse=True)
    if distinct.size > 1 << _RANK_BITS:
        raise ValueError(f"too many partial routes to rank in {_RANK_BITS} bits")
    group = (layer.set << _LAST_STOP_BITS) | layer.last
    # Within each group, by clock (then objective): a row survives when it beats every row before it.
    order = np.argsort((group << keys.group_shift) | (layer.clock << keys.clock_shift) | rank)
    in_group = group[order]
    starts = np.concatenate(([True], in_group[1:] != in_group[:-1]))
    # Each later group is shifted below all earlier ones, so one running minimum serves every group.
    shifted = rank[order] - (np.cumsum(starts) - 1) * (distinct.size + 1)
    best_before = np.concatenate(([np.iinfo(np.int64).max], np.minimum.accumulate(shifted)[:-1]))
    return np.sort(order[starts | (shifted < best_before)])
