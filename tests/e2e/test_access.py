"""Who may see what: every endpoint of every service, a user of township A against a case of
township B. A case outside the caller's scope answers 404; counts differ by scope; personal data
stays out of logs and statistics."""
from __future__ import annotations

import httpx
import pytest
import sqlalchemy as sa

from tests.e2e import access_reporting, access_routing, access_supervision
from tests.e2e.access_common import ID_B, PHONE_B, TOWNSHIP_A, TOWNSHIP_B, VILLAGE_A, VILLAGE_B, _as, _count, add_user
from tests.e2e.conftest import PETITION
from xinfang.security import Principal, TokenIssuer

pytestmark = pytest.mark.e2e

PUBLIC = {("intake", "GET", "/api/v1/track/{tracking_code}"), ("intake", "POST", "/api/v1/track/{tracking_code}/evaluation"),
          ("routing", "POST", "/api/v1/auth/sign-in")}


@pytest.fixture(scope="module")
def world(system):
    """Township B's case, and the users of township A and B."""
    add_user(system, "clerk-a", "clerk", TOWNSHIP_A, "999901001-gov")
    add_user(system, "admin-a", "admin", TOWNSHIP_A, "999901001-gov")
    add_user(system, "clerk-b", "clerk", TOWNSHIP_B, "999901002-gov")
    add_user(system, "handler-a", "handler", TOWNSHIP_A, "999901001-gov")
    add_user(system, "handler-b", "handler", TOWNSHIP_B, "999901002-gov")
    for u in ("clerk-a", "admin-a", "clerk-b", "handler-a", "handler-b"):
        system.token(u, "pass-for-tests")
    case_b = system.register(user="clerk-b", division_code=VILLAGE_B,
                             petitioners=[{**PETITION["petitioners"][0], "id_number": ID_B, "phone": PHONE_B}])
    system.clocks(case_b["case_id"], user="clerk-b")
    system.wait_for(lambda: system.get("reporting", "/api/v1/stats/summary", user="clerk-b").json()["registered"] >= 1,
                    timeout=15, what="case B counted")
    # intake has heard of the assignment: township B's handler is the one who may act
    system.wait_for(lambda: system.get("intake", f"/api/v1/cases/{case_b['case_id']}", user="handler-b").status_code
                    == 200, timeout=15, what="case B in township B's handler's view")
    return {"case": case_b}


# ---- one row per endpoint: (service, method, path) -> check(system, world); rows of routing,
# supervision and reporting live in access_<service>.py


def petitions_post(system, w):
    before = _count(system, "intake", "SELECT count(*) FROM events")
    r = _as(system, "clerk-a", "POST", "intake", "/api/v1/petitions", {**PETITION, "division_code": VILLAGE_B})
    assert r.status_code == 403 and r.json()["error"]["fields"][0]["field"] == "division_code"
    assert _count(system, "intake", "SELECT count(*) FROM events") == before
    assert _as(system, "clerk-a", "POST", "intake", "/api/v1/petitions",
               {**PETITION, "division_code": VILLAGE_A}).status_code == 201


def cases_list(system, w):
    cid = w["case"]["case_id"]
    mine = _as(system, "clerk-a", "GET", "intake", "/api/v1/cases?limit=500").json()
    assert cid not in {c["case_id"] for c in mine["items"]}
    assert all(c["office"].startswith("999901001") for c in mine["items"])
    theirs = _as(system, "clerk-b", "GET", "intake", "/api/v1/cases?limit=500").json()
    assert cid in {c["case_id"] for c in theirs["items"]}


def case_get(system, w):
    cid = w["case"]["case_id"]
    assert _as(system, "clerk-a", "GET", "intake", f"/api/v1/cases/{cid}").status_code == 404
    assert _as(system, "clerk-b", "GET", "intake", f"/api/v1/cases/{cid}").status_code == 200


def case_history(system, w):  # the whole story is seen exactly where the case file is
    cid = w["case"]["case_id"]
    assert _as(system, "clerk-a", "GET", "intake", f"/api/v1/cases/{cid}/history").status_code == 404
    r = _as(system, "clerk-b", "GET", "intake", f"/api/v1/cases/{cid}/history")
    assert r.status_code == 200 and "CaseRegistered" in {e["event_type"] for e in r.json()["events"]}
    assert ID_B not in r.text and PHONE_B not in r.text


def categories(system, w):  # reference data, the same for everyone: no case in it
    assert _as(system, "clerk-a", "GET", "intake", "/api/v1/categories").json() == \
        _as(system, "clerk-b", "GET", "intake", "/api/v1/categories").json()


def track(system, w):  # public by design: shows no personal data
    r = system.http.get(f"{system.url['intake']}/api/v1/track/{w['case']['tracking_code']}")
    assert r.status_code == 200 and r.json()["handling_unit"]
    text = r.text
    assert ID_B not in text and ID_B[-4:] not in text and PHONE_B[-4:] not in text and "张三" not in text
    # as a petitioner types it from the receipt: without dashes, in lower case
    typed = w["case"]["tracking_code"].replace("-", "").lower()
    assert system.http.get(f"{system.url['intake']}/api/v1/track/{typed}").json() == r.json()


def me(service):
    def check(system, w):
        got = _as(system, "clerk-a", "GET", service, "/api/v1/me").json()
        assert (got["username"], got["jurisdiction"], got["jurisdiction_level"]) == ("clerk-a", TOWNSHIP_A, "township")
    return check










def case_command(path, body, actor_a, actor_b):
    """A user of township A acting on township B's case gets 404 and changes nothing; B's may act."""
    def check(system, w):
        cid = w["case"]["case_id"]
        before = _count(system, "intake", f"SELECT count(*) FROM events WHERE case_id = '{cid}'")
        r = _as(system, actor_a, "POST", "intake", f"/api/v1/cases/{cid}/{path}", body)
        assert r.status_code == 404, r.text
        assert _count(system, "intake", f"SELECT count(*) FROM events WHERE case_id = '{cid}'") == before
        r = _as(system, actor_b, "POST", "intake", f"/api/v1/cases/{cid}/{path}", body)
        assert r.status_code in (200, 409), r.text  # allowed to try; 409 only where the case's state forbids
    return check


def evaluation(system, w):  # public by tracking code: refuses before the reply, leaks nothing
    code = w["case"]["tracking_code"]
    r = system.http.post(f"{system.url['intake']}/api/v1/track/{code}/evaluation", json={"rating": "satisfied"})
    assert r.status_code in (200, 409) and ID_B not in r.text
    assert system.http.post(f"{system.url['intake']}/api/v1/track/ZZZZ-ZZZZ-ZZZZ/evaluation",
                            json={"rating": "satisfied"}).status_code == 404


def imports(system, w):  # an import is a registration: refused outside the importer's jurisdiction
    body = lambda lid, village: {"cases": [{"legacy_id": lid, "registration": {  # noqa: E731
        **PETITION, "division_code": village, "received_at": "2024-05-06T09:00:00+08:00"}}]}
    r = _as(system, "admin-a", "POST", "intake", "/api/v1/imports", body("ACCESS-B-1", VILLAGE_B)).json()
    assert r["refused"] == 1 and r["results"][0]["field"] == "division_code"
    r = _as(system, "clerk-b", "POST", "intake", "/api/v1/imports", body("ACCESS-B-2", VILLAGE_B)).json()
    assert r["imported"] == 1


MATRIX = {
    **access_routing.ROWS,
    **access_supervision.ROWS,
    **access_reporting.ROWS,
    ("intake", "POST", "/api/v1/imports"): imports,
    ("intake", "POST", "/api/v1/cases/{case_id}/acceptance"): case_command(
        "acceptance", {"decision": "accepted", "procedure": "normal", "notice": "受理"}, "handler-a", "handler-b"),
    ("intake", "POST", "/api/v1/cases/{case_id}/extension"): case_command(
        "extension", {"days": 10, "reason": "复杂"}, "handler-a", "handler-b"),
    ("intake", "POST", "/api/v1/cases/{case_id}/reply"): case_command(
        "reply", {"outcome": "explained", "text": "答复"}, "handler-a", "handler-b"),
    ("intake", "POST", "/api/v1/cases/{case_id}/review-request"): case_command(
        "review-request", {"level": "review", "reason": "不服"}, "clerk-a", "clerk-b"),
    ("intake", "POST", "/api/v1/cases/{case_id}/closure"): case_command("closure", {}, "handler-a", "handler-b"),
    ("intake", "POST", "/api/v1/track/{tracking_code}/evaluation"): evaluation,
    ("intake", "POST", "/api/v1/petitions"): petitions_post,
    ("intake", "GET", "/api/v1/cases"): cases_list,
    ("intake", "GET", "/api/v1/cases/{case_id}"): case_get,
    ("intake", "GET", "/api/v1/cases/{case_id}/history"): case_history,
    ("intake", "GET", "/api/v1/categories"): categories,
    ("intake", "GET", "/api/v1/track/{tracking_code}"): track,
    ("intake", "GET", "/api/v1/me"): me("intake"),
    ("routing", "GET", "/api/v1/me"): me("routing"),
    ("supervision", "GET", "/api/v1/me"): me("supervision"),
    ("reporting", "GET", "/api/v1/me"): me("reporting"),
}



def endpoints(system) -> set[tuple[str, str, str]]:
    out = set()
    for service, url in system.url.items():
        for path, ops in httpx.get(f"{url}/openapi.json").json()["paths"].items():
            if path.startswith("/api/v1/"):
                out |= {(service, m.upper(), path) for m in ops}
    return out


def test_the_matrix_has_one_row_for_every_endpoint_of_every_service(system):
    assert endpoints(system) == set(MATRIX), "add a row to MATRIX for every new endpoint"


@pytest.mark.parametrize("endpoint", sorted(MATRIX), ids=lambda e: f"{e[0]} {e[1]} {e[2]}")
def test_township_a_can_neither_read_nor_change_township_b(system, world, endpoint):
    MATRIX[endpoint](system, world)


def _call(system, service, method, path, headers):
    concrete = path.replace("{case_id}", "00000000-0000-4000-8000-000000000000").replace("{tracking_code}", "X")
    body = {} if method in ("POST", "PUT", "PATCH") else None
    return system.http.request(method, f"{system.url[service]}{concrete}", json=body, headers=headers)


def test_without_a_valid_token_every_endpoint_but_sign_in_and_tracking_is_401(system):
    key = (system.stack.data_dir / "keys" / "token-signing.pem").read_text()
    expired, _ = TokenIssuer(key, ttl_s=-60).issue(Principal("demo-leader", "leader", "999901000000"))
    from xinfang.security import generate_keypair
    forged, _ = TokenIssuer(generate_keypair()[0]).issue(Principal("demo-leader", "leader", "999901000000"))
    checked = 0
    for service, method, path in sorted(endpoints(system) - PUBLIC):
        for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": f"Bearer {expired}"},
                        {"Authorization": f"Bearer {forged}"}, {"Authorization": "Basic ZGVtbzpkZW1v"}):
            r = _call(system, service, method, path, headers)
            assert r.status_code == 401, (service, method, path, headers, r.text)
            assert r.json()["error"]["message_zh"]
        checked += 1
    assert checked >= 20


def test_no_id_or_phone_number_in_clear_in_logs_reporting_or_intake_storage(system, world):
    for log in (system.stack.data_dir / "logs").glob("*.log"):
        text = log.read_text(errors="replace")
        assert ID_B not in text and PHONE_B not in text, log.name
    e = sa.create_engine(system.db_urls["reporting"].replace("postgresql://", "postgresql+psycopg://"))
    with e.connect() as c:
        tables = [r[0] for r in c.execute(sa.text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))]
        for t in tables:
            dump = " ".join(str(row) for row in c.execute(sa.text(f'SELECT * FROM "{t}"')))
            assert ID_B not in dump and PHONE_B not in dump and ID_B[-4:] + "'" not in dump, t
    e.dispose()
    intake = sa.create_engine(system.db_urls["intake"].replace("postgresql://", "postgresql+psycopg://"))
    with intake.connect() as c:
        rows = " ".join(str(r) for r in c.execute(sa.text("SELECT * FROM petitioners")))
        events = " ".join(r[0] for r in c.execute(sa.text("SELECT body FROM events")))
        outbox = " ".join(r[0] for r in c.execute(sa.text("SELECT body FROM outbox")))
    intake.dispose()
    assert ID_B not in rows and PHONE_B not in rows      # encrypted at rest
    assert ID_B not in events + outbox and PHONE_B not in events + outbox  # never on Kafka


def test_public_tracking_is_rate_limited_and_unknown_codes_are_404(system):
    url = f"{system.url['intake']}/api/v1/track/AAAA-BBBB-CCCC"
    codes = [system.http.get(url).status_code for _ in range(40)]
    assert codes[0] == 404 and 429 in codes
    r = system.http.get(url)
    assert r.status_code == 429 and r.json()["error"]["message_zh"]


def test_petitioners_tracking_through_the_console_each_have_their_own_limit(system):
    """The console forwards each visitor's address: one visitor past the limit does not lock the
    county's other petitioners out of the public page (they had shared the console's one limit)."""
    with httpx.Client(base_url=system.start_web(), timeout=30) as web:
        def look(visitor: str) -> str:
            return web.get("/track", params={"code": "AAAA-BBBB-CDDD"}, headers={"X-Forwarded-For": visitor}).text
        pages = [look("203.0.113.7") for _ in range(35)]
        assert "频繁" not in pages[0] and "频繁" in pages[-1]
        other = look("203.0.113.8")
        assert "频繁" not in other and "AAAA-BBBB-CDDD" in other
