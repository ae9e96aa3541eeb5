"""Access rows for routing: a user of township A against township B's case."""
from __future__ import annotations

from tests.e2e.access_common import (ID_B, PHONE_B, TOWNSHIP_A, TOWNSHIP_B, VILLAGE_A, VILLAGE_B,  # noqa: F401
                                     _as, _count)


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


ROWS = {
    ("routing", "POST", "/api/v1/auth/sign-in"): sign_in,
    ("routing", "GET", "/api/v1/cases/{case_id}/assignment"): assignment,
    ("routing", "GET", "/api/v1/divisions"): divisions_get,
    ("routing", "POST", "/api/v1/divisions"): divisions_post,
    ("routing", "GET", "/api/v1/units"): units_get,
    ("routing", "POST", "/api/v1/units"): units_post,
}
