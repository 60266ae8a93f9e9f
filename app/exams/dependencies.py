"""Exam lookups that validate against the database and the caller's rights."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from app.accounts.dependencies import CurrentPrincipal
from app.core.deps import SessionDep
from app.exams import service
from app.exams.models import Exam


async def valid_exam(exam_id: int, _principal: CurrentPrincipal, session: SessionDep) -> Exam:
    """The exam, once the caller is authenticated (so anonymous callers cannot probe which ids exist)."""
    return await service.get_exam(session, exam_id)


ValidExam = Annotated[Exam, Depends(valid_exam)]


async def viewable_exam(exam: ValidExam, principal: CurrentPrincipal, session: SessionDep) -> Exam:
    """The exam, if the caller may see it (404 otherwise, so exam ids are not probed)."""
    await service.ensure_can_view(session, principal, exam)
    return exam


async def managed_exam(exam: ValidExam, principal: CurrentPrincipal) -> Exam:
    """The exam, if the caller organises it."""
    service.ensure_can_manage(principal, exam)
    return exam


ViewableExam = Annotated[Exam, Depends(viewable_exam)]
ManagedExam = Annotated[Exam, Depends(managed_exam)]
