"""The printed documents as an office issues them, in real Chromium: each notice under its
letterhead with its document number (文号), filled from the case's facts; the receipt with the
petitioner's name, the date by which they are told whether the case is accepted, the public
tracking address and its QR code; the supervision order (督办单); each also as a server-made PDF
of A4 pages; and no internal id anywhere on paper."""
from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta

import pytest

from tests.browser.conftest import SCREENSHOTS
from tests.e2e.conftest import BEIJING, another_petitioner
from tests.pdfs import all_a4, page_sizes

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

HANDLER_UNIT = "999901-d02"
DOCUMENT_NUMBER = re.compile(r"^〔\d{4}〕\S+第\d+号$")
CN_DATE = re.compile(r"\d{4}年\d{1,2}月\d{1,2}日")
HEX_RUN = re.compile(r"(?<![0-9A-Za-z])(?=[0-9a-f]*[a-f])[0-9a-f]{8,}(?![0-9A-Za-z])")  # a UUID or a piece of one
def last_day(instant: str) -> str:
    """The day (Beijing) an exclusive end instant closes, as documents write it."""
    day = datetime.fromisoformat(instant.replace("Z", "+00:00")).astimezone(BEIJING) - timedelta(microseconds=1)
    return f"{day.year}年{day.month}月{day.day}日"


def assert_a4_pdf(response, what: str) -> None:
    assert response.status == 200, (what, response.status)
    body = response.body()
    assert body.startswith(b"%PDF") and all_a4(body), (what, page_sizes(body))


def no_ids_on(page, ids: list[str]) -> None:
    text = page.title() + "\n" + page.inner_text("body")
    assert not HEX_RUN.findall(text) and not [i for i in ids if i in text], (page.url, HEX_RUN.findall(text))


@pytest.fixture(scope="module")
def issued(system):
    """A case accepted, extended by 20 days and replied to, with a supervision order."""
    person = another_petitioner(41)
    case = system.register(summary=f"文书检查 {uuid.uuid4().int % 10**8}", petitioners=person)
    cid = case["case_id"]
    system.wait_for(lambda: system.get("routing", f"/api/v1/cases/{cid}/assignment").status_code == 200,
                    what="the case in routing")
    r = system.post("routing", f"/api/v1/cases/{cid}/assignment", {"unit_id": HANDLER_UNIT, "reason": "人社部门职责"},
                    user="demo-dispatcher")
    assert r.status_code == 200, r.text
    system.wait_for(lambda: system.get("intake", f"/api/v1/cases/{cid}", user="demo-handler").status_code == 200,
                    what="the case in the handler's view")
    system.sign(cid, "demo-handler")
    for command, body in (("acceptance", {"decision": "accepted", "procedure": "normal", "notice": "已受理。"}),
                          ("extension", {"days": 20, "reason": "需调取工资台账", "approver": "王局长"}),
                          ("reply", {"outcome": "supported", "text": "经核查，已督促用人单位支付工资。"})):
        r = system.post("intake", f"/api/v1/cases/{cid}/{command}", body, user="demo-handler")
        assert r.status_code in (200, 201), (command, r.text)
    reply_by = (datetime.now(BEIJING) + timedelta(days=10)).date()
    order = system.post("supervision", f"/api/v1/cases/{cid}/supervision-orders",
                        {"requirement": "请于限期内报告工资支付情况", "reply_by": reply_by.isoformat()},
                        user="demo-supervisor")
    assert order.status_code == 201, order.text
    handling = system.wait_for(lambda: next((s for s in system.get(
        "supervision", f"/api/v1/cases/{cid}/deadlines").json()["stages"]
        if s["stage"] == "handling" and str(s["basis"]).startswith("accepted_at + extension")), None),
        what="the handling clock extended")
    return {"case": case, "name": person[0]["name"], "order_id": order.json()["order_id"],
            "reply_by": reply_by, "handling_due": handling["due_at"]}


def test_the_extension_notice_has_its_number_letterhead_days_new_deadline_and_seal(system, console, issued):
    cid = issued["case"]["case_id"]
    handler = console("demo-handler")
    page = handler.go(f"/cases/{cid}/notices/1")
    assert "延长办理期限告知书" in page.inner_text("h1")
    number = page.inner_text("#doc-number").strip()
    assert DOCUMENT_NUMBER.match(number), number
    assert page.inner_text("#letterhead").strip() == "县人力资源和社会保障局"
    text = page.inner_text("#extension")
    assert "延长 20 日" in text and f"至 {last_day(issued['handling_due'])}" in text and "王局长" in text, text
    assert "第三十三条" in text
    assert page.locator(".seal").count() == 1
    assert not re.search(r"\d{1,2}:\d{2}", page.inner_text("#document"))  # dates without minutes
    handler.shot("30-extension-notice-numbered")
    # the same notice always shows the same number, and the case page lists it
    assert handler.go(f"/cases/{cid}/notices/1").inner_text("#doc-number").strip() == number
    assert number in handler.go(f"/cases/{cid}").inner_text("body")
    # the reply tells where and within how long a review may be asked for
    page = handler.go(f"/cases/{cid}/notices/2")
    rights = page.inner_text("#rights")
    assert "30日内" in rights and "上一级行政机关" in rights and "复查" in rights, rights
    assert DOCUMENT_NUMBER.match(page.inner_text("#doc-number").strip())
    handler.shot("31-reply-numbered")


def test_the_receipt_names_the_petitioner_the_promised_date_and_the_public_address_with_a_qr_code(
        system, console, issued, web):
    case = issued["case"]
    cid, code = case["case_id"], case["tracking_code"]
    promise = system.get("supervision", f"/api/v1/cases/{cid}/deadlines").json()["acceptance_promise"]
    clerk = console("demo-clerk")
    page = clerk.go(f"/cases/{cid}/receipt")
    assert "受理凭证" in page.inner_text("h1")
    assert issued["name"] in page.inner_text("#petitioners")
    assert CN_DATE.fullmatch(page.inner_text("#received").strip())
    said = page.inner_text("#promise")
    assert f"{promise['limit_days']}日内" in said and last_day(promise["due_at"]) in said, said
    assert page.inner_text("#track-url").strip() == f"{web}/track?code={code}"
    assert page.locator("#qr svg").count() == 1
    clerk.shot("32-receipt-with-qr")
    # the address printed leads the petitioner to the case
    public = console()
    assert public.go(f"/track?code={code}").locator("#track-status").count() == 1


def test_each_document_downloads_as_a_pdf_of_a4_pages_and_none_shows_an_id(system, console, issued):
    cid, order_id = issued["case"]["case_id"], issued["order_id"]
    ids = [cid, order_id, HANDLER_UNIT, cid[:8], order_id[:8]]
    supervisor = console("demo-supervisor")
    page = supervisor.go(f"/cases/{cid}")
    page.click("#all-documents")
    assert page.locator("#documents tr.order").count() == 1
    supervisor.shot("33-case-documents")
    with page.expect_popup() as opened:
        page.click("#documents tr.order a[target=_blank]")
    order = opened.value
    order.wait_for_load_state()
    assert order.url.endswith(f"/cases/{cid}/orders/{order_id}/print")
    assert "督办单" in order.inner_text("h1")
    assert order.inner_text("#requirement") == "请于限期内报告工资支付情况"
    reply_by = issued["reply_by"]
    assert order.inner_text("#reply-by") == f"{reply_by.year}年{reply_by.month}月{reply_by.day}日"
    assert issued["case"]["tracking_code"] in order.inner_text("#document")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    order.screenshot(path=str(SCREENSHOTS / "34-supervision-order.png"), full_page=True)
    no_ids_on(order, ids)

    documents = [f"/cases/{cid}/receipt", f"/cases/{cid}/notices/0", f"/cases/{cid}/notices/1",
                 f"/cases/{cid}/notices/2", f"/cases/{cid}/orders/{order_id}/print"]
    for path in documents:
        page = supervisor.go(path)
        no_ids_on(page, ids)
        assert page.locator("#pdf-link").get_attribute("href") == f"{path}.pdf"
        assert_a4_pdf(supervisor.context.request.get(f"{supervisor.base}{path}.pdf"), path)
    # printed from the browser, the page is A4 too, without the navigation
    page = supervisor.go(f"/cases/{cid}/notices/1")
    page.emulate_media(media="print")
    assert not page.locator("header.top").is_visible()
    printed = page.pdf(prefer_css_page_size=True)
    assert all_a4(printed), page_sizes(printed)


def test_the_case_file_tells_its_whole_history_and_a_leader_downloads_it_as_pdf_and_xlsx(system, console, issued):
    """全流程记录: intake's, routing's and supervision's steps of the case on one timeline, by name,
    printable, as a PDF of A4 pages and as a workbook a leader hands on."""
    from io import BytesIO

    from openpyxl import load_workbook

    cid, order_id = issued["case"]["case_id"], issued["order_id"]
    leader = console("demo-leader")
    page = leader.go(f"/cases/{cid}")
    steps = page.locator("#timeline li").all_inner_texts()
    order = ["登记", "交办", "签收", "受理", "延期", "答复", "督办"]  # as the fixture acted
    whats = [s.split()[2] for s in steps]  # "2026-12-02 09:30 受理 演示承办人（县人社局） …"
    found = [whats.index(what) for what in order]
    assert found == sorted(found), steps
    assert any("设定期限" in s and "系统自动" in s for s in steps), steps  # supervision's clocks too
    assert any("督办" in s and "演示督办员" in s and "请于限期内报告工资支付情况" in s for s in steps), steps
    leader.shot("35-case-file-whole-history")
    page.click("#history-tools a >> nth=0")
    page.wait_for_load_state()
    assert page.url.endswith(f"/cases/{cid}/history") and "全流程记录" in page.inner_text("h1")
    rows = page.locator("#history-steps tbody tr").all_inner_texts()
    assert len(rows) == len(steps) and any("演示承办人" in r and "受理" in r for r in rows), rows
    no_ids_on(page, [cid, order_id, HANDLER_UNIT, cid[:8], order_id[:8]])
    leader.shot("36-whole-history-printable")
    assert_a4_pdf(leader.context.request.get(f"{leader.base}/cases/{cid}/history.pdf"), "history.pdf")
    got = leader.context.request.get(f"{leader.base}/cases/{cid}/history.xlsx")
    assert got.status == 200 and ".xlsx" in got.headers["content-disposition"]
    sheet = load_workbook(BytesIO(got.body())).active
    table = [[c.value for c in r] for r in sheet.iter_rows(min_row=3)]
    assert len(table) == len(steps)
    assert any(r[2] == "督办" and r[3] == "演示督办员" for r in table), table
    assert all(r[7] for r in table)  # each step names its link in its service's chain
