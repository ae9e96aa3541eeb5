"""Every page a working week opens, role by role, read as its user reads it: no English word and no
raw identifier (a UUID or a piece of one, a unit's internal id) in the rendered text or the title.
Codes a user does type or read (tracking codes, division and category codes, file formats, the
public address on a receipt) are allowed by name."""
from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta

import pytest

from tests.e2e.conftest import BEIJING, another_petitioner

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

HANDLER_UNIT = "999901-d02"
# words a Chinese office reads as they are: file formats and the letters of an ID number
ALLOWED = {"XLSX", "CSV", "PDF", "A4", "QR", "ID", "X"}
ADDRESS = re.compile(r"https?://\S+")  # the public tracking address the receipt prints, typed as it is
TRACKING_CODE = re.compile(r"(?<![0-9A-Za-z])[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}(?![0-9A-Za-z])")
LATIN_WORD = re.compile(r"(?<![0-9A-Za-z])[A-Za-z][A-Za-z0-9_:.-]*")
HEX_RUN = re.compile(r"(?<![0-9A-Za-z])(?=[0-9a-f]*[a-f])[0-9a-f]{8,}(?![0-9A-Za-z])")  # a UUID or its first eight characters


def foreign(text: str, known_ids: list[str]) -> list[str]:
    """The Latin-letter words and raw identifiers a page shows, outside the allow-list."""
    text = TRACKING_CODE.sub(" ", ADDRESS.sub(" ", text))
    found = [w for w in LATIN_WORD.findall(text) if w.rstrip(".:-") not in ALLOWED]
    found += HEX_RUN.findall(text)
    found += [i for i in known_ids if i and i in text]
    return sorted(set(found))


def test_no_page_of_a_working_week_shows_an_english_word_or_a_raw_id(system, console):
    case = system.register(summary=f"用词检查 {uuid.uuid4().int % 10**8}", petitioners=another_petitioner(31))
    cid = case["case_id"]
    system.wait_for(lambda: system.get("routing", f"/api/v1/cases/{cid}/assignment").status_code == 200,
                    what="the case in routing")
    r = system.post("routing", f"/api/v1/cases/{cid}/assignment", {"unit_id": HANDLER_UNIT, "reason": "人社部门职责"},
                    user="demo-dispatcher")
    assert r.status_code == 200, r.text
    queued = system.register(summary=f"无规则用词 {uuid.uuid4().int % 10**8}", category_code="1701")["case_id"]
    system.wait_for(lambda: system.get("intake", f"/api/v1/cases/{cid}", user="demo-handler").status_code == 200,
                    what="the case in the handler's view")
    system.sign(cid, "demo-handler")
    system.heard_signing(cid)
    for command, body in (("acceptance", {"decision": "accepted", "procedure": "normal", "notice": "已受理。"}),
                          ("extension", {"days": 15, "reason": "需调查核实", "approver": "王局长"}),
                          ("reply", {"outcome": "supported", "text": "经核查，已督促支付。"})):
        r = system.post("intake", f"/api/v1/cases/{cid}/{command}", body, user="demo-handler")
        assert r.status_code in (200, 201), (command, r.text)
    reply_by = (datetime.now(BEIJING) + timedelta(days=10)).date().isoformat()
    order = system.post("supervision", f"/api/v1/cases/{cid}/supervision-orders",
                        {"requirement": "请报告办理结果", "reply_by": reply_by}, user="demo-supervisor")
    assert order.status_code == 201, order.text
    assert system.post("supervision", f"/api/v1/cases/{cid}/reminders", {"text": "请加快办理"},
                       user="demo-supervisor").status_code == 201
    unknown = str(uuid.uuid4())  # a case no one has: its page says so without repeating the id
    ids = [cid, queued, order.json()["order_id"], HANDLER_UNIT, unknown]
    ids += [i[:8] for i in ids if len(i) == 36]

    walk = {
        None: ["/login", "/track", f"/track/{case['tracking_code']}", "/no-such-page"],
        "demo-clerk": ["/register", "/cases", f"/cases/{cid}", f"/cases/{cid}/registered", f"/cases/{cid}/receipt",
                       "/dashboard", f"/cases/{unknown}"],
        "demo-dispatcher": ["/queue", f"/cases/{queued}", f"/cases/{cid}"],
        "demo-handler": ["/inbox", f"/cases/{cid}", f"/cases/{cid}/notices/0", f"/cases/{cid}/notices/1",
                         f"/cases/{cid}/notices/2"],
        "demo-supervisor": ["/supervision", "/supervision?view=overdue", "/supervision?view=backlog",
                            "/supervision?view=orders", "/supervision?view=alerts", f"/cases/{cid}",
                            f"/cases/{cid}/documents", f"/cases/{cid}/orders/{order.json()['order_id']}/print"],
        "demo-leader": ["/dashboard", "/cases", f"/cases/{cid}"],
    }
    shown = {}
    for user, paths in walk.items():
        c = console(user)
        for path in paths:
            page = c.go(path)
            words = foreign(page.title() + "\n" + page.inner_text("body"), ids)
            if words:
                shown[f"{user or 'public'} {path}"] = words
        c.shot(f"words-{user or 'public'}")
    assert not shown, "\n".join(f"{where}: {words}" for where, words in shown.items())


def test_the_scan_finds_what_it_is_meant_to_find():
    """The scan itself: an English word, a UUID's first characters, a unit id are found; a tracking
    code, codes and file formats are not."""
    cid = str(uuid.uuid4())
    shown = "导出 XLSX 查询码 AB12-CD34-EF56拖欠工资 区划 999901001001 网址 http://xf.example.cn/track?code=AB12"
    assert foreign(shown, [cid]) == []
    assert foreign(f"事项 {cid[:8]} 由 system:routing 交办", [cid[:8]]) == sorted({cid[:8], "system:routing"})
    assert foreign("承办单位 999901-d02", ["999901-d02"]) == ["999901-d02", "d02"]
    assert foreign("one acceptance decision per case", []) == ["acceptance", "case", "decision", "one", "per"]
