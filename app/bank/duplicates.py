"""Exact and near-duplicate questions in an import, within the file and against the bank.

Pure and CPU-bound: call ``find_duplicates`` in a worker thread. Questions are compared only inside one
pool — the same type, category and unit — because that is what a paper draws from.

* exact: the same folded stem (NFKC, lower case, no punctuation or spacing) and the same option texts
  in any order. A generic stem such as “下列说法错误的是” with other options is a different question.
* near: rapidfuzz ``ratio`` of the folded stems is at least ``NEAR_SCORE``.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz, process

from app.bank.normalise import fold_stem

NEAR_SCORE = 90
# Queries per cdist call: bounds the score matrix (BLOCK × pool size bytes) and keeps length bands narrow.
BLOCK = 512

Pool = tuple[str, str, int | None]


@dataclass(frozen=True, slots=True)
class StemEntry:
    """One question to compare; ``ref`` is its file row, or its id when it is in the bank."""

    ref: int
    pool: Pool
    identity: str
    folded: str


@dataclass(frozen=True, slots=True)
class Match:
    row: int
    kind: str  # "exact" or "near"
    score: float
    similar_to_row: int | None = None
    question_id: int | None = None


def stem_entry(ref: int, pool: Pool, stem: str, option_texts: Iterable[str]) -> StemEntry:
    """The comparison keys of one question (pass no option texts for a judge question)."""
    folded = fold_stem(stem)
    options = sorted(fold_stem(text) for text in option_texts)
    return StemEntry(ref=ref, pool=pool, identity="\x1f".join([folded, *options]), folded=folded)


def find_duplicates(rows: Sequence[StemEntry], bank: Sequence[StemEntry]) -> list[Match]:
    """Each file row's exact and best near duplicate among earlier rows and among bank questions of its pool."""
    bank_by_pool: dict[Pool, list[StemEntry]] = defaultdict(list)
    for entry in bank:
        bank_by_pool[entry.pool].append(entry)
    matches: list[Match] = []
    for pool, pool_rows in _by_pool(rows).items():
        pool_bank = sorted(bank_by_pool.get(pool, []), key=lambda entry: entry.ref)
        matches += _exact_matches(pool_rows, pool_bank)
        matches += _near_matches(pool_rows, pool_bank)
    return sorted(matches, key=lambda m: (m.row, m.kind, m.similar_to_row or 0, m.question_id or 0))


def _by_pool(entries: Sequence[StemEntry]) -> dict[Pool, list[StemEntry]]:
    pools: dict[Pool, list[StemEntry]] = defaultdict(list)
    for entry in entries:
        pools[entry.pool].append(entry)
    return pools


def _exact_matches(rows: list[StemEntry], bank: list[StemEntry]) -> Iterator[Match]:
    bank_ids: dict[str, int] = {}
    for entry in bank:
        bank_ids.setdefault(entry.identity, entry.ref)
    first_rows: dict[str, int] = {}
    for entry in rows:
        if entry.identity in first_rows:
            yield Match(entry.ref, "exact", 100.0, similar_to_row=first_rows[entry.identity])
        else:
            first_rows[entry.identity] = entry.ref
        if entry.identity in bank_ids:
            yield Match(entry.ref, "exact", 100.0, question_id=bank_ids[entry.identity])


def _near_matches(rows: list[StemEntry], bank: list[StemEntry]) -> Iterator[Match]:
    targets = [*rows, *bank]
    best: dict[tuple[int, bool], Match] = {}
    for i, j, score in similar_pairs([e.folded for e in rows], [e.folded for e in targets]):
        row, target = rows[i], targets[j]
        in_file = j < len(rows)
        # A pair inside the file is reported once, on its later row; exact pairs are reported as exact.
        if (in_file and j >= i) or row.identity == target.identity:
            continue
        match = Match(
            row.ref,
            "near",
            score,
            similar_to_row=target.ref if in_file else None,
            question_id=None if in_file else target.ref,
        )
        key = (row.ref, in_file)
        if key not in best or score > best[key].score:
            best[key] = match
    yield from best.values()


def similar_pairs(queries: Sequence[str], choices: Sequence[str]) -> Iterator[tuple[int, int, float]]:
    """``(query index, choice index, score)`` for every pair whose ratio is at least ``NEAR_SCORE``.

    Chinese text is slow for rapidfuzz (characters beyond Latin-1 go through a hash map), so both sides are
    first mapped onto a one-byte alphabet. That map may merge characters, which can only raise a score: it
    finds a superset of the candidates, and each candidate is then scored again on the real text.
    """
    alphabet = _one_byte_alphabet([*queries, *choices])
    small_queries = [text.translate(alphabet) for text in queries]
    small_choices = [text.translate(alphabet) for text in choices]
    choice_order = sorted((j for j, text in enumerate(choices) if text), key=lambda j: len(choices[j]))
    choice_lengths = [len(choices[j]) for j in choice_order]
    query_order = sorted((i for i, text in enumerate(queries) if text), key=lambda i: len(queries[i]))
    for first in range(0, len(query_order), BLOCK):
        block = query_order[first : first + BLOCK]
        shortest, longest = len(queries[block[0]]), len(queries[block[-1]])
        start = bisect_left(choice_lengths, _shortest_partner(shortest))
        stop = bisect_right(choice_lengths, _longest_partner(longest))
        band = choice_order[start:stop]
        if not band:
            continue
        scores = process.cdist(
            [small_queries[i] for i in block],
            [small_choices[j] for j in band],
            scorer=fuzz.ratio,
            score_cutoff=NEAR_SCORE,
            workers=1,  # one core: the other stays with the exam being taken on the same machine
            dtype=np.uint8,
        )
        for r, c in zip(*np.nonzero(scores), strict=True):
            i, j = block[r], band[c]
            score = fuzz.ratio(queries[i], choices[j], score_cutoff=NEAR_SCORE)
            if score:
                yield i, j, round(float(score), 1)


def _shortest_partner(length: int) -> int:
    # ratio = 200·LCS / (a + b) and LCS ≤ the shorter length, so ratio ≥ N needs shorter ≥ longer·N / (200 − N).
    return -(-length * NEAR_SCORE // (200 - NEAR_SCORE))


def _longest_partner(length: int) -> int:
    return length * (200 - NEAR_SCORE) // NEAR_SCORE


def _one_byte_alphabet(texts: Iterable[str]) -> dict[int, str]:
    # The most frequent characters get codes of their own, so merged characters are rare ones.
    counts = Counter("".join(texts))
    return {ord(char): chr(1 + rank % 255) for rank, (char, _) in enumerate(counts.most_common())}
