"""The proctor's monitor shows a ticket locked by wrong PINs and lifts the lockout with one click."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from tests.web.conftest import DEMO_PASSWORD_FOR_TESTS, login
from tests.web.seed import seed_exam

pytestmark = pytest.mark.browser


@pytest.mark.parametrize(
    ("width", "height", "cadre_index"), [(1366, 768, 13), (390, 844, 15)], ids=["desktop", "phone"]
)
def test_a_proctor_sees_a_locked_ticket_and_unlocks_it(
    new_page: Any, live_server: str, admin_api: httpx2.Client, width: int, height: int, cadre_index: int
) -> None:
    seeded = seed_exam(admin_api, mode="formal", cadre_index=cadre_index)
    wrong = "000000" if seeded.pin != "000000" else "111111"
    with httpx2.Client(base_url=live_server) as examinee:
        for _ in range(5):
            assert (
                examinee.post("/api/auth/login", json={"username": seeded.ticket_no, "password": wrong}).status_code
                == 401
            )
        refused = examinee.post("/api/auth/login", json={"username": seeded.ticket_no, "password": seeded.pin})
        assert refused.status_code == 429, refused.text

    page = new_page(width, height)
    login(page, "proctor", DEMO_PASSWORD_FOR_TESTS, staff=True)
    page.goto(f"/console/exams/{seeded.exam_id}/monitor")
    row = page.locator("[data-testid=monitor-examinees] tbody tr", has_text=seeded.ticket_no)
    row.get_by_test_id("locked").wait_for()
    # on a phone the table scrolls inside its frame; the page itself never scrolls sideways
    assert page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth")
    page.locator("#m-state").select_option("locked")
    assert page.locator("[data-testid=monitor-examinees] tbody tr").count() == 1
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="解锁").click()
    row.get_by_test_id("locked").wait_for(state="hidden")
    assert page.locator("[data-testid=monitor-examinees] tbody tr").count() == 0  # the filter: none locked now

    with httpx2.Client(base_url=live_server) as examinee:
        admitted = examinee.post("/api/auth/login", json={"username": seeded.ticket_no, "password": seeded.pin})
        assert admitted.status_code == 200, admitted.text
