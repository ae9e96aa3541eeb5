"""Access rows for supervision: a user of township A against township B's case."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from tests.e2e.access_common import ID_B, PHONE_B, TOWNSHIP_A, TOWNSHIP_B, VILLAGE_A, VILLAGE_B, _as, _count, add_user  # noqa: F401

CST = timezone(timedelta(hours=8))


def _users(system, w):
    if not w.get("sv_users"):
        add_user(system, "supervisor-a", "supervisor", TOWNSHIP_A, "999901001-gov")
        add_user(system, "supervisor-b", "supervisor", TOWNSHIP_B, "999901002-gov")
        for u in ("supervisor-a", "supervisor-b"):
            system.token(u, "pass-for-tests")
        w["sv_users"] = True


def _case_b(system, w, key, days_ago=0, headcount=1):
    """A case of township B received ``days_ago`` days ago, once supervision has its clocks."""
    if key not in w:
        received = (datetime.now(CST) - timedelta(days=days_ago, minutes=5)).isoformat()
        case = system.register(user="clerk-b", division_code=VILLAGE_B, received_at=received, headcount=headcount)
        system.wait_for(lambda: _as(system, "clerk-b", "GET", "supervision",
                                    f"/api/v1/cases/{case['case_id']}/deadlines").status_code == 200,
                        timeout=20, what="supervision's clocks for the case")
        w[key] = case["case_id"]
    return w[key]


def deadlines(system, w):
    cid = w["case"]["case_id"]
    assert _as(system, "clerk-a", "GET", "supervision", f"/api/v1/cases/{cid}/deadlines").status_code == 404
    r = _as(system, "clerk-b", "GET", "supervision", f"/api/v1/cases/{cid}/deadlines")
    assert r.status_code == 200 and {s["stage"] for s in r.json()["stages"]} >= {"assignment", "handling"}


def _listed(path, key, days_ago):
    def check(system, w):
        cid = _case_b(system, w, key, days_ago)
        seen = lambda user: {i["case_id"] for i in _as(system, user, "GET", "supervision",  # noqa: E731
                                                        f"{path}?limit=500").json()["items"]}
        system.wait_for(lambda: cid in seen("clerk-b"), timeout=20, what=f"the case in {path}")
        assert cid not in seen("clerk-a")
    return check


def orders_post(system, w):
    _users(system, w)
    cid = w["case"]["case_id"]
    body = {"requirement": "请于期限内答复", "reply_by": (datetime.now(CST).date() + timedelta(days=3)).isoformat()}
    before = _count(system, "supervision", f"SELECT count(*) FROM events WHERE case_id = '{cid}'")
    assert _as(system, "supervisor-a", "POST", "supervision", f"/api/v1/cases/{cid}/supervision-orders",
               body).status_code == 404
    assert _count(system, "supervision", f"SELECT count(*) FROM events WHERE case_id = '{cid}'") == before
    r = _as(system, "supervisor-b", "POST", "supervision", f"/api/v1/cases/{cid}/supervision-orders", body)
    assert r.status_code == 201, r.text
    w.setdefault("order_id", r.json()["order_id"])


def orders_list(system, w):
    if "order_id" not in w:
        orders_post(system, w)
    ids = lambda user: {o["order_id"] for o in _as(system, user, "GET", "supervision",  # noqa: E731
                                                   "/api/v1/supervision-orders?limit=500").json()["items"]}
    assert w["order_id"] not in ids("supervisor-a")
    assert w["order_id"] in ids("supervisor-b")


def order_answer(system, w):
    # a case of its own: other rows object to and reassign the shared case, and an order goes to
    # the unit that held the case when it was issued
    _users(system, w)
    cid = system.register(user="clerk-b", division_code=VILLAGE_B)["case_id"]
    system.wait_for(lambda: any(s["stage"] == "acceptance" for s in _as(
        system, "supervisor-b", "GET", "supervision", f"/api/v1/cases/{cid}/deadlines").json().get("stages", [])),
        timeout=30, what="supervision to hear the case's assignment")
    body = {"requirement": "请于期限内答复", "reply_by": (datetime.now(CST).date() + timedelta(days=3)).isoformat()}
    r = _as(system, "supervisor-b", "POST", "supervision", f"/api/v1/cases/{cid}/supervision-orders", body)
    assert r.status_code == 201, r.text
    oid = r.json()["order_id"]
    r = _as(system, "handler-a", "POST", "supervision", f"/api/v1/supervision-orders/{oid}/answer", {"text": "已办理"})
    assert r.status_code == 404, r.text
    r = _as(system, "handler-b", "POST", "supervision", f"/api/v1/supervision-orders/{oid}/answer", {"text": "已办理"})
    assert r.status_code == 200, r.text
    again = _as(system, "handler-b", "POST", "supervision", f"/api/v1/supervision-orders/{oid}/answer", {"text": "再答"})
    assert again.status_code == 409, again.text


def reminders(system, w):
    _users(system, w)
    cid = w["case"]["case_id"]
    before = _count(system, "supervision", "SELECT count(*) FROM events WHERE event_type = 'ReminderSent'")
    assert _as(system, "supervisor-a", "POST", "supervision", f"/api/v1/cases/{cid}/reminders",
               {"text": "请加快办理"}).status_code == 404
    assert _count(system, "supervision", "SELECT count(*) FROM events WHERE event_type = 'ReminderSent'") == before
    assert _as(system, "supervisor-b", "POST", "supervision", f"/api/v1/cases/{cid}/reminders",
               {"text": "请加快办理"}).status_code == 201


def current_deadlines(system, w):
    cid = w["case"]["case_id"]
    listed = lambda user, ids: _as(system, user, "GET", "supervision",  # noqa: E731
                                   "/api/v1/deadlines?" + "&".join(f"case_id={i}" for i in ids))
    assert listed("clerk-a", [cid]).json()["items"] == []
    system.wait_for(lambda: [i["case_id"] for i in listed("clerk-b", [cid, "no-such-case"]).json()["items"]] == [cid],
                    timeout=20, what="case B's running clock")
    too_many = listed("clerk-b", [f"c{n}" for n in range(101)])
    assert too_many.status_code == 422 and too_many.json()["error"]["fields"][0]["field"] == "case_id"


def reminders_list(system, w):
    # a case of its own, assigned by rule to township B's unit: its handler reads the reminders
    _users(system, w)
    cid = system.register(user="clerk-b", division_code=VILLAGE_B)["case_id"]
    system.wait_for(lambda: any(s["stage"] == "acceptance" for s in _as(
        system, "supervisor-b", "GET", "supervision", f"/api/v1/cases/{cid}/deadlines").json().get("stages", [])),
        timeout=30, what="supervision to hear the case's assignment")
    assert _as(system, "supervisor-b", "POST", "supervision", f"/api/v1/cases/{cid}/reminders",
               {"text": "请加快办理"}).status_code == 201
    for user in ("supervisor-a", "handler-a", "clerk-a"):
        assert _as(system, user, "GET", "supervision", f"/api/v1/cases/{cid}/reminders").status_code == 404, user
    for user in ("supervisor-b", "handler-b"):
        r = _as(system, user, "GET", "supervision", f"/api/v1/cases/{cid}/reminders")
        assert r.status_code == 200 and [m["text"] for m in r.json()["items"]] == ["请加快办理"], (user, r.text)


def alerts(system, w):
    cid = _case_b(system, w, "collective", 0, headcount=60)
    seen = lambda user: {a["case_id"] for a in _as(system, user, "GET", "supervision",  # noqa: E731
                                                   "/api/v1/alerts?limit=500").json()["items"]}
    system.wait_for(lambda: cid in seen("clerk-b"), timeout=20, what="the collective-visit alert")
    assert cid not in seen("clerk-a")


ROWS = {
    ("supervision", "GET", "/api/v1/cases/{case_id}/deadlines"): deadlines,
    ("supervision", "GET", "/api/v1/warnings"): _listed("/api/v1/warnings", "warned", 50),
    ("supervision", "GET", "/api/v1/overdue"): _listed("/api/v1/overdue", "overdue", 70),
    ("supervision", "GET", "/api/v1/backlog"): _listed("/api/v1/backlog", "backlog", 100),
    ("supervision", "POST", "/api/v1/cases/{case_id}/supervision-orders"): orders_post,
    ("supervision", "GET", "/api/v1/supervision-orders"): orders_list,
    ("supervision", "POST", "/api/v1/supervision-orders/{order_id}/answer"): order_answer,
    ("supervision", "POST", "/api/v1/cases/{case_id}/reminders"): reminders,
    ("supervision", "GET", "/api/v1/alerts"): alerts,
    ("supervision", "GET", "/api/v1/deadlines"): current_deadlines,
    ("supervision", "GET", "/api/v1/cases/{case_id}/reminders"): reminders_list,
}
