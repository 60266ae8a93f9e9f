"""Extra time granted while an examinee writes reaches his countdown with the next state poll (headless Chromium)."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx2
import pytest

from tests.web.conftest import login
from tests.web.seed import has_route, seed_exam

pytestmark = pytest.mark.browser


def test_extra_time_moves_the_running_countdown(new_page: Any, admin_api: httpx2.Client) -> None:
    if not has_route(admin_api, "patch", "/api/exams/{}/participants/{}"):
        pytest.skip("the extra-time API has not landed")
    seeded = seed_exam(admin_api, mode="formal", cadre_index=4)
    page = new_page()
    page.clock.install()  # the page's timers are Playwright's: the poll comes at once
    login(page, seeded.ticket_no, seeded.pin)
    page.get_by_role("button", name="开始答题").click()
    countdown = page.locator("[data-testid=countdown]")
    countdown.wait_for()
    assert re.fullmatch(r"(29:5\d|30:00)", countdown.inner_text())

    participants = admin_api.get(f"/api/exams/{seeded.exam_id}/participants").json()["items"]
    [cadre_id] = [p["cadre_id"] for p in participants if p["ticket_no"] == seeded.ticket_no]
    granted = admin_api.patch(
        f"/api/exams/{seeded.exam_id}/participants/{cadre_id}", json={"extra_time_seconds": 600, "reason": "电脑故障"}
    )
    assert granted.status_code == 200, granted.text

    page.clock.run_for("00:31")  # one state poll
    for _ in range(40):
        if countdown.inner_text().startswith("39:"):
            break
        time.sleep(0.25)
        page.clock.run_for(500)
    assert re.fullmatch(r"39:[0-5]\d", countdown.inner_text()), countdown.inner_text()
    assert page.js_errors == []
