"""Routing through the API on the demo county: rules with precedence, the unit's side (sign,
object within 5 working days), the dispatcher's queue and reassignment, cross-region cases,
leader ownership, review requests, and rules changing while cases are in flight."""
import uuid
from datetime import date, datetime, time, timedelta

import pytest

from tests.e2e.access_common import _count, add_user
from tests.e2e.conftest import BEIJING, PETITION, another_petitioner
from xinfang.workdays import WorkCalendar

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def users(system):
    for name, unit, jurisdiction in [("h-t3", "999901003-gov", "999901003000"), ("h-t1", "999901001-gov", "999901001000"),
                                     ("h-d03", "999901-d03", "999901000000"), ("h-xfj", "999901-xfj", "999901000000"),
                                     ("h-lxb", "999901-lxb", "999901000000")]:
        add_user(system, name, "handler", jurisdiction, unit)
        system.token(name, "pass-for-tests")
    return True


def assignment_of(system, cid, user="demo-dispatcher"):
    return system.wait_for(lambda: (r := system.get("routing", f"/api/v1/cases/{cid}/assignment", user=user))
                           .status_code == 200 and r.json(), timeout=20, what=f"routing to assign {cid}")


def act(system, cid, what, body, user):
    return system.post("routing", f"/api/v1/cases/{cid}/{what}", body, user=user)


# ------------------------------------------------------------------ done when: the demo county's rules


@pytest.mark.parametrize("category, unit, rule", [
    ("0501", "999901003-gov", "demo-999901003-05"),     # land, village of township 3: township 3
    ("0101", "999901-d01", "demo-999901-01"),           # public security: the county department
])
def test_a_village_case_goes_to_the_unit_its_rule_names(system, category, unit, rule):
    cid = system.register(division_code="999901003005", category_code=category)["case_id"]
    a = assignment_of(system, cid)
    assert a["unit_id"] == unit and a["state"] == "to_sign" and a["rule_id"] == rule
    assert a["rule"].startswith(f"rule {rule}:") and a["chosen_by"]["rule"] == a["rule"]
    assert a["history"][0]["event"] == "CaseAssigned" and a["history"][0]["by"] == "system:routing"
    p = system.post("routing", "/api/v1/rules/preview", {"division_code": "999901003005", "category_code": category},
                    user="demo-dispatcher").json()
    assert (p["unit_id"], p["rule_id"], p["rule"]) == (unit, rule, a["rule"]) and p["unit_name"]


def test_a_case_no_rule_matches_waits_in_the_dispatchers_queue_until_assigned_by_hand(system, users):
    """No rule names a unit (category 17): the petition office's dispatcher decides, with its
    own office suggested; the case is nobody's until then, and supervision's assignment clock runs."""
    cid = system.register(division_code="999901003005", category_code="1701")["case_id"]
    a = assignment_of(system, cid)
    assert (a["unit_id"], a["state"]) == (None, "unassigned"), a
    queued = system.wait_for(lambda: next((i for i in system.get(
        "routing", "/api/v1/queue?state=unassigned&limit=500", user="demo-dispatcher").json()["items"]
        if i["case_id"] == cid), None), timeout=20, what="the case in the queue")
    assert queued["reason"].startswith("no_rule")
    assert queued["suggested"] == {"unit_id": "999901-xfj", "rule": "fallback: petition office of 999901000000"}
    clocks = system.clocks(cid, stages=("assignment",))
    assert {s["stage"]: s["status"] for s in clocks["stages"]}["assignment"] == "running"
    r = act(system, cid, "assignment", {"unit_id": "999901-d03", "reason": "土地问题，县自然资源局办理"}, "demo-dispatcher")
    assert r.status_code == 200 and (r.json()["unit_id"], r.json()["state"]) == ("999901-d03", "to_sign"), r.text
    assert cid not in [i["case_id"] for i in system.get("routing", "/api/v1/queue?limit=500",
                                                        user="demo-dispatcher").json()["items"]]


# ------------------------------------------------------------------ the unit's side


def test_the_unit_signs_once_and_its_inbox_moves_the_case_from_to_sign_to_to_accept_to_in_hand(system, users):
    cid = system.register(division_code="999901003002", category_code="0502")["case_id"]
    assert assignment_of(system, cid)["unit_id"] == "999901003-gov"
    inbox = lambda s: system.get("routing", f"/api/v1/units/999901003-gov/inbox?state={s}&limit=500",  # noqa: E731
                                 user="h-t3").json()
    assert cid in [i["case_id"] for i in inbox("to_sign")["items"]]
    assert act(system, cid, "sign", {}, "h-t1").status_code == 404        # another unit's handler: not in scope
    r = act(system, cid, "sign", {}, "demo-dispatcher")                   # sees the case, is not the unit
    assert r.status_code == 409 and r.json()["error"]["rule"] == "assigned_unit_only"
    accept = lambda **extra: system.post("intake", f"/api/v1/cases/{cid}/acceptance",  # noqa: E731
                                         {"decision": "accepted", "procedure": "normal", "notice": "受理", **extra},
                                         user="h-t3")
    system.wait_for(lambda: system.get("intake", f"/api/v1/cases/{cid}", user="h-t3").status_code == 200,
                    timeout=20, what="intake to hear the assignment (the case in the unit's view)")
    early = accept()  # 交办 → 签收 → 受理: the unit has not signed yet
    assert early.status_code == 409 and early.json()["error"]["rule"] == "sign_before_acceptance", early.text
    r = act(system, cid, "sign", {}, "h-t3")
    assert r.status_code == 200 and r.json()["state"] == "signed"
    again = act(system, cid, "sign", {}, "h-t3")
    assert again.status_code == 409 and again.json()["error"]["rule"] == "sign_once"
    system.wait_for(lambda: system.rows("intake", f"SELECT signed_at FROM cases WHERE case_id = '{cid}'") != [None],
                    timeout=20, what="intake to hear the signing")
    signed_at = system.rows("intake", f"SELECT signed_at FROM cases WHERE case_id = '{cid}'")[0]
    backdated = accept(occurred_at=(signed_at - timedelta(minutes=5)).isoformat())
    assert backdated.status_code == 422 and backdated.json()["error"]["fields"][0]["field"] == "occurred_at"
    box = inbox("to_accept")
    assert cid in [i["case_id"] for i in box["items"]] and box["counts"]["to_accept"] >= 1
    assert accept().status_code == 200
    system.wait_for(lambda: cid in [i["case_id"] for i in inbox("in_hand")["items"]], timeout=20,
                    what="the acceptance in the unit's inbox")
    assert system.get("routing", "/api/v1/units/999901001-gov/inbox", user="h-t3").status_code == 404


def objection_days() -> tuple[date, date, date]:
    """Two days a case may have been assigned on, and the last day of the objection window of the
    one before: the latest day whose 5 working days still include today (an objection made now
    is in time), and the earliest day whose window ended before today (one made now is too late),
    by the calendar routing counts with. Today's date, so the objection is a live act."""
    cal, today = WorkCalendar.shared(), datetime.now(BEIJING).date()
    days = [today - timedelta(days=k) for k in range(1, 40)]
    timely = max(d for d in days if cal.add_working_days(d, 5) >= today)
    late = max(d for d in days if cal.add_working_days(d, 5) < today)
    return timely, late, cal.add_working_days(late, 5)


def test_an_objection_after_the_5th_working_day_is_refused_and_one_within_returns_the_case(system, users):
    # imported from the old system as registered (and so assigned) on those days. (A live
    # registration is assigned when it is registered, whatever its received_at.) Its unit has held
    # it since the old system's assignment (signed for then), and may still object within the
    # window; the objections are made now. The calendar's holidays and make-up working days are
    # tests/unit/test_routing_rules.py's.
    timely_day, late_day, late_last = objection_days()
    at = lambda d: datetime.combine(d, time(10), BEIJING).isoformat()  # noqa: E731
    reg = {**PETITION, "division_code": "999901003001", "category_code": "0501"}
    r = system.post("intake", "/api/v1/imports", {"cases": [
        {"legacy_id": f"OBJ-{uuid.uuid4()}", "registration": {**reg, "petitioners": another_petitioner(n),
                                                              "received_at": at(d), "occurred_at": at(d)}}
        for n, d in ((81, late_day), (82, timely_day))]}, user="demo-admin")
    assert r.status_code == 200 and r.json()["imported"] == 2, r.text
    late, timely = (x["case_id"] for x in r.json()["results"])
    for cid in (late, timely):
        assert assignment_of(system, cid)["unit_id"] == "999901003-gov"
    r = act(system, late, "objection", {"reason": "土地承包经营纠纷不属乡镇职责"}, "h-t3")
    assert r.status_code == 409 and r.json()["error"]["rule"] == "objection_window", r.text
    assert late_last.isoformat() in r.json()["error"]["message"] and r.json()["error"]["message_zh"]
    r = act(system, timely, "objection", {"reason": "土地承包经营纠纷不属乡镇职责"}, "h-t3")
    assert r.status_code == 200 and r.json()["state"] == "objected", r.text

    q = system.get("routing", "/api/v1/queue?state=returned&limit=500", user="demo-dispatcher").json()
    item = next(i for i in q["items"] if i["case_id"] == timely)
    assert item["state"] == "returned" and item["objection_reason"] == "土地承包经营纠纷不属乡镇职责"
    assert item["suggested"]["unit_id"] != "999901003-gov" and q["counts"]["returned"] >= 1
    assert late not in [i["case_id"] for i in q["items"]]
    objected = system.get("routing", "/api/v1/units/999901003-gov/inbox?state=objected", user="h-t3").json()
    assert timely in [i["case_id"] for i in objected["items"]]

    assert act(system, timely, "assignment", {"unit_id": "999901-d03", "reason": "x"}, "h-t3").status_code == 403
    r = act(system, timely, "assignment", {"unit_id": "999901-d03", "reason": "土地承包由县自然资源局办理"},
            "demo-dispatcher")
    assert r.status_code == 200, r.text
    a = r.json()
    assert (a["unit_id"], a["state"], a["chosen_by"]["user"], a["chosen_by"]["reason"]) == \
        ("999901-d03", "to_sign", "demo-dispatcher", "土地承包由县自然资源局办理")
    last = a["history"][-1]
    assert (last["event"], last["unit_id"], last["previous_unit_id"]) == ("CaseAssigned", "999901-d03", "999901003-gov")
    assert [h["event"] for h in a["history"]] == ["CaseAssigned", "CaseSignedFor", "CaseObjected", "CaseAssigned"]
    assert timely not in [i["case_id"] for i in system.get("routing", "/api/v1/queue?limit=500",
                                                           user="demo-dispatcher").json()["items"]]
    # intake hears of the new unit: the county department's handler may act on it
    system.wait_for(lambda: system.get("intake", f"/api/v1/cases/{timely}", user="h-d03").status_code == 200,
                    timeout=20, what="the reassignment in intake")
    assert _count(system, "routing", f"SELECT count(*) FROM events WHERE case_id = '{timely}' "
                                     "AND event_type = 'CaseAssigned'") == 2


def test_a_step_dated_before_the_assignment_or_in_the_future_is_a_422(system, users):
    cid = system.register(division_code="999901003001", category_code="0501")["case_id"]
    assignment_of(system, cid)
    for at in ("2026-11-19T09:00:00+08:00", "2099-01-01T00:00:00+08:00"):
        r = act(system, cid, "objection", {"reason": "x", "occurred_at": at}, "h-t3")
        assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "occurred_at"


# ------------------------------------------------------------------ dispatcher, cross-region, leader


def test_units_of_two_townships_make_the_joint_conference_office_lead(system, users):
    cid = system.register(division_code="999901001002", category_code="1701")["case_id"]
    assignment_of(system, cid)
    r = act(system, cid, "assignment", {"unit_id": "999901001-gov", "co_unit_ids": ["999901002-gov"],
                                        "reason": "两镇交界处的纠纷"}, "demo-dispatcher")
    assert r.status_code == 200, r.text
    a = r.json()
    assert a["unit_id"] == "999901-lxb" and set(a["co_unit_ids"]) == {"999901001-gov", "999901002-gov"}
    assert a["rule"].startswith("cross_region_or_department")
    # each helping unit finds the case in its inbox, apart from its own cases, with the lead unit
    box = system.get("routing", "/api/v1/units/999901002-gov/inbox?state=co_handling&limit=500").json()
    helping = next(i for i in box["items"] if i["case_id"] == cid)
    assert helping["state"] == "co_handling" and helping["lead_unit_id"] == "999901-lxb"
    assert box["counts"]["co_handling"] >= 1
    # and in all of its work (全部, no state), as 协办: what the counter counts, the list lists
    everything = system.get("routing", "/api/v1/units/999901002-gov/inbox?limit=500").json()
    assert {i["case_id"]: i["state"] for i in everything["items"]}[cid] == "co_handling"
    assert everything["total"] == sum(everything["counts"].values())
    r = act(system, cid, "assignment", {"unit_id": "999901-d01", "reason": "改由县信访局办理"}, "demo-dispatcher")
    assert r.status_code == 200 and r.json()["co_unit_ids"] == [], r.text
    box = system.get("routing", "/api/v1/units/999901002-gov/inbox?state=co_handling&limit=500").json()
    assert cid not in [i["case_id"] for i in box["items"]]  # no longer asked to help
    bad = act(system, cid, "assignment", {"unit_id": "no-such-unit", "reason": "x"}, "demo-dispatcher")
    assert bad.status_code == 422 and bad.json()["error"]["fields"][0]["field"] == "unit_id"
    assert act(system, cid, "assignment", {"unit_id": "999901-d01", "reason": "x"}, "demo-clerk").status_code == 403


def test_a_leader_takes_a_case_and_every_view_shows_it(system, users):
    cid = system.register(division_code="999901003004", category_code="0501")["case_id"]
    assignment_of(system, cid)
    r = act(system, cid, "ownership", {"leader": "demo-leader", "note": "县领导包案"}, "demo-leader")
    assert r.status_code == 200 and r.json()["owner_leader"] == "demo-leader"
    assert act(system, cid, "ownership", {"leader": "demo-leader"}, "demo-leader").status_code == 409
    r = act(system, cid, "ownership", {"leader": "demo-clerk"}, "demo-dispatcher")
    assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "leader"
    box = system.get("routing", "/api/v1/units/999901003-gov/inbox?limit=500", user="h-t3").json()
    assert next(i for i in box["items"] if i["case_id"] == cid)["owner_leader"] == "demo-leader"
    assert assignment_of(system, cid, user="h-t3")["history"][-1]["event"] == "CaseOwnedByLeader"
    # the leader's own list (包案), open cases first; others name the leader, handlers may not ask
    owned = system.get("routing", "/api/v1/owned-cases?limit=500", user="demo-leader").json()
    mine = next(i for i in owned["items"] if i["case_id"] == cid)
    assert mine["unit_id"] == "999901003-gov" and not mine["done"] and owned["counts"]["open"] >= 1
    assert [i["done"] for i in owned["items"]] == sorted(i["done"] for i in owned["items"])
    r = system.get("routing", "/api/v1/owned-cases", user="demo-dispatcher")
    assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "leader"
    r = system.get("routing", "/api/v1/owned-cases?leader=demo-leader&limit=500", user="demo-dispatcher")
    assert cid in [i["case_id"] for i in r.json()["items"]]
    assert system.get("routing", "/api/v1/owned-cases", user="h-t3").status_code == 403


def test_a_review_request_goes_to_the_petition_office_of_the_level_above(system, users):
    # a petitioner of its own: the fixture person's earlier 0501 cases in this module are still open,
    # and the same matter still in hand is not accepted again (2005 Art. 16)
    cid = system.register(division_code="999901001003", category_code="0501",
                          petitioners=another_petitioner(157))["case_id"]
    assert assignment_of(system, cid)["unit_id"] == "999901001-gov"
    system.wait_for(lambda: system.get("intake", f"/api/v1/cases/{cid}", user="h-t1").status_code == 200,
                    timeout=20, what="the case in intake's view of the unit")
    system.sign(cid, "h-t1")
    for path, body in [("acceptance", {"decision": "accepted", "procedure": "normal", "notice": "受理"}),
                       ("reply", {"outcome": "explained", "text": "答复"}), ("closure", {})]:
        assert system.post("intake", f"/api/v1/cases/{cid}/{path}", body, user="h-t1").status_code == 200
    r = system.post("intake", f"/api/v1/cases/{cid}/review-request", {"level": "review", "reason": "不服"})
    assert r.status_code == 200, r.text
    a = system.wait_for(lambda: (x := assignment_of(system, cid))["stage"] == "review" and x, timeout=20,
                        what="the review routed")
    assert a["unit_id"] == "999901-xfj" and a["state"] == "to_sign" and "level above 999901001-gov" in a["rule"]
    assert a["history"][-1]["previous_unit_id"] == "999901001-gov"
    # it arrives at the county petition office: work in its dispatcher's queue, as a review
    q = system.get("routing", "/api/v1/queue?state=review&limit=500", user="demo-dispatcher").json()
    assert next(i for i in q["items"] if i["case_id"] == cid)["stage"] == "review" and q["counts"]["review"] >= 1


# ------------------------------------------------------------------ rules as data


def test_rules_change_without_re_routing_cases_already_assigned(system, users):
    before = system.register(division_code="999901004002", category_code="0503")["case_id"]
    assert assignment_of(system, before)["rule_id"] == "demo-999901004-05"
    r = system.post("routing", "/api/v1/rules", {"division_prefix": "999901004", "category_prefix": "0503",
                                                 "unit_id": "999901-d03", "note": "土地承包经营：县自然资源局"},
                    user="demo-admin")
    assert r.status_code == 201, r.text
    rule_id = r.json()["rule_id"]
    assert system.post("routing", "/api/v1/rules", {"division_prefix": "999901004", "category_prefix": "0503",
                                                    "unit_id": "999901-d01"}, user="demo-admin").status_code == 409
    assert system.post("routing", "/api/v1/rules", {"division_prefix": "999901004", "category_prefix": "0503",
                                                    "unit_id": "999901-d01"}, user="demo-dispatcher").status_code == 403
    p = system.post("routing", "/api/v1/rules/preview", {"division_code": "999901004002", "category_code": "0503"},
                    user="demo-clerk").json()
    assert (p["unit_id"], p["rule_id"]) == ("999901-d03", rule_id)
    after = system.register(division_code="999901004002", category_code="0503")["case_id"]
    assert assignment_of(system, after)["unit_id"] == "999901-d03"
    assert system.http.delete(f"{system.url['routing']}/api/v1/rules/{rule_id}",
                              headers=system.auth("demo-admin")).json()["active"] is False
    assert system.http.delete(f"{system.url['routing']}/api/v1/rules/{rule_id}",
                              headers=system.auth("demo-admin")).status_code == 409
    assert rule_id not in [x["rule_id"] for x in system.get("routing", "/api/v1/rules").json()]
    # neither the new rule nor its retirement moved a case already assigned
    assert assignment_of(system, before)["unit_id"] == "999901004-gov"
    assert assignment_of(system, after)["unit_id"] == "999901-d03"
    assert _count(system, "routing", f"SELECT count(*) FROM events WHERE case_id IN ('{before}', '{after}')") == 2
