"""The petitioner's public page and the dispatcher's and handler's lists, in real Chromium: the page
names the date of the next step (the same date supervision's clock is due) and takes a comment
with the rating, shown back and on the case file but in no log; at 390 px nothing overflows; the
queue holds a returned objection and a review arriving, each by its kind, with counts per kind;
the inbox's 全部 lists the cases the unit helps with (协办)."""
from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta

import pytest

from services.web.console import cn_date
from tests.e2e.conftest import another_petitioner
from xinfang.labels import EXPECTED_STEPS, QUEUE_KINDS

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

HANDLER_UNIT = "999901-d02"  # demo-handler's unit, 县人力资源和社会保障局


def _handlers_case(system, summary: str, n: int) -> dict:
    """A new case held by demo-handler's unit, routing's and intake's views of it caught up."""
    case = system.register(summary=summary, petitioners=another_petitioner(n))
    cid = case["case_id"]
    assignment = system.wait_for(lambda: (r := system.get("routing", f"/api/v1/cases/{cid}/assignment")).status_code
                                 == 200 and r.json(), what="the case in routing")
    if assignment.get("unit_id") != HANDLER_UNIT:
        r = system.post("routing", f"/api/v1/cases/{cid}/assignment", {"unit_id": HANDLER_UNIT, "reason": "人社部门职责"},
                        user="demo-dispatcher")
        assert r.status_code == 200, r.text
    system.wait_for(lambda: system.get("intake", f"/api/v1/cases/{cid}", user="demo-handler").status_code == 200,
                    what="the case in the handler's view")
    return case


def _accepted_and_replied(system, cid: str) -> None:
    system.sign(cid, "demo-handler")
    r = system.post("intake", f"/api/v1/cases/{cid}/acceptance", {"decision": "accepted", "notice": "予以受理"},
                    user="demo-handler")
    assert r.status_code == 200, r.text
    r = system.post("intake", f"/api/v1/cases/{cid}/reply", {"outcome": "explained", "text": "已作解释说明"},
                    user="demo-handler")
    assert r.status_code == 200, r.text


def _handling_due(system, cid: str, other_than: str | None = None) -> str:
    """The due instant of the case's running handling clock (supervision's) once re-based on the
    acceptance, and once it differs from ``other_than`` (a clock supervision is still to move)."""
    def due():
        stages = system.get("supervision", f"/api/v1/cases/{cid}/deadlines").json().get("stages", [])
        found = [s["due_at"] for s in stages if s["stage"] == "handling" and s["status"] == "running"
                 and s["basis"].startswith("accepted_at")]
        return found and found[0] != other_than and found[0]
    return system.wait_for(due, what="supervision's handling clock")


def _expected(page) -> dict[str, str]:
    """The public page's next steps: label → date."""
    items = page.locator("#track-expected > div")
    return {items.nth(i).locator("dt").inner_text(): items.nth(i).locator("dd").inner_text()
            for i in range(items.count())}


def _track(public, code: str):
    page = public.go(f"/track?code={code.replace('-', '').lower()}")  # as typed, without dashes
    assert page.locator("#track-result").count() == 1, page.inner_text("main")
    return page


def test_the_public_page_names_the_date_of_the_next_step_and_takes_a_comment_with_the_rating(system, console):
    case = _handlers_case(system, f"公开页期限 {uuid.uuid4().hex[:8]}", n=71)
    cid, code = case["case_id"], case["tracking_code"]
    public = console()

    # given a case not yet accepted: the page names the day the receipt promises the decision by
    promise = system.wait_for(lambda: system.get("supervision", f"/api/v1/cases/{cid}/deadlines").json()
                              .get("acceptance_promise"), what="the acceptance promise")
    page = _track(public, code)
    assert _expected(page) == {EXPECTED_STEPS["acceptance"]: cn_date(promise["due_at"], end=True)}
    # one date per label, each a Chinese date
    labels_ = page.locator("#track-dates dt").all_inner_texts()
    assert len(labels_) == len(set(labels_)) and sum("登记" in x for x in labels_) == 1, labels_
    assert all(d.endswith("日") for d in page.locator("#track-result dd").all_inner_texts())
    public.shot("60-public-expected-acceptance")

    # when the unit accepts, then the reply's due date, the day supervision's handling clock is due
    system.sign(cid, "demo-handler")
    r = system.post("intake", f"/api/v1/cases/{cid}/acceptance", {"decision": "accepted", "notice": "予以受理"},
                    user="demo-handler")
    assert r.status_code == 200, r.text
    due = _handling_due(system, cid)
    assert _expected(_track(public, code)) == {EXPECTED_STEPS["reply"]: cn_date(due, end=True)}

    # and an extension moves it by its days, on the page as on the clock
    r = system.post("intake", f"/api/v1/cases/{cid}/extension", {"days": 10, "reason": "案情复杂需进一步调查"},
                    user="demo-handler")
    assert r.status_code == 200, r.text
    moved = _handling_due(system, cid, other_than=due)
    page = _track(public, code)
    assert _expected(page) == {EXPECTED_STEPS["reply"]: cn_date(moved, end=True)}
    assert (datetime.fromisoformat(moved) - datetime.fromisoformat(due)).days == 10
    public.shot("61-public-expected-reply-extended")

    # once replied: until when the petitioner may evaluate and ask for a review (30 days each)
    r = system.post("intake", f"/api/v1/cases/{cid}/reply", {"outcome": "explained", "text": "已作解释说明"},
                    user="demo-handler")
    assert r.status_code == 200, r.text
    replied_at = datetime.fromisoformat(r.json()["event"]["occurred_at"])
    window = cn_date(replied_at + timedelta(days=30), end=True)
    page = _track(public, code)
    assert _expected(page) == {EXPECTED_STEPS["evaluation"]: window, EXPECTED_STEPS["review_request"]: window}

    # a comment too long is refused naming the field, the rating and the words kept in the form
    page.check("#evaluation input[value=basically_satisfied]")
    page.fill("#evaluation textarea[name=comment]", "长" * 301)
    page.click("#evaluation button[type=submit]")
    assert page.locator("#evaluation [data-field=comment]").count() == 1, page.inner_text("main")
    assert "评价意见" in page.inner_text("#evaluation .error")
    assert page.get_attribute("#evaluation textarea[name=comment]", "aria-invalid") == "true"
    assert page.is_checked("#evaluation input[value=basically_satisfied]")
    public.shot("62-public-comment-too-long")
    # the API says the same, naming the field
    r = system.http.post(f"{system.url['intake']}/api/v1/track/{code}/evaluation",
                         json={"rating": "satisfied", "comment": "长" * 301})
    assert r.status_code == 422 and [f["field"] for f in r.json()["error"]["fields"]] == ["comment"], r.text

    # when the petitioner rates with a short comment, then both are shown back
    words = f"办事认真，回复及时 {uuid.uuid4().hex[:6]}"
    page.fill("#evaluation textarea[name=comment]", words)
    page.click("#evaluation button[type=submit]")
    assert "感谢您的评价" in page.inner_text("main")
    assert page.inner_text("#rating strong") == "基本满意"
    assert page.inner_text("#rating-comment") == words
    assert EXPECTED_STEPS["evaluation"] not in _expected(page)  # given: nothing left to evaluate
    public.shot("63-public-rating-and-comment")

    # and the staff read it on the case file's timeline
    leader = console("demo-leader")
    timeline = leader.go(f"/cases/{cid}").inner_text("#timeline")
    assert any("满意度评价" in line and "基本满意" in line and words in line for line in timeline.splitlines()), timeline
    leader.shot("64-case-file-evaluation-comment")

    # but no log line of any service or of the console holds it
    logs = system.stack.data_dir / "logs"
    for f in logs.glob("*.log"):
        assert words not in f.read_text(encoding="utf-8", errors="replace"), f.name


def _overflow(page) -> dict:
    """How wide the page is, and the header's texts that wrap inside themselves (a word cut in two)."""
    return page.evaluate("""() => {
      const wrapped = [];
      const walk = document.createTreeWalker(document.querySelector('header.top'), NodeFilter.SHOW_TEXT);
      for (let n = walk.nextNode(); n; n = walk.nextNode()) {
        if (!n.textContent.trim()) continue;
        const r = document.createRange(); r.selectNodeContents(n);
        const tops = new Set([...r.getClientRects()].map(x => Math.round(x.top)));
        if (tops.size > 1) wrapped.push(n.textContent.trim());
      }
      return {width: document.documentElement.scrollWidth, wrapped};
    }""")


def test_at_390_px_no_page_overflows_and_no_header_text_wraps(system, console):
    case = _handlers_case(system, f"窄屏检查 {uuid.uuid4().hex[:8]}", n=72)
    _accepted_and_replied(system, case["case_id"])
    public = console()
    public.page.set_viewport_size({"width": 390, "height": 844})
    clerk = console("demo-clerk")
    clerk.page.set_viewport_size({"width": 390, "height": 844})
    handler = console("demo-handler")
    handler.page.set_viewport_size({"width": 390, "height": 844})
    for who, path, name in ((public, f"/track?code={case['tracking_code']}", "track"), (public, "/login", "login"),
                            (clerk, "/register", "register"), (clerk, "/cases", "cases"),
                            (handler, f"/cases/{case['case_id']}", "case"), (handler, "/inbox", "inbox")):
        page = who.go(path)
        got = _overflow(page)
        who.shot(f"65-narrow-{name}")
        assert got["width"] <= 390 and got["wrapped"] == [], (path, got)


def test_the_queue_shows_a_returned_objection_and_a_review_arriving_with_counts_per_kind(system, console):
    # given a case its unit returns (异议退回) …
    returned = _handlers_case(system, f"退回的事项 {uuid.uuid4().hex[:8]}", n=73)["case_id"]
    r = system.post("routing", f"/api/v1/cases/{returned}/objection", {"reason": "不属本单位职责范围"}, user="demo-handler")
    assert r.status_code == 200, r.text
    # … and a reply of a county department the petitioner asks to be reviewed: no petition office
    # above the county is known, so the dispatcher hands the review on
    reviewed = _handlers_case(system, f"申请复查 {uuid.uuid4().hex[:8]}", n=74)["case_id"]
    _accepted_and_replied(system, reviewed)
    r = system.post("intake", f"/api/v1/cases/{reviewed}/review-request", {"level": "review", "reason": "对答复不服"},
                    user="demo-clerk")
    assert r.status_code == 200, r.text
    system.wait_for(lambda: any(i["case_id"] == reviewed for i in system.get(
        "routing", "/api/v1/queue?state=review&limit=500", user="demo-dispatcher").json()["items"]),
        what="the review in the queue")

    dispatcher = console("demo-dispatcher")
    page = dispatcher.go("/queue")
    counts = system.get("routing", "/api/v1/queue?limit=1", user="demo-dispatcher").json()["counts"]
    assert counts["returned"] >= 1 and counts["review"] >= 1
    # the counts per kind at the top, 全部 their sum, the navigation's 待办 and the pager the same
    tabs = {a.get_attribute("data-kind"): int(a.locator(".n").inner_text())
            for a in page.locator("#queue-kinds a").all()}
    assert tabs == {"": sum(counts.values()), **counts}, tabs
    assert [t.split()[0] for t in page.locator("#queue-kinds a").all_inner_texts()] == ["全部", *QUEUE_KINDS.values()]
    badge = int(page.inner_text("nav.main [data-nav-count='/queue']"))
    listed = int(re.search(r"共 (\d+) 条", page.inner_text(".pager")).group(1))
    assert badge == listed == tabs[""]
    dispatcher.shot("66-queue-kinds-and-counts")

    # each case by its kind in Chinese: the objection with its reason, the review as 复查
    page = dispatcher.go("/queue?state=returned")
    row = page.locator(f"#queue tr[data-case='{returned}']")
    assert row.locator("td.kind").inner_text().startswith(QUEUE_KINDS["returned"])
    assert "不属本单位职责范围" in row.inner_text()
    assert int(page.locator("#queue-kinds a.active .n").inner_text()) == counts["returned"]
    dispatcher.shot("67-queue-returned")
    page = dispatcher.go("/queue?state=review")
    kind = page.locator(f"#queue tr[data-case='{reviewed}'] td.kind").inner_text()
    assert kind.startswith(f"{QUEUE_KINDS['review']}（复查）"), kind
    dispatcher.shot("68-queue-review")


def test_all_of_the_handlers_inbox_shows_the_cases_its_unit_helps_with(system, console):
    # given a case led elsewhere that demo-handler's unit is asked to help with (协办)
    case = system.register(summary=f"协办事项 {uuid.uuid4().hex[:8]}", petitioners=another_petitioner(75))
    cid = case["case_id"]
    system.wait_for(lambda: system.get("routing", f"/api/v1/cases/{cid}/assignment").status_code == 200,
                    what="the case in routing")
    r = system.post("routing", f"/api/v1/cases/{cid}/assignment",
                    {"unit_id": "999901-d03", "reason": "自然资源局牵头", "co_unit_ids": [HANDLER_UNIT]},
                    user="demo-dispatcher")
    assert r.status_code == 200, r.text
    # when the handler opens the inbox's 全部, then the case is there as 协办, with who leads it
    handler = console("demo-handler")
    page = handler.go("/inbox")
    row = page.locator("#inbox tbody tr").filter(has=page.locator(f"a[href='/cases/{cid}']"))
    assert row.count() == 1, page.inner_text("#inbox")
    assert "协办" in row.inner_text() and "主办" in row.inner_text()
    # and the counter's 全部 is what the list pages through, the navigation's 待办 the same
    total = int(re.search(r"全部 (\d+)", page.inner_text("#inbox-counts")).group(1))
    listed = int(re.search(r"共 (\d+) 条", page.inner_text(".pager")).group(1))
    assert total == listed == int(page.inner_text("nav.main [data-nav-count='/inbox']"))
    handler.shot("69-inbox-all-with-co-handling")
