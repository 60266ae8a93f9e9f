"""The exam room while the server answers 503 (no database connection in time, PostgreSQL restarting):
the page keeps the answers, says so in Chinese, and resends them by itself once the server answers again."""

from __future__ import annotations

import re
from typing import Any

import httpx2
import pytest

from app.core.db import RETRY_AFTER_SECONDS, unavailable_body
from tests.web.conftest import login
from tests.web.seed import seed_exam

pytestmark = pytest.mark.browser
UNAVAILABLE = unavailable_body()  # what the server sends (app.core.db)


def test_saves_answered_503_are_kept_and_resent(new_page: Any, admin_api: httpx2.Client) -> None:
    seeded = seed_exam(admin_api, mode="formal", cadre_index=14)
    page = new_page()
    refused: list[str] = []

    def unavailable(route: Any) -> None:
        refused.append(route.request.method)
        route.fulfill(
            status=503,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            content_type="application/json",
            body=UNAVAILABLE,
        )

    login(page, seeded.ticket_no, seeded.pin)
    with page.expect_response(lambda r: re.search(r"/api/exams/\d+/attempts$", r.url) is not None) as reply:
        page.get_by_role("button", name=re.compile("开始答题|继续答题")).click()
    questions: list[dict[str, Any]] = reply.value.json()["questions"]
    page.locator("[data-testid=question]:visible").first.wait_for()
    first = questions[0]
    chosen = first["options"][0]["text"]

    page.route(re.compile(r".*/api/attempts/\d+/answers$"), unavailable)
    page.locator(f"#q-{first['no']}").locator("label.option").get_by_text(chosen, exact=True).click()
    page.get_by_text("服务器繁忙，答案已暂存本机，稍后自动重新保存").first.wait_for()
    assert refused, "the save never reached the (refusing) server"

    page.unroute(re.compile(r".*/api/attempts/\d+/answers$"))
    page.locator("[data-testid=save-state]").filter(has_text=re.compile(r"^已保存 ")).wait_for(timeout=20_000)
    monitor = admin_api.get(f"/api/exams/{seeded.exam_id}/monitor").json()
    attempt_id = next(e["attempt_id"] for e in monitor["examinees"] if e["ticket_no"] == seeded.ticket_no)
    stored = admin_api.get(f"/api/attempts/{attempt_id}").json()["answers"]
    key = next(o["key"] for o in first["options"] if o["text"] == chosen)
    assert stored.get(str(first["no"])) == [key], stored
