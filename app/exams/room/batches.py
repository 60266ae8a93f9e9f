"""PostgreSQL batches of the exam room (``app.core.batches``): the rules of ``app.exams.room.rules``
rendered for many requests at once — first starts, the scoring reads of saves, saves and submits."""

from __future__ import annotations

from typing import Any

from app.core.batches import Batches, Pending
from app.exams.room import rules


class ScoringReads(Batches):
    """The scoring of saves that miss this process's copy (``room.Scorings``), read together."""

    statement = rules.ATTEMPT_SCORING_MANY
    inputs = rules.SCORING_INPUTS
    key_column = "attempt_id"


class SaveBatches(Batches):
    """Saves: each claim, then the answer rows of the saves whose claim held (``Pending.rows``, by the
    columns of ``rules.ANSWER_ROWS``)."""

    statement = rules.CLAIM_SAVE_MANY
    inputs = rules.SAVE_INPUTS
    key_column = "id"

    @classmethod
    def parameters(cls, batch: list[Pending]) -> dict[str, Any]:
        rows = [row for item in batch for row in item.rows]
        return super().parameters(batch) | rules.ANSWER_ROWS.arrays(rows)


class SubmitBatches(Batches):
    statement = rules.CLAIM_SUBMIT_MANY
    inputs = rules.SUBMIT_INPUTS
    key_column = "id"


class StartContextReads(Batches):
    """What the first starts of this process need to know (``rules.START_CONTEXT_OF``), read together."""

    statement = rules.START_CONTEXT_MANY
    inputs = rules.START_CONTEXT_INPUTS
    key_column = "digest"


class StartBatches(Batches):
    statement = rules.INSERT_ATTEMPT_MANY
    inputs = rules.ATTEMPT_INPUTS
    key_column = "participant_id"
