"""Stratified sampling of participants by rank: a pure function of the roster, the settings and a seed.

Per unit: each rank gives round-half-up(ratio × its active cadres); when that falls short of the unit's
minimum (``large_minimum`` for large units) the total is raised to the minimum and spread over the
ranks in proportion to their size (largest remainder, never below what the ratio alone gave); a unit
whose roster is smaller than its minimum takes everyone, with a warning. Cadres already participating
are kept and count towards their rank's share. Each (unit, rank) draws from its own seeded stream, so
adding a cadre to one unit does not change who is drawn in another.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from app.papers.quotas import largest_remainder

RANKS: tuple[str, ...] = ("ting", "chu", "ke")
RANK_NAMES = {"ting": "厅级", "chu": "处级", "ke": "科级"}


@dataclass(frozen=True, slots=True)
class UnitSample:
    unit_id: int
    large: bool
    minimum: int
    roster: dict[str, int]
    targets: dict[str, int]
    selected: tuple[int, ...]
    kept: int
    warnings: tuple[str, ...]


def round_half_up(value: Fraction) -> int:
    return int((value * 2 + 1) // 2)


def rank_targets(counts: Mapping[str, int], ratio: Fraction, minimum: int) -> tuple[dict[str, int], list[str]]:
    """How many cadres of each rank to draw from a unit with ``counts`` active cadres per rank."""
    roster = {rank: counts.get(rank, 0) for rank in RANKS}
    total = sum(roster.values())
    base = {rank: min(n, round_half_up(ratio * n)) for rank, n in roster.items()}
    if total < minimum:
        return dict(roster), [f"名册中只有 {total} 名在职干部，少于最低人数 {minimum}：全部列为考生"]
    if sum(base.values()) >= minimum:
        return base, []
    # Raise the total to the minimum, spread over the ranks by size, never below the ratio's own share.
    fixed: dict[str, int] = {}
    while True:
        free = [rank for rank in RANKS if rank not in fixed]
        allocation = dict(
            zip(
                free,
                largest_remainder(minimum - sum(fixed.values()), [Fraction(roster[r]) for r in free]),
                strict=True,
            )
        )
        below = {rank: base[rank] for rank in free if allocation[rank] < base[rank]}
        above = {rank: roster[rank] for rank in free if allocation[rank] > roster[rank]}
        if not below and not above:
            return {rank: fixed.get(rank, allocation.get(rank, 0)) for rank in RANKS}, []
        fixed.update(below or above)


def sample_participants(
    roster: Sequence[tuple[int, int, str]],
    *,
    large_units: Mapping[int, bool],
    ratio: float | Fraction,
    minimum: int,
    large_minimum: int,
    seed: int,
    already: Collection[int] = (),
) -> dict[int, UnitSample]:
    """Who to sample from each unit of ``large_units``; ``roster`` holds (cadre_id, unit_id, rank) of active cadres."""
    share = ratio if isinstance(ratio, Fraction) else Fraction(str(ratio))
    kept_ids = set(already)
    members: dict[int, dict[str, list[int]]] = {unit: {rank: [] for rank in RANKS} for unit in large_units}
    for cadre_id, unit_id, rank in roster:
        if unit_id in members and rank in members[unit_id]:
            members[unit_id][rank].append(cadre_id)
    samples: dict[int, UnitSample] = {}
    for unit_id in sorted(members):
        by_rank = members[unit_id]
        unit_minimum = large_minimum if large_units[unit_id] else minimum
        counts = {rank: len(ids) for rank, ids in by_rank.items()}
        targets, warnings = rank_targets(counts, share, unit_minimum)
        selected: list[int] = []
        kept = 0
        for rank in RANKS:
            ids = sorted(by_rank[rank])
            keep = [c for c in ids if c in kept_ids]
            fresh = [c for c in ids if c not in kept_ids]
            need = max(0, min(targets[rank] - len(keep), len(fresh)))
            rng = random.Random(f"{seed}:sample:{unit_id}:{rank}")
            selected.extend(keep)
            selected.extend(rng.sample(fresh, need))
            kept += len(keep)
            if len(keep) > targets[rank]:
                warnings.append(
                    f"已有 {len(keep)} 名{RANK_NAMES.get(rank, rank)}干部是考生，多于抽样所需的 {targets[rank]} 名："
                    "全部保留"
                )
        samples[unit_id] = UnitSample(
            unit_id=unit_id,
            large=large_units[unit_id],
            minimum=unit_minimum,
            roster=counts,
            targets=targets,
            selected=tuple(sorted(selected)),
            kept=kept,
            warnings=tuple(warnings),
        )
    return samples
