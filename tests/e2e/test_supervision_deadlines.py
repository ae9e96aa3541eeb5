"""The running system publishes each warning and expiry of past-dated cases exactly once, also
when supervision is killed and started again; supervision orders and reminders are events."""
from __future__ import annotations

import json
import signal
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

pytestmark = pytest.mark.e2e

CST = timezone(timedelta(hours=8))
ALL = ("notice", "warning", "serious_warning", "overdue")


def crossings(system) -> Counter:
    """(case, stage, level) of every DeadlineWarned / DeadlineExpired in supervision's store."""
    e = sa.create_engine(system.db_urls["supervision"].replace("postgresql://", "postgresql+psycopg://"))
    try:
        with e.connect() as c:
            rows = c.execute(sa.text("SELECT case_id, body FROM events "
                                     "WHERE event_type IN ('DeadlineWarned', 'DeadlineExpired')")).all()
    finally:
        e.dispose()
    out: Counter = Counter()
    for case_id, body in rows:
        p = json.loads(body)["payload"]
        out[(case_id, p["stage"], p.get("level", "overdue"))] += 1
    return out


def register_days_ago(system, days: float, **changes) -> str:
    received = datetime.now(CST) - timedelta(days=days)
    return system.register(received_at=received.isoformat(), **changes)["case_id"]


def expected_for(old: str, half: str) -> Counter:
    # old: received 20 days ago, its 15-day assignment clock ran out before routing assigned it
    # half: received 50 days ago: assignment out too, the provisional 60-day handling clock past 75 %
    return Counter({**{(old, "assignment", lv): 1 for lv in ALL}, **{(half, "assignment", lv): 1 for lv in ALL},
                    (half, "handling", "notice"): 1})


def test_past_dated_cases_publish_each_crossing_once_also_across_a_crash_of_supervision(system):
    old, half = register_days_ago(system, 20), register_days_ago(system, 50)
    fresh = register_days_ago(system, 2)
    mine = lambda: Counter({k: n for k, n in crossings(system).items() if k[0] in (old, half, fresh)})  # noqa: E731
    expected = expected_for(old, half)
    system.wait_for(lambda: mine() == expected or None, timeout=60, what=f"the crossings {expected}")

    system.stack.kill("supervision", signal.SIGKILL)
    late = register_days_ago(system, 20)  # registered while supervision was down
    system.stack.restart("supervision", timeout=90)
    system.wait_for(lambda: sum(n for k, n in crossings(system).items() if k[0] == late) == 4 or None,
                    timeout=60, what="the crossings of the case registered while supervision was down")
    assert mine() == expected  # nothing published twice after the restart
    assert all(n == 1 for n in crossings(system).values())

    # the read models agree: the provisional handling clock of `half` warns, `old` was assigned late
    d = system.get("supervision", f"/api/v1/cases/{half}/deadlines").json()
    stages = {s["stage"]: s for s in d["stages"]}
    assert stages["handling"]["level"] == "notice" and stages["handling"]["status"] == "running"
    assert stages["assignment"]["status"] == "met" and stages["assignment"]["on_time"] is False
    warned = system.get("supervision", "/api/v1/warnings?limit=500").json()["items"]
    assert (half, "handling") in {(i["case_id"], i["stage"]) for i in warned}
    assert fresh not in {i["case_id"] for i in warned}


def test_a_supervision_order_is_answered_by_the_unit_and_a_reminder_is_an_event(system):
    case_id = register_days_ago(system, 1)
    system.clocks(case_id)
    reply_by = (datetime.now(CST).date() + timedelta(days=5)).isoformat()
    r = system.post("supervision", f"/api/v1/cases/{case_id}/supervision-orders",
                    {"requirement": "五日内报告办理情况", "reply_by": reply_by}, user="demo-supervisor")
    assert r.status_code == 201, r.text
    order = r.json()
    assert system.post("supervision", f"/api/v1/cases/{case_id}/supervision-orders",
                       {"requirement": "x", "reply_by": "2020-01-01"}, user="demo-supervisor").json()["error"][
        "fields"][0]["field"] == "reply_by"
    assert system.post("supervision", f"/api/v1/cases/{case_id}/supervision-orders",
                       {"requirement": "x", "reply_by": reply_by}, user="demo-clerk").status_code == 403
    # the case went to the township government of the village; its handler answers
    unit = order["unit_id"]
    assert unit
    from tests.e2e.access_common import add_user
    add_user(system, "sv-handler", "handler", "999901001000", unit)
    system.token("sv-handler", "pass-for-tests")
    r = system.post("supervision", f"/api/v1/supervision-orders/{order['order_id']}/answer", {"text": "已约谈，下周答复"},
                    user="sv-handler")
    assert r.status_code == 200 and r.json()["status"] == "answered", r.text
    again = system.post("supervision", f"/api/v1/supervision-orders/{order['order_id']}/answer", {"text": "再答"},
                        user="sv-handler")
    assert again.status_code == 409 and again.json()["error"]["rule"] == "order_answered"
    assert system.post("supervision", f"/api/v1/cases/{case_id}/reminders", {"text": "请加快"},
                       user="demo-supervisor").status_code == 201
    listed = system.get("supervision", "/api/v1/supervision-orders?status=answered&limit=500").json()["items"]
    assert order["order_id"] in {o["order_id"] for o in listed}


def test_an_order_or_a_reminder_re_sent_with_its_idempotency_key_is_issued_once(system):
    import uuid

    case_id = register_days_ago(system, 1)
    system.clocks(case_id)
    reply_by = (datetime.now(CST).date() + timedelta(days=5)).isoformat()
    url = system.url["supervision"]
    for path, body in ((f"/api/v1/cases/{case_id}/supervision-orders",
                        {"requirement": "五日内报告办理情况", "reply_by": reply_by}),
                       (f"/api/v1/cases/{case_id}/reminders", {"text": "请加快办理"})):
        headers = {**system.auth("demo-supervisor"), "Idempotency-Key": str(uuid.uuid4())}
        first = system.http.post(f"{url}{path}", json=body, headers=headers)
        again = system.http.post(f"{url}{path}", json=body, headers=headers)
        assert first.status_code == again.status_code == 201, (first.text, again.text)
        assert again.json() == first.json() and again.headers.get("Idempotent-Replayed") == "true"
        # the same key on another case cannot be a retry
        other = register_days_ago(system, 1)
        system.clocks(other)
        elsewhere = system.http.post(f"{url}{path.replace(case_id, other)}", json=body, headers=headers)
        assert elsewhere.status_code == 422 and "Idempotency-Key" in elsewhere.text, elsewhere.text
    types = system.rows("supervision", f"SELECT event_type FROM events WHERE case_id = '{case_id}' "
                                       "AND event_type IN ('SupervisionOrderIssued', 'ReminderSent')")
    assert sorted(types) == ["ReminderSent", "SupervisionOrderIssued"]
