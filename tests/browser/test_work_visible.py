"""Work pushed to people, in real Chromium: every list shows the clock each case waits on (its last
day and its level by name), and a supervisor's orders and reminders reach the handler's case page
and its timeline, where the unit answers the order."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest

from services.web.console import cn_date
from tests.e2e.conftest import BEIJING, another_petitioner
from xinfang.labels import LEVELS, ORDER_STATUS, STAGES

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

HANDLER_UNIT = "999901-d02"  # demo-handler's unit, 县人力资源和社会保障局


def _case_of_the_handlers_unit(system, summary: str, days_ago: int = 0, n: int = 31) -> str:
    """A case received ``days_ago`` days ago, handled by demo-handler's unit, whose assignment
    supervision has heard (its acceptance clock runs)."""
    received = (datetime.now(BEIJING) - timedelta(days=days_ago, minutes=5)).isoformat()
    cid = system.register(summary=summary, received_at=received, petitioners=another_petitioner(n))["case_id"]
    assignment = system.wait_for(lambda: (r := system.get("routing", f"/api/v1/cases/{cid}/assignment")).status_code
                                 == 200 and r.json(), what="the case in routing")
    if assignment.get("unit_id") != HANDLER_UNIT:  # no rule sent it there: the dispatcher does
        r = system.post("routing", f"/api/v1/cases/{cid}/assignment", {"unit_id": HANDLER_UNIT, "reason": "人社部门职责"},
                        user="demo-dispatcher")
        assert r.status_code == 200, r.text
    system.wait_for(lambda: any(s["stage"] == "acceptance" for s in system.get(
        "supervision", f"/api/v1/cases/{cid}/deadlines").json().get("stages", [])),
        what="supervision to hear the assignment")
    system.wait_for(lambda: system.get("intake", f"/api/v1/cases/{cid}", user="demo-handler").status_code == 200,
                    what="the case in the handler's view")
    return cid


def _no_serious_accessibility_issue(page) -> None:
    """axe-core, as test_console.py's check of the main pages: the level colours keep their contrast."""
    from axe_playwright_python.sync_playwright import Axe

    bad = [f"{v['id']}: {v['nodes'][0]['target']}" for v in Axe().run(page).response["violations"]
           if v["impact"] in ("serious", "critical")]
    assert not bad, bad


def _clock(system, cid: str) -> dict:
    [item] = system.get("supervision", f"/api/v1/deadlines?case_id={cid}").json()["items"]
    return item


def test_the_case_list_and_the_inbox_show_each_cases_deadline_and_its_level_by_name(system, console):
    # given a case received 50 days ago: its provisional handling clock (60 days) is past 75 %
    summary = f"期限可见 {uuid.uuid4().hex[:8]}"
    cid = _case_of_the_handlers_unit(system, summary, days_ago=50)
    clock = _clock(system, cid)
    assert clock["level"] != "normal", clock
    shown = f"{STAGES[clock['stage']]} {cn_date(clock['due_at'], end=True)} {LEVELS[clock['level']]}"
    # when the clerk reads the case list, then the case's row has the stage, the last day and the level's name
    clerk = console("demo-clerk")
    page = clerk.go("/cases")  # newest first: the case is on the first page
    assert page.locator("#case-list th", has_text="期限").count() == 1
    row = page.locator("#case-list tbody tr", has_text=summary)
    assert row.locator(".deadline").inner_text().split() == shown.split(), row.inner_text()
    assert row.locator(f".level.level-{clock['level']}").inner_text() == LEVELS[clock["level"]]
    clerk.shot("40-case-list-deadlines")
    _no_serious_accessibility_issue(page)
    # and the handler's inbox shows the same for the case, the colour class with the name
    handler = console("demo-handler")
    page = handler.go("/inbox")
    row = page.locator("#inbox tbody tr", has_text=summary)
    assert row.locator(".deadline").inner_text().split() == shown.split(), row.inner_text()
    assert row.locator(f".level-{clock['level']}").count() == 1
    handler.shot("41-inbox-deadlines")
    _no_serious_accessibility_issue(page)
    # and the dispatcher's queue and the supervisor's lists have the column too
    assert console("demo-dispatcher").go("/queue").locator("#queue th", has_text="期限").count() == 1
    supervisor = console("demo-supervisor")
    assert supervisor.go("/supervision?view=warnings").locator("#supervision-list th", has_text="期限").count() == 1
    supervisor.shot("42-supervision-warnings-deadlines")


def test_a_supervisors_order_and_reminder_reach_the_handlers_case_page_and_timeline(system, console):
    # given a case of demo-handler's unit, and a supervisor's order and reminder on it
    cid = _case_of_the_handlers_unit(system, f"督办可见 {uuid.uuid4().hex[:8]}", n=32)
    reply_by = (datetime.now(BEIJING) + timedelta(days=10)).date()
    r = system.post("supervision", f"/api/v1/cases/{cid}/supervision-orders",
                    {"requirement": "请于十日内核实工资拖欠情况并报告", "reply_by": reply_by.isoformat()},
                    user="demo-supervisor")
    assert r.status_code == 201, r.text
    r = system.post("supervision", f"/api/v1/cases/{cid}/reminders", {"text": "请加快核查进度"}, user="demo-supervisor")
    assert r.status_code == 201, r.text
    # when the handler opens the case
    handler = console("demo-handler")
    page = handler.go(f"/cases/{cid}")
    # then the order shows its requirement, reply-by date, status and issuer by name
    order = page.locator("#orders tbody tr").first
    text = order.inner_text()
    assert "请于十日内核实工资拖欠情况并报告" in text and cn_date(reply_by.isoformat()) in text, text
    assert ORDER_STATUS["open"] in text and "演示督办员" in text and "demo-supervisor" not in text, text
    # and the reminder its text, who and when
    reminder = page.inner_text("#reminders")
    assert "请加快核查进度" in reminder and "演示督办员" in reminder, reminder
    # and the timeline has both, by the supervisor's name
    timeline = page.inner_text("#timeline")
    assert "督办" in timeline and "请于十日内核实工资拖欠情况并报告" in timeline, timeline
    assert "催办" in timeline and "请加快核查进度" in timeline, timeline
    assert "demo-supervisor" not in timeline and "system:" not in timeline, timeline
    handler.shot("43-handler-case-order-and-reminder")
    _no_serious_accessibility_issue(page)
    # when the handler answers the order on the case page (asked first)
    page.fill("#act-order-answer textarea[name=text]", "已核实，用人单位承诺本月底前支付")
    page.click("#act-order-answer button[type=submit]")
    assert handler.asked[-1].startswith("确认提交督办答复")
    # then the page says so, the order reads answered with the answer, and the timeline has the answer
    assert page.locator(".ok").inner_text().strip().startswith("已答复督办单"), page.inner_text("main")[:500]
    order = page.inner_text("#orders")
    assert ORDER_STATUS["answered"] in order and "已核实，用人单位承诺本月底前支付" in order, order
    assert "督办答复" in page.inner_text("#timeline")
    assert page.locator("#act-order-answer").count() == 0  # answered once: not offered again
    handler.shot("44-handler-case-order-answered")
    # and the supervisor sees the answer on the same case page, with no form to answer it
    supervisor = console("demo-supervisor")
    page = supervisor.go(f"/cases/{cid}")
    assert "已核实，用人单位承诺本月底前支付" in page.inner_text("#orders")
    assert page.locator("#act-order-answer").count() == 0
