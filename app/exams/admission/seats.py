"""Where each examinee sits: the venue (考场) and seat (座位号) printed on his admission ticket.

Kept in a table of its own, keyed by the participant, so issuing and listing tickets stay as they are; the
ticket page reads the places beside the tickets and the organiser assigns them in one request.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import ForeignKey, String, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from app.accounts.dependencies import CurrentPrincipal
from app.core.audit import record_audit
from app.core.db import Base
from app.core.deps import ClockDep, SessionDep
from app.core.errors import UnprocessableError, field_error
from app.core.paging import EVERY_ROW, Page, Paged, PageQuery, row_page
from app.exams.admission import participants
from app.exams.dependencies import ManagedExam, ValidExam
from app.exams.models import Exam, Participant

router = APIRouter(tags=["participants"])

Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=128)]


class TicketPlace(Base):
    __tablename__ = "ticket_places"

    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"), primary_key=True)
    venue: Mapped[str | None] = mapped_column(String(128))
    seat: Mapped[str | None] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column()


class PlaceWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ticket_no: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    venue: Text | None = None
    seat: Annotated[str, StringConstraints(strip_whitespace=True, max_length=32)] | None = None


class PlaceRead(BaseModel):
    ticket_no: str
    venue: str | None
    seat: str | None


async def set_places(
    session: AsyncSession, *, exam: Exam, places: list[PlaceWrite], actor_id: int, now: datetime
) -> list[PlaceRead]:
    """Store venue and seat per ticket; a ticket not of this exam rejects the whole request."""
    wanted = [p.ticket_no for p in places]
    found = dict(
        (await session.execute(
            select(Participant.ticket_no, Participant.id)
            .where(Participant.exam_id == exam.id, Participant.ticket_no.in_(wanted))
        )).all()
    )  # fmt: skip
    unknown = [no for no in wanted if no not in found]
    if unknown:
        raise UnprocessableError(field_error("ticket_no", f"本场考试没有准考证：{'、'.join(unknown[:10])}"))
    if places:
        rows = [
            {"participant_id": found[p.ticket_no], "venue": p.venue or None, "seat": p.seat or None, "updated_at": now}
            for p in places
        ]
        dialect = sqlite if session.get_bind().dialect.name == "sqlite" else postgresql
        statement = dialect.insert(TicketPlace.__table__)
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=["participant_id"],
                set_={"venue": statement.excluded.venue, "seat": statement.excluded.seat,
                      "updated_at": statement.excluded.updated_at},
            ),
            rows,
        )  # fmt: skip
    await record_audit(session, actor_id=actor_id, action="exam.tickets.places", entity="exam", entity_id=exam.id,
                       detail={"tickets": len(places)}, at=now)  # fmt: skip
    places_stored, _ = await list_places(session, exam=exam)
    return places_stored


async def list_places(
    session: AsyncSession, *, exam: Exam, unit_id: int | None = None, page: Page = EVERY_ROW
) -> tuple[list[PlaceRead], int]:
    """A page of the exam's tickets (of one unit, if given) in ticket order with venue and seat (empty when
    not assigned), and how many tickets there are."""
    query = (
        select(Participant.ticket_no, TicketPlace.venue, TicketPlace.seat)
        .outerjoin(TicketPlace, TicketPlace.participant_id == Participant.id)
        .where(Participant.exam_id == exam.id)
        .order_by(Participant.ticket_no, Participant.id)
    )
    if unit_id is not None:
        query = query.where(Participant.unit_id == unit_id)
    rows, total = await row_page(session, query, page)
    return [PlaceRead(ticket_no=no, venue=venue, seat=seat) for no, venue, seat in rows], total


@router.get("/api/exams/{exam_id}/tickets/places", response_model=Paged[PlaceRead])
async def read_places(
    exam: ValidExam, principal: CurrentPrincipal, session: SessionDep, page: PageQuery, unit_id: int | None = None
) -> Paged[PlaceRead]:
    """Venue and seat per ticket in ticket order, for printing the tickets, a page at a time: `{items, total}`.
    Read by whoever reads the tickets (``participants.ticket_scope``): a unit admin his own unit's only."""
    scope = await participants.ticket_scope(session, principal, exam, unit_id)
    items, total = await list_places(session, exam=exam, unit_id=scope, page=page)
    return Paged[PlaceRead](items=items, total=total)


@router.put("/api/exams/{exam_id}/tickets/places", response_model=list[PlaceRead])
async def write_places(
    body: Annotated[list[PlaceWrite], Field(max_length=20_000)],
    exam: ManagedExam,
    principal: CurrentPrincipal,
    session: SessionDep,
    clock: ClockDep,
) -> list[PlaceRead]:
    """Assign venues and seats (the organiser); audited."""
    return await set_places(session, exam=exam, places=body, actor_id=principal.id, now=clock.now())
