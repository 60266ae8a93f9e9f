"""A sweep of the pages as each role: only what the role may do is offered, and no message is in English."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.web.conftest import DEMO_PASSWORD_FOR_TESTS, login

pytestmark = pytest.mark.browser
# Words of four letters or more, outside the identifiers a page may show (ticket numbers, codes, file types).
ENGLISH = re.compile(r"(?<![\w.@/-])[A-Za-z]{4,}(?![\w.@/-])")
ALLOWED = {"Excel", "Word", "Moodle", "GIFT", "Aiken", "json", "JSON", "xlsx", "HTML", "supervisor", "organiser",
           "proctor", "editor", "admin", "webadmin", "PIN"}  # fmt: skip


def _english_words(page: Any) -> list[str]:
    page.wait_for_load_state("networkidle")
    text = page.locator("body").inner_text()
    return sorted({w for w in ENGLISH.findall(text) if w not in ALLOWED and not w.startswith("unitadmin")})


def _nav(page: Any) -> list[str]:
    return page.get_by_role("navigation", name="主导航").get_by_role("link").all_inner_texts()


def test_each_role_is_offered_only_what_it_may_do_in_chinese(new_page: Any) -> None:
    editor = new_page()
    login(editor, "editor", DEMO_PASSWORD_FOR_TESTS, staff=True)
    nav = _nav(editor)
    assert "题库" in nav and not {"考试", "监考登记", "统计分析", "单位与名册", "用户与角色"} & set(nav), nav
    editor.goto("/console/bank")
    editor.locator("#import-category").wait_for()
    categories = editor.locator("#import-category option").all_inner_texts()
    assert "部门政策业务" not in categories and "应知应会基本理论" in categories
    assert editor.locator("#import-unit").is_hidden()  # no unit picker for a bank editor
    for path in ("/console/exams", "/console/exams/1", "/console/exams/1/monitor"):
        reply = editor.goto(path)
        assert reply is not None and reply.status == 403, path
    assert _english_words(editor) == []

    unit_admin = new_page()
    login(unit_admin, "unitadmin-gat", DEMO_PASSWORD_FOR_TESTS, staff=True)
    unit_admin.goto("/console/exams/new")
    unit_admin.locator("#w-mode").wait_for()
    assert unit_admin.locator("#w-mode option").all_inner_texts() == ["练习"]  # no 督导考试
    unit_admin.locator("#w-name").fill("公安厅第四季度练习")
    unit_admin.locator("#w-bp option").first.wait_for(state="attached")
    unit_admin.get_by_role("button", name="下一步").first.click()
    units = unit_admin.locator("label.option")
    units.first.wait_for()
    assert units.all_inner_texts() == ["省公安厅（大单位）"]
    unit_admin.goto("/console/bank")
    unit_admin.locator("#import-category").wait_for()
    assert unit_admin.locator("#import-category option").all_inner_texts() == ["（按文件）", "部门政策业务"]
    assert unit_admin.locator("#import-unit option").all_inner_texts()[1:] == ["省公安厅"]
    assert _english_words(unit_admin) == []

    for username in ("organiser", "supervisor", "proctor"):
        page = new_page()
        login(page, username, DEMO_PASSWORD_FOR_TESTS, staff=True)
        for href in (
            page.get_by_role("navigation", name="主导航")
            .get_by_role("link")
            .evaluate_all("links => links.map(a => a.getAttribute('href'))")
        ):
            page.goto(href)
            assert _english_words(page) == [], (username, href)
        assert page.js_errors == [], (username, page.failed_responses)


def test_tickets_print_with_time_venue_and_seat(new_page: Any, admin_api: Any) -> None:
    from tests.web.conftest import screenshot
    from tests.web.seed import seed_exam

    seeded = seed_exam(admin_api, mode="formal", cadre_index=12)
    page = new_page()
    login(page, "organiser", DEMO_PASSWORD_FOR_TESTS, staff=True)
    page.goto(f"/console/exams/{seeded.exam_id}/tickets")
    ticket = page.locator(".ticket", has_text=seeded.ticket_no)
    ticket.wait_for()
    assert "答题 30 分钟" in ticket.locator("[data-testid=ticket-time]").inner_text()
    page.locator("#p-venue").fill("省委党校第一教室")
    page.locator("#p-first").fill("7")
    page.get_by_role("button", name="按准考证顺序编排座位").click()
    page.get_by_text("已为 1 张准考证编排考场和座位。").wait_for()
    assert ticket.locator("[data-testid=ticket-venue]").inner_text() == "省委党校第一教室"
    assert ticket.locator("[data-testid=ticket-seat]").inner_text() == "7"
    page.reload()
    ticket.locator("[data-testid=ticket-seat]").filter(has_text="7").wait_for()  # stored, not only shown
    page.emulate_media(media="print")
    assert page.locator("[data-testid=arrange]").is_hidden()
    screenshot(page, "console-tickets-print", full_page=True)
    assert page.js_errors == []
