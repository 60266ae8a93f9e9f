"""The supervisors' dashboard in headless Chromium: report tables, ECharts charts, the notice with a print view."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import httpx2
import pytest

from tests.web.conftest import DEMO_PASSWORD_FOR_TESTS, assert_controls_labelled, login, screenshot
from tests.web.seed import REPORT_UNITS, _ok, seed_report_exam

pytestmark = pytest.mark.browser


def test_dashboard_renders_the_report_with_its_charts(
    new_page: Any, admin_api: httpx2.Client, live_server: str
) -> None:
    seeded = seed_report_exam(admin_api, live_server)
    page = new_page()
    login(page, "supervisor", DEMO_PASSWORD_FOR_TESTS, staff=True)

    page.goto("/dashboard")
    page.get_by_role("link", name="成绩报告").first.wait_for()
    page.goto(f"/dashboard/exams/{seeded.exam_id}")
    units_table = page.locator("[data-testid=units-table] tbody tr")
    units_table.first.wait_for()
    # the supervisor watches the live figures, labelled as such
    assert page.locator("[data-testid=exam-state]").inner_text() == "进行中"
    assert "实时统计" in page.locator("[data-testid=state-note]").inner_text()
    assert units_table.count() == len(REPORT_UNITS)
    # best first: 公安厅 (93.6) ahead of 国土资源厅 (80.2) and 人力资源和社会保障厅 (75.0)
    for position, (_code, name, scores) in enumerate(REPORT_UNITS):
        row = units_table.nth(position).inner_text()
        assert name in row
        assert f"{sum(scores) / len(scores):.1f}" in row
    assert page.locator("[data-testid=overall]").get_by_text(str(seeded.participant_count), exact=True).count() >= 1
    for chart in ("units", "distribution", "ranks", "categories", "incidents"):
        page.locator(f"#chart-{chart} svg").wait_for()
    page.wait_for_timeout(300)
    assert page.js_errors == [], page.failed_responses
    assert_controls_labelled(page)
    screenshot(page, "dashboard", full_page=True)
    for button, suffix in (("导出 Excel", ".xlsx"), ("导出单位排名 CSV", ".csv"), ("导出个人成绩 CSV", ".csv")):
        with page.expect_download() as download:
            page.get_by_role("link", name=button).click()
        assert download.value.suggested_filename.endswith(suffix)
        assert download.value.failure() is None

    page.goto(f"/dashboard/exams/{seeded.exam_id}/notice")
    notice = page.locator("[data-testid=notice]")
    notice.get_by_text("省公安厅").first.wait_for()
    assert "省公安厅" in notice.inner_text()
    page.emulate_media(media="print")
    assert page.locator(".topbar").is_hidden()
    screenshot(page, "notice-print", full_page=True)
    page.emulate_media(media="screen")
    screenshot(page, "notice", full_page=True)
    assert page.js_errors == []

    # once the results are published, a unit admin sees the same report, with his own unit's rows only
    _ok(admin_api.post(f"/api/exams/{seeded.exam_id}/close"))
    _ok(admin_api.post(f"/api/exams/{seeded.exam_id}/publish"))
    land_id = seeded.unit_ids[1]
    username = f"land-admin-{seeded.exam_id}"
    _ok(admin_api.post("/api/users", json={
        "username": username, "password": "land-admin-pass", "roles": ["unit_admin"], "unit_id": land_id,
    }))  # fmt: skip
    scoped = new_page()
    login(scoped, username, "land-admin-pass", staff=True)
    scoped.goto(f"/dashboard/exams/{seeded.exam_id}")
    scoped.get_by_text("（仅本单位）").wait_for()
    rows = scoped.locator("[data-testid=individuals] tbody tr")
    assert rows.count() == len(REPORT_UNITS[1][2])
    assert all("省国土资源厅" in text for text in rows.all_inner_texts())
    # a unit admin reads the report only once it is published (app.accounts.visibility); then the ranking
    # of units is everyone's
    scoped.locator("[data-testid=exam-state]").filter(has_text="已公布").wait_for()
    scoped.locator("[data-testid=units-table] tbody tr").first.wait_for()
    assert scoped.locator("[data-testid=units-table] tbody tr").count() == len(REPORT_UNITS)
    assert scoped.js_errors == [], scoped.failed_responses


LABEL_BOXES_JS = """(names) => {
  const texts = [...document.querySelectorAll('#chart-units svg text')].filter(t => names.includes(t.textContent));
  return texts.map(t => { const b = t.getBoundingClientRect();
    return {name: t.textContent, top: b.top, bottom: b.bottom, left: b.left, right: b.right}; });
}"""


@pytest.mark.parametrize("count", [4, 18, 50])
def test_the_unit_chart_stays_readable_with_many_units(new_page: Any, admin_api: httpx2.Client, count: int) -> None:
    exams = _ok(admin_api.get("/api/exams"))["items"]
    published = next(e for e in exams if e["status"] == "published")
    report = _ok(admin_api.get(f"/api/exams/{published['id']}/report"))
    names = [f"省第{n}测试厅" for n in range(1, count + 1)]
    units = [
        {
            **report["units"][0],
            "unit_id": 10_000 + n,
            "name": name,
            "position": n,
            "average": 99 - n * 0.5,
            "excellence_rate": 90 - n,
        }
        for n, name in enumerate(names, start=1)
    ]
    report = {**report, "units": units, "discipline": [], "categories": {**report["categories"], "units": []}}
    page = new_page()
    login(page, "supervisor", DEMO_PASSWORD_FOR_TESTS, staff=True)
    page.route(f"**/api/exams/{published['id']}/report", lambda route: route.fulfill(json=report))
    page.goto(f"/dashboard/exams/{published['id']}")
    page.locator("[data-testid=exam-state]").filter(has_text="已公布").wait_for()
    page.locator("#chart-units svg").wait_for()
    page.wait_for_timeout(300)
    boxes = page.evaluate(LABEL_BOXES_JS, names)
    assert sorted(b["name"] for b in boxes) == sorted(names)  # every unit is named, none truncated away
    for first, second in pairwise(boxes):
        for a, b in ((first, second), (second, first)):
            apart = a["bottom"] <= b["top"] + 0.5 or a["right"] <= b["left"] + 0.5
            if apart:
                break
        else:
            raise AssertionError(f"unit names overlap: {first} {second}")
    chart = page.locator("#chart-units").bounding_box()
    assert chart is not None and chart["height"] >= min(26 * count, 320) - 1
    assert page.js_errors == []
    if count in (18, 50):
        page.locator("#chart-units").screenshot(path=str(_shot(f"dashboard-units-{count}")))


def _shot(name: str) -> Any:
    from tests.web.conftest import SCREENSHOTS

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / f"{name}.png"
