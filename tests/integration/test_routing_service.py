"""Routing's service layer on a real PostgreSQL database with the demo county: a case is routed
once; a redelivered registration or a rule changed afterwards never routes it again."""
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from services.routing import handlers, projections, seed, views
from services.routing.bootstrap import MIGRATIONS
from tests.conftest import migrated
from xinfang.contracts import new_envelope
from xinfang.contracts.events import CaseAccepted, CaseRegistered, CaseReplied, PetitionerRef, ReviewRequested
from xinfang.security import Principal
from xinfang.storage import UnitOfWork

pytestmark = pytest.mark.postgres
ADMIN = Principal("demo-admin", "admin", "999901000000", "999901-xfj")
DISPATCHER = Principal("demo-dispatcher", "dispatcher", "999901000000", "999901-xfj")


@pytest.fixture
def db(pg_url):
    with migrated(pg_url, MIGRATIONS) as d:
        seed.seed_demo(d)
        yield d


def registered(case_id: str, division="999901001004", category="0501"):
    return new_envelope(CaseRegistered(
        tracking_code_hint="ABCD", channel="letter", received_at=datetime(2026, 11, 20, 1, 30, tzinfo=UTC),
        petitioners=[PetitionerRef(petitioner_id="p1", id_type="resident_id", id_number_masked="1101**********1233")],
        headcount=1, purpose="appeal", category_code=category, division_code=division, summary="土地纠纷"),
        case_id=case_id, office="999901001000", actor="demo-clerk", producer="intake")


def consume(db, env):
    with UnitOfWork(db) as uow:
        projections.on_intake_event(uow, env)


def assigned_events(db, case_id) -> list[str]:
    with db.engine.connect() as c:
        return [r.body for r in c.execute(sa.text(
            "SELECT body FROM events WHERE case_id = :c AND event_type = 'CaseAssigned'"), {"c": case_id})]


def test_a_redelivered_registration_and_a_retired_rule_leave_the_assignment_alone(db):
    env = registered("case-1")
    consume(db, env)
    first = views.get_assignment(db, DISPATCHER, "case-1")
    assert (first["unit_id"], first["rule_id"]) == ("999901001-gov", "demo-999901001-05")
    handlers.retire_rule(db, ADMIN, handlers.RetireRule("demo-999901001-05"))
    handlers.add_rule(db, ADMIN, handlers.AddRule("999901001", "05", "999901-d03", "土地：县自然资源局"))
    consume(db, env)  # Kafka delivers it again after the rules changed
    assert len(assigned_events(db, "case-1")) == 1
    assert views.get_assignment(db, DISPATCHER, "case-1")["unit_id"] == "999901001-gov"
    consume(db, registered("case-2"))
    assert views.get_assignment(db, DISPATCHER, "case-2")["unit_id"] == "999901-d03"


def test_seeding_the_demo_again_adds_no_rule_twice_and_does_not_revive_a_retired_one(db):
    handlers.retire_rule(db, ADMIN, handlers.RetireRule("demo-999901001-05"))
    seed.seed_demo(db)
    rules = {r["rule_id"]: r for r in views.list_rules(db, ADMIN, include_retired=True)}
    assert len(rules) == len(seed.demo_rules()) and rules["demo-999901001-05"]["active"] is False


def test_an_imported_case_is_assigned_and_signed_when_the_old_system_registered_it(db):
    env = registered("old-1")
    env = env.model_copy(update={"payload": {**env.payload, "imported": True},
                                 "occurred_at": datetime(2025, 3, 3, 1, 0, tzinfo=UTC)})
    consume(db, env)
    with db.engine.connect() as c:
        made = c.execute(sa.text("SELECT event_type, occurred_at FROM events WHERE case_id = 'old-1' "
                                 "ORDER BY version")).all()
    assert [t for t, _ in made] == ["CaseAssigned", "CaseSignedFor"]
    assert {at.year for _, at in made} == {2025}
    a = views.get_assignment(db, DISPATCHER, "old-1")
    assert a["unit_id"] == "999901001-gov" and a["assigned_at"].year == 2025
    inbox = views.inbox(db, DISPATCHER, "999901001-gov", None, 50, 0)
    assert {i["case_id"]: i["state"] for i in inbox["items"]}["old-1"] == "to_accept"  # never "to sign"


def test_units_asked_to_help_find_the_case_in_their_inbox_until_it_is_reassigned(db):
    consume(db, registered("case-co"))
    handlers.assign(db, DISPATCHER, handlers.AssignCase("case-co", "999901-d03", "国土所牵头",
                                                   co_unit_ids=("999901001-gov", "999901-d01")))
    # departments and a township together: the joint-conference office leads, all three help
    for unit in ("999901-d03", "999901001-gov", "999901-d01"):
        helping = views.inbox(db, DISPATCHER, unit, "co_handling", 50, 0)
        assert [(i["case_id"], i["lead_unit_id"]) for i in helping["items"]] == [("case-co", "999901-lxb")], unit
        assert helping["counts"]["co_handling"] == 1
    # 全部 is all of a unit's work: the case it helps with too, as the counter counts it
    everything = views.inbox(db, DISPATCHER, "999901-d01", None, 50, 0)
    assert {i["case_id"]: i["state"] for i in everything["items"]} == {"case-co": "co_handling"}
    assert everything["total"] == sum(everything["counts"].values()) == 1
    handlers.assign(db, DISPATCHER, handlers.AssignCase("case-co", "999901-d03", "不再需要协办"))
    assert views.inbox(db, DISPATCHER, "999901-d01", "co_handling", 50, 0)["counts"]["co_handling"] == 0


def test_the_co_handling_rows_are_filled_from_assignments_made_before_they_existed(pg_url):
    """Upgrading a database whose cases were assigned with co-handling units before routing_0005."""
    from xinfang.storage import Database
    from xinfang.storage.migrations import upgrade
    d = Database(pg_url)
    try:
        upgrade(d.engine, MIGRATIONS, "routing_0004")
        with d.engine.begin() as c:
            c.execute(sa.text(
                "INSERT INTO assignments (case_id, office, division_code, category_code, unit_id, state, stage, "
                "co_unit_ids, intake_state, summary) VALUES ('old-co', '999901000000', '999901001004', '0501', "
                "'999901-d03', 'signed', 'handling', '[\"999901-d01\", \"999901001-gov\"]', 'accepted', '旧事项')"))
        upgrade(d.engine, MIGRATIONS)
        with d.engine.connect() as c:
            rows = c.execute(sa.text("SELECT case_id, unit_id FROM co_handling ORDER BY unit_id")).all()
        assert [tuple(r) for r in rows] == [("old-co", "999901-d01"), ("old-co", "999901001-gov")]
    finally:
        d.dispose()


def test_the_inbox_and_the_queue_say_how_many_rows_they_page_through(db):
    """The console's pager reads ``total``: without it a unit's inbox and the dispatcher's queue
    showed their first page and no way past it."""
    for i in range(5):
        consume(db, registered(f"case-p{i}"))
    box = views.inbox(db, DISPATCHER, "999901001-gov", None, 2, 0)
    assert (box["total"], len(box["items"])) == (5, 2) and box["counts"]["to_sign"] == 5
    last = views.inbox(db, DISPATCHER, "999901001-gov", "to_sign", 2, 4)
    assert (last["total"], [i["case_id"] for i in last["items"]]) == (5, ["case-p4"])
    handlers.object_to(db, Principal("h", "handler", "999901001000", "999901001-gov"),
                       handlers.ObjectToAssignment("case-p0", "不属本单位职责"))
    queue = views.queue(db, DISPATCHER, "returned", 50, 0)
    assert queue["total"] == queue["counts"]["returned"] == 1
    assert views.queue(db, DISPATCHER, None, 1, 0)["total"] == sum(queue["counts"].values())


def test_all_of_a_units_inbox_lists_its_own_cases_and_those_it_helps_with_by_their_state(db):
    """The inbox's 全部 (no state): the counter showed 协办 n while the list left those cases out."""
    consume(db, registered("case-own", division="999901002003", category="0501"))   # 999901002-gov by rule
    consume(db, registered("case-help"))
    handlers.assign(db, DISPATCHER, handlers.AssignCase("case-help", "999901-d03", "县自然资源局牵头",
                                                   co_unit_ids=("999901-d05",)))
    handlers.assign(db, DISPATCHER, handlers.AssignCase("case-own", "999901-d05", "农业农村局职责"))
    box = views.inbox(db, DISPATCHER, "999901-d05", None, 50, 0)
    assert {i["case_id"]: i["state"] for i in box["items"]} == {"case-own": "to_sign", "case-help": "co_handling"}
    helped = next(i for i in box["items"] if i["case_id"] == "case-help")  # two departments: 三跨三分离
    assert (helped["lead_unit_id"], helped["lead_unit_name"]) == ("999901-lxb", "示范县信访工作联席会议办公室")
    assert box["counts"] == {"to_sign": 1, "to_accept": 0, "in_hand": 0, "objected": 0, "co_handling": 1}
    assert box["total"] == 2
    # a page of one row still pages through both
    assert [len(views.inbox(db, DISPATCHER, "999901-d05", None, 1, o)["items"]) for o in (0, 1, 2)] == [1, 1, 0]


def intake_event(case_id: str, payload, office="999901001000"):
    return new_envelope(payload, case_id=case_id, office=office, actor="demo-handler", producer="intake")


def test_the_queue_holds_each_kind_of_work_with_its_count(db):
    """The dispatcher's queue: a case no rule routes, an objection its unit returned, a review
    request routed to the county petition office to hand on; counted per kind."""
    consume(db, registered("q-norule", category="1701"))            # 其他: no rule routes it
    consume(db, registered("q-returned"))                          # 999901001-gov by rule …
    handlers.object_to(db, Principal("h", "handler", "999901001000", "999901001-gov"),
                       handlers.ObjectToAssignment("q-returned", "不属本单位职责"))   # … which returns it
    consume(db, registered("q-review"))                            # 999901001-gov replies, the petitioner asks for review
    handlers.sign(db, Principal("h", "handler", "999901001000", "999901001-gov"), handlers.SignForCase("q-review"))
    for payload in (CaseAccepted(procedure="normal", notice="受理"), CaseReplied(outcome="explained", text="答复"),
                    ReviewRequested(level="review", reason="不服答复")):
        consume(db, intake_event("q-review", payload))
    review = views.get_assignment(db, DISPATCHER, "q-review")
    assert (review["unit_id"], review["stage"], review["state"]) == ("999901-xfj", "review", "to_sign")

    queue = views.queue(db, DISPATCHER, None, 50, 0)
    assert {i["case_id"]: i["state"] for i in queue["items"]} == {
        "q-norule": "unassigned", "q-returned": "returned", "q-review": "review"}
    assert queue["counts"] == {"unassigned": 1, "returned": 1, "review": 1} and queue["total"] == 3
    returned = next(i for i in queue["items"] if i["case_id"] == "q-returned")
    assert returned["objection_reason"] == "不属本单位职责" and returned["suggested"]["unit_id"] != "999901001-gov"
    arriving = next(i for i in queue["items"] if i["case_id"] == "q-review")
    # the county's rule for land (国土资源) names the department that reviews the township's reply
    assert arriving["stage"] == "review" and arriving["suggested"]["unit_id"] == "999901-d03"
    only = views.queue(db, DISPATCHER, "review", 50, 0)
    assert [i["case_id"] for i in only["items"]] == ["q-review"] and only["total"] == 1

    # handed on by the dispatcher, the review is no longer the queue's
    handlers.assign(db, DISPATCHER, handlers.AssignCase("q-review", "999901-d03", "县自然资源局复查"))
    assert views.queue(db, DISPATCHER, None, 50, 0)["counts"] == {"unassigned": 1, "returned": 1, "review": 0}


# ------------------------------------------------------------------ business time (xinfang.business_time)

HANDLER = Principal("h", "handler", "999901001000", "999901001-gov")


def test_a_signing_entered_late_needs_its_reason_is_marked_and_is_never_before_the_assignment(db):
    """补录: the unit signed the paper 交办单 yesterday and enters it now."""
    from datetime import timedelta

    from xinfang.errors import InvalidInput

    now = datetime.now(UTC)
    env = registered("late-sign").model_copy(update={"occurred_at": now - timedelta(days=2),
                                                     "recorded_at": now - timedelta(days=2)})
    consume(db, env)  # assigned by the rules when the registration was recorded, two days ago
    for at, reason, field in ((now - timedelta(days=1), None, "backdate_reason"),
                              (now - timedelta(days=2, hours=1), "纸质交办单已签收", "occurred_at"),  # before the assignment
                              (now - timedelta(days=5), "纸质交办单已签收", "occurred_at")):      # beyond the window
        with pytest.raises(InvalidInput) as err:
            handlers.sign(db, HANDLER, handlers.SignForCase("late-sign", at, reason))
        assert err.value.field == field
    signed = handlers.sign(db, HANDLER, handlers.SignForCase("late-sign", now - timedelta(days=1), "纸质交办单已签收"))
    last = signed["history"][-1]
    assert last["event"] == "CaseSignedFor" and last["at"] == now - timedelta(days=1)
    assert last["backdated"]["reason"] == "纸质交办单已签收" and last["backdated"]["entered_by"] == "h"
    assert signed["history"][0]["backdated"] is None  # the rules' assignment: a live act


def test_the_first_assignment_by_hand_is_never_dated_before_the_registration(db):
    from datetime import timedelta

    from xinfang.errors import InvalidInput

    now = datetime.now(UTC)
    consume(db, registered("late-assign", category="1701").model_copy(update={"occurred_at": now - timedelta(hours=30)}))
    with pytest.raises(InvalidInput) as err:  # no rule routes it: routing's own events know nothing before this
        handlers.assign(db, DISPATCHER, handlers.AssignCase("late-assign", "999901-d03", "交办", occurred_at=now
                                                           - timedelta(hours=31), backdate_reason="纸质交办单"))
    assert err.value.field == "occurred_at"
    a = handlers.assign(db, DISPATCHER, handlers.AssignCase("late-assign", "999901-d03", "交办",
                                                           occurred_at=now - timedelta(hours=29),
                                                           backdate_reason="领导批示后电话交办，次日补录"))
    assert a["history"][-1]["backdated"]["reason"] == "领导批示后电话交办，次日补录"
    assert a["history"][-1]["backdated"]["correction"] is False
