"""The exam room where it hurts: a phone (and 200 % zoom), the deadline while offline, marks on another device,
the states after submit, on resume and on takeover, and logging out mid-exam."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx2
import pytest

from tests.web.conftest import screenshot
from tests.web.seed import seed_exam

pytestmark = pytest.mark.browser
OFFLINE_NOISE = ("ERR_INTERNET_DISCONNECTED", "Failed to fetch", "net::ERR", "409")

POSITIONS_JS = """(no) => {
  const head = document.querySelector('.exam-head').getBoundingClientRect();
  const q = document.getElementById('q-' + no);
  const box = q.getBoundingClientRect();
  const stem = q.querySelector('legend').getBoundingClientRect();
  return {headBottom: head.bottom, top: box.top, stemBottom: stem.bottom, viewport: window.innerHeight,
          width: document.scrollingElement.scrollWidth, viewportWidth: window.innerWidth,
          font: parseFloat(getComputedStyle(q.querySelector('legend')).fontSize)};
}"""


def _start(page: Any, ticket_no: str, pin: str) -> list[dict[str, Any]]:
    from tests.web.conftest import login

    login(page, ticket_no, pin)
    with page.expect_response(lambda r: re.search(r"/api/exams/\d+/attempts$", r.url) is not None) as reply:
        page.get_by_role("button", name=re.compile("开始答题|继续答题")).click()
    page.locator("[data-testid=question]:visible").first.wait_for()
    questions: list[dict[str, Any]] = reply.value.json()["questions"]
    return questions


def _assert_question_visible(page: Any, no: int) -> dict[str, Any]:
    page.wait_for_function("(no) => document.activeElement && document.activeElement.id === 'q-' + no", arg=no)
    where: dict[str, Any] = page.evaluate(POSITIONS_JS, no)
    assert where["top"] >= where["headBottom"] - 0.5, where  # not under the sticky header
    # the whole stem is on the screen, unless it is taller than the screen below the header (tiny zoomed phone)
    taller = where["stemBottom"] - where["top"] > where["viewport"] - where["headBottom"]
    assert where["stemBottom"] <= where["viewport"] or (taller and where["top"] - where["headBottom"] < 12), where
    assert where["width"] <= where["viewportWidth"], where  # nothing sideways
    return where


@pytest.mark.parametrize(
    ("width", "height", "scale", "name"),
    [(390, 844, 1, "exam-room-phone-next"), (683, 384, 2, "exam-room-zoom-200"), (195, 422, 2, "exam-room-phone-zoom")],
)
def test_the_question_stays_below_the_sticky_header_on_a_phone_and_at_200_percent(
    chromium_browser: Any, live_server: str, admin_api: httpx2.Client, width: int, height: int, scale: int, name: str
) -> None:
    seeded = seed_exam(admin_api, mode="formal", preset=True, cadre_index=4 + [390, 683, 195].index(width))
    # 200 % browser zoom: the same screen, half the CSS pixels at twice the density
    context = chromium_browser.new_context(
        base_url=live_server, viewport={"width": width, "height": height}, device_scale_factor=scale,
        locale="zh-CN", timezone_id="Asia/Shanghai",
    )  # fmt: skip
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    questions = _start(page, seeded.ticket_no, seeded.pin)

    # 下一题 from the bottom of a scrolled page
    page.evaluate("window.scrollTo(0, document.scrollingElement.scrollHeight)")
    page.locator(f"#q-{questions[0]['no']}").get_by_role("button", name="下一题").click()
    _assert_question_visible(page, questions[1]["no"])
    screenshot(page, name)
    # a tap on the answer card, far down the page on a phone
    page.locator(".cells button").nth(7).click()
    _assert_question_visible(page, questions[7]["no"])
    # the font-size control: larger text, still below the header, and remembered over a reload
    before = page.evaluate(POSITIONS_JS, questions[7]["no"])["font"]
    page.get_by_role("button", name="增大字号").click()
    page.get_by_role("button", name="增大字号").click()
    after = _assert_question_visible(page, questions[7]["no"])["font"]
    assert after >= before * 1.25
    page.reload()
    page.locator("[data-testid=question]:visible").wait_for()
    assert page.evaluate(POSITIONS_JS, questions[7]["no"])["font"] == pytest.approx(after)
    page.locator(".cells button").nth(3).click()
    _assert_question_visible(page, questions[3]["no"])
    if width == 390:
        screenshot(page, "exam-room-phone-large-font")
    assert errors == []
    context.close()


def _state(admin_api: httpx2.Client, seeded: Any) -> dict[str, Any]:
    monitor = admin_api.get(f"/api/exams/{seeded.exam_id}/monitor").json()
    attempt_id = next(e["attempt_id"] for e in monitor["examinees"] if e["ticket_no"] == seeded.ticket_no)
    return dict(admin_api.get(f"/api/attempts/{attempt_id}").json())


def test_offline_at_the_deadline_says_what_is_unsent_keeps_it_and_resends_it_within_the_grace(
    new_page: Any, admin_api: httpx2.Client
) -> None:
    seeded = seed_exam(admin_api, mode="formal", cadre_index=8)
    page = new_page()
    page.clock.install()  # the page's 30 minutes pass in a moment; the server's deadline is still far
    questions = _start(page, seeded.ticket_no, seeded.pin)
    page.get_by_label("整卷显示").check()
    page.locator(f"#q-{questions[0]['no']} input").first.check()
    page.locator("[data-testid=save-state]").filter(has_text="已保存").wait_for()

    page.context.set_offline(True)
    page.locator(f"#q-{questions[1]['no']} input").first.check()
    page.locator(f"#q-{questions[2]['no']} input").first.check()
    page.locator("[data-testid=save-state]").filter(has_text="网络中断，答案已暂存本机").wait_for()
    page.clock.run_for("29:00")
    page.get_by_role("alert").filter(has_text="还有 1 分钟").wait_for()
    page.clock.run_for("01:05")
    overtime = page.locator("[data-testid=overtime]")
    overtime.filter(has_text="尚未送达服务器").wait_for()
    assert "第 2 题、第 3 题" in overtime.inner_text()
    assert "共 2 题" in overtime.inner_text()
    # the paper stays on the screen (no blank page), read-only; the one-minute warning is gone
    assert page.locator("[data-testid=question]").first.is_visible()
    assert page.get_by_role("alert").filter(has_text="还有 1 分钟").count() == 0
    stored = json.loads(page.evaluate("Object.entries(localStorage).find(([k]) => k.startsWith('exambank:exam:'))[1]"))
    assert set(stored["pending"]) == {str(questions[1]["no"]), str(questions[2]["no"])}
    screenshot(page, "exam-offline-deadline")

    page.context.set_offline(False)
    page.locator("[data-testid=submitted]").get_by_text("考试时间到，系统已自动交卷。").wait_for()
    state = _state(admin_api, seeded)
    assert state["status"] == "submitted"
    assert set(state["answers"]) == {str(q["no"]) for q in questions[:3]}
    assert "未能" not in page.locator("[data-testid=submitted-text]").inner_text()


def test_answers_that_miss_the_grace_are_named_in_the_final_message_and_kept(
    new_page: Any, admin_api: httpx2.Client
) -> None:
    seeded = seed_exam(admin_api, mode="formal", cadre_index=9)
    page = new_page()
    page.clock.install()
    questions = _start(page, seeded.ticket_no, seeded.pin)
    page.get_by_label("整卷显示").check()
    page.context.set_offline(True)
    page.locator(f"#q-{questions[3]['no']} input").first.check()
    page.clock.run_for("30:05")
    page.locator("[data-testid=overtime]").filter(has_text="尚未送达服务器").wait_for()
    page.clock.run_for("00:15")
    page.locator("[data-testid=overtime]").filter(has_text="补传时限已过").wait_for()
    # the server's answer once the grace is over (its clock is real, so the refusal is played here)
    page.route(re.compile(r".*/api/attempts/\d+/answers$"), lambda route: route.fulfill(
        status=409, content_type="application/json",
        body=json.dumps({"detail": "考试时间已结束，答案未保存", "code": "attempt_overdue"}),
    ))  # fmt: skip
    page.context.set_offline(False)
    text = page.locator("[data-testid=submitted-text]")
    text.filter(has_text="未能在考试结束前送达服务器").wait_for()
    assert "第 4 题" in text.inner_text()
    kept = page.evaluate("Object.keys(localStorage).filter(k => k.endsWith(':unsent')).length")
    assert kept == 1
    screenshot(page, "exam-unsent-after-grace")
    # a reload shows the same final state, not the rules page
    page.reload()
    page.locator("[data-testid=submitted-text]").filter(has_text="第 4 题").wait_for()
    assert page.get_by_role("button", name=re.compile("开始答题|继续答题")).is_hidden()


def test_marks_follow_the_attempt_to_another_device_and_the_old_one_says_it_stopped(
    new_page: Any, admin_api: httpx2.Client
) -> None:
    seeded = seed_exam(admin_api, mode="formal", cadre_index=10)
    first = new_page()
    questions = _start(first, seeded.ticket_no, seeded.pin)
    first.locator(f"#q-{questions[0]['no']}").get_by_role("button", name="标记").click()
    first.locator(f"#q-{questions[0]['no']} input").first.check()
    first.locator("[data-testid=save-state]").filter(has_text="已保存").wait_for()
    first.locator(".cells button").nth(2).click()
    with first.expect_response(lambda r: r.url.endswith("/answers") and '"flags"' in (r.request.post_data or "")):
        first.locator(f"#q-{questions[2]['no']}").get_by_role("button", name="标记").click()
    assert _state(admin_api, seeded)["flags"] == sorted([questions[0]["no"], questions[2]["no"]])

    phone = new_page(390, 844)
    from tests.web.conftest import login

    login(phone, seeded.ticket_no, seeded.pin)
    # a resumed attempt says so
    phone.get_by_role("button", name="继续答题").click()
    phone.locator("[data-testid=card-summary]").filter(has_text="标记 2 题").wait_for()
    assert phone.locator(".cells button.flagged").count() == 2

    first.locator(f"#q-{questions[2]['no']} input").first.check()
    first.locator("[data-testid=taken-over]").wait_for()
    first.locator("[data-testid=save-state]").filter(has_text="本设备已停止保存").wait_for()
    screenshot(first, "exam-taken-over")

    # logging out mid-exam asks first; dismissing keeps the examinee in the room
    messages: list[str] = []

    def dismiss(dialog: Any) -> None:
        messages.append(dialog.message)
        dialog.dismiss()

    phone.once("dialog", dismiss)
    phone.locator("#logout").click()
    phone.wait_for_timeout(300)
    assert messages and "计时不会暂停" in messages[0]
    assert phone.url.endswith("/exam")


def test_after_submitting_a_reload_shows_the_result_and_practice_starts_again_only_on_request(
    new_page: Any, admin_api: httpx2.Client
) -> None:
    seeded = seed_exam(admin_api, mode="practice", cadre_index=11)
    assert admin_api.patch(f"/api/exams/{seeded.exam_id}", json={"max_attempts": 3}).status_code == 200
    page = new_page()
    questions = _start(page, seeded.ticket_no, seeded.pin)
    page.locator(f"#q-{questions[0]['no']} input").first.check()
    page.locator("[data-testid=save-state]").filter(has_text="已保存").wait_for()
    page.locator(".answer-card").get_by_role("button", name="交卷").click()
    page.get_by_role("button", name="确认交卷").click()
    page.locator("[data-testid=score]").wait_for()
    starts: list[str] = []
    page.on("request", lambda r: starts.append(r.url) if r.method == "POST" and r.url.endswith("/attempts") else None)
    page.reload()
    page.locator("[data-testid=submitted]").get_by_role("heading", name="已交卷").wait_for()
    page.locator("[data-testid=score]").wait_for()
    assert starts == []  # no second practice round behind the examinee's back
    with page.expect_response(lambda r: r.url.endswith("/attempts") and r.request.method == "POST") as again:
        page.get_by_role("button", name="再练一次").click()
    assert again.value.json().get("attempt_no") == 2, again.value.text
    page.locator("[data-testid=question]").first.wait_for()
