"""The first round of the seed notice (../shared/seeds/002_…, section 二), rebuilt as data.

The notice prints only aggregates, so the per-person scores are constructed: each unit is specified by
its size, its score total (= published average × size, within the rounding), and how many examinees scored
full marks, 90 or more, and below 60; ``unit_scores`` turns that into a concrete list of scores that a
45-question paper (20 single × 2, 10 multiple × 3, 15 judge × 2) can produce — every integer 0–100 except 1
and 99. Which examinee holds which rank is fixed by a rank string per unit (T 厅级, C 处级, K 科级, aligned
with the unit's scores sorted best first), found once by a seeded search so the rank figures also match.

What the notice fixes and this data reproduces: 581 sat (17/266/298), 17.6% of 3301 cadres, average 87.4,
pass 98.1% (570), excellence 53.5% (311), full 14.6% (85); ranks 91.2/87.8/86.8 with excellence falling from
厅 to 科 and 处级's pass rate slightly below 科级's; top three 龙江银行 99.4/100%, 省食药监局 98.6/100%, 省国土厅
96.9/90.0%; bottom three 省法院 73.9/6.0%, 省安监局 81.3/26.7%, 省农信社 82.1/30.0%; exactly four units with
more than ten full scores; exactly the seven named units with a failing cadre; gap 25.5; 省交通厅 one
absence 因病; incidents at 省工商局, 省煤管局 and 省法院. Everything else (other units' averages, headcounts,
rank mix per unit) is invented but plausible: every unit ≥ 30 sampled, 省公安厅 and 省法院 ≥ 50.
"""

from __future__ import annotations

from dataclasses import dataclass

UNREACHABLE_SCORES = frozenset({1, 99})
RANK_LETTERS = {"T": "ting", "C": "chu", "K": "ke"}


@dataclass(frozen=True)
class UnitSpec:
    name: str
    sat: int
    total: int
    full: int
    excellent: int
    failing: int
    headcount: int
    ranks: str  # one letter per examinee, aligned with the scores sorted best first


UNITS = (
    UnitSpec("龙江银行", 30, 2982, 21, 30, 0, 170, "CCKCTCKCCCKKCCCKKKKCKKCKKKKKKC"),
    UnitSpec("省食药监局", 30, 2958, 14, 30, 0, 170, "CKKTCCCCCCKCCCKKKKKCKCKKKKKCKK"),
    UnitSpec("省国土厅", 30, 2907, 12, 27, 0, 170, "KCCCCCKCCKKCKKCCTKKKKKCKKKKCKC"),
    UnitSpec("省环保厅", 30, 2790, 11, 20, 0, 170, "CCTKCCKCKCKKKKKKKKKKCKCCCCCCKK"),
    UnitSpec("省发改委", 30, 2730, 8, 22, 0, 170, "CTCKCCCKKCCKKCCCKKKKCCKCKKKKKK"),
    UnitSpec("省检察院", 30, 2700, 5, 20, 0, 170, "CCCTKKCKKCKCCCKKCCKKKKKCKCCKCK"),
    UnitSpec("省住建厅", 30, 2670, 3, 18, 0, 170, "CCTKKCKCCKCCKKKKKKCCCKKCKCKCCK"),
    UnitSpec("省公安厅", 52, 4558, 4, 28, 0, 300, "CKCCKKCCCCKCKKCCCKKCCKCKKCKKCKKKKTKCKKCKCKCKKCCKKCCK"),
    UnitSpec("省工商局", 30, 2610, 2, 16, 0, 170, "CCKKKKCCCKKKKKCCTCCKCKKCKKCKCC"),
    UnitSpec("省商务厅", 30, 2595, 2, 14, 1, 170, "CCKCKCKCCKCKKCKTKKKCKCKCKCCKKC"),
    UnitSpec("省人社厅", 30, 2580, 1, 14, 1, 170, "CKCKCKKKCKCCCKKKTCCCKCCKKKKCKC"),
    UnitSpec("省煤管局", 30, 2565, 0, 14, 0, 170, "KCTKCCKCCCCKCKCKCKKCKCKKKCKCKK"),
    UnitSpec("省旅游委", 30, 2553, 1, 13, 0, 170, "CKKCCKKKTCCCKCCCKCKKKCCCCKKKKK"),
    UnitSpec("省交通厅", 29, 2465, 0, 13, 1, 170, "CCKCKKKKCCKCCCCKKKKKKKKCKCCCC"),
    UnitSpec("省司法厅", 30, 2520, 0, 12, 1, 170, "KCKKCKCKKKCCKCKTKCCCKCKCKKCKCC"),
    UnitSpec("省农信社", 30, 2463, 1, 9, 2, 171, "CKTCCKKCCCKCKCCKCKKCCKCKKKKCKK"),
    UnitSpec("省安监局", 30, 2439, 0, 8, 1, 170, "KCCKCKKCCCTKCCKKCCKKKCCKCKKCKK"),
    UnitSpec("省法院", 50, 3695, 0, 3, 4, 280, "TKCCKKCKCKCCCKKKKKKCKCCCKKCKCCKKKCKKCKKCCKCCCKKCCK"),
)

ABSENCES = (("省交通厅", "因病"),)
INCIDENTS = (("省工商局", "whispering"), ("省煤管局", "peeking"), ("省法院", "copying"), ("省法院", "whispering"))


def unit_scores(spec: UnitSpec) -> list[int]:
    """Scores best first: full marks, excellent ones in 90–98, failing ones in 40–59, the rest in 60–89,
    levelled so that they add up to ``spec.total``."""
    middle = spec.sat - spec.excellent - spec.failing
    groups = [
        (spec.full, 100, (100, 100)),
        (spec.excellent - spec.full, 94, (90, 98)),
        (spec.failing, 55, (40, 59)),
    ]
    fixed = sum(count * start for count, start, _ in groups)
    start_middle = min(89, max(60, (spec.total - fixed) // middle)) if middle else 0
    groups.append((middle, start_middle, (60, 89)))
    scores: list[int] = []
    bounds: list[tuple[int, int]] = []
    for count, start, limits in groups:
        scores += [start] * count
        bounds += [limits] * count
    missing = spec.total - sum(scores)
    step = 0
    while missing:
        index = len(scores) - 1 - step % len(scores)  # walk from the weakest examinee upwards, round robin
        delta = 1 if missing > 0 else -1
        low, high = bounds[index]
        candidate = scores[index] + delta
        if low <= candidate <= high and candidate not in UNREACHABLE_SCORES:
            scores[index] = candidate
            missing -= delta
        step += 1
        if step > 100 * len(scores) * 100:
            raise ValueError(f"{spec.name}: no scores fit the specification")
    return sorted(scores, reverse=True)


def unit_examinees(spec: UnitSpec) -> list[tuple[str, int]]:
    """(rank, score) of every examinee of the unit who sat."""
    scores = unit_scores(spec)
    assert len(spec.ranks) == len(scores), spec.name
    return [(RANK_LETTERS[letter], score) for letter, score in zip(spec.ranks, scores, strict=True)]


def reachable(score: int) -> bool:
    """Whether 2 × (single + judge right) + 3 × (multiple right) can make ``score`` on the 45-question paper."""
    return any(
        (score - 3 * multiple) % 2 == 0 and 0 <= (score - 3 * multiple) // 2 <= 35
        for multiple in range(11)
        if score - 3 * multiple >= 0
    )
