"""The web console in real Chromium: one case's whole life across the roles, a leader reading the
rates, a township user seeing nothing of another township, forms refusing bad input in Chinese."""
from __future__ import annotations

import io
import uuid
from datetime import datetime, timedelta

import pytest

from tests.e2e.conftest import BEIJING, RECEIVED, another_petitioner

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

HANDLER_UNIT = "999901-d02"  # demo-handler's unit, 县人力资源和社会保障局


def _needs(system, service: str, *paths: str) -> None:
    """Skip, saying which, while a service does not offer an endpoint of docs/interfaces.md yet
    (the branches building them merge into main one by one)."""
    offered = system.http.get(f"{system.url[service]}/openapi.json").json()["paths"]
    missing = [p for p in paths if p not in offered]
    if missing:
        pytest.skip(f"{service} does not offer {', '.join(missing)} yet (docs/interfaces.md)")


def _ok(page) -> None:
    """The last form was accepted: the page says so and shows no error."""
    errors = page.locator(".error, .field-error, .unavailable")
    assert errors.count() == 0, errors.all_inner_texts()
    assert page.locator(".ok").count() == 1, page.inner_text("main")[:500]


def _fill_petition(page, summary: str, division: str = "999901001001") -> None:
    page.select_option("select[name=channel]", "letter")
    page.fill("input[name=received_at]", RECEIVED.strftime("%Y-%m-%dT%H:%M"))
    page.select_option("select[name=purpose]", "appeal")
    page.fill("input[name=headcount]", "1")
    page.select_option("select[name=category_code]", "0702")
    page.select_option("select[name=division_code]", division)
    page.fill("input[name='petitioners.0.name']", "张三")
    page.fill("input[name='petitioners.0.id_number']", "110101199003071233")
    page.fill("input[name='petitioners.0.phone']", "13800000000")
    page.fill("input[name='petitioners.0.address']", "示范县城关镇")
    page.fill("textarea[name=summary]", summary)
    page.fill("textarea[name=request]", "请求督促支付工资")


def test_one_case_through_its_whole_life(system, console):
    summary = f"拖欠工资 {uuid.uuid4().hex[:6]}"

    # the clerk registers a letter and prints the receipt
    clerk = console("demo-clerk")
    page = clerk.page
    assert page.url.endswith("/register")
    clerk.shot("01-clerk-register-form")
    _fill_petition(page, summary)
    page.click("form#register button[type=submit]")
    code = page.inner_text("#tracking-code").strip()
    case_id = page.get_attribute("#case-link", "href").rsplit("/", 1)[-1]
    assert "初信初访" in page.inner_text("#flags")
    clerk.shot("02-clerk-registered-flags")
    # the success page is a page of its own (post/redirect/get): F5 shows it again and registers nothing
    assert page.url.endswith(f"/cases/{case_id}/registered")
    page.reload()
    assert page.inner_text("#tracking-code").strip() == code
    assert system.rows("intake", f"SELECT count(*) FROM cases WHERE summary = '{summary}'") == [1]
    clerk.go(f"/cases/{case_id}/receipt")
    assert "受理凭证" in page.inner_text("h1") and code in page.inner_text("main")
    clerk.shot("03-receipt")

    # the dispatcher's home is the queue; the default rule already gave this case to the township, so the
    # dispatcher sees the suggested unit with its rule on the case file and reassigns it to the labour bureau
    _needs(system, "routing", "/api/v1/queue", "/api/v1/rules/preview", "/api/v1/cases/{case_id}/sign")
    system.wait_for(lambda: system.get("routing", f"/api/v1/cases/{case_id}/assignment",
                                       user="demo-dispatcher").status_code == 200, what="the case in routing")
    dispatcher = console("demo-dispatcher")
    page = dispatcher.page
    assert page.url.endswith("/queue")
    dispatcher.shot("04-dispatcher-queue")
    assert page.locator(".unavailable").count() == 0, "the dispatcher's queue is not available"
    dispatcher.go(f"/cases/{case_id}")
    assert "建议承办单位" in page.inner_text("#act-assignment")
    page.select_option("#act-assignment select[name=unit_id]", HANDLER_UNIT)
    page.fill("#act-assignment input[name=reason]", "拖欠工资属人社部门职责")
    page.click("#act-assignment button[type=submit]")
    _ok(page)
    dispatcher.shot("05-dispatcher-assigned")

    # the handler finds it in the unit's inbox, signs, accepts, replies; the notices print
    system.wait_for(lambda: system.get("intake", f"/api/v1/cases/{case_id}", user="demo-handler").status_code == 200,
                    what="the case in the handler's view")
    handler = console("demo-handler")
    page = handler.page
    assert page.url.endswith("/inbox")
    handler.go("/inbox")
    assert summary in page.inner_text("#inbox")
    # the pager counts what the inbox holds (it had said 共 0 条, with no next page, at any size)
    rows = system.get("routing", f"/api/v1/units/{HANDLER_UNIT}/inbox?limit=1", user="demo-handler").json()["total"]
    assert rows >= 1 and f"共 {rows} 条" in page.inner_text(".pager")
    handler.shot("06-handler-inbox")
    handler.go(f"/cases/{case_id}")
    page.click("#act-sign button[type=submit]")
    _ok(page)
    system.heard_signing(case_id)  # from routing's topic, within a second: a person reads the page first
    page.select_option("#act-acceptance select[name=decision]", "accepted")
    page.select_option("#act-acceptance select[name=procedure]", "normal")
    page.fill("#act-acceptance textarea[name=notice]", "您的信访事项已受理，将在六十日内办结。")
    page.click("#act-acceptance button[type=submit]")
    _ok(page)
    page.select_option("#act-reply select[name=outcome]", "supported")
    page.fill("#act-reply textarea[name=text]", "经核查，已督促用人单位支付所欠工资。")
    page.click("#act-reply button[type=submit]")
    _ok(page)
    assert page.inner_text("#case-status") == "已答复"
    handler.shot("07-handler-case-replied")
    handler.go(f"/cases/{case_id}/notices/0")
    assert "受理告知书" in page.inner_text("h1")
    handler.shot("08-notice-acceptance")
    handler.go(f"/cases/{case_id}/notices/1")
    assert "答复意见书" in page.inner_text("h1") and "已督促用人单位支付" in page.inner_text("main")
    handler.shot("09-notice-reply")

    # the petitioner follows it with the tracking code, without signing in, and evaluates
    public = console()
    page = public.go("/track")
    page.fill("input[name=code]", code)
    page.click("form[action='/track'] button[type=submit]")
    assert page.inner_text("#track-status") == "已答复"
    assert "已督促用人单位支付" in page.inner_text("#reply-text")
    public.shot("10-public-tracking")
    page.check("#evaluation input[value=satisfied]")
    page.click("#evaluation button[type=submit]")
    assert "感谢您的评价" in page.inner_text("main")
    assert page.inner_text("#rating strong") == "满意"  # the rating given, shown back
    labels_ = page.locator("#track-dates dt").all_inner_texts()
    assert labels_ and "登记" not in labels_ and len(labels_) == len(set(labels_))  # one date per label
    public.shot("11-public-evaluated")

    # the case file tells the whole story: each step with who (by name) and when
    leader = console("demo-leader")
    page = leader.go(f"/cases/{case_id}")
    timeline = page.inner_text("#timeline")
    for step, who in (("登记", "演示登记员"), ("交办", "演示交办员"), ("签收", "演示承办人"),
                      ("受理", "演示承办人"), ("答复", "演示承办人"), ("满意度评价", "信访人")):
        assert any(step in line and who in line for line in timeline.splitlines()), (step, who, timeline)
    leader.shot("12-case-file-timeline")


def test_a_leader_reads_the_rates(system, console):
    _needs(system, "reporting", "/api/v1/stats/dashboard",
           "/api/v1/exports/monthly.xlsx")
    # received minutes ago: in this year's figures, which the page opens on, whatever the date
    cid = system.register(summary="统计用事项",
                          received_at=(datetime.now(BEIJING) - timedelta(minutes=5)).isoformat())["case_id"]
    system.wait_for(lambda: system.get("routing", f"/api/v1/cases/{cid}/assignment").status_code == 200,
                    timeout=20, what="the case in routing")
    r = system.post("routing", f"/api/v1/cases/{cid}/ownership", {"leader": "demo-leader"}, user="demo-leader")
    assert r.status_code in (200, 409), r.text
    leader = console("demo-leader")
    page = leader.page
    assert page.url.endswith("/dashboard")
    # the cases the leader owns (包案), with their unit and state
    owned = system.get("intake", f"/api/v1/cases/{cid}").json()["tracking_code"]
    assert owned in page.inner_text("#owned")  # by its tracking code, as a leader reads it
    assert page.locator("#rates .unavailable").count() == 0, "the rates are not available"
    rates = page.inner_text("#rates")
    for name in ("及时受理率", "按期答复率", "满意率"):
        assert name in rates
    assert page.locator("#summary .tile").count() >= 3
    assert page.locator("svg.chart").count() >= 1
    # opened as such, the page shows the assessment year to date, and this year's first petitions
    # against the same days of last year (初信初访同比)
    year = datetime.now(BEIJING).year
    assert f"统计期间 {year}-01-01 至 不限" in rates
    assert page.locator("#periods a.current").inner_text() == "本年度"
    assert "同比" in page.inner_text("#year-on-year") and f"{year - 1}-01-01" in page.inner_text("#year-on-year")
    leader.shot("13-leader-dashboard")
    page.click("#periods >> text=全部时间")
    assert "统计期间 不限 至 不限" in page.inner_text("#rates")
    assert page.locator("#year-on-year").count() == 0  # all time has no same period a year before
    page.fill("input[name=date_from]", f"{year}-01-01")
    page.fill("input[name=date_to]", f"{year}-12-31")
    page.click("#stats-filter button[type=submit]")
    assert f"统计期间 {year}-01-01 至 {year}-12-31" in page.inner_text("#rates")
    leader.shot("14-leader-dashboard-range")
    href = page.get_attribute("#exports a", "href")
    r = leader.context.request.get(leader.base + href)
    assert r.status == 200 and r.body()[:2] == b"PK", "the XLSX export is not a workbook"
    # as the leader hands it on: rates as percentages, and every breakdown's total is the overview's
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(r.body()))
    rates_sheet = wb["五率"]
    assert all(rates_sheet.cell(row=i, column=4).number_format == "0.0%" for i in range(4, rates_sheet.max_row + 1))
    overview = {row[0]: row[1] for row in wb["概况"].iter_rows(min_row=4, values_only=True)}
    for name in ("按渠道", "按责任单位", "按月份"):
        header = [c.value for c in wb[name][3]]
        total = list(wb[name].iter_rows(min_row=4, values_only=True))[-1]
        assert total[0] == "合计" and total[header.index("积案")] == overview["积案"], name
        assert total[header.index("登记件数（批次）")] == overview["登记件数（批次）"], name


def test_a_township_user_sees_nothing_of_another_township(system, console):
    divisions = system.get("routing", "/api/v1/divisions", user="demo-admin").json()
    other = next(d for d in divisions if d["level"] == "village" and not d["code"].startswith("999901001"))
    mine = system.register(summary="城关镇本镇事项")
    theirs = system.register(summary="外镇事项不可见", division_code=other["code"])
    system.wait_for(lambda: system.get("intake", f"/api/v1/cases/{mine['case_id']}",
                                       user="demo-township-clerk").status_code == 200, what="own case visible")

    clerk = console("demo-township-clerk")
    page = clerk.go("/cases")
    listing = page.inner_text("main")
    assert "城关镇本镇事项" in listing and "外镇事项不可见" not in listing
    clerk.shot("15-township-cases")
    for path in (f"/cases/{theirs['case_id']}", f"/cases/{theirs['case_id']}/receipt",
                 "/cases?q=外镇事项", f"/cases?division_code={other['code'][:9]}000"):
        page = clerk.go(path)
        assert "外镇事项不可见" not in page.content() and theirs["tracking_code"] not in page.content(), path
    # the pages of other roles answer 403 in Chinese, whatever address the clerk types
    for path in ("/supervision", "/supervision?view=overdue", "/supervision?view=backlog", "/dashboard", "/queue",
                 "/inbox", "/export/monthly.xlsx?month=2026-11"):
        response = clerk.page.goto(clerk.base + path)
        assert response.status == 403, (path, response.status)
        page = clerk.page
        assert "无权访问" in page.inner_text("h1") and "登记员" in page.inner_text("main"), path
        assert "此页面" not in page.inner_text("main"), path  # the page is named
        assert theirs["case_id"] not in page.content() and "外镇事项不可见" not in page.content(), path
    clerk.shot("16a-township-clerk-forbidden-dashboard")
    # the search by tracking code (typed without dashes) stays within the township too
    page = clerk.go(f"/cases?q={theirs['tracking_code'].replace('-', '')}")
    assert "外镇事项不可见" not in page.inner_text("main")
    page = clerk.go(f"/cases?q={mine['tracking_code'].replace('-', '').lower()}")
    assert "城关镇本镇事项" in page.inner_text("main")
    page = clerk.go(f"/cases/{theirs['case_id']}")
    assert "未找到" in page.inner_text("h1")
    clerk.shot("16-township-other-case-not-found")
    page = clerk.go("/register")
    options = page.locator("select[name=division_code] option").all_inner_texts()
    assert not any(other["name"] in o for o in options)


def test_forms_refuse_bad_input_with_the_chinese_message_next_to_the_field(system, console):
    clerk = console("demo-clerk")
    page = clerk.go("/register")
    _fill_petition(page, "")
    page.fill("input[name='petitioners.0.id_number']", "")
    page.click("form#register button[type=submit]")
    for field, message in (("summary", "内容过短或为空|必填项缺失"), ("petitioners.0.id_number", "内容过短或为空")):
        error = page.locator(f".field-error[data-field='{field}']")
        assert error.count() == 1, page.inner_text("main")[:800]
        assert any(m in error.inner_text() for m in message.split("|"))
        # the message sits right after the field's own label
        beside = page.evaluate(
            "f => document.querySelector(`[name='${f}']`).closest('label').nextElementSibling.dataset.field", field)
        assert beside == field
    # each field in error says so to assistive technology, and the first one (in the form's order)
    # has the focus; the required fields are marked
    for field in ("petitioners.0.id_number", "summary"):
        control = page.locator(f"[name='{field}']")
        assert control.get_attribute("aria-invalid") == "true"
        described = control.get_attribute("aria-describedby")
        assert described and page.locator(f"#{described}").get_attribute("data-field") == field
    assert page.evaluate("document.activeElement.name") == "petitioners.0.id_number"
    assert page.locator("[name=request]").get_attribute("aria-invalid") is None
    marked = page.eval_on_selector_all("label:has(.req) [required]", "cs => cs.map(c => c.name)")
    assert {"channel", "received_at", "category_code", "division_code", "petitioners.0.name",
            "petitioners.0.id_number", "summary", "request"} <= set(marked)
    # what the clerk typed is kept
    assert page.input_value("input[name='petitioners.0.name']") == "张三"
    assert page.input_value("textarea[name=request]") == "请求督促支付工资"
    clerk.shot("17-register-refused")

    page = clerk.go("/login")
    page.fill("input[name=username]", "")
    page.click("form[action='/login'] button[type=submit]")
    assert page.locator(".field-error[data-field='username']").count() == 1
    assert "用户名" in page.inner_text("label:has(input[name=username])")
    clerk.shot("18-login-refused")


def test_a_registration_form_sent_twice_registers_one_petition(system, console):
    """A second click, or the form re-sent after a lost answer, shows the same receipt and stores
    one petition; the form changed after it was registered is told apart, with a fresh key."""
    clerk = console("demo-clerk")
    page = clerk.go("/register")
    summary = f"重复提交 {uuid.uuid4().hex[:8]}"
    _fill_petition(page, summary)
    form = page.evaluate("() => Object.fromEntries(new FormData(document.querySelector('form#register')))")
    assert form["idempotency_key"]
    receipts = []
    for _ in range(2):  # as the browser sends it, with the clerk's cookie: the same form twice
        r = page.request.post(f"{clerk.base}/register", form=form)
        assert r.status == 200, r.text()[:500]
        page.set_content(r.text())
        receipts.append(page.inner_text("#tracking-code").strip())
    assert receipts[0] and receipts[0] == receipts[1]
    assert system.rows("intake", f"SELECT count(*) FROM cases WHERE summary = '{summary}'") == [1]
    changed = page.request.post(f"{clerk.base}/register", form={**form, "summary": summary + "（改）"})
    page.set_content(changed.text())
    assert "此表单已登记过一次" in page.inner_text("main")
    fresh = page.input_value("input[name=idempotency_key]")
    assert fresh and fresh != form["idempotency_key"]
    assert system.rows("intake", f"SELECT count(*) FROM cases WHERE summary LIKE '{summary}%'") == [1]


def test_a_supervisor_reads_the_lists_and_issues_an_order_and_a_reminder(system, console):
    _needs(system, "supervision", "/api/v1/warnings", "/api/v1/overdue", "/api/v1/backlog", "/api/v1/alerts",
           "/api/v1/supervision-orders", "/api/v1/cases/{case_id}/supervision-orders",
           "/api/v1/cases/{case_id}/reminders")
    case = system.register(summary="督办用事项")
    system.clocks(case["case_id"], user="demo-supervisor")
    supervisor = console("demo-supervisor")
    page = supervisor.page
    assert page.url.endswith("/supervision")
    for view in ("warnings", "overdue", "backlog", "alerts"):
        page = supervisor.go(f"/supervision?view={view}")
        assert page.locator(".unavailable").count() == 0, f"{view} is not available"
        supervisor.shot(f"19-supervisor-{view}")
    page = supervisor.go(f"/cases/{case['case_id']}")
    page.fill("#act-supervision-order input[name=requirement]", "请于期限内办结并报告")
    page.fill("#act-supervision-order input[name=reply_by]", (datetime.now(BEIJING) + timedelta(days=30)).strftime("%Y-%m-%d"))
    # the form as the browser would send it a second time (a double click, a re-sent request)
    sent = page.evaluate("() => Object.fromEntries(new FormData(document.querySelector('#act-supervision-order')))")
    page.click("#act-supervision-order button[type=submit]")
    _ok(page)
    assert page.request.post(f"{supervisor.base}/cases/{case['case_id']}/act/supervision-order", form=sent).ok
    assert system.rows("supervision", "SELECT count(*) FROM events WHERE event_type = 'SupervisionOrderIssued' "
                                      f"AND case_id = '{case['case_id']}'") == [1]
    page.fill("#act-reminder input[name=text]", "请加快办理")
    page.click("#act-reminder button[type=submit]")
    _ok(page)
    supervisor.shot("20-supervisor-case")
    page = supervisor.go("/supervision?view=orders")
    assert "请于期限内办结并报告" in page.inner_text("#supervision-list")
    supervisor.shot("21-supervisor-orders")


def test_an_unknown_address_or_a_bad_parameter_answers_a_page_in_chinese(system, console):
    clerk = console("demo-clerk")
    for path, status, heading in (("/no-such-page", 404, "未找到"), ("/cases?page=abc", 422, "网址参数有误"),
                                  ("/track?code=abcd-efgh-jkmn&x=1", 200, None)):
        response = clerk.page.goto(clerk.base + path)
        assert response.status == status, (path, response.status)
        text = clerk.page.inner_text("body")
        assert '"detail"' not in text and "Not Found" not in text, (path, text[:300])
        if heading:
            assert heading in clerk.page.inner_text("h1"), path
    clerk.page.goto(clerk.base + "/cases?page=abc")
    assert "page" in clerk.page.inner_text("main")  # the message names the parameter
    clerk.shot("22-bad-parameter")


def test_a_case_no_rule_matches_is_work_in_the_dispatchers_queue(system, console):
    """No routing rule names a unit for category 17 in the demo county: the case waits in the queue,
    says why in Chinese with the petition office suggested, and leaves it once the dispatcher
    has handed it to a unit."""
    case = system.register(summary=f"无规则事项 {uuid.uuid4().hex[:8]}", category_code="1701")
    cid = case["case_id"]
    dispatcher = console("demo-dispatcher")
    row = f"#queue tr[data-case='{cid}']"

    def queued():
        dispatcher.go("/queue")
        return dispatcher.page.locator(row).count() == 1
    system.wait_for(queued, timeout=30, what="the case in the dispatcher's queue")
    page = dispatcher.page
    text = page.inner_text(row)
    assert "没有匹配的交办规则" in text and "信访" in text, text
    assert "fallback" not in text and "no_rule" not in text
    dispatcher.shot("22-dispatcher-queue-no-rule")
    page.select_option(f"{row} select[name=unit_id]", "999901-d03")
    page.fill(f"{row} input[name=reason]", "土地问题，县自然资源局办理")
    page.click(f"{row} button[type=submit]")
    assert page.locator(".ok").count() == 1, page.inner_text("main")[:500]
    assert page.locator(row).count() == 0
    assert system.get("routing", f"/api/v1/cases/{cid}/assignment").json()["unit_id"] == "999901-d03"


def test_a_case_page_offers_only_the_steps_the_role_may_take_now_in_their_order(system, console):
    """交办 → 签收 → 受理 → 答复 → 办结: the handler is offered signing before acceptance and never
    both; a clerk is never offered 办结; closing asks first, and a "no" closes nothing."""
    case = system.register(summary=f"按序办理 {uuid.uuid4().hex[:8]}", petitioners=another_petitioner(23))
    cid = case["case_id"]
    system.wait_for(lambda: system.get("routing", f"/api/v1/cases/{cid}/assignment").status_code == 200,
                    what="the case in routing")
    r = system.post("routing", f"/api/v1/cases/{cid}/assignment", {"unit_id": HANDLER_UNIT, "reason": "人社部门职责"},
                    user="demo-dispatcher")
    assert r.status_code == 200, r.text
    system.wait_for(lambda: system.get("intake", f"/api/v1/cases/{cid}", user="demo-handler").status_code == 200,
                    what="the case in the handler's view")
    forms = lambda page: {f.split("act-", 1)[1] for f in page.eval_on_selector_all(  # noqa: E731
        "form.action", "fs => fs.map(f => f.id)")}
    clerk = console("demo-clerk")
    assert "closure" not in forms(clerk.go(f"/cases/{cid}")) and "acceptance" not in forms(clerk.page)
    handler = console("demo-handler")
    page = handler.go(f"/cases/{cid}")
    assert forms(page) == {"sign", "objection"}, forms(page)
    page.click("#act-sign button[type=submit]")
    _ok(page)
    system.heard_signing(cid)
    page = handler.go(f"/cases/{cid}")
    assert forms(page) == {"objection", "acceptance"}, forms(page)
    page.fill("#act-acceptance textarea[name=notice]", "您的信访事项已受理。")
    page.click("#act-acceptance button[type=submit]")
    _ok(page)
    assert handler.asked[-1] == "确认作出受理决定？决定作出后不能更改。"
    assert forms(page) == {"extension", "reply"}, forms(page)
    page.fill("#act-extension input[name=days]", "20")
    page.fill("#act-extension input[name=reason]", "需调取工资台账")
    page.fill("#act-extension input[name=approver]", "王局长")
    page.click("#act-extension button[type=submit]")
    _ok(page)
    assert forms(page) == {"reply"}, forms(page)  # extended once: not again
    due = system.wait_for(lambda: next((s["due_at"] for s in system.get(
        "supervision", f"/api/v1/cases/{cid}/deadlines").json()["stages"] if s["stage"] == "handling"
        and s["limit_days"] == 80), None), what="the handling clock extended to 80 days")
    last = datetime.fromisoformat(due.replace("Z", "+00:00")).astimezone(BEIJING) - timedelta(microseconds=1)
    notice = handler.go(f"/cases/{cid}/notices/1")
    text = notice.inner_text("#extension")
    assert "延长 20 日" in text and f"至 {last.year}年{last.month}月{last.day}日" in text and "王局长" in text, text
    handler.shot("23a-extension-notice")
    page = handler.go(f"/cases/{cid}")
    page.fill("#act-reply textarea[name=text]", "经核查，已督促用人单位支付工资。")
    page.click("#act-reply button[type=submit]")
    _ok(page)
    assert forms(page) == {"closure"}, forms(page)
    handler.answer = False  # "no" to 确认办结
    page.click("#act-closure button[type=submit]")
    assert handler.asked[-1].startswith("确认办结")
    assert system.get("intake", f"/api/v1/cases/{cid}", user="demo-handler").json()["status"] == "replied"
    handler.answer = True
    page.click("#act-closure button[type=submit]")
    _ok(page)
    assert system.get("intake", f"/api/v1/cases/{cid}", user="demo-handler").json()["status"] == "closed"
    assert page.locator("#no-actions").count() == 1
    handler.shot("23-handler-case-closed-no-actions")


def test_the_main_pages_have_no_serious_accessibility_issue(system, console):
    """axe-core (4.12, bundled by axe-playwright-python) on the main page of every role and the
    public ones: no violation of serious or critical impact (labels, names, contrast, ARIA)."""
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    case = system.register(summary=f"无障碍检查 {uuid.uuid4().hex[:8]}")
    cid = case["case_id"]
    system.wait_for(lambda: system.get("routing", f"/api/v1/cases/{cid}/assignment").status_code == 200,
                    what="the case in routing")
    pages = {None: ["/login", "/track", f"/track/{case['tracking_code']}"],
             "demo-clerk": ["/register", "/cases", f"/cases/{cid}", f"/cases/{cid}/receipt"],
             "demo-dispatcher": ["/queue", f"/cases/{cid}"],
             "demo-handler": ["/inbox"],
             "demo-supervisor": ["/supervision", "/supervision?view=overdue"],
             "demo-leader": ["/dashboard"]}
    found = {}
    for user, paths in pages.items():
        c = console(user)
        for path in paths:
            c.go(path)
            violations = axe.run(c.page).response["violations"]
            bad = [f"{v['id']} ({v['impact']}): {v['nodes'][0]['target']} — {v['help']}"
                   for v in violations if v["impact"] in ("serious", "critical")]
            if bad:
                found[f"{user or 'public'} {path}"] = bad
    assert not found, "\n".join(f"{k}: {v}" for k, v in found.items())


def test_the_navigation_counts_what_each_list_holds(system, console):
    """待办 in the navigation: the dispatcher's queue, the handler's inbox, the supervisor's warnings,
    each the total its list shows, and it moves when the work is done."""
    import re

    case = system.register(summary=f"待办计数 {uuid.uuid4().hex[:8]}", category_code="1701")  # no rule: queued
    system.wait_for(lambda: any(i["case_id"] == case["case_id"] for i in system.get(
        "routing", "/api/v1/queue?limit=500", user="demo-dispatcher").json()["items"]), what="the case queued")

    def counted(c, path: str) -> tuple[int, int]:
        page = c.go(path)
        badge = int(page.inner_text(f"nav.main [data-nav-count='{path}']"))
        listed = int(re.search(r"共 (\d+) 条", page.inner_text(".pager")).group(1))
        return badge, listed

    dispatcher = console("demo-dispatcher")
    badge, listed = counted(dispatcher, "/queue")
    assert badge == listed >= 1
    dispatcher.shot("24-nav-counts-dispatcher")
    r = system.post("routing", f"/api/v1/cases/{case['case_id']}/assignment",
                    {"unit_id": HANDLER_UNIT, "reason": "人社部门职责"}, user="demo-dispatcher")
    assert r.status_code == 200, r.text
    assert counted(dispatcher, "/queue") == (badge - 1, listed - 1)
    handler = console("demo-handler")
    badge, listed = counted(handler, "/inbox")
    assert badge == listed >= 1
    supervisor = console("demo-supervisor")
    badge, listed = counted(supervisor, "/supervision")
    assert badge == listed


def test_the_dispatcher_is_told_in_chinese_when_the_rules_make_another_unit_lead(system, console):
    """三跨三分离: naming a helper in another township makes the joint-conference office lead. The
    form says so before, and the page after names who leads and why, not just 操作成功."""
    case = system.register(summary=f"跨镇纠纷 {uuid.uuid4().hex[:8]}", category_code="1701")
    cid = case["case_id"]
    system.wait_for(lambda: system.get("routing", f"/api/v1/cases/{cid}/assignment").status_code == 200,
                    what="the case in routing")
    dispatcher = console("demo-dispatcher")
    page = dispatcher.go(f"/cases/{cid}")
    assert "联席会议办公室牵头" in page.inner_text("#cross-rule")
    page.select_option("#act-assignment select[name=unit_id]", "999901001-gov")
    page.select_option("#act-assignment select[name=co_unit_ids]", ["999901002-gov"])
    page.fill("#act-assignment input[name=reason]", "两镇交界处的纠纷")
    page.click("#act-assignment button[type=submit]")
    _ok(page)
    said = page.inner_text("#lead-changed")
    assert "三跨三分离" in said and "牵头" in said and "999901" not in said, said
    assert system.get("routing", f"/api/v1/cases/{cid}/assignment").json()["unit_id"] == "999901-lxb"
    dispatcher.shot("25-dispatcher-lead-explained")


def test_a_clerk_finds_a_case_by_tracking_code_name_id_number_or_masked_id_number(system, console):
    """The search box takes what a petitioner at the window says: the code on the receipt (typed
    without dashes, in lower case), a name, an ID number or a masked one; the list shows the code."""
    person = another_petitioner(77)[0]
    case = system.register(summary=f"查找事项 {uuid.uuid4().int % 10**8}", petitioners=[person])
    clerk = console("demo-clerk")
    n = person["id_number"]
    for typed in (case["tracking_code"].replace("-", "").lower(), person["name"], n, n[:4] + "*" * 10 + n[-4:]):
        page = clerk.go("/cases")
        page.fill("form.filters input[name=q]", typed)
        page.click("form.filters button[type=submit]")
        row = page.locator("#case-list tr", has=page.locator(f"a[href='/cases/{case['case_id']}']"))
        assert row.count() == 1, (typed, page.inner_text("#case-list")[:500])
        assert case["tracking_code"] in row.inner_text()
    clerk.shot("26-search-by-masked-id-number")
