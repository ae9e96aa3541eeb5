"""The printed documents drawn from a case file: a notice under its letterhead and document number,
filled from the facts (dates as 2026年12月1日, the legal basis, the right to a review and where),
the receipt's tracking address and its QR code, and the PDF of A4 pages the server makes of them."""
from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from services.web import documents
from services.web.client import ConsoleSettings
from services.web.console import Console
from tests.pdfs import all_a4

CASE = {"case_id": "0190f3c2-7d1e-7a4b-9c1d-2b3e4f5a6b7c", "tracking_code": "ABCD-EFGH-JKLM",
        "office": "999901001000", "office_name": "城关镇", "unit_name": "县人力资源和社会保障局",
        "category_code": "0702", "summary": "拖欠工资", "received_at": "2026-11-20T01:30:00Z",
        "registered_at": "2026-11-20T02:00:00Z", "channel": "letter", "division_code": "999901001001",
        "procedure": "normal", "petitioners": [{"name": "张三"}, {"name": "李四"}]}
REPLY = {"kind": "reply", "name_zh": "处理意见书", "date": "2026-12-01T08:10:00Z", "text": "经核查，已督促支付。",
         "outcome": "supported", "review_window_days": 30, "number": "〔2026〕城关镇信访字第7号"}
EXTENSION = {"kind": "extension_notice", "date": "2026-12-01T08:10:00Z", "text": "需调取台账", "days": 20,
             "approver": "王局长", "number": "〔2026〕城关镇信访字第8号"}
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}")


@pytest.fixture(scope="module")
def templates():
    return Console(ConsoleSettings()).templates.env


def render(templates, name: str, **ctx) -> str:
    request = SimpleNamespace(url=SimpleNamespace(path="/cases/x/notices/0"))
    return templates.get_template(name).render(request=request, me=None, names={"0702": "劳动和社会保障/工资"},
                                               **ctx)


def test_a_reply_prints_under_its_letterhead_and_number_with_the_right_to_a_review(templates):
    html = render(templates, "notice.html", c=CASE, n=REPLY, title="答复意见书")
    assert '<p class="letterhead" id="letterhead">县人力资源和社会保障局</p>' in html
    assert "〔2026〕城关镇信访字第7号" in html
    assert "张三、李四：" in html and "您于2026年11月20日提出" in html
    assert "自收到本意见书之日起30日内，向县人力资源和社会保障局的上一级行政机关请求复查" in html
    assert "《信访条例》第三十四条" in html and "2026年12月1日" in html and "（盖章）" in html
    assert not UUID.search(html.split("返回事项")[0].rsplit('href="', 1)[0])


def test_an_extension_notice_states_the_days_the_new_deadline_and_its_basis(templates):
    html = render(templates, "notice.html", c=CASE, n=EXTENSION, title="延长办理期限告知书",
                  handling_due="2027-02-08T16:00:00Z")
    assert "延长 20 日" in html and "至 2027年2月8日" in html and "经王局长批准" in html
    assert "《信访条例》第三十三条" in html


def test_the_receipt_has_the_full_tracking_address_and_its_qr_code(templates):
    url = documents.tracking_url("https://xf.example.gov.cn", CASE["tracking_code"])
    assert url == "https://xf.example.gov.cn/track?code=ABCD-EFGH-JKLM"
    promise = {"due_at": "2026-12-05T16:00:00Z", "limit_days": 15, "day_kind": "calendar"}
    html = render(templates, "receipt.html", c=CASE, promise=promise, track_url=url, qr=documents.qr_svg(url))
    assert "张三、李四" in html and "自收到之日起15日内" in html and "2026年12月5日" in html
    assert url in html and "<svg" in html
    assert CASE["case_id"] not in html.split('href="/cases/')[0]  # only in the links back, never on paper


def test_a_document_prints_as_a_pdf_of_a4_pages(templates):
    html = render(templates, "notice.html", c=CASE, n=REPLY, title="答复意见书")
    pdf = documents.to_pdf(html)
    assert pdf.startswith(b"%PDF") and all_a4(pdf)


def test_the_public_address_is_the_configured_one_else_the_requests():
    request = SimpleNamespace(base_url="http://10.1.2.3:8000/")
    assert documents.public_base("https://xf.example.gov.cn", request) == "https://xf.example.gov.cn"  # type: ignore[arg-type]
    assert documents.public_base("", request) == "http://10.1.2.3:8000"  # type: ignore[arg-type]
