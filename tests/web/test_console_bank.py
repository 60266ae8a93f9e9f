"""The organiser's bank console in headless Chromium: import with the error table, then a good import and search."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from tests.web.conftest import DEMO_PASSWORD_FOR_TESTS, assert_controls_labelled, login, screenshot

pytestmark = pytest.mark.browser

HEADER = "题型,类别,单位代码,题干,选项A,选项B,选项C,选项D,答案,难度,知识点,解析,依据\n"
GOOD_ROWS = [
    "单选,theory,,党的二十大报告提出的中心任务是全面建成社会主义现代化强国（浏览器导入），以下哪项表述正确？,"
    "以中国式现代化全面推进中华民族伟大复兴,以经济建设为中心,全面深化改革,全面依法治国,A,2,中心任务,见二十大报告,",
    "判断,law,,行政机关实施行政处罚必须有法定依据（浏览器导入）。,,,,,对,1,行政处罚,见行政处罚法,《行政处罚法》第四条",
]
BAD_ROW = "单选,theory,,答案不在选项中的题目（浏览器导入）,甲,乙,,,E,3,,,"


def _upload(page: Any, tmp_path: Any, name: str, rows: list[str]) -> None:
    path = tmp_path / name
    path.write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8-sig")
    page.locator("#import-file").set_input_files(str(path))
    page.get_by_role("button", name="导入", exact=True).click()


def test_an_organiser_imports_a_bank_with_a_bad_row_and_sees_the_error(
    new_page: Any, admin_api: httpx2.Client, tmp_path: Any
) -> None:
    page = new_page()
    login(page, "editor", DEMO_PASSWORD_FOR_TESTS, staff=True)
    page.goto("/console/bank")
    page.get_by_role("heading", name="批量导入").wait_for()

    _upload(page, tmp_path, "bad.csv", [*GOOD_ROWS, BAD_ROW])
    errors = page.locator("[data-testid=import-errors] tbody tr")
    errors.first.wait_for()
    assert errors.count() >= 1
    first = errors.first.inner_text()
    assert "4" in first.split()[0]  # the bad row is the file's 4th line (header = row 1)
    page.get_by_text("文件未导入").wait_for()
    screenshot(page, "console-bank-import-errors")
    page.locator("#f-q").fill("浏览器导入")
    page.get_by_role("button", name="检索").click()
    page.wait_for_timeout(300)
    assert page.locator("[data-testid=questions] tbody tr", has_text="浏览器导入").count() == 0

    _upload(page, tmp_path, "good.csv", GOOD_ROWS)
    page.locator("[data-testid=import-ok]").filter(has_text="新增 2 题").wait_for()
    page.get_by_role("button", name="检索").click()
    page.locator("[data-testid=questions] tbody tr", has_text="浏览器导入").nth(1).wait_for()

    # edit one: a new version shows in the history
    row = page.locator("[data-testid=questions] tbody tr", has_text="行政处罚")
    edit_button = row.get_by_role("button", name="编辑")
    edit_button.first.click()
    page.locator("#e-note").fill("补充依据")
    page.locator("#e-basis").fill("《中华人民共和国行政处罚法》第四条")
    page.get_by_role("button", name="保存", exact=True).click()
    page.locator("#toast", has_text="已保存").wait_for()
    edit_button.first.click()
    page.get_by_role("cell", name="补充依据").wait_for()
    assert_controls_labelled(page)
    screenshot(page, "console-bank", full_page=True)
    assert page.js_errors == [] or all("422" in e or "400" in e for e in page.js_errors), page.js_errors
