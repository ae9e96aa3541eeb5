"""Business time that cannot be gamed (issue #21), through the running system: a handler's reply
dated beyond the window, or back without a reason, is refused naming the field; within the window
with a reason, or further back by the administrator, it is taken, marked in its event and the case
history, and counted in reporting's back-dated figure beside the unit's rates; an acceptance dated
before routing's assignment is refused; routing's signing is never before its assignment."""
from __future__ import annotations

import io
import uuid
from datetime import datetime, timedelta
from urllib.parse import quote

import pytest
from openpyxl import load_workbook

from tests.e2e.access_common import add_user
from tests.e2e.conftest import BEIJING, PETITION, another_petitioner

pytestmark = pytest.mark.e2e
TOWN2_GOV = "999901002-gov"     # township 2's government: labour cases of its villages, by the demo rule
PAPER = "网下办理：纸质答复意见书当日已送达，现补录"


@pytest.fixture(scope="module")
def handlers(system):
    add_user(system, "h-bt1", "handler", "999901001000", "999901001-gov")
    add_user(system, "h-bt2", "handler", "999901002000", TOWN2_GOV)
    for name in ("h-bt1", "h-bt2"):
        system.token(name, "pass-for-tests")
    return True


def field(r) -> str:
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["message"] and error["message_zh"], error
    return error["fields"][0]["field"]


def iso(t: datetime) -> str:
    return t.isoformat()


def on(system, cid: str, what: str, body: dict, user: str, service: str = "intake"):
    return system.post(service, f"/api/v1/cases/{cid}/{what}", body, user=user)


def test_an_acceptance_dated_before_the_assignment_is_refused(system, handlers):
    """The clerk registers a visit of yesterday morning late, with the reason (补录); routing assigns
    it when it hears of it, now. The unit may not date its signing or its acceptance before that."""
    now = datetime.now(BEIJING)
    yesterday = now - timedelta(hours=26)
    body = {**PETITION, "received_at": iso(yesterday - timedelta(minutes=30)), "occurred_at": iso(yesterday)}
    r = system.post("intake", "/api/v1/petitions", body, user="demo-clerk")
    assert field(r) == "backdate_reason"
    r = system.post("intake", "/api/v1/petitions", {**body, "occurred_at": iso(yesterday - timedelta(hours=1))},
                    user="demo-clerk")
    assert field(r) == "occurred_at"  # registered before the visit came in
    r = system.post("intake", "/api/v1/petitions", {**body, "backdate_reason": "来访登记表当日已填写，次日补录"},
                    user="demo-clerk")
    assert r.status_code == 201, r.text
    cid = r.json()["case_id"]
    system.wait_for(lambda: system.get("intake", f"/api/v1/cases/{cid}", user="h-bt1").status_code == 200,
                    timeout=20, what="the assignment in the unit's view")
    file = system.get("intake", f"/api/v1/cases/{cid}", user="demo-leader").json()
    mark = file["history"][0]["backdated"]
    assert (mark["reason"], mark["entered_by"], mark["correction"]) == ("来访登记表当日已填写，次日补录", "demo-clerk", False)
    assert datetime.fromisoformat(file["history"][0]["occurred_at"]) == yesterday

    an_hour_ago = iso(now - timedelta(hours=1))
    r = on(system, cid, "sign", {"occurred_at": an_hour_ago, "backdate_reason": "纸质签收"}, "h-bt1", "routing")
    assert field(r) == "occurred_at"  # routing assigned it just now
    system.sign(cid, "h-bt1")
    accept = {"decision": "accepted", "procedure": "normal", "notice": "受理"}
    r = on(system, cid, "acceptance", {**accept, "occurred_at": an_hour_ago, "backdate_reason": "纸质受理告知书"},
           "h-bt1")
    assert field(r) == "occurred_at" and "交办" in r.json()["error"]["message_zh"], r.text
    r = on(system, cid, "acceptance", {**accept, "occurred_at": an_hour_ago, "backdate_reason": "纸质受理告知书"},
           "demo-admin")
    assert field(r) == "occurred_at"  # not even the administrator: it would be untrue
    r = on(system, cid, "acceptance", accept, "h-bt1")
    assert r.status_code == 200 and r.json()["event"]["backdated"] is None, r.text


def imported(system, n: int, days_ago: float) -> str:
    """A case of township 2 from the old system, registered ``days_ago`` and accepted a day later."""
    now = datetime.now(BEIJING)
    reg = {**PETITION, "division_code": "999901002004", "petitioners": another_petitioner(700 + n),
           "received_at": iso(now - timedelta(days=days_ago)), "occurred_at": iso(now - timedelta(days=days_ago))}
    r = system.post("intake", "/api/v1/imports", {"cases": [{
        "legacy_id": f"BT-{uuid.uuid4()}", "registration": reg,
        "acceptance": {"decision": "accepted", "procedure": "normal", "notice": "受理",
                       "occurred_at": iso(now - timedelta(days=days_ago - 1))}}]}, user="demo-admin")
    assert r.status_code == 200 and r.json()["imported"] == 1, r.text
    cid = r.json()["results"][0]["case_id"]
    system.wait_for(lambda: system.get("intake", f"/api/v1/cases/{cid}", user="h-bt2").status_code == 200,
                    timeout=20, what="the imported case in township 2's view")
    return cid


def backdated_figures(system) -> tuple[int, int | None]:
    """Reporting's back-dated figure for township 2's government: in its rates, and in its ranking row."""
    rates = system.get("reporting", f"/api/v1/stats/rates?unit_id={TOWN2_GOV}").json()
    rows = system.get("reporting", "/api/v1/stats/rankings?rate=on_time_reply").json()["rows"]
    return rates["backdated"], next((r["backdated"] for r in rows if r["unit_id"] == TOWN2_GOV), None)


def test_a_reply_recorded_late_is_held_to_the_window_and_its_reason_then_marked_and_counted(system, handlers):
    assert backdated_figures(system) == (0, None)  # nothing of township 2's yet
    cid = imported(system, 1, days_ago=10)
    now = datetime.now(BEIJING)
    reply = {"outcome": "explained", "text": "经核查，已督促支付"}
    # beyond the window (3 days): refused for a handler, reason or not
    r = on(system, cid, "reply", {**reply, "occurred_at": iso(now - timedelta(days=4)), "backdate_reason": PAPER},
           "h-bt2")
    assert field(r) == "occurred_at" and "3" in r.json()["error"]["message_zh"]
    # within it, but without a reason
    two_days_ago = now - timedelta(days=2)
    r = on(system, cid, "reply", {**reply, "occurred_at": iso(two_days_ago)}, "h-bt2")
    assert field(r) == "backdate_reason"
    r = on(system, cid, "reply", {**reply, "occurred_at": iso(two_days_ago), "backdate_reason": "  "}, "h-bt2")
    assert field(r) == "backdate_reason"
    # within it, with the reason: taken at its business time, marked with who, when and why
    r = on(system, cid, "reply", {**reply, "occurred_at": iso(two_days_ago), "backdate_reason": PAPER}, "h-bt2")
    assert r.status_code == 200, r.text
    event = r.json()["event"]
    assert datetime.fromisoformat(event["occurred_at"]) == two_days_ago
    mark = event["backdated"]
    assert (mark["reason"], mark["entered_by"], mark["correction"]) == (PAPER, "h-bt2", False)
    assert abs(datetime.fromisoformat(mark["recorded_at"]) - now) < timedelta(minutes=1)
    step = system.get("intake", f"/api/v1/cases/{cid}", user="demo-leader").json()["history"][-1]
    assert step["event_type"] == "CaseReplied" and step["backdated"] == mark
    assert datetime.fromisoformat(step["recorded_at"]) - datetime.fromisoformat(step["occurred_at"]) > timedelta(days=1)
    # and in a time the skew allows, an act is simply now, unmarked
    r = on(system, cid, "closure", {"occurred_at": iso(now - timedelta(minutes=2))}, "h-bt2")
    assert r.status_code == 200 and r.json()["event"]["backdated"] is None, r.text
    assert datetime.fromisoformat(r.json()["event"]["occurred_at"]) > now

    # further back than the window: the administrator, correcting the record, with its reason
    other = imported(system, 2, days_ago=12)
    six_days_ago = datetime.now(BEIJING) - timedelta(days=6)
    r = on(system, other, "reply", {**reply, "occurred_at": iso(six_days_ago), "backdate_reason": PAPER}, "h-bt2")
    assert field(r) == "occurred_at"
    r = on(system, other, "reply", {**reply, "occurred_at": iso(six_days_ago)}, "demo-admin")
    assert field(r) == "backdate_reason"
    r = on(system, other, "reply", {**reply, "occurred_at": iso(six_days_ago),
                                    "backdate_reason": "更正记录：原承办人漏录，经核对纸质档案"}, "demo-admin")
    assert r.status_code == 200, r.text
    mark = r.json()["event"]["backdated"]
    assert (mark["entered_by"], mark["correction"]) == ("demo-admin", True)

    # reporting counts both beside township 2's rates and in its ranking row; the imported acts,
    # history, and the live closure are none of them
    assert system.wait_for(lambda: backdated_figures(system) == (2, 2) or None, timeout=30,
                           what=f"reporting's back-dated figure of {TOWN2_GOV} (last: {backdated_figures(system)})")
    assert system.get("reporting", "/api/v1/stats/rates").json()["backdated"] >= 2  # the county's: all units'
    # and the export a leader hands on says it beside the counts
    year = six_days_ago.year
    wanted = system.get("reporting", f"/api/v1/stats/rates?from={year}-01-01&to={year}-12-31").json()["backdated"]
    got = system.get("reporting", f"/api/v1/exports/yearly.xlsx?year={year}")
    assert got.status_code == 200, got.text
    overview = {row[0]: row[1] for row in load_workbook(io.BytesIO(got.content))["概况"].iter_rows(min_row=4, values_only=True)}
    assert overview["补录（倒签）办理环节"] == wanted >= 1
    # as it stood before the replies were entered, none
    before = quote((datetime.now(BEIJING) - timedelta(days=1)).isoformat())
    assert system.get("reporting", f"/api/v1/stats/rates?unit_id={TOWN2_GOV}&as_of={before}").json()["backdated"] == 0
