"""The chain checkpoints' journey, as an operator meets it: each producing service signs the head
of its event chain and publishes it; every other service keeps it in its own database; the
newest events of intake's store deleted by a database administrator, with their links, are
invisible to the chain alone and reported by `xinfang audit verify` through the checkpoints the
other services hold; `xinfang audit export` writes them for offline keeping, and verifying
against the file alone finds the deletion too. A case's whole history, gathered by intake from
every service, names each act's link and the checkpoint that covers it."""
import json
import re
from datetime import datetime, timedelta

import pytest

from tests.e2e.conftest import running_system
from tests.e2e.test_operations_commands import execute, xinfang
from xinfang.messaging.profiles import BROKERS

pytestmark = pytest.mark.e2e
HOLDERS = ("routing", "supervision", "reporting")


@pytest.fixture(scope="module", params=BROKERS)
def system(pg_server, tmp_path_factory, request):
    with running_system(pg_server, tmp_path_factory.mktemp("xinfang"), request.param,
                        f"test_audit_checkpoints-{request.param}",
                        env={"XINFANG_CHECKPOINT_SECONDS": "1"}) as s:
        yield s


def held_size(system, holder: str, service: str) -> int:
    return system.scalar(holder, f"SELECT coalesce(max(size), 0) FROM chain_checkpoints WHERE service = '{service}'")


def test_a_case_s_whole_history_lists_every_act_with_its_actor_in_order_and_its_checkpoint(system):
    from tests.e2e.access_common import add_user
    from tests.e2e.conftest import BEIJING

    add_user(system, "handler-hist", "handler", "999901001000", "999901001-gov")
    add_user(system, "clerk-elsewhere", "clerk", "999901002000")
    # a letter that came twelve days ago, of a matter no rule routes: it waits in the dispatcher's
    # queue with 80 % of its 15 days to be assigned gone (a warning), until assigned by hand
    received = (datetime.now(BEIJING) - timedelta(days=12)).replace(hour=9, minute=0, second=0, microsecond=0)
    case = system.register(received_at=received.isoformat(), category_code="1701")
    cid, code = case["case_id"], case["tracking_code"]
    system.wait_for(lambda: "DeadlineWarned" in {e["event_type"] for e in system.get(
        "intake", f"/api/v1/cases/{cid}/history").json()["events"]}, timeout=60, what="the assignment clock's warning")
    r = system.post("routing", f"/api/v1/cases/{cid}/assignment",
                    {"unit_id": "999901001-gov", "reason": "属地乡镇办理"}, user="demo-dispatcher")
    assert r.status_code == 200, r.text
    system.token("handler-hist", "pass-for-tests")
    system.wait_for(lambda: system.get("intake", f"/api/v1/cases/{cid}", user="handler-hist").status_code == 200,
                    timeout=20, what="the case in the handler's view")
    system.sign(cid, "handler-hist")

    def act(service, path, body, user="handler-hist"):
        r = system.post(service, path, body, user=user)
        assert r.status_code in (200, 201), r.text
        return r.json()

    act("intake", f"/api/v1/cases/{cid}/acceptance", {"decision": "accepted", "procedure": "normal", "notice": "受理"})
    system.clocks(cid, stages=("handling",))
    order = act("supervision", f"/api/v1/cases/{cid}/supervision-orders",
                {"requirement": "请于期限内答复", "reply_by": (datetime.now(BEIJING).date() + timedelta(days=3)).isoformat()},
                user="demo-supervisor")
    act("supervision", f"/api/v1/supervision-orders/{order['order_id']}/answer", {"text": "正在办理"})
    act("intake", f"/api/v1/cases/{cid}/extension", {"days": 10, "reason": "情况复杂", "approver": "局长"})
    act("intake", f"/api/v1/cases/{cid}/reply", {"outcome": "explained", "text": "经核查，已督促支付"})
    assert system.http.post(f"{system.url['intake']}/api/v1/track/{code}/evaluation",
                            json={"rating": "satisfied"}).status_code == 200

    # the warning's time is when the clock crossed 75 %: before the letter was registered, today
    wanted = ["CaseRegistered", "CaseAssigned", "CaseSignedFor", "CaseAccepted", "SupervisionOrderIssued",
              "SupervisionOrderAnswered", "HandlingExtended", "CaseReplied", "CaseEvaluated"]

    last: list = []

    def told():
        r = system.get("intake", f"/api/v1/cases/{cid}/history", user="demo-township-clerk")
        assert r.status_code == 200, r.text
        h = r.json()["events"]
        last[:] = [(e["event_type"], e["position"]["seq"], (e["checkpoint"] or {}).get("size")) for e in h]
        types = [e["event_type"] for e in h]
        covered = all(e["checkpoint"] for e in h)
        return (set(wanted) <= set(types) and {"DeadlineSet", "DeadlineMet", "DeadlineWarned"} <= set(types)
                and covered and h)
    try:
        history = system.wait_for(told, timeout=60, what="every act of the case in its history, each covered")
    except AssertionError as exc:
        raise AssertionError(f"{exc}: (type, link, covering checkpoint's size) {last}") from None
    types = [e["event_type"] for e in history]
    assert [t for t in types if t in wanted] == wanted  # in the order they happened
    times = [e["occurred_at"] for e in history]
    assert times == sorted(times, key=lambda t: datetime.fromisoformat(t))
    by = {e["event_type"]: e for e in history}
    assert by["CaseRegistered"]["actor"] == "demo-clerk" and by["CaseRegistered"]["service"] == "intake"
    assert by["CaseAssigned"]["service"] == "routing" and by["CaseAssigned"]["actor"] == "demo-dispatcher"
    assert by["CaseAssigned"]["unit_name"]
    assert by["CaseSignedFor"]["actor"] == "handler-hist"
    assert by["CaseAccepted"]["actor"] == "handler-hist" and by["CaseAccepted"]["unit_id"] == "999901001-gov"
    assert by["SupervisionOrderIssued"]["actor"] == "demo-supervisor" and by["SupervisionOrderIssued"]["service"] == "supervision"
    assert by["SupervisionOrderAnswered"]["actor"] == "handler-hist"
    assert by["CaseEvaluated"]["actor"] == "petitioner"
    assert by["DeadlineWarned"]["service"] == "supervision"
    for e in history:  # each names its link in its own service's chain, and a checkpoint reaching it
        assert e["position"]["service"] == e["service"] and e["position"]["seq"] >= 1, e
        assert e["checkpoint"]["size"] >= e["position"]["seq"], e
        assert e["recorded_at"] and e["label"]
    # the link named is the one in that service's own store
    seq = by["SupervisionOrderIssued"]["position"]["seq"]
    assert system.scalar("supervision", f"SELECT e.event_id FROM event_chain c JOIN events e ON e.position = c.position "
                                        f"WHERE c.seq = {seq}") == by["SupervisionOrderIssued"]["event_id"]
    system.token("clerk-elsewhere", "pass-for-tests")
    assert system.get("intake", f"/api/v1/cases/{cid}/history", user="clerk-elsewhere").status_code == 404


# last: it leaves intake's store short of its newest events
def test_the_newest_events_deleted_are_found_through_the_checkpoints_others_hold(system, tmp_path):
    cases = [system.register()["case_id"] for _ in range(3)]
    size = system.scalar("intake", "SELECT max(seq) FROM event_chain")
    for holder in HOLDERS:  # signed within a second or so, heard over the broker by every other service
        system.wait_for(lambda h=holder: held_size(system, h, "intake") >= size, timeout=60,
                        what=f"{holder} holding a checkpoint of intake's {size} events")
    system.wait_for(lambda: held_size(system, "intake", "routing") > 0, timeout=60,
                    what="intake holding a checkpoint of routing's chain")
    r = xinfang(system, "audit", "verify")
    assert "FAILED" not in r.stdout
    out = tmp_path / "checkpoints.json"
    xinfang(system, "audit", "export", "--out", str(out))
    doc = json.loads(out.read_text())
    assert {"intake", "routing"} <= set(doc["keys"])
    assert max(c["size"] for c in doc["checkpoints"] if c["service"] == "intake") >= size

    # the administrator removes the newest case's events and their links, around the triggers
    first = system.scalar("intake", f"SELECT min(c.seq) FROM event_chain c JOIN events e ON e.position = c.position "
                                    f"WHERE e.case_id = '{cases[-1]}'")
    execute(system, "intake", "SET session_replication_role = replica; "
                              f"DELETE FROM events WHERE position IN (SELECT position FROM event_chain WHERE seq >= {first}); "
                              f"DELETE FROM event_chain WHERE seq >= {first}; "
                              "DELETE FROM chain_checkpoints WHERE service = 'intake'")
    r = xinfang(system, "audit", "verify", "intake", ok=False)
    said = r.stdout + r.stderr
    assert r.returncode == 1, said
    gone = re.search(r"links (\d+)–(\d+) are missing: the newest events were deleted \(([^)]*)\)", said)
    assert gone, said
    assert int(gone[1]) == first and int(gone[2]) >= size
    assert all(h in gone[3] for h in HOLDERS)  # who holds the proof
    # intake refuses to vouch for the shortened chain: it signs no checkpoint of it, and says why
    system.wait_for(lambda: "newest events were deleted" in (
        system.http.get(f"{system.url['intake']}/health").json().get("checkpoint_error") or ""),
        timeout=10, what="intake's /health saying its chain shrank")
    assert held_size(system, "intake", "intake") == 0  # nothing signed since the deletion

    for holder in HOLDERS:  # and with every service's copy gone too, the file kept offline still shows it
        execute(system, holder, "DELETE FROM chain_checkpoints WHERE service = 'intake'")
    r = xinfang(system, "audit", "verify", "intake", "--checkpoints", str(out), ok=False)
    said = r.stdout + r.stderr
    assert r.returncode == 1 and "the newest events were deleted" in said and "file checkpoints.json" in said, said
