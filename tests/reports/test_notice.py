"""The notice text: the seed round's paragraphs come out as section 二 of the notice prints them."""

from __future__ import annotations

import httpx2
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Role
from tests.factories import headers_for
from tests.reports.factories_reports import Seat, make_exam, make_paper, make_units, seat_examinees
from tests.reports.test_seed_round import build_seed_round

SEED_SENTENCES = (
    "从总体情况看，首轮共考试581人(厅级17人、处级266人、科级298人)，占18家单位机关干部总人数的17.6%。",
    "考试成绩整体分布比较集中，平均成绩为87.4分，90分及以上超过总人数一半，"
    "及格率、优秀率(90分及以上)、满分率分别为98.1%、53.5%和14.6%。",
    "从单位情况看，考试成绩排在前三位的是龙江银行(平均99.4分、优秀率100%)、省食药监局(平均98.6分、优秀率100%)、"
    "省国土厅(平均96.9分、优秀率90.0%)，排在后三位的是省法院(平均73.9分、优秀率6.0%)、省安监局(平均81.3分、优秀率26.7%)、"
    "省农信社(平均82.1分、优秀率30.0%)。",
    "部分单位干部成绩比较突出，如龙江银行、省食药监局、省国土厅、省环保厅等4家单位，成绩满分人数均超10人；",
    "有的单位的个别干部成绩相对靠后，如省法院、省农信社、省安监局、省司法厅、省交通厅、省人社厅、省商务厅等7家单位"
    "均有干部考试成绩不及格。",
    "可以看出，各单位平均成绩最高相差25.5分，单位之间抓学习培训的力度和成效差别比较明显。",
    "从职级情况看，厅级、处级、科级干部考试平均成绩分别为91.2分、87.8分、86.8分，优秀率趋势相同，"
    "但处级干部的及格率略低于科级干部。",
    "但也有一些单位(省工商局、省煤管局、省法院)干部存在交头接耳、旁窥偷看、试图抄袭等不良现象。",
    "省交通厅1名干部因病缺考",
)
SEED_PARAGRAPHS = (
    SEED_SENTENCES[0] + SEED_SENTENCES[1],
    SEED_SENTENCES[2] + SEED_SENTENCES[3] + SEED_SENTENCES[4] + SEED_SENTENCES[5],
    SEED_SENTENCES[6],
    "从考风考纪看，多数单位和干部能够严于律己、自觉守纪。" + SEED_SENTENCES[7],
    "从缺考情况看，" + SEED_SENTENCES[8] + "。",
)


async def test_seed_round_notice_in_markdown_and_html(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    exam_id, _ids = await build_seed_round(session)
    headers = await headers_for(session, Role.supervisor)
    url = f"/api/exams/{exam_id}/report/notice"
    markdown = await client.get(url, params={"format": "markdown", "round_label": "首轮"}, headers=headers)
    assert markdown.status_code == 200, markdown.text
    assert markdown.headers["content-type"].startswith("text/markdown")
    text = markdown.text
    for sentence in SEED_SENTENCES:
        assert sentence in text, sentence
    for heading in ("## 一、总体情况", "## 二、单位情况", "## 三、职级情况", "## 四、考风考纪", "## 五、缺考情况"):
        assert heading in text
    assert text.startswith("# 关于首批深化作风整顿优化营商环境专项督导考试情况的通报\n")
    # The whole text, paragraph for paragraph: the seed round is the notice as printed.
    paragraphs = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert paragraphs == list(SEED_PARAGRAPHS)

    html = await client.get(url, params={"format": "html", "round_label": "首轮"}, headers=headers)
    assert html.status_code == 200
    assert html.headers["content-type"].startswith("text/html")
    assert "<!doctype html>" in html.text and "window.print()" in html.text
    for sentence in SEED_SENTENCES:
        assert sentence in html.text, sentence


async def test_notice_escapes_html_and_handles_a_clean_exam(client: httpx2.AsyncClient, session: AsyncSession) -> None:
    unit_a, unit_b = await make_units(session, ['<script>alert("x")</script>局', "省某厅"], [100, 100])
    exam = await make_exam(session, [unit_a, unit_b], name="<i>练兵</i>")
    for unit, scores in ((unit_a, [100, 95]), (unit_b, [70, 80])):
        paper = await make_paper(session, exam, unit)
        await seat_examinees(session, exam, paper, [Seat("ke", s) for s in scores])
    headers = await headers_for(session, Role.organiser)
    html = (await client.get(f"/api/exams/{exam.id}/report/notice?format=html", headers=headers)).text
    assert "<script>" not in html and "<i>练兵</i>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;局" in html
    markdown = (await client.get(f"/api/exams/{exam.id}/report/notice", headers=headers)).text
    assert "本轮共考试4人(均为科级干部)，占2家单位机关干部总人数的2.0%。" in markdown
    assert "各单位均无干部考试成绩不及格" in markdown
    assert "未发现违纪现象" in markdown
    assert "排在第一位的是&lt;" not in markdown  # Markdown is not escaped; HTML is
    assert "排在最后一位的是省某厅(平均75.0分、优秀率0.0%)" in markdown
    assert "两家单位平均成绩相差22.5分，单位之间" in markdown
    assert "排在前一位" not in markdown and "排在后一位" not in markdown
    assert "缺考" not in markdown


async def test_notice_opens_with_the_paper_when_all_papers_share_a_shape(
    client: httpx2.AsyncClient, session: AsyncSession
) -> None:
    from tests.reports.test_items_fairness import build_item_exam

    built = await build_item_exam(session)
    headers = await headers_for(session, Role.supervisor)
    markdown = (await client.get(f"/api/exams/{built['exam'].id}/report/notice", headers=headers)).text
    assert "## 一、试卷情况\n\n考试试卷共5道题、11分，限时30分钟，题型为单选、多选和判断。" in markdown
    report = (await client.get(f"/api/exams/{built['exam'].id}/report", headers=headers)).json()
    assert report["paper"] == {
        "questions": 5,
        "total_points": 11.0,
        "time_limit_minutes": 30,
        "types": ["single", "multiple", "judge"],
    }
    assert report["mode"] == "formal"


async def test_notice_as_a_document_signed_by_the_exam_settings(
    client: httpx2.AsyncClient, session: AsyncSession
) -> None:
    import io

    from docx import Document

    exam_id, _ids = await build_seed_round(session)
    organiser = await headers_for(session, Role.organiser)
    signature = {"notice_office": " 省作风办 ", "notice_date": "2018-10-11"}
    patched = await client.patch(f"/api/exams/{exam_id}", json=signature, headers=organiser)
    assert patched.status_code == 200, patched.text
    assert (patched.json()["notice_office"], patched.json()["notice_date"]) == ("省作风办", "2018-10-11")
    bad = await client.patch(f"/api/exams/{exam_id}", json={"notice_date": "2018-13-40"}, headers=organiser)
    assert bad.status_code == 422 and "notice_date" in bad.text

    headers = await headers_for(session, Role.supervisor)
    url = f"/api/exams/{exam_id}/report/notice"
    reply = await client.get(url, params={"format": "docx", "round_label": "首轮"}, headers=headers)
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("application/vnd.openxmlformats-officedocument.wordprocessingml")
    assert "attachment" in reply.headers["content-disposition"]
    document = Document(io.BytesIO(reply.content))
    assert round(document.sections[0].page_width.cm, 1) == 21.0  # A4
    paragraphs = [p for p in document.paragraphs if p.text]
    texts = [p.text for p in paragraphs]
    assert texts[0] == "关于首批深化作风整顿优化营商环境专项督导考试情况的通报"
    assert texts[1:-2:2] == ["一、总体情况", "二、单位情况", "三、职级情况", "四、考风考纪", "五、缺考情况"]
    assert tuple(texts[2:-2:2]) == SEED_PARAGRAPHS
    assert texts[-2:] == ["省作风办", "2018年10月11日"]
    assert paragraphs[0].alignment == 1 and paragraphs[-1].alignment == 2  # centred title, signature on the right
    # East Asian text carries its own font name (the Latin one does not apply to Chinese characters).
    assert (
        paragraphs[2]
        .runs[0]
        ._element.rPr.rFonts.get("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}eastAsia")
        == "仿宋_GB2312"
    )

    page = await client.get(url, params={"format": "html", "round_label": "首轮"}, headers=headers)
    assert '<p class="signature">省作风办</p>' in page.text and "2018年10月11日" in page.text
    assert "<h2>一、总体情况</h2>" in page.text and "@page" in page.text
    markdown = (await client.get(url, params={"round_label": "首轮"}, headers=headers)).text
    assert markdown.rstrip().endswith("省作风办\n2018年10月11日")
