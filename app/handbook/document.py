"""The handbook as a Word document (python-docx), built off the event loop."""

from __future__ import annotations

import io
from functools import partial

import anyio.to_thread
from docx import Document
from docx.oxml.ns import qn
from docx.shared import Pt

from app.handbook.schemas import HandbookRead, UnitCoverage

_NUMERALS = "一二三四五六七八九十"


def chinese_number(n: int) -> str:
    """1 → 一, 12 → 十二, 40 → 四十 (section headings up to 99; beyond that, digits)."""
    if n < 1 or n > 99:
        return str(n)
    tens, ones = divmod(n, 10)
    head = "" if tens == 0 else ("十" if tens == 1 else _NUMERALS[tens - 1] + "十")
    return head + ("" if ones == 0 else _NUMERALS[ones - 1])


def _use_chinese_font(document: object, name: str = "宋体") -> None:
    style = document.styles["Normal"]  # type: ignore[attr-defined]
    style.font.name = name
    style.font.size = Pt(12)
    style.element.rPr.rFonts.set(qn("w:eastAsia"), name)


def _build(handbook: HandbookRead, coverage: UnitCoverage | None) -> bytes:
    document = Document()
    _use_chinese_font(document)
    document.add_heading(f"{handbook.unit_name}岗位履职手册", level=0)
    document.add_paragraph("一张清单、一本手册、一个题库：本手册各章节对应本单位岗位职责清单，并由题库中的题目覆盖。")
    for number, section in enumerate(handbook.sections, start=1):
        document.add_heading(f"{chinese_number(number)}、{section.title}", level=1)
        for paragraph in section.body.splitlines():
            if paragraph.strip():
                document.add_paragraph(paragraph.strip())
        if section.legal_basis:
            basis = document.add_paragraph()
            basis.add_run("法律依据：").bold = True
            basis.add_run(section.legal_basis)
        if section.duty_points:
            duties = document.add_paragraph()
            duties.add_run("对应职责：").bold = True
            duties.add_run("；".join(section.duty_points))
        if coverage is not None:
            questions = next((s.questions for s in coverage.sections_coverage if s.section_id == section.id), 0)
            covered = document.add_paragraph()
            covered.add_run("题库覆盖：").bold = True
            covered.add_run(f"{questions} 道题" if questions else "尚无题目")
    if coverage is not None and coverage.gap_notes:
        document.add_heading("附：清单、手册、题库对照中的缺口", level=1)
        for note in coverage.gap_notes:
            document.add_paragraph(note, style="List Bullet")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


async def handbook_docx(handbook: HandbookRead, coverage: UnitCoverage | None) -> bytes:
    """The handbook as .docx: its sections with legal basis, duty items and question coverage, then the gaps."""
    return await anyio.to_thread.run_sync(partial(_build, handbook, coverage))
