"""One case's whole life through the API, as the offices and the petitioner live it."""
from datetime import UTC, datetime

import pytest

from tests.e2e.conftest import received_plus

pytestmark = pytest.mark.e2e


def test_register_accept_extend_reply_evaluate_close_then_review(system):
    case = system.register()
    cid, code = case["case_id"], case["tracking_code"]
    # the default rule gives it to 城关镇; a handler of that government acts on it
    import os
    import subprocess
    import sys
    from pathlib import Path
    env = {**os.environ, "ROUTING_DATABASE_URL": system.db_urls["routing"], "XINFANG_NEW_PASSWORD": "pass-for-tests"}
    subprocess.run([str(Path(sys.executable).parent / "xinfang"), "users", "add", "handler-cg", "--role", "handler",
                    "--jurisdiction", "999901001000", "--unit", "999901001-gov"], env=env, check=True,
                   capture_output=True)
    system.token("handler-cg", "pass-for-tests")
    system.wait_for(lambda: system.get("intake", f"/api/v1/cases/{cid}", user="handler-cg").status_code == 200,
                    timeout=15, what="the case in the handler's view")

    def act(path, body, user="handler-cg", **headers):
        return system.http.post(f"{system.url['intake']}/api/v1/cases/{cid}/{path}", json=body,
                                headers={**system.auth(user), **headers})

    r = act("reply", {"outcome": "supported", "text": "x"})
    assert r.status_code == 409 and r.json()["error"]["rule"] == "受理后方可答复"
    r = act("acceptance", {"decision": "accepted", "procedure": "normal", "notice": "受理"})
    assert r.status_code == 409 and r.json()["error"]["rule"] == "sign_before_acceptance"  # 签收 first
    system.sign(cid, "handler-cg")
    signed_at = system.rows("intake", f"SELECT signed_at FROM cases WHERE case_id = '{cid}'")[0]
    # signed for just now: an acceptance dated back to the day after the letter came is before it
    back = act("acceptance", {"decision": "accepted", "procedure": "normal", "notice": "受理",
                              "occurred_at": received_plus(1, 10, 0).isoformat()})
    assert back.status_code == 422 and back.json()["error"]["fields"][0]["field"] == "occurred_at", back.text
    assert act("acceptance", {"decision": "accepted", "procedure": "normal", "notice": "受理"}).status_code == 200
    r = act("extension", {"days": 31, "reason": "复杂"})
    assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "days"
    stale = act("extension", {"days": 20, "reason": "复杂", "approver": "局长"}, **{"If-Match": '"1"'})
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "concurrency_conflict"
    assert act("extension", {"days": 20, "reason": "复杂", "approver": "局长"}, **{"If-Match": '"2"'}).status_code == 200
    early = act("reply", {"outcome": "explained", "text": "答复", "occurred_at": received_plus(0, 10, 0).isoformat()})
    assert early.status_code == 422 and early.json()["error"]["fields"][0]["field"] == "occurred_at"
    assert act("reply", {"outcome": "explained", "text": "经核查，已督促支付"}).status_code == 200

    public = system.http.get(f"{system.url['intake']}/api/v1/track/{code}").json()
    assert public["status"] == "replied" and public["reply"]["text"] == "经核查，已督促支付" and public["can_evaluate"]
    ev = system.http.post(f"{system.url['intake']}/api/v1/track/{code}/evaluation", json={"rating": "basically_satisfied"})
    assert ev.status_code == 200
    assert system.http.get(f"{system.url['intake']}/api/v1/track/{code}").json()["rating"] == "basically_satisfied"
    again = system.http.post(f"{system.url['intake']}/api/v1/track/{code}/evaluation", json={"rating": "satisfied"})
    assert again.status_code == 409 and again.json()["error"]["message_zh"]

    assert act("closure", {}).status_code == 200
    assert act("review-request", {"level": "re_review", "reason": "跳过复查"}, user="demo-clerk").status_code == 409
    assert act("review-request", {"level": "review", "reason": "不服"}, user="demo-clerk").status_code == 200

    file = system.get("intake", f"/api/v1/cases/{cid}", user="demo-leader").json()
    assert file["status"] == "under_review" and file["extended"] and file["procedure"] == "normal"
    assert [h["event_type"] for h in file["history"]] == [
        "CaseRegistered", "CaseAccepted", "HandlingExtended", "CaseReplied", "CaseEvaluated", "CaseClosed",
        "ReviewRequested"]
    assert {n["kind"] for n in file["notices"]} == {"acceptance_notice", "extension_notice", "reply"}
    assert datetime.fromisoformat(file["dates"]["accepted_at"]) >= signed_at.replace(tzinfo=signed_at.tzinfo or UTC)
    assert file["history"][4]["actor"] == "petitioner"


def test_a_repeat_petition_links_the_earlier_case(system):
    first = system.register(category_code="0301")
    second = system.register(category_code="0301")
    assert "repeat" in second["flags"] and second["repeat_of"] == first["case_id"]
    other = system.register(category_code="0302")
    assert "first_petition" in other["flags"]


def test_a_law_related_petition_is_answered_with_the_legal_channel(system):
    r = system.register(category_code="0105")
    assert "law_related" in r["flags"] and "诉讼" in r["legal_channel"]


def test_the_case_list_filters_on_the_server_and_pages(system):
    import uuid

    word = uuid.uuid4().hex[:8]
    made = [
        system.register(category_code="0301", purpose="suggestion", channel="online", summary=f"{word} 甲",
                        received_at="2026-10-05T09:00:00+08:00"),
        system.register(category_code="0702", purpose="appeal", channel="visit", headcount=6, summary=f"{word} 乙",
                        division_code="999901002004", received_at="2026-11-02T09:00:00+08:00"),
        system.register(category_code="0702", purpose="appeal", channel="letter", summary=f"{word} 丙",
                        received_at="2026-11-10T09:00:00+08:00"),
    ]
    ids = [m["case_id"] for m in made]

    def listed(**params):
        r = system.http.get(f"{system.url['intake']}/api/v1/cases", params={"q": word, "limit": 500, **params},
                            headers=system.auth("demo-leader"))
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["total"] == len(body["items"])
        return {c["case_id"] for c in body["items"]}

    assert listed() == set(ids)
    assert listed(category_code="07") == {ids[1], ids[2]}
    assert listed(category_code="0301", purpose="suggestion", channel="online") == {ids[0]}
    assert listed(flag="collective") == {ids[1]}
    assert listed(division_code="999901002000") == {ids[1]}
    assert listed(received_from="2026-11-01T00:00:00+08:00", received_to="2026-11-05T00:00:00+08:00") == {ids[1]}
    page = system.http.get(f"{system.url['intake']}/api/v1/cases", params={"q": word, "limit": 2, "offset": 2},
                           headers=system.auth("demo-leader")).json()
    assert page["total"] == 3 and len(page["items"]) == 1
    # the newest registration first: the page after two holds the first one registered
    assert page["items"][0]["case_id"] == ids[0]
    bad = system.http.get(f"{system.url['intake']}/api/v1/cases", params={"received_from": "2026-11-01T00:00:00"},
                          headers=system.auth("demo-leader"))
    assert bad.status_code == 422 and bad.json()["error"]["fields"][0]["field"] == "received_from"
    bad = system.http.get(f"{system.url['intake']}/api/v1/cases", params={"flag": "vip"},
                          headers=system.auth("demo-leader"))
    assert bad.status_code == 422 and bad.json()["error"]["fields"][0]["field"] == "flag"
