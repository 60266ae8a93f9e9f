"""The organiser's exam wizard, tickets, live monitor and the proctor's tablet entry in headless Chromium."""

from __future__ import annotations

import re
from typing import Any

import httpx2
import pytest

from tests.web.conftest import DEMO_PASSWORD_FOR_TESTS, assert_controls_labelled, login, screenshot
from tests.web.seed import SMALL_BLUEPRINT, _ok, bank_items, import_bank, make_cadres, make_unit, unique_tag

pytestmark = pytest.mark.browser


def test_an_organiser_sets_up_an_exam_with_the_wizard_and_watches_it(
    new_page: Any, admin_api: httpx2.Client, live_server: str, tmp_path: Any
) -> None:
    tag = unique_tag()
    units = [make_unit(admin_api, "省审计厅"), make_unit(admin_api, "省统计局")]
    items: list[dict[str, Any]] = []
    for n, unit in enumerate(units):
        unit_items, _ = bank_items(unit["code"], f"{tag}{n}")
        items += [i for i in unit_items if i["category"] == "policy"]
        make_cadres(admin_api, unit["id"], [("王五", "ting"), ("赵六", "chu"), ("钱七", "ke"), ("孙八", "ke")])
    import_bank(admin_api, items)
    blueprint_name = f"向导测试规则 {tag}"
    _ok(admin_api.post("/api/blueprints", json={**SMALL_BLUEPRINT, "name": blueprint_name}))

    page = new_page()
    login(page, "organiser", DEMO_PASSWORD_FOR_TESTS, staff=True)
    # the roster of a unit, and a roster import with a bad rank that is refused with its row
    page.goto("/console/units")
    page.get_by_role("button", name=f"查看{units[0]['name']}名册").click()
    page.get_by_role("cell", name="孙八").wait_for()
    roster = tmp_path / "roster.csv"
    roster.write_text("姓名,职级,工号\n周九,科级,E9\n吴十,部级,E10\n", encoding="utf-8-sig")
    page.locator("#roster-file").set_input_files(str(roster))
    page.get_by_role("button", name="导入", exact=True).click()
    page.get_by_role("cell", name="职级", exact=True).wait_for()
    assert page.get_by_role("cell", name="3", exact=True).count() == 1
    assert_controls_labelled(page)
    screenshot(page, "console-units", full_page=True)

    page.goto("/console/exams/new")
    exam_name = f"向导创建的考试 {tag}"
    page.get_by_label("考试名称").fill(exam_name)
    option = page.locator("#w-bp option", has_text=blueprint_name)
    option.wait_for(state="attached")
    page.locator("#w-bp").select_option(value=option.get_attribute("value"))
    page.get_by_role("button", name="下一步：选择单位").click()
    for unit in units:
        page.get_by_label(unit["name"], exact=True).first.check()
    page.get_by_role("button", name="创建考试并抽卷").click()
    page.get_by_role("button", name="抽取试卷").click()
    summary = page.locator("[data-testid=draw-summary]")
    summary.wait_for()
    assert "最大重题数" in summary.inner_text()
    assert_controls_labelled(page)
    screenshot(page, "console-exam-wizard-draw", full_page=True)
    page.get_by_role("button", name="下一步：确定考生").click()
    # sampling by rank: the preview per unit (rosters of four are below the minimum of 30, and it says so)
    page.get_by_label("抽样比例（%）").fill("50")
    page.get_by_role("button", name="预览").click()
    sample_rows = page.locator("section[aria-label=确定考生] tbody tr")
    sample_rows.nth(1).wait_for()
    assert units[0]["name"] in sample_rows.first.inner_text()
    screenshot(page, "console-exam-wizard-sample", full_page=True)
    page.get_by_role("tab", name="按名单").click()
    page.get_by_label(re.compile("孙八")).nth(1).wait_for()
    for name in ("王五", "赵六", "钱七"):
        boxes = page.get_by_label(re.compile(name))
        for i in range(boxes.count()):
            boxes.nth(i).check()
    page.get_by_role("button", name=re.compile("为所选 6 人生成准考证")).click()
    issued = page.locator("[data-testid=issued] tbody tr")
    issued.nth(5).wait_for()
    first = issued.first.locator("td")
    ticket_no, pin = first.nth(3).inner_text(), first.nth(4).inner_text()
    assert re.fullmatch(r"\w+", pin.strip()), pin
    screenshot(page, "console-exam-wizard-tickets", full_page=True)

    page.get_by_role("link", name="打印准考证").click()
    page.locator("[data-testid=tickets] .ticket").nth(5).wait_for()
    assert pin in page.locator("[data-testid=tickets]").inner_text()
    screenshot(page, "console-tickets", full_page=True)
    exam_id = int(re.search(r"/console/exams/(\d+)/tickets", page.url).group(1))  # type: ignore[union-attr]

    # one examinee starts, so the monitor shows someone answering
    with httpx2.Client(base_url=live_server) as examinee:
        token = _ok(examinee.post("/api/auth/login", json={"username": ticket_no, "password": pin}))["access_token"]
        _ok(examinee.post(f"/api/exams/{exam_id}/attempts", headers={"Authorization": f"Bearer {token}"}))
    page.goto(f"/console/exams/{exam_id}/monitor")
    page.locator("[data-testid=monitor-examinees] tbody tr").nth(5).wait_for()
    assert page.locator("[data-testid=monitor-examinees]").get_by_text("作答中").count() == 1
    assert_controls_labelled(page)
    screenshot(page, "console-monitor", full_page=True)

    # the proctor, on a tablet: one incident and one absence
    tablet = new_page(1024, 768)
    login(tablet, "proctor", DEMO_PASSWORD_FOR_TESTS, staff=True)
    tablet.goto(f"/console/proctor?exam_id={exam_id}")
    people = tablet.locator("[data-testid=people] .person")
    people.nth(5).wait_for()
    people.filter(has_text="赵六").first.click()
    tablet.get_by_label("旁窥偷看").check()
    tablet.get_by_label("说明").fill("多次偷看邻座")
    tablet.get_by_role("button", name="登记违纪").click()
    tablet.get_by_text(re.compile("赵六：旁窥偷看")).wait_for()
    people.filter(has_text="钱七").first.click()
    tablet.get_by_label("原因").fill("因病")
    tablet.get_by_role("button", name="登记缺考").click()
    tablet.get_by_text("钱七：因病").first.wait_for()
    assert_controls_labelled(tablet)
    screenshot(tablet, "console-proctor", full_page=True)
    incidents = _ok(admin_api.get(f"/api/exams/{exam_id}/incidents"))["items"]
    assert [i["kind"] for i in incidents] == ["peeking"]

    page.goto(f"/console/exams/{exam_id}")
    page.get_by_role("button", name="发布成绩").wait_for()
    screenshot(page, "console-exam", full_page=True)
    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="结束考试").click()
    page.locator(".badge", has_text="已结束").wait_for()
    page.get_by_role("button", name="发布成绩").click()
    page.locator(".badge", has_text="已发布").wait_for()
    assert _ok(admin_api.get(f"/api/exams/{exam_id}"))["status"] == "published"

    # a key corrected after the exam: regrade from the page
    question_id = _ok(admin_api.get(f"/api/exams/{exam_id}/papers"))["papers"][0]["question_ids"][0]
    question = _ok(admin_api.get(f"/api/questions/{question_id}"))
    keys = [o["key"] for o in question["options"]]
    if question["type"] == "judge":
        corrected = ["F"] if question["answer"] == ["T"] else ["T"]
    elif question["type"] == "single":
        corrected = [next(k for k in keys if k not in question["answer"])]
    else:
        corrected = keys if sorted(question["answer"]) != keys else keys[:2]
    _ok(admin_api.patch(f"/api/questions/{question_id}", json={"answer": corrected, "change_note": "更正答案"}))
    page.get_by_label("题目编号").fill(str(question_id))
    page.get_by_role("button", name="重新评分").click()
    page.get_by_text(re.compile(r"已重评 \d+ 份答卷")).wait_for()
    page.goto("/console/blueprints")
    preview = page.locator("[data-testid=quota-preview]")
    preview.get_by_text("45 题，100 分").wait_for()
    single_row = preview.locator("tbody tr", has_text="单选题").inner_text().split()
    assert single_row[1:] == ["8", "4", "8", "20"]
    assert_controls_labelled(page)
    screenshot(page, "console-blueprints", full_page=True)

    page.goto("/console")
    page.locator("[data-testid=recent-exams]").get_by_text(exam_name).wait_for()  # the htmx fragment
    screenshot(page, "console-home")
    assert [e for e in page.js_errors if "422" not in e] == [], page.failed_responses
    assert tablet.js_errors == [], tablet.failed_responses
