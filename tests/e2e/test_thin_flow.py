"""One case through all four services on a real broker and real databases."""
import uuid

import pytest
import sqlalchemy as sa

from tests.e2e.conftest import PETITION, received_plus

pytestmark = pytest.mark.e2e


def test_a_petition_appears_in_routing_supervision_and_reporting(system):
    # how fast is bench/e2e.py's question (p99 at 20/s); a test on a shared machine only checks that it arrives
    before = system.get("reporting", "/api/v1/stats/summary").json()["registered"]
    case = system.register()
    assert case["tracking_code"] and case["case_id"]

    def visible():
        a = system.get("routing", f"/api/v1/cases/{case['case_id']}/assignment")
        s = system.get("reporting", "/api/v1/stats/summary").json()
        return a.status_code == 200 and s["registered"] == before + 1 and a

    a = system.wait_for(visible, timeout=30, what="the case in routing and reporting")
    d = system.clocks(case["case_id"])
    assert a.json()["unit_id"] == "999901001-gov"  # township of the village where it arose
    stages = {x["stage"]: x for x in d["stages"]}
    # calendar days after the letter came in (09:30 Beijing time: the same date in UTC)
    assert stages["handling"]["due_at"].startswith(received_plus(60).date().isoformat())
    assert stages["assignment"]["due_at"].startswith(received_plus(15).date().isoformat())


def test_before_routing_knows_a_case_its_assignment_is_404(system):
    r = system.get("routing", f"/api/v1/cases/{uuid.uuid4()}/assignment")
    assert r.status_code == 404
    assert r.json()["error"]["message_zh"]
    assert system.get("supervision", f"/api/v1/cases/{uuid.uuid4()}/deadlines").status_code == 404


def test_the_case_file_shows_personal_data_masked_except_to_clerks_and_handlers(system):
    case = system.register()
    file = system.get("intake", f"/api/v1/cases/{case['case_id']}", user="demo-leader").json()
    assert file["petitioners"][0]["id_number"] == "1101**********1233"
    assert file["petitioners"][0]["phone"] == "138****0000"
    assert "110101199003071233" not in str(file)
    assert [h["event_type"] for h in file["history"]] == ["CaseRegistered"]
    assert file["history"][0]["actor"] == "demo-clerk"
    clerk_view = system.get("intake", f"/api/v1/cases/{case['case_id']}", user="demo-clerk").json()
    assert clerk_view["petitioners"][0]["id_number"] == "110101199003071233"


@pytest.mark.parametrize("change, field", [
    ({"division_code": "999901999999"}, "division_code"),
    ({"category_code": "07"}, "category_code"),
    ({"received_at": "2099-01-01T00:00:00+08:00"}, "received_at"),
    ({"received_at": "2026-11-20T09:30:00"}, "received_at"),
    ({"channel": "fax"}, "channel"),
    ({"petitioners": [{**PETITION["petitioners"][0], "id_number": "110101199003071234"}]}, "petitioners.0.id_number"),
    ({"headcount": 0}, "headcount"),
])
def test_bad_input_is_a_422_naming_the_field_and_stores_nothing(system, change, field):
    engine = sa.create_engine(system.db_urls["intake"].replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as c:
        before = c.execute(sa.text("SELECT count(*) FROM events")).scalar()
    r = system.post("intake", "/api/v1/petitions", {**PETITION, **change})
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert field in [f["field"] for f in err["fields"]]
    assert all(f["message"] and f["message_zh"] for f in err["fields"])
    with engine.connect() as c:
        assert c.execute(sa.text("SELECT count(*) FROM events")).scalar() == before
    engine.dispose()


def test_every_service_answers_health_and_publishes_openapi(system):
    for name, url in system.url.items():
        h = system.http.get(f"{url}/health")  # no token needed for operations
        assert h.status_code == 200 and h.json()["status"] == "ok", (name, h.text)
        doc = system.http.get(f"{url}/openapi.json").json()
        assert any(p.startswith("/api/v1/") for p in doc["paths"]), name


def test_every_error_is_the_one_envelope_and_every_operation_declares_it(system):
    envelope = {"$ref": "#/components/schemas/ErrorEnvelope"}
    for name, url in system.url.items():
        doc = system.http.get(f"{url}/openapi.json").json()
        assert "ErrorEnvelope" in doc["components"]["schemas"] and "HTTPValidationError" not in doc["components"]["schemas"]
        for path, ops in doc["paths"].items():
            for method, op in ops.items():
                declared = op["responses"]
                wanted = {"404", "405"} | ({"400", "422", "429"} if path.startswith("/api/v1/") else set())
                if path.startswith("/api/v1/") and not path.startswith(("/api/v1/auth/sign-in", "/api/v1/track/")):
                    wanted |= {"401", "403"}
                assert wanted <= set(declared), (name, method, path, sorted(declared))
                assert all(declared[s]["content"]["application/json"]["schema"] == envelope for s in wanted)
    # what the framework itself refuses answers the envelope too
    intake = system.url["intake"]
    unknown = system.http.get(f"{intake}/api/v1/no-such-thing", headers=system.auth())
    assert unknown.status_code == 404 and unknown.json()["error"]["message_zh"]
    wrong = system.http.delete(f"{intake}/api/v1/petitions", headers=system.auth())
    assert wrong.status_code == 405 and wrong.json()["error"]["code"] == "method_not_allowed" and wrong.headers["allow"]
    broken = system.http.post(f"{intake}/api/v1/petitions", content=b"{not json", headers={
        **system.auth(), "Content-Type": "application/json"})
    assert broken.status_code == 400 and broken.json()["error"]["message_zh"] == "请求体不是合法的 JSON"
    # the exports say what they send
    exports = system.http.get(f"{system.url['reporting']}/openapi.json").json()["paths"]
    assert "text/csv" in exports["/api/v1/exports/monthly.csv"]["get"]["responses"]["200"]["content"]
    assert any("spreadsheetml" in m for m in exports["/api/v1/exports/yearly.xlsx"]["get"]["responses"]["200"]["content"])


def test_reference_lists_are_served(system):
    cats = system.get("intake", "/api/v1/categories").json()
    assert len(cats) == 17 and all(c["children"] for c in cats)
    divs = system.get("routing", "/api/v1/divisions").json()
    assert {"code", "name", "level", "parent"} <= set(divs[0])
    assert sum(d["level"] == "village" for d in divs) >= 100
    assert len(system.get("routing", "/api/v1/units").json()) >= 30


def test_a_registration_re_sent_with_its_idempotency_key_is_stored_once(system):
    """A client whose answer was cut off sends the registration again with the same key: it gets
    the first answer, and the petition is stored, routed and counted once."""
    key = str(uuid.uuid4())
    headers = {**system.auth(), "Idempotency-Key": key}
    url = f"{system.url['intake']}/api/v1/petitions"
    first = system.http.post(url, json=PETITION, headers=headers)
    again = system.http.post(url, json=PETITION, headers=headers)
    assert first.status_code == again.status_code == 201, (first.text, again.text)
    assert again.json() == first.json() and again.headers.get("Idempotent-Replayed") == "true"
    assert "Idempotent-Replayed" not in first.headers
    case_id = first.json()["case_id"]
    assert system.rows("intake", f"SELECT count(*) FROM events WHERE case_id = '{case_id}'") == [1]
    # the same key with another body cannot be a retry: 422 naming the header, nothing stored
    other = system.http.post(url, json={**PETITION, "summary": "另一件事"}, headers=headers)
    assert other.status_code == 422, other.text
    assert [f["field"] for f in other.json()["error"]["fields"]] == ["Idempotency-Key"]
    # another clerk's key of the same value is theirs alone
    theirs = system.http.post(url, json=PETITION, headers={**system.auth("demo-township-clerk"), "Idempotency-Key": key})
    assert theirs.status_code == 201 and theirs.json()["case_id"] != case_id
    bad = system.http.post(url, json=PETITION, headers={**system.auth(), "Idempotency-Key": "has a space"})
    assert bad.status_code == 422 and "Idempotency-Key" in bad.text


PAGED = [("intake", "/api/v1/cases", "demo-leader"), ("routing", "/api/v1/units/999901-d02/inbox", "demo-handler"),
         ("routing", "/api/v1/owned-cases", "demo-leader"), ("routing", "/api/v1/queue", "demo-dispatcher"),
         ("supervision", "/api/v1/warnings", "demo-supervisor"), ("supervision", "/api/v1/overdue", "demo-supervisor"),
         ("supervision", "/api/v1/backlog", "demo-supervisor"),
         ("supervision", "/api/v1/supervision-orders", "demo-supervisor"),
         ("supervision", "/api/v1/alerts", "demo-supervisor")]


@pytest.mark.parametrize("service, path, user", PAGED, ids=[f"{s}{p}" for s, p, _ in PAGED])
def test_an_offset_past_any_list_is_a_422_naming_it(system, service, path, user):
    r = system.get(service, f"{path}?offset={2 ** 63}", user=user)
    assert r.status_code == 422, r.text
    assert [f["field"] for f in r.json()["error"]["fields"]] == ["offset"]
    assert system.get(service, f"{path}?offset=0", user=user).status_code == 200


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+08:00", "9999-12-31T23:59:59-08:00"])
def test_dates_at_the_ends_of_the_calendar_are_a_422_naming_the_field_never_a_500(system, when):
    from urllib.parse import quote

    posted = system.post("intake", "/api/v1/petitions", {**PETITION, "received_at": when})
    assert posted.status_code == 422 and "received_at" in [f["field"] for f in posted.json()["error"]["fields"]]
    day = when[:10]
    for service, path, field in (
            ("intake", f"/api/v1/cases?received_from={quote(when)}", "received_from"),
            ("intake", f"/api/v1/cases?received_to={quote(when)}", "received_to"),
            ("reporting", f"/api/v1/stats/rates?as_of={quote(when)}", "as_of"),
            ("reporting", f"/api/v1/stats/summary?from={day}", "from"),
            ("reporting", f"/api/v1/stats/dashboard?to={day}", "to"),
            ("reporting", f"/api/v1/exports/yearly.csv?year={day[:4]}", "year"),
            ("reporting", f"/api/v1/exports/monthly.xlsx?month={day[:7]}", "month")):
        r = system.get(service, path)
        assert r.status_code == 422, (path, r.status_code, r.text[:300])
        assert field in [f["field"] for f in r.json()["error"]["fields"]], (path, r.text[:300])
    case = system.register()
    order = system.post("supervision", f"/api/v1/cases/{case['case_id']}/supervision-orders",
                        {"requirement": "限期办理", "reply_by": day}, user="demo-supervisor")
    assert order.status_code == 422, order.text  # the body is judged before the case is looked up
    assert "reply_by" in [f["field"] for f in order.json()["error"]["fields"]]
