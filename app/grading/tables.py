"""The tables grading reads and writes, referenced by name: grading sits below the exams domain (which owns
the attempt models) and beside papers, so it may not import their models."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Float, Integer, String, column, table

from app.core.db import JSONType, UTCDateTime

attempts = table(
    "attempts",
    column("id", Integer),
    column("exam_id", Integer),
    column("paper_id", Integer),
    column("status", String),
    column("score", Float),
    column("graded_at", UTCDateTime()),
)

attempt_answers = table(
    "attempt_answers",
    column("attempt_id", Integer),
    column("position", Integer),
    column("keys", String),
    column("seq", BigInteger),
    column("saved_at", UTCDateTime()),
    column("points", Float),
    column("is_correct", Boolean),
)
# ``keys`` is also the name of a method of a column collection.
answer_keys_column = attempt_answers.c["keys"]

papers = table(
    "papers",
    column("id", Integer),
    column("exam_id", Integer),
    column("content", JSONType),
    column("answer_key", JSONType),
)

paper_slots = table(
    "paper_slots",
    column("paper_id", Integer),
    column("position", Integer),
    column("question_id", Integer),
    column("question_version_id", Integer),
    column("type", String),
    column("points", Float),
)

exams = table("exams", column("id", Integer), column("multiple_scoring", String))
