"""The warning/expiry engine on real PostgreSQL: clocks from events, each crossing fired once,
also when the process starts again from the same database; orders escalate; alerts are raised."""
from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

import services.supervision
from services.supervision import handlers, projections, views
from services.supervision.handlers import AnswerSupervisionOrder, IssueSupervisionOrder
from services.supervision.ticker import fire_due
from tests.conftest import migrated
from xinfang.contracts import new_envelope
from xinfang.contracts.events import CaseAccepted, CaseAssigned, CaseRegistered, PetitionerRef
from xinfang.security import Principal
from xinfang.storage import Database, UnitOfWork

MIGRATIONS = Path(services.supervision.__file__).parent / "migrations"
NOW = datetime.now(UTC)
OFFICE = "999901000000"


@pytest.fixture
def db(pg_url):
    with migrated(pg_url, MIGRATIONS) as d:
        yield d


def registered(case_id: str, received_at: datetime, headcount: int = 1):
    p = CaseRegistered(tracking_code_hint="AB12", channel="visit", received_at=received_at,
                       petitioners=[PetitionerRef(petitioner_id="p1", id_type="resident_id",
                                                  id_number_masked="1101**********1233")],
                       headcount=headcount, purpose="appeal", category_code="0702", division_code="999901001003",
                       summary="拖欠工资")
    return new_envelope(p, case_id=case_id, office=OFFICE, actor="clerk", producer="intake", occurred_at=NOW)


def consume(db, env, ctx=None):
    with UnitOfWork(db) as uow:
        projections.on_case_event(uow, env, ctx or projections.Context())


def published(db) -> Counter:
    with db.engine.connect() as c:
        rows = c.execute(sa.text("SELECT case_id, event_type, body FROM events "
                                 "WHERE event_type IN ('DeadlineWarned', 'DeadlineExpired')")).all()
    import json
    out = Counter()
    for case_id, _t, body in rows:
        p = json.loads(body)["payload"]
        out[(case_id, p["stage"], p.get("level", "overdue"))] += 1
    return out


def test_past_dated_crossings_fire_once_each_and_never_again_after_a_restart(db, pg_url):
    consume(db, registered("old", NOW - timedelta(days=20)))    # assignment (15 d) overdue
    consume(db, registered("half", NOW - timedelta(days=50)))   # provisional handling (60 d) past 75 %
    consume(db, registered("new", NOW - timedelta(days=2)))     # nothing crossed yet
    assert fire_due(db) == 3 + 1 + 3 + 1 + 1
    assert fire_due(db) == 0
    again = Database(pg_url)  # the process restarted: same database, nothing fires twice
    assert fire_due(again) == 0
    again.dispose()
    assert published(db) == Counter({
        ("old", "assignment", "notice"): 1, ("old", "assignment", "warning"): 1,
        ("old", "assignment", "serious_warning"): 1, ("old", "assignment", "overdue"): 1,
        ("half", "assignment", "notice"): 1, ("half", "assignment", "warning"): 1,
        ("half", "assignment", "serious_warning"): 1, ("half", "assignment", "overdue"): 1,
        ("half", "handling", "notice"): 1})
    me = Principal("sup", "supervisor", OFFICE)
    overdue = views.list_overdue(db, me)
    assert {(i["case_id"], i["stage"]) for i in overdue["items"]} == {("old", "assignment"), ("half", "assignment")}
    warnings = views.list_warnings(db, me)
    assert [(i["case_id"], i["stage"], i["level"]) for i in warnings["items"]] == [("half", "handling", "notice")]
    d = views.get_deadlines(db, me, "old", projections.Context().rules)
    assert {s["stage"]: s["status"] for s in d["stages"]} == {"assignment": "overdue", "handling": "running"}


def test_a_late_assignment_publishes_the_crossings_it_passed_even_before_the_ticker_ran(db):
    consume(db, registered("late", NOW - timedelta(days=20)))
    consume(db, new_envelope(CaseAssigned(unit_id="u1"), case_id="late", office=OFFICE, actor="r",
                             producer="routing", occurred_at=NOW))
    assert published(db)[("late", "assignment", "overdue")] == 1
    fire_due(db)
    assert published(db)[("late", "assignment", "overdue")] == 1
    with db.engine.connect() as c:
        met = c.execute(sa.text("SELECT body FROM events WHERE event_type = 'DeadlineMet'")).scalar()
    assert '"on_time":false' in met.replace(" ", "")


def test_acceptance_rebases_handling_and_its_checkpoints(db):
    consume(db, registered("c", NOW - timedelta(days=3)))
    consume(db, new_envelope(CaseAssigned(unit_id="u1"), case_id="c", office=OFFICE, actor="r", producer="routing",
                             occurred_at=NOW - timedelta(days=2)))
    consume(db, new_envelope(CaseAccepted(procedure="normal", notice="受理"), case_id="c", office=OFFICE,
                             actor="h", producer="intake", occurred_at=NOW - timedelta(days=1)))
    with db.engine.connect() as c:
        sets = c.execute(sa.text("SELECT count(*) FROM events WHERE event_type='DeadlineSet' AND body LIKE "
                                 "'%\"stage\":\"handling\"%'")).scalar()
        stages = dict(c.execute(sa.text("SELECT stage, status FROM deadlines WHERE case_id='c'")).all())
        cps = c.execute(sa.text("SELECT count(*) FROM checkpoints WHERE case_id='c'")).scalar()
    assert sets == 2  # provisional at registration, re-issued at acceptance
    assert stages == {"assignment": "met", "handling": "running", "acceptance": "met", "objection": "stopped"}
    assert cps == 4  # handling: notice, warning, serious warning, overdue


def test_an_unanswered_order_escalates_once_and_an_answered_one_does_not(db):
    consume(db, registered("o", NOW - timedelta(days=1)))
    consume(db, new_envelope(CaseAssigned(unit_id="u1"), case_id="o", office=OFFICE, actor="r", producer="routing"))
    sup = Principal("sup", "supervisor", OFFICE)
    # today as the handler reckons it, now: a module-level NOW is yesterday once a run crosses midnight
    today = datetime.now(UTC).astimezone(timezone(timedelta(hours=8))).date()
    first = handlers.issue_order(db, sup, IssueSupervisionOrder("o", "三日内答复", today))
    second = handlers.issue_order(db, sup, IssueSupervisionOrder("o", "再次督办", today))
    handlers.answer_order(db, Principal("h", "handler", "999901001000", unit_id="u1"),
                          AnswerSupervisionOrder(second["order_id"], "已办"))
    end_of_today = datetime.combine(today + timedelta(days=1), datetime.min.time(), timezone(timedelta(hours=8)))
    assert fire_due(db, now=end_of_today) == 1
    assert fire_due(db, now=end_of_today + timedelta(days=1)) == 0
    orders = {o["order_id"]: o for o in views.list_orders(db, sup)["items"]}
    assert orders[first["order_id"]]["status"] == "escalated"
    assert orders[first["order_id"]]["escalated_to"] == "999900000000"  # the city above the county
    assert orders[second["order_id"]]["status"] == "answered"


def test_a_collective_visit_at_the_county_threshold_raises_one_alert(db):
    consume(db, registered("big", NOW, headcount=50))
    consume(db, registered("small", NOW, headcount=49))
    items = views.list_alerts(db, Principal("sup", "supervisor", OFFICE))["items"]
    assert [(a["case_id"], a["threshold"], a["level"]) for a in items] == [("big", 50, "county")]
    assert views.list_alerts(db, Principal("x", "supervisor", "999902000000"))["items"] == []


def imported(env):
    """The same registration as brought in by `xinfang import` (recorded now, dated in the past)."""
    return env.model_copy(update={"payload": {**env.payload, "imported": True}})


@pytest.mark.parametrize("routing_first", [False, True])
def test_an_imported_cases_past_crossings_are_history_not_news_whichever_event_comes_first(db, routing_first):
    # a letter of 100 days ago that the old system assigned at once and accepted on day 5, never replied
    t0 = NOW - timedelta(days=100)
    reg = imported(registered("imp", t0))
    assigned = new_envelope(CaseAssigned(unit_id="u1", imported=True), case_id="imp", office=OFFICE, actor="r",
                            producer="routing", occurred_at=t0)
    for env in ([assigned, reg] if routing_first else [reg, assigned]):
        consume(db, env)
        assert fire_due(db) == 0  # the ticker runs between the import's events
    consume(db, new_envelope(CaseAccepted(procedure="normal", notice="受理"), case_id="imp", office=OFFICE,
                             actor="h", producer="intake", occurred_at=t0 + timedelta(days=5)))
    assert fire_due(db) == 0
    assert published(db) == Counter()
    me = Principal("sup", "supervisor", OFFICE)
    d = {s["stage"]: s for s in views.get_deadlines(db, me, "imp", projections.Context().rules)["stages"]}
    assert d["assignment"]["status"] == "met" and d["assignment"]["on_time"] is True
    assert d["acceptance"]["status"] == "met"
    # still unreplied today: 95 days into its 60: overdue in the lists, though never published
    assert d["handling"]["status"] == "overdue"
    assert [(i["case_id"], i["stage"]) for i in views.list_overdue(db, me)["items"]] == [("imp", "handling")]


def test_an_imported_case_still_running_publishes_the_crossings_after_its_import(db):
    t0 = NOW - timedelta(days=50)  # provisional handling clock (60 d): notice (75 %) past, warning (85 %) ahead
    consume(db, imported(registered("run", t0)))
    consume(db, new_envelope(CaseAssigned(unit_id="u1", imported=True), case_id="run", office=OFFICE, actor="r",
                             producer="routing", occurred_at=t0))
    fire_due(db)
    assert published(db) == Counter()
    me = Principal("sup", "supervisor", OFFICE)
    assert [(i["case_id"], i["stage"], i["level"]) for i in views.list_warnings(db, me)["items"]] == [
        ("run", "handling", "notice")]  # where it stands, though nobody was told in the old system's past
    assert fire_due(db, now=NOW + timedelta(days=2)) == 1  # day 52: 85 % is news
    assert published(db) == Counter({("run", "handling", "warning"): 1})
