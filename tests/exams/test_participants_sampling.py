"""Stratified sampling by rank (pure): ratios, minimums, small rosters, kept participants, reproducibility."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from app.exams.admission.sampling import rank_targets, round_half_up, sample_participants


def roster_of(unit_id: int, ting: int, chu: int, ke: int, start: int = 1) -> list[tuple[int, int, str]]:
    ranks = ["ting"] * ting + ["chu"] * chu + ["ke"] * ke
    return [(start + i, unit_id, rank) for i, rank in enumerate(ranks)]


def test_round_half_up() -> None:
    assert round_half_up(Fraction(5, 2)) == 3
    assert round_half_up(Fraction(3, 2)) == 2
    assert round_half_up(Fraction(24, 10)) == 2
    assert round_half_up(Fraction(0)) == 0


def test_ratio_alone_when_it_reaches_the_minimum() -> None:
    targets, warnings = rank_targets({"ting": 10, "chu": 150, "ke": 240}, Fraction("0.2"), 30)
    assert targets == {"ting": 2, "chu": 30, "ke": 48}
    assert warnings == []


def test_topped_up_to_the_minimum_in_proportion() -> None:
    # 0.1 × (5, 45, 100) → 1 (0.5 rounds up), 5 (4.5 rounds up), 10 = 16 < 30: spread 30 as 5:45:100.
    targets, warnings = rank_targets({"ting": 5, "chu": 45, "ke": 100}, Fraction("0.1"), 30)
    assert targets == {"ting": 1, "chu": 9, "ke": 20}
    assert sum(targets.values()) == 30
    assert warnings == []


def test_top_up_never_goes_below_the_ratio_share() -> None:
    # 30 × 3/33 = 2.7 would give ting 3, but 30 × 30/33 = 27.3: ke 27; ratio 0.5 gives ting 2 (1.5 up).
    targets, _ = rank_targets({"ting": 3, "chu": 0, "ke": 30}, Fraction("0.5"), 40)
    assert targets["ting"] >= 2 and targets["ke"] >= 15
    assert sum(targets.values()) == 33  # the minimum 40 is more than the roster: everyone


def test_small_roster_takes_everyone_and_says_so() -> None:
    targets, warnings = rank_targets({"ting": 1, "chu": 8, "ke": 11}, Fraction("0.1"), 30)
    assert targets == {"ting": 1, "chu": 8, "ke": 11}
    assert len(warnings) == 1 and "20" in warnings[0] and "30" in warnings[0]


def test_large_units_use_the_large_minimum() -> None:
    roster = roster_of(1, 5, 95, 200) + roster_of(2, 5, 95, 200, start=1000)
    samples = sample_participants(
        roster, large_units={1: False, 2: True}, ratio=0.05, minimum=30, large_minimum=50, seed=3
    )
    assert len(samples[1].selected) == 30
    assert samples[1].targets == {"ting": 1, "chu": 9, "ke": 20}
    assert len(samples[2].selected) == 50
    assert samples[2].targets == {"ting": 1, "chu": 16, "ke": 33}
    assert samples[1].minimum == 30 and samples[2].minimum == 50


def test_sample_is_reproducible_and_seed_dependent() -> None:
    roster = roster_of(1, 4, 60, 140) + roster_of(2, 2, 30, 40, start=500)
    units = {1: False, 2: False}
    first = sample_participants(roster, large_units=units, ratio=0.15, minimum=30, large_minimum=50, seed=11)
    again = sample_participants(
        list(reversed(roster)), large_units=units, ratio=0.15, minimum=30, large_minimum=50, seed=11
    )
    other = sample_participants(roster, large_units=units, ratio=0.15, minimum=30, large_minimum=50, seed=12)
    assert first == again
    assert first[1].selected != other[1].selected
    # Each unit draws from its own stream: another unit's roster does not change this unit's sample.
    alone = sample_participants(
        roster_of(1, 4, 60, 140), large_units={1: False}, ratio=0.15, minimum=30, large_minimum=50, seed=11
    )
    assert alone[1].selected == first[1].selected


def test_already_participating_cadres_are_kept_and_counted() -> None:
    roster = roster_of(1, 2, 40, 60)
    first = sample_participants(roster, large_units={1: False}, ratio=0.2, minimum=10, large_minimum=50, seed=1)
    kept = set(first[1].selected[:5])
    second = sample_participants(
        roster, large_units={1: False}, ratio=0.2, minimum=10, large_minimum=50, seed=99, already=kept
    )
    assert kept <= set(second[1].selected)
    assert len(second[1].selected) == len(first[1].selected)
    assert second[1].kept == 5


def test_only_the_roster_given_is_sampled_by_rank() -> None:
    roster = roster_of(1, 3, 30, 70)
    by_id = {c: rank for c, _, rank in roster}
    sample = sample_participants(roster, large_units={1: False}, ratio=0.2, minimum=30, large_minimum=50, seed=5)[1]
    counts = {rank: sum(1 for c in sample.selected if by_id[c] == rank) for rank in ("ting", "chu", "ke")}
    assert counts == sample.targets
    assert counts == {"ting": 1, "chu": 6, "ke": 14} or sum(counts.values()) == 30
    assert sum(counts.values()) == 30


@settings(max_examples=300, deadline=None)
@given(
    counts=st.fixed_dictionaries({"ting": st.integers(0, 30), "chu": st.integers(0, 200), "ke": st.integers(0, 400)}),
    ratio=st.fractions(min_value=Fraction(1, 100), max_value=1),
    minimum=st.integers(0, 80),
)
def test_targets_respect_ratio_minimum_and_roster(counts: dict[str, int], ratio: Fraction, minimum: int) -> None:
    targets, warnings = rank_targets(counts, ratio, minimum)
    total = sum(counts.values())
    base = {r: min(n, round_half_up(ratio * n)) for r, n in counts.items()}
    for rank, n in counts.items():
        assert base[rank] <= targets[rank] <= n
    if total < minimum:
        assert targets == counts and warnings
    else:
        assert sum(targets.values()) == max(minimum, sum(base.values()))
        assert not warnings
