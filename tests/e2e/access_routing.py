"""Access rows for routing: a user of township A against township B's case."""
from __future__ import annotations

from tests.e2e.access_common import ID_B, PHONE_B, TOWNSHIP_A, TOWNSHIP_B, VILLAGE_A, VILLAGE_B, _as, _count, add_user  # noqa: F401

_made: set[tuple[str, str]] = set()  # (the system's routing database, username): each system has its own users


def _user(system, name, role, township, unit):
    """Users beyond the world's: a dispatcher, leader and admin in each township, made once."""
    key = (system.db_urls["routing"], name)
    if key not in _made:
        add_user(system, name, role, township, unit)
        system.token(name, "pass-for-tests")
        _made.add(key)
    return name


def _fresh_case_b(system) -> str:
    """A land case in township B's village: routed to township B's government, untouched by other rows."""
    cid = system.register(user="clerk-b", division_code=VILLAGE_B, category_code="0501")["case_id"]
    system.wait_for(lambda: _as(system, "handler-b", "GET", "routing", f"/api/v1/cases/{cid}/assignment").status_code
                    == 200, timeout=20, what="the fresh case assigned to township B")
    return cid


def _case_events(system, cid) -> int:
    return _count(system, "routing", f"SELECT count(*) FROM events WHERE case_id = '{cid}'")


def assignment_post(system, w):
    cid = _fresh_case_b(system)
    _user(system, "dispatcher-a", "dispatcher", TOWNSHIP_A, "999901001-gov")
    _user(system, "dispatcher-b", "dispatcher", TOWNSHIP_B, "999901002-gov")
    body = {"unit_id": "999901-d03", "reason": "县自然资源局办理"}
    assert _as(system, "dispatcher-a", "POST", "routing", f"/api/v1/cases/{cid}/assignment", body).status_code == 404
    assert _case_events(system, cid) == 1
    r = _as(system, "dispatcher-b", "POST", "routing", f"/api/v1/cases/{cid}/assignment", body)
    assert r.status_code == 200 and r.json()["unit_id"] == "999901-d03", r.text


def sign(system, w):
    cid = _fresh_case_b(system)
    assert _as(system, "handler-a", "POST", "routing", f"/api/v1/cases/{cid}/sign", {}).status_code == 404
    assert _case_events(system, cid) == 1
    assert _as(system, "handler-b", "POST", "routing", f"/api/v1/cases/{cid}/sign", {}).status_code == 200


def objection(system, w):
    cid = _fresh_case_b(system)
    body = {"reason": "不属本单位职责"}
    assert _as(system, "handler-a", "POST", "routing", f"/api/v1/cases/{cid}/objection", body).status_code == 404
    assert _case_events(system, cid) == 1
    assert _as(system, "handler-b", "POST", "routing", f"/api/v1/cases/{cid}/objection", body).status_code == 200


def ownership(system, w):
    cid = w["case"]["case_id"]
    _user(system, "leader-a", "leader", TOWNSHIP_A, "999901001-gov")
    _user(system, "leader-b", "leader", TOWNSHIP_B, "999901002-gov")
    before = _case_events(system, cid)
    assert _as(system, "leader-a", "POST", "routing", f"/api/v1/cases/{cid}/ownership",
               {"leader": "leader-a"}).status_code == 404
    assert _case_events(system, cid) == before
    r = _as(system, "leader-b", "POST", "routing", f"/api/v1/cases/{cid}/ownership", {"leader": "leader-b"})
    assert r.status_code in (200, 409), r.text


def owned_cases(system, w):
    cid = _fresh_case_b(system)
    _user(system, "leader-a", "leader", TOWNSHIP_A, "999901001-gov")
    _user(system, "leader-b", "leader", TOWNSHIP_B, "999901002-gov")
    _user(system, "dispatcher-a", "dispatcher", TOWNSHIP_A, "999901001-gov")
    r = _as(system, "leader-b", "POST", "routing", f"/api/v1/cases/{cid}/ownership", {"leader": "leader-b"})
    assert r.status_code == 200, r.text
    theirs = _as(system, "leader-b", "GET", "routing", "/api/v1/owned-cases?limit=500").json()
    assert cid in [i["case_id"] for i in theirs["items"]]
    assert _as(system, "leader-a", "GET", "routing", "/api/v1/owned-cases?leader=leader-b").status_code == 403
    named = _as(system, "dispatcher-a", "GET", "routing", "/api/v1/owned-cases?leader=leader-b&limit=500")
    assert named.status_code == 200 and cid not in [i["case_id"] for i in named.json()["items"]]


def inbox(system, w):
    cid = _fresh_case_b(system)  # the world's case may have been replied and closed by intake's rows
    assert _as(system, "clerk-a", "GET", "routing", "/api/v1/units/999901002-gov/inbox").status_code == 404
    assert _as(system, "handler-a", "GET", "routing", "/api/v1/units/999901002-gov/inbox").status_code == 404
    mine = _as(system, "clerk-a", "GET", "routing", "/api/v1/units/999901001-gov/inbox?limit=500").json()
    assert cid not in [i["case_id"] for i in mine["items"]]
    theirs = _as(system, "handler-b", "GET", "routing", "/api/v1/units/999901002-gov/inbox?limit=500").json()
    assert cid in [i["case_id"] for i in theirs["items"]] and sum(theirs["counts"].values()) >= 1


def queue(system, w):
    cid = _fresh_case_b(system)
    assert _as(system, "handler-b", "POST", "routing", f"/api/v1/cases/{cid}/objection",
               {"reason": "不属本单位职责"}).status_code == 200
    _user(system, "dispatcher-a", "dispatcher", TOWNSHIP_A, "999901001-gov")
    _user(system, "dispatcher-b", "dispatcher", TOWNSHIP_B, "999901002-gov")
    a = _as(system, "dispatcher-a", "GET", "routing", "/api/v1/queue?limit=500").json()
    assert cid not in [i["case_id"] for i in a["items"]] and a["counts"]["returned"] == 0
    b = _as(system, "dispatcher-b", "GET", "routing", "/api/v1/queue?limit=500").json()
    assert cid in [i["case_id"] for i in b["items"]] and b["counts"]["returned"] >= 1
    assert _as(system, "clerk-b", "GET", "routing", "/api/v1/queue").status_code == 403


def rules_get(system, w):
    a = [r["division_prefix"] for r in _as(system, "clerk-a", "GET", "routing", "/api/v1/rules").json()]
    assert a and not any(p.startswith("999901002") for p in a)
    b = [r["division_prefix"] for r in _as(system, "clerk-b", "GET", "routing", "/api/v1/rules").json()]
    assert "999901002" in b


def rules_post(system, w):
    _user(system, "admin-b", "admin", TOWNSHIP_B, "999901002-gov")
    rule = {"division_prefix": VILLAGE_B, "category_prefix": "1701", "unit_id": "999901002-gov", "note": "测试"}
    r = _as(system, "admin-a", "POST", "routing", "/api/v1/rules", rule)
    assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "division_prefix"
    assert _as(system, "clerk-b", "POST", "routing", "/api/v1/rules", rule).status_code == 403
    assert _as(system, "admin-b", "POST", "routing", "/api/v1/rules", rule).status_code == 201


def rules_delete(system, w):
    _user(system, "admin-b", "admin", TOWNSHIP_B, "999901002-gov")
    path = "/api/v1/rules/demo-999901002-0901"
    assert _as(system, "admin-a", "DELETE", "routing", path).status_code == 404
    assert _as(system, "admin-b", "DELETE", "routing", path).status_code == 200


def rules_preview(system, w):
    body = {"division_code": VILLAGE_B, "category_code": "0501"}
    r = _as(system, "clerk-a", "POST", "routing", "/api/v1/rules/preview", body)
    assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "division_code"
    assert _as(system, "clerk-b", "POST", "routing", "/api/v1/rules/preview", body).json()["unit_id"] == "999901002-gov"


def sign_in(system, w):  # answers only the signing-in user's own token
    r = system.http.post(f"{system.url['routing']}/api/v1/auth/sign-in",
                         json={"username": "clerk-a", "password": "pass-for-tests"})
    assert r.json()["user"]["jurisdiction"] == TOWNSHIP_A
    assert system.http.post(f"{system.url['routing']}/api/v1/auth/sign-in",
                            json={"username": "clerk-b", "password": "wrong-password"}).status_code == 401


def assignment(system, w):
    cid = w["case"]["case_id"]
    assert _as(system, "clerk-a", "GET", "routing", f"/api/v1/cases/{cid}/assignment").status_code == 404
    assert _as(system, "clerk-b", "GET", "routing", f"/api/v1/cases/{cid}/assignment").status_code == 200


def divisions_get(system, w):
    codes = [d["code"] for d in _as(system, "clerk-a", "GET", "routing", "/api/v1/divisions").json()]
    assert codes and all(c.startswith("999901001") for c in codes)
    assert VILLAGE_B in [d["code"] for d in _as(system, "clerk-b", "GET", "routing", "/api/v1/divisions").json()]


def divisions_post(system, w):
    new_b = {"code": "999901002901", "name": "测试村", "level": "village", "parent": TOWNSHIP_B}
    assert _as(system, "clerk-a", "POST", "routing", "/api/v1/divisions", new_b).status_code == 403
    r = _as(system, "admin-a", "POST", "routing", "/api/v1/divisions", new_b)
    assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "code"
    new_a = {"code": "999901001901", "name": "测试新村", "level": "village", "parent": TOWNSHIP_A}
    assert _as(system, "admin-a", "POST", "routing", "/api/v1/divisions", new_a).status_code == 201
    assert _as(system, "admin-a", "POST", "routing", "/api/v1/divisions", new_a).status_code == 409


def units_get(system, w):
    units = _as(system, "clerk-a", "GET", "routing", "/api/v1/units").json()
    assert units and all(u["division_code"].startswith("999901001") for u in units)


def units_post(system, w):
    unit_b = {"unit_id": "test-b-unit", "name": "东风镇测试办", "kind": "department", "division_code": TOWNSHIP_B}
    assert _as(system, "clerk-a", "POST", "routing", "/api/v1/units", unit_b).status_code == 403
    assert _as(system, "admin-a", "POST", "routing", "/api/v1/units", unit_b).status_code == 422


def names(system, w):
    """A township's user reads the county's names and its own, never another township's."""
    got = _as(system, "clerk-a", "GET", "routing", "/api/v1/names?unit_id=999901002-gov&unit_id=999901-d02"
              "&unit_id=999901001-gov&username=clerk-b&username=demo-dispatcher&username=clerk-a").json()
    assert set(got["units"]) == {"999901-d02", "999901001-gov"}
    assert got["staff"] == {"demo-dispatcher": "演示交办员", "clerk-a": "clerk-a"}  # no display name: the user name


ROWS = {
    ("routing", "GET", "/api/v1/names"): names,
    ("routing", "POST", "/api/v1/auth/sign-in"): sign_in,
    ("routing", "GET", "/api/v1/cases/{case_id}/assignment"): assignment,
    ("routing", "GET", "/api/v1/divisions"): divisions_get,
    ("routing", "POST", "/api/v1/divisions"): divisions_post,
    ("routing", "GET", "/api/v1/units"): units_get,
    ("routing", "POST", "/api/v1/units"): units_post,
    ("routing", "POST", "/api/v1/cases/{case_id}/assignment"): assignment_post,
    ("routing", "POST", "/api/v1/cases/{case_id}/sign"): sign,
    ("routing", "POST", "/api/v1/cases/{case_id}/objection"): objection,
    ("routing", "POST", "/api/v1/cases/{case_id}/ownership"): ownership,
    ("routing", "GET", "/api/v1/units/{unit_id}/inbox"): inbox,
    ("routing", "GET", "/api/v1/owned-cases"): owned_cases,
    ("routing", "GET", "/api/v1/queue"): queue,
    ("routing", "GET", "/api/v1/rules"): rules_get,
    ("routing", "POST", "/api/v1/rules"): rules_post,
    ("routing", "DELETE", "/api/v1/rules/{rule_id}"): rules_delete,
    ("routing", "POST", "/api/v1/rules/preview"): rules_preview,
}
