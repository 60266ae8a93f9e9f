"""The per-unit paper draw, a pure function of the candidate pool, the quotas and a seed.

How a draw goes:

1. **Pools.** Candidates are grouped by (type, category) for the shared theory and law bank, and by
   (type, category, unit) for each unit's own policy bank. A quota that its pool cannot fill is a
   shortage; all shortages are reported together and nothing is drawn.
2. **Spread.** Units take their questions in turn, each preferring the questions drawn least often in
   this exam so far, and among those the ones whose holders share least with this unit yet, ties broken
   by a seeded random choice; so two units share a question only once the pool has run out of fresh
   ones. A levelling step then moves shared questions away from the pair that shares most until no
   pair shares more than the floor the pools impose (``overlap_floor``) or no swap helps: the sharing
   is spread evenly over the pairs instead of falling on the last units drawn.
3. **Fair difficulty.** A question's difficulty is the share of its points an examinee is expected to
   lose: ``1 − observed correct rate`` once it has been answered often enough (the caller decides and
   passes the rate), else ``1 − RATING_FACILITY[rating]``. A paper's expected difficulty is the
   points-weighted mean. A seeded local search then swaps single questions (same type and category,
   never a question more used in this exam than the one it replaces) to pull the paper farthest from
   the centre towards it, until the spread between the easiest and the hardest paper is within the
   tolerance or no swap helps; a swap never makes any pair share more than the largest overlap left by
   the levelling step (so papers that need share nothing stay apart).
4. **Distinct.** No two units get the same set of questions; if the pools are too small for that,
   the draw fails.
5. **Cap.** With ``max_shared`` set, a draw in which some pair of papers shares more questions fails
   (``OverlapCapError``, naming the pair, what was reached and the floor the bank imposes).
6. **Order.** Questions are grouped by type in the blueprint's section order and shuffled within the
   type with the seed.

Random streams are derived from the seed per pool (``"<seed>:<type>:<category>[:<unit>]"``), so the
same seed over the same candidates gives the same papers, and a change in one unit's policy bank does not
reshuffle what the other units get from the shared bank.
"""

from __future__ import annotations

import bisect
import random
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from math import ceil, comb
from operator import itemgetter
from typing import Final

from app.papers.quotas import CATEGORY_NAMES, TYPE_NAMES, Quota

# Positions in a candidate tuple, as the pool query returns them.
QID: Final = 0
VID: Final = 1
TYPE: Final = 2
CATEGORY: Final = 3
UNIT: Final = 4
RATING: Final = 5
FACILITY: Final = 6
Candidate = tuple[int, int, str, str, int | None, int, float | None]

SHARED_CATEGORIES = frozenset({"theory", "law"})
# Expected share of examinees answering correctly, by the editor's difficulty rating (1 easy … 5 hard).
RATING_FACILITY: dict[int, float] = {1: 0.95, 2: 0.88, 3: 0.80, 4: 0.68, 5: 0.55}
DEFAULT_FACILITY = RATING_FACILITY[3]
# How many graded answers a question needs before its observed correct rate replaces the rating.
OBSERVED_MIN_ANSWERS = 30
# How many candidates of a large pool the balancing step considers for swaps.
_SWAP_SAMPLE = 256
_EPSILON = 1e-12

GroupKey = tuple[str, str, int | None]


def question_difficulty(candidate: Candidate) -> float:
    """Expected share of the question's points lost: from its observed rate when known, else its rating."""
    facility = candidate[FACILITY]
    if facility is None:
        facility = RATING_FACILITY.get(candidate[RATING], DEFAULT_FACILITY)
    return 1.0 - float(facility)


@dataclass(frozen=True, slots=True)
class Shortage:
    type: str
    category: str
    unit_id: int
    pool: str  # "shared" (theory, law) or "unit" (the unit's own policy bank)
    needed: int
    available: int

    def message(self) -> str:
        where = "共用题库" if self.pool == "shared" else f"单位 {self.unit_id} 的题库"
        return (
            f"单位 {self.unit_id} 的{TYPE_NAMES.get(self.type, self.type)}"
            f"（{CATEGORY_NAMES.get(self.category, self.category)}）需要 {self.needed} 道在用题目，"
            f"{where}只有 {self.available} 道"
        )


class DrawError(Exception):
    """The bank cannot give the papers asked for; nothing is drawn."""


class BankTooSmallError(DrawError):
    def __init__(self, shortages: list[Shortage]) -> None:
        super().__init__("；".join(s.message() for s in shortages))
        self.shortages = shortages


class PapersNotDistinctError(DrawError):
    def __init__(self, unit_ids: tuple[int, int]) -> None:
        super().__init__(
            f"单位 {unit_ids[0]} 和单位 {unit_ids[1]} 会抽到相同的试卷：题库题目太少，无法给每个单位不同的试卷"
        )
        self.unit_ids = unit_ids


class OverlapCapError(DrawError):
    """Some pair of papers would share more questions than the exam's cap allows."""

    def __init__(self, cap: int, reached: int, units: tuple[int, int], floor: int) -> None:
        super().__init__(
            f"units {units[0]} and {units[1]} would share {reached} questions, more than the cap of {cap} "
            f"(the bank's pools force at least {floor})"
        )
        self.cap, self.reached, self.units, self.floor = cap, reached, units, floor


@dataclass(frozen=True, slots=True)
class FixedPaper:
    """A unit's paper that stays as it is (the other units' papers during a redraw)."""

    question_ids: frozenset[int]
    expected_difficulty: float


@dataclass(frozen=True, slots=True)
class DrawnSlot:
    question_id: int
    version_id: int
    type: str
    category: str
    points: float
    difficulty: float


@dataclass(frozen=True, slots=True)
class DrawnPaper:
    unit_id: int
    slots: tuple[DrawnSlot, ...]
    expected_difficulty: float

    @property
    def question_ids(self) -> list[int]:
        return [s.question_id for s in self.slots]


@dataclass(frozen=True, slots=True)
class DrawOutcome:
    papers: tuple[DrawnPaper, ...]
    max_overlap: int
    max_overlap_units: tuple[int, int] | None
    difficulty_spread: float
    tolerance: float
    balanced: bool
    swaps: int
    difficulties: dict[int, float] = field(default_factory=dict)
    # The fewest questions the busiest pair must share, given the pools' sizes (0 when the bank allows).
    overlap_floor: int = 0
    overlaps: dict[tuple[int, int], int] = field(default_factory=dict)


def group_key(type_: str, category: str, unit_id: int | None) -> GroupKey:
    return (type_, category, None if category in SHARED_CATEGORIES else unit_id)


def _stream(seed: int, *parts: object) -> random.Random:
    # A string seed is hashed with SHA-512 by ``random``: stable across processes and platforms.
    return random.Random(":".join(str(p) for p in (seed, *parts)))


class _Pool:
    """One group's candidates in id order, and the difficulty-sorted sample the balancing step swaps from."""

    __slots__ = ("candidates", "difficulties", "rng", "swap_candidates", "used")

    def __init__(self, candidates: list[Candidate], rng: random.Random) -> None:
        self.candidates = candidates
        self.rng = rng
        self.used: set[int] = set()
        self.swap_candidates: list[Candidate] | None = None
        self.difficulties: list[float] = []

    def swap_view(self) -> tuple[list[Candidate], list[float]]:
        """Candidates for swaps, sorted by difficulty: the whole pool when small, else a seeded sample.

        A sample of a few hundred covers every rating level of a large pool, and keeps balancing
        independent of the bank's size.
        """
        if self.swap_candidates is None:
            pool = self.candidates
            if len(pool) <= 4 * _SWAP_SAMPLE:
                members = list(pool)
            else:
                members = [pool[i] for i in self.rng.sample(range(len(pool)), _SWAP_SAMPLE)]
            keyed = [(question_difficulty(c), self.rng.random(), c) for c in members]
            keyed.sort(key=lambda item: (item[0], item[1]))
            self.swap_candidates = [item[2] for item in keyed]
            self.difficulties = [item[0] for item in keyed]
        return self.swap_candidates, self.difficulties


def _pair(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a < b else (b, a)


class _Overlaps:
    """Which units hold each question, and how many questions each pair of units shares."""

    __slots__ = ("holders", "pairs")

    def __init__(self) -> None:
        self.holders: dict[int, set[int]] = defaultdict(set)
        self.pairs: dict[tuple[int, int], int] = defaultdict(int)

    def add(self, unit_id: int, qid: int) -> None:
        holders = self.holders[qid]
        for other in holders:
            self.pairs[_pair(unit_id, other)] += 1
        holders.add(unit_id)

    def remove(self, unit_id: int, qid: int) -> None:
        holders = self.holders[qid]
        holders.discard(unit_id)
        for other in holders:
            self.pairs[_pair(unit_id, other)] -= 1

    def cost(self, unit_id: int, qid: int) -> tuple[int, int]:
        """(largest, total) overlap of ``unit_id`` with the units already holding ``qid``."""
        values = [self.pairs[_pair(unit_id, other)] for other in self.holders.get(qid, ()) if other != unit_id]
        return (max(values, default=-1), sum(values))

    def swap_fits(self, unit_id: int, out_qid: int, in_qid: int, limit: int) -> bool:
        """Whether ``unit_id`` shares at most ``limit`` with every holder of ``in_qid`` once it replaces
        ``out_qid``."""
        leaving = self.holders.get(out_qid, ())
        pairs = self.pairs
        for other in self.holders.get(in_qid, ()):
            if other != unit_id and pairs[_pair(unit_id, other)] + 1 - (other in leaving) > limit:
                return False
        return True

    def peak(self) -> tuple[int, tuple[int, int] | None]:
        if not self.pairs:
            return 0, None
        pair = max(sorted(self.pairs), key=lambda p: self.pairs[p])
        return self.pairs[pair], pair


def _pick_least_used(
    pool: _Pool, count: int, usage: dict[int, int], taken: set[int], unit_id: int, overlaps: _Overlaps
) -> list[Candidate]:
    """``count`` candidates not in ``taken``: fresh ones at random, then the least used in this exam whose
    holders share least with ``unit_id`` so far (random among equals). Records them in ``overlaps``."""
    candidates = pool.candidates
    free = len(candidates) - len(pool.used)
    picked: list[Candidate] = []
    if free >= count and 2 * free >= len(candidates):
        # Most of the pool is fresh: rejection sampling costs O(count), not O(pool).
        chosen: set[int] = set()
        while len(picked) < count:
            candidate = candidates[pool.rng.randrange(len(candidates))]
            qid = candidate[QID]
            if qid in pool.used or qid in chosen or qid in taken:
                continue
            chosen.add(qid)
            picked.append(candidate)
            overlaps.add(unit_id, qid)
        return picked
    rng = pool.rng
    keyed = [(usage.get(c[QID], 0), rng.random(), c) for c in candidates if c[QID] not in taken]
    keyed.sort(key=lambda item: (item[0], item[1]))
    fresh = [item[2] for item in keyed if item[0] == 0][:count]
    for candidate in fresh:
        overlaps.add(unit_id, candidate[QID])
    picked.extend(fresh)
    rest = [item for item in keyed if item[0] > 0]
    while len(picked) < count and rest:
        # One at a time: each pick changes what the next one costs.
        best = min(range(len(rest)), key=lambda i: (rest[i][0], overlaps.cost(unit_id, rest[i][2][QID]), rest[i][1]))
        candidate = rest.pop(best)[2]
        overlaps.add(unit_id, candidate[QID])
        picked.append(candidate)
    return picked


@dataclass(slots=True)
class _UnitPaper:
    unit_id: int
    picks: list[list[Candidate]]  # per quota, in quota order
    question_ids: set[int]
    lost_points: float


def draw_papers(
    candidates: Iterable[Candidate],
    quotas: Sequence[Quota],
    unit_ids: Sequence[int],
    *,
    seed: int,
    tolerance: float,
    fixed: Mapping[int, FixedPaper] | None = None,
    max_swaps: int | None = None,
    max_shared: int | None = None,
) -> DrawOutcome:
    """One paper per unit of ``unit_ids`` from ``candidates``, meeting ``quotas`` exactly.

    ``fixed`` papers (other units' during a redraw) are not changed but count for the spread and the
    difficulty balance. ``max_shared`` caps the questions any two papers share. Raises
    ``BankTooSmallError`` naming every unmet quota, ``PapersNotDistinctError`` or ``OverlapCapError``.
    """
    fixed = dict(fixed or {})
    units = sorted(set(unit_ids))
    active_quotas = [q for q in quotas if q.count > 0]
    types = {q.type for q in active_quotas}
    categories = {q.category for q in active_quotas}
    wanted_units = set(units)

    grouped: dict[GroupKey, list[Candidate]] = {}
    last_id, in_id_order = -1, True
    for candidate in candidates:
        # Inlined group_key: this loop runs once per question of the bank.
        category = candidate[CATEGORY]
        key = (candidate[TYPE], category, None if category in SHARED_CATEGORIES else candidate[UNIT])
        members = grouped.get(key)
        if members is None:
            grouped[key] = members = []
        members.append(candidate)
        if in_id_order:
            qid = candidate[QID]
            in_id_order = qid > last_id
            last_id = qid
    grouped = {
        key: members
        for key, members in grouped.items()
        if key[0] in types and key[1] in categories and (key[2] is None or key[2] in wanted_units)
    }

    shortages: list[Shortage] = []
    for unit_id in units:
        for quota in active_quotas:
            key = group_key(quota.type, quota.category, unit_id)
            available = len(grouped.get(key, ()))
            if available < quota.count:
                shortages.append(
                    Shortage(
                        type=quota.type,
                        category=quota.category,
                        unit_id=unit_id,
                        pool="shared" if key[2] is None else "unit",
                        needed=quota.count,
                        available=available,
                    )
                )
    if shortages:
        raise BankTooSmallError(shortages)

    pools: dict[GroupKey, _Pool] = {}
    for key, members in grouped.items():
        if not in_id_order:  # the pool query returns id order; other callers may not
            members.sort(key=itemgetter(QID))
        pools[key] = _Pool(members, _stream(seed, *(part for part in key if part is not None)))

    usage: dict[int, int] = {}
    overlaps = _Overlaps()
    for fixed_unit, fixed_paper in sorted(fixed.items()):
        for qid in sorted(fixed_paper.question_ids):
            usage[qid] = usage.get(qid, 0) + 1
            overlaps.add(fixed_unit, qid)
    for pool in pools.values():
        pool.used = {c[QID] for c in pool.candidates if c[QID] in usage} if usage else set()

    papers: dict[int, _UnitPaper] = {}
    for unit_id in units:
        paper = _UnitPaper(unit_id=unit_id, picks=[], question_ids=set(), lost_points=0.0)
        for quota in active_quotas:
            pool = pools[group_key(quota.type, quota.category, unit_id)]
            picked = _pick_least_used(pool, quota.count, usage, paper.question_ids, unit_id, overlaps)
            for candidate in picked:
                qid = candidate[QID]
                usage[qid] = usage.get(qid, 0) + 1
                pool.used.add(qid)
                paper.question_ids.add(qid)
                paper.lost_points += quota.points * question_difficulty(candidate)
            paper.picks.append(picked)
        papers[unit_id] = paper

    total_points = sum(q.points * q.count for q in active_quotas)
    floor = overlap_floor(
        {key: len(members) for key, members in grouped.items() if key[2] is None},
        active_quotas,
        len(units) + len(set(fixed) - wanted_units),
    )
    swap_budget = 40 * max(len(units), 1) * max(len(active_quotas), 1)
    _level_overlaps(papers, pools, usage, active_quotas, overlaps, floor, swap_budget)
    balancer = _Balancer(papers, fixed, pools, usage, active_quotas, total_points, tolerance, overlaps)
    swaps = balancer.run(max_swaps if max_swaps is not None else swap_budget)
    _make_distinct(papers, fixed, pools, usage, active_quotas, overlaps)

    type_order = list(dict.fromkeys(q.type for q in active_quotas))
    drawn: list[DrawnPaper] = []
    for unit_id in units:
        paper = papers[unit_id]
        slots: list[DrawnSlot] = []
        order_rng = _stream(seed, "order", unit_id)
        for type_ in type_order:
            section = [
                DrawnSlot(
                    question_id=c[QID],
                    version_id=c[VID],
                    type=c[TYPE],
                    category=c[CATEGORY],
                    points=quota.points,
                    difficulty=question_difficulty(c),
                )
                for quota, picked in zip(active_quotas, paper.picks, strict=True)
                if quota.type == type_
                for c in picked
            ]
            order_rng.shuffle(section)
            slots.extend(section)
        expected = sum(s.points * s.difficulty for s in slots) / total_points if total_points else 0.0
        drawn.append(DrawnPaper(unit_id=unit_id, slots=tuple(slots), expected_difficulty=expected))

    difficulties = {p.unit_id: p.expected_difficulty for p in drawn}
    difficulties.update({u: f.expected_difficulty for u, f in fixed.items() if u not in difficulties})
    sets = {p.unit_id: frozenset(p.question_ids) for p in drawn}
    sets.update({u: f.question_ids for u, f in fixed.items() if u not in sets})
    max_overlap, max_pair = 0, None
    for (unit_a, set_a), (unit_b, set_b) in combinations(sorted(sets.items()), 2):
        overlap = len(set_a & set_b)
        if max_pair is None or overlap > max_overlap:
            max_overlap, max_pair = overlap, (unit_a, unit_b)
    spread = max(difficulties.values()) - min(difficulties.values()) if difficulties else 0.0
    pairwise = {
        (unit_a, unit_b): len(set_a & set_b)
        for (unit_a, set_a), (unit_b, set_b) in combinations(sorted(sets.items()), 2)
    }
    if max_shared is not None and max_pair is not None and max_overlap > max_shared:
        raise OverlapCapError(max_shared, max_overlap, max_pair, floor)
    return DrawOutcome(
        papers=tuple(drawn),
        max_overlap=max_overlap,
        max_overlap_units=max_pair,
        difficulty_spread=spread,
        tolerance=tolerance,
        balanced=spread <= tolerance + 1e-9,
        swaps=swaps,
        difficulties=difficulties,
        overlap_floor=floor,
        overlaps=pairwise,
    )


def overlap_floor(pool_sizes: Mapping[GroupKey, int], quotas: Sequence[Quota], papers: int) -> int:
    """The fewest questions the busiest pair of ``papers`` must share, whatever the draw.

    A shared pool of ``size`` questions asked ``count`` times on each paper is drawn ``demand = count ×
    papers`` times; spreading the draws evenly (each question ``demand // size`` or one more times)
    minimises the pairs that share a question, Σ C(uses, 2); the busiest pair shares at least their
    average over the C(papers, 2) pairs.
    """
    pairs = comb(papers, 2)
    if pairs == 0:
        return 0
    shared_pairs = 0
    for quota in quotas:
        key = group_key(quota.type, quota.category, None)
        size = pool_sizes.get(key, 0)
        if key[2] is not None or size == 0:
            continue
        uses, extra = divmod(quota.count * papers, size)
        shared_pairs += extra * comb(uses + 1, 2) + (size - extra) * comb(uses, 2)
    return ceil(shared_pairs / pairs)


def _level_overlaps(
    papers: dict[int, _UnitPaper],
    pools: dict[GroupKey, _Pool],
    usage: dict[int, int],
    quotas: Sequence[Quota],
    overlaps: _Overlaps,
    floor: int,
    budget: int,
) -> None:
    """Move shared questions away from the pair that shares most, while that pair shares more than
    ``floor``: each swap lowers the pair by one and lifts no other pair of the unit to its level."""
    blocked: set[tuple[int, int]] = set()
    # Each pair given up on costs a scan of its shared questions; a few per unit is where it stops paying.
    failures, give_up = 0, 4 * max(len(papers), 1)
    for _ in range(budget):
        if not overlaps.pairs or failures >= give_up:
            return
        ranked = sorted(
            (pair for pair, value in overlaps.pairs.items() if value > floor and pair not in blocked),
            key=lambda pair: (-overlaps.pairs[pair], pair),
        )
        if not ranked:
            return
        pair = ranked[0]
        top = overlaps.pairs[pair]
        if any(
            _ease_pair(papers[u], other, pools, usage, quotas, overlaps, top)
            for u, other in (pair, pair[::-1])
            if u in papers
        ):
            blocked.clear()  # the move may have opened a way for a pair given up on
        else:
            blocked.add(pair)
            failures += 1


def _ease_pair(
    paper: _UnitPaper,
    other: int,
    pools: dict[GroupKey, _Pool],
    usage: dict[int, int],
    quotas: Sequence[Quota],
    overlaps: _Overlaps,
    top: int,
) -> bool:
    """Replace one question ``paper`` shares with ``other`` by one that keeps every pair of the paper's
    unit below ``top``, the closest in difficulty; False when there is none."""
    best: tuple[float, int, int, Candidate] | None = None
    for quota_index, quota in enumerate(quotas):
        key = group_key(quota.type, quota.category, paper.unit_id)
        if key[2] is not None:
            continue
        ordered, values = pools[key].swap_view()
        for slot_index, outgoing in enumerate(paper.picks[quota_index]):
            out_id = outgoing[QID]
            if other not in overlaps.holders.get(out_id, ()):
                continue
            d_out = question_difficulty(outgoing)
            out_usage = usage.get(out_id, 0)
            # Outwards from the outgoing question's difficulty: the first that fits is the closest.
            start = bisect.bisect_left(values, d_out)
            below, above = start - 1, start
            while below >= 0 or above < len(ordered):
                if above >= len(ordered) or (below >= 0 and d_out - values[below] <= values[above] - d_out):
                    incoming, below = ordered[below], below - 1
                else:
                    incoming, above = ordered[above], above + 1
                change = abs(question_difficulty(incoming) - d_out)
                if best is not None and change >= best[0]:
                    break
                in_id = incoming[QID]
                # A question used more than the one leaving would unbalance how often the pool is drawn.
                if in_id in paper.question_ids or usage.get(in_id, 0) > out_usage:
                    continue
                if overlaps.swap_fits(paper.unit_id, out_id, in_id, top - 1):
                    best = (change, quota_index, slot_index, incoming)
                    break
    if best is None:
        return False
    _, quota_index, slot_index, incoming = best
    quota = quotas[quota_index]
    _replace(
        paper,
        quota_index,
        slot_index,
        incoming,
        quota.points,
        usage,
        pools[group_key(quota.type, quota.category, paper.unit_id)],
        overlaps,
    )
    return True


class _Balancer:
    """Seeded local search that evens out the papers' expected difficulty by single-question swaps."""

    def __init__(
        self,
        papers: dict[int, _UnitPaper],
        fixed: Mapping[int, FixedPaper],
        pools: dict[GroupKey, _Pool],
        usage: dict[int, int],
        quotas: Sequence[Quota],
        total_points: float,
        tolerance: float,
        overlaps: _Overlaps,
    ) -> None:
        self.papers = papers
        self.overlaps = overlaps
        # No swap may make a pair share more than the levelled draw does.
        self.overlap_limit = overlaps.peak()[0]
        self.fixed = fixed
        self.pools = pools
        self.usage = usage
        self.quotas = quotas
        self.total_points = total_points
        self.tolerance = tolerance

    def difficulty(self, unit_id: int) -> float:
        return self.papers[unit_id].lost_points / self.total_points

    def spread(self) -> float:
        values = [self.difficulty(u) for u in self.papers]
        values.extend(f.expected_difficulty for f in self.fixed.values())
        return max(values) - min(values) if values else 0.0

    def run(self, max_swaps: int) -> int:
        if not self.total_points or not self.papers:
            return 0
        # Units that cannot move any closer become anchors: the others are pulled towards them.
        anchors = [f.expected_difficulty for f in self.fixed.values()]
        stuck: set[int] = set()
        swaps = 0
        while swaps < max_swaps and self.spread() > self.tolerance:
            movable = [u for u in self.papers if u not in stuck]
            if not movable:
                break
            centre_values = anchors or [self.difficulty(u) for u in self.papers]
            centre = sum(centre_values) / len(centre_values)
            unit_id = max(movable, key=lambda u: (abs(self.difficulty(u) - centre), -u))
            if not self._swap_towards(unit_id, centre):
                stuck.add(unit_id)
                anchors.append(self.difficulty(unit_id))
                continue
            swaps += 1
        return swaps

    def _eligible(self, candidate: Candidate, paper: _UnitPaper, outgoing: Candidate) -> bool:
        qid = candidate[QID]
        # Never swap in a question used more than the one leaving, nor one that makes a pair share more than
        # the levelled draw: the overlap between units must not grow.
        return (
            qid not in paper.question_ids
            and self.usage.get(qid, 0) <= self.usage.get(outgoing[QID], 0)
            and self.overlaps.swap_fits(paper.unit_id, outgoing[QID], qid, self.overlap_limit)
        )

    def _nearest(self, pool: _Pool, target: float, paper: _UnitPaper, outgoing: Candidate) -> list[Candidate]:
        ordered, values = pool.swap_view()
        start = bisect.bisect_left(values, target)
        found: list[Candidate] = []
        for step, stop in ((1, len(ordered)), (-1, -1)):
            index = start if step == 1 else start - 1
            while index != stop:
                if self._eligible(ordered[index], paper, outgoing):
                    found.append(ordered[index])
                    break
                index += step
        return found

    def _swap_towards(self, unit_id: int, centre: float) -> bool:
        paper = self.papers[unit_id]
        deviation = paper.lost_points - centre * self.total_points
        best: tuple[float, int, int, Candidate] | None = None
        for quota_index, quota in enumerate(self.quotas):
            pool = self.pools[group_key(quota.type, quota.category, unit_id)]
            for slot_index, outgoing in enumerate(paper.picks[quota_index]):
                d_out = question_difficulty(outgoing)
                target = d_out - deviation / quota.points
                for incoming in self._nearest(pool, target, paper, outgoing):
                    remaining = abs(deviation + quota.points * (question_difficulty(incoming) - d_out))
                    if best is None or remaining < best[0] - _EPSILON:
                        best = (remaining, quota_index, slot_index, incoming)
        if best is None or best[0] >= abs(deviation) - 1e-9:
            return False
        _, quota_index, slot_index, incoming = best
        quota = self.quotas[quota_index]
        _replace(
            paper,
            quota_index,
            slot_index,
            incoming,
            quota.points,
            self.usage,
            self.pools[group_key(quota.type, quota.category, unit_id)],
            self.overlaps,
        )
        return True


def _replace(
    paper: _UnitPaper,
    quota_index: int,
    slot_index: int,
    incoming: Candidate,
    points: float,
    usage: dict[int, int],
    pool: _Pool,
    overlaps: _Overlaps,
) -> None:
    outgoing = paper.picks[quota_index][slot_index]
    out_id, in_id = outgoing[QID], incoming[QID]
    overlaps.remove(paper.unit_id, out_id)
    overlaps.add(paper.unit_id, in_id)
    paper.picks[quota_index][slot_index] = incoming
    paper.question_ids.discard(out_id)
    paper.question_ids.add(in_id)
    paper.lost_points += points * (question_difficulty(incoming) - question_difficulty(outgoing))
    usage[out_id] -= 1
    if usage[out_id] == 0:
        del usage[out_id]
        pool.used.discard(out_id)
    usage[in_id] = usage.get(in_id, 0) + 1
    pool.used.add(in_id)


def _make_distinct(
    papers: dict[int, _UnitPaper],
    fixed: Mapping[int, FixedPaper],
    pools: dict[GroupKey, _Pool],
    usage: dict[int, int],
    quotas: Sequence[Quota],
    overlaps: _Overlaps,
) -> None:
    seen: dict[frozenset[int], int] = {f.question_ids: unit for unit, f in fixed.items()}
    for unit_id in sorted(papers):
        paper = papers[unit_id]
        current = frozenset(paper.question_ids)
        if current not in seen:
            seen[current] = unit_id
            continue
        if not _swap_any(paper, pools, usage, quotas, seen, overlaps):
            raise PapersNotDistinctError((seen[current], unit_id))
        seen[frozenset(paper.question_ids)] = unit_id


def _swap_any(
    paper: _UnitPaper,
    pools: dict[GroupKey, _Pool],
    usage: dict[int, int],
    quotas: Sequence[Quota],
    seen: Mapping[frozenset[int], int],
    overlaps: _Overlaps,
) -> bool:
    """Swap one question for any other of its pool so the paper differs from every paper so far."""
    for quota_index, quota in enumerate(quotas):
        pool = pools[group_key(quota.type, quota.category, paper.unit_id)]
        spare = sorted(
            (c for c in pool.candidates if c[QID] not in paper.question_ids),
            key=lambda c: (usage.get(c[QID], 0), c[QID]),
        )
        for incoming in spare:
            for slot_index, outgoing in enumerate(paper.picks[quota_index]):
                trial = (paper.question_ids - {outgoing[QID]}) | {incoming[QID]}
                if frozenset(trial) not in seen:
                    _replace(paper, quota_index, slot_index, incoming, quota.points, usage, pool, overlaps)
                    return True
    return False
