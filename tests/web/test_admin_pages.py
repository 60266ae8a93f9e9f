"""The administrator's pages in headless Chromium: users and roles, the audit log with filters and paging."""

from __future__ import annotations

import re
from typing import Any

import httpx2
import pytest

from tests.web.conftest import (
    ADMIN_PASSWORD,
    ADMIN_USERNAME,
    DEMO_PASSWORD_FOR_TESTS,
    assert_controls_labelled,
    login,
    screenshot,
)
from tests.web.seed import unique_tag

pytestmark = pytest.mark.browser
ENGLISH = re.compile(r"\b[a-z]{4,}\b")


def test_users_and_roles_page_creates_edits_and_disables_an_account(new_page: Any, admin_api: httpx2.Client) -> None:
    page = new_page()
    login(page, ADMIN_USERNAME, ADMIN_PASSWORD, staff=True)
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="用户与角色").click()
    table = page.locator("[data-testid=users-table]")
    table.get_by_text("supervisor", exact=True).wait_for()
    assert "督导" in table.inner_text()
    assert table.get_by_text(re.compile(r"^\d{4}-\d{3}-\d{4}$")).count() == 0  # examinee accounts are hidden
    assert_controls_labelled(page)

    name = "ua" + unique_tag()
    page.locator("#nu-username").fill(name)
    page.locator("#nu-name").fill("王单位")
    page.locator("#nu-password").fill("unit-admin-pass-1")
    page.get_by_label("单位管理员").check()
    page.get_by_role("button", name="新建").click()
    page.locator("[data-testid=users-error]").filter(has_text="须选择所属单位").wait_for()
    page.locator("#nu-unit").select_option(label="省公安厅")
    page.get_by_role("button", name="新建").click()
    page.locator("[data-testid=users-message]").filter(has_text=f"已新建账号 {name}").wait_for()
    row = table.locator("tr", has_text=name)
    assert "单位管理员" in row.inner_text() and "省公安厅" in row.inner_text()

    # a duplicate user name is refused with a Chinese message on the page
    page.locator("#nu-username").fill(name)
    page.locator("#nu-password").fill("another-pass-1")
    page.get_by_label("督导").check()
    page.get_by_role("button", name="新建").click()
    error = page.locator("[data-testid=users-error]")
    error.wait_for()
    assert not ENGLISH.search(error.inner_text()), error.inner_text()

    page.get_by_role("button", name=f"编辑 {name}").click()
    page.get_by_label("督导").check()
    page.get_by_role("button", name="保存").click()
    page.locator("[data-testid=users-message]").filter(has_text="已保存账号").wait_for()
    table.locator("tr", has_text=name).filter(has_text="督导").wait_for()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name=f"停用 {name}").click()
    table.locator("tr", has_text=name).get_by_text("已停用").wait_for()
    screenshot(page, "console-users", full_page=True)
    users = admin_api.get("/api/users?limit=500").json()["items"]
    stored = next(u for u in users if u["username"] == name)
    assert stored["is_active"] is False and sorted(stored["roles"]) == ["supervisor", "unit_admin"]
    assert [e for e in page.js_errors if "409 (Conflict)" not in e] == []  # the refused duplicate


def test_audit_log_page_filters_and_pages(new_page: Any, admin_api: httpx2.Client) -> None:
    page = new_page()
    login(page, ADMIN_USERNAME, ADMIN_PASSWORD, staff=True)
    page.goto("/console/audit")
    total = page.locator("[data-testid=audit-total]")
    page.locator("[data-testid=audit-table] tbody tr").first.wait_for()
    everything = int(total.inner_text())
    assert everything == admin_api.get("/api/audit?limit=1").json()["total"]
    assert_controls_labelled(page)
    screenshot(page, "console-audit", full_page=False)

    page.locator("#f-action").select_option(label="导入题目")
    page.get_by_role("button", name="查询").click()
    page.wait_for_function("(n) => document.querySelector('[data-testid=audit-total]').textContent !== String(n)",
                           arg=everything)  # fmt: skip
    expected = admin_api.get("/api/audit?action=question.import&limit=1").json()["total"]
    assert int(total.inner_text()) == expected >= 1
    assert set(page.locator("[data-testid=audit-table] tbody tr td:nth-child(3)").all_inner_texts()) == {"导入题目"}

    page.get_by_role("button", name="清除").click()
    page.locator("[data-testid=audit-total]").filter(has_text=str(everything)).wait_for()
    if everything > 50:
        page.get_by_role("button", name="下一页").click()
        page.locator("[data-testid=audit-page]").filter(has_text="第 2 /").wait_for()
    assert page.js_errors == []


def test_other_roles_cannot_open_the_admin_pages(new_page: Any) -> None:
    page = new_page()
    login(page, "organiser", DEMO_PASSWORD_FOR_TESTS, staff=True)
    assert page.get_by_role("link", name="用户与角色").count() == 0
    for path in ("/console/users", "/console/audit"):
        reply = page.goto(path)
        assert reply is not None and reply.status == 403
