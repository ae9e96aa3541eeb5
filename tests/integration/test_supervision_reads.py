"""What the console's lists and case page read of supervision, on SQLite and PostgreSQL: the clock
each case of a page waits on now (one call for the page), and a case's reminders, each in the
caller's scope."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

import services.supervision
from services.supervision import handlers, projections, views
from services.supervision.handlers import IssueSupervisionOrder, SendReminder
from tests.conftest import migrated
from xinfang.contracts import new_envelope
from xinfang.contracts.events import CaseAccepted, CaseAssigned, CaseClosed, CaseRegistered, PetitionerRef
from xinfang.errors import NotFound
from xinfang.security import Principal
from xinfang.storage import UnitOfWork

MIGRATIONS = Path(services.supervision.__file__).parent / "migrations"
NOW = datetime.now(UTC)
OFFICE, OTHER_OFFICE = "999901000000", "999902000000"
SUPERVISOR = Principal("sup", "supervisor", OFFICE)
HANDLER_U1 = Principal("h1", "handler", "999901001000", unit_id="u1")
HANDLER_U2 = Principal("h2", "handler", "999901002000", unit_id="u2")
RULES = projections.Context().rules


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):
    url = f"sqlite:///{tmp_path / 'supervision.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    with migrated(url, MIGRATIONS) as d:
        yield d


def consume(db, payload, case_id: str, at: datetime, office: str = OFFICE) -> None:
    env = new_envelope(payload, case_id=case_id, office=office, actor="someone", producer="intake", occurred_at=at)
    with UnitOfWork(db) as uow:
        projections.on_case_event(uow, env, projections.Context())


def register(db, case_id: str, days_ago: float, office: str = OFFICE) -> None:
    received = NOW - timedelta(days=days_ago)
    consume(db, CaseRegistered(tracking_code_hint="AB12", channel="letter", received_at=received,
                               petitioners=[PetitionerRef(petitioner_id="p1", id_type="resident_id",
                                                          id_number_masked="1101**********1233")],
                               headcount=1, purpose="appeal", category_code="0702",
                               division_code=office[:9] + "001", summary="拖欠工资"), case_id, received, office)


def test_each_case_of_a_page_gets_the_clock_it_waits_on_now_with_its_level(db):
    # given a case just registered (assignment: 15 days), one registered 14 days ago (assignment
    # past 85 %), one assigned and accepted (handling: 60 days from acceptance), one closed
    register(db, "new", 0.1)
    register(db, "late", 14)
    register(db, "accepted", 10)
    consume(db, CaseAssigned(unit_id="u1"), "accepted", NOW - timedelta(days=9))
    consume(db, CaseAccepted(procedure="normal", notice="受理"), "accepted", NOW - timedelta(days=8))
    register(db, "closed", 3)
    consume(db, CaseClosed(), "closed", NOW - timedelta(days=1))
    # when the supervisor's list asks for its page at once (an unknown id among them)
    got = views.current_deadlines(db, SUPERVISOR, ["late", "new", "accepted", "closed", "unknown"], RULES)
    # then each case with a running clock has one item, in the order asked: the stage it waits on
    by_case = {i["case_id"]: i for i in got["items"]}
    assert [i["case_id"] for i in got["items"]] == ["late", "new", "accepted"]
    assert (by_case["new"]["stage"], by_case["new"]["level"]) == ("assignment", "normal")
    assert (by_case["late"]["stage"], by_case["late"]["level"]) == ("assignment", "warning")
    assert (by_case["accepted"]["stage"], by_case["accepted"]["level"]) == ("handling", "normal")
    handling = next(s for s in views.get_deadlines(db, SUPERVISOR, "accepted", RULES)["stages"]
                    if s["stage"] == "handling")
    assert by_case["accepted"]["due_at"] == handling["due_at"]  # the same clock the case page shows


def test_the_page_of_deadlines_is_in_the_callers_scope(db):
    register(db, "mine", 1)
    consume(db, CaseAssigned(unit_id="u1"), "mine", NOW)
    register(db, "elsewhere", 1, office=OTHER_OFFICE)
    assert [i["case_id"] for i in views.current_deadlines(db, SUPERVISOR, ["mine", "elsewhere"], RULES)["items"]] \
        == ["mine"]
    assert [i["case_id"] for i in views.current_deadlines(db, HANDLER_U1, ["mine"], RULES)["items"]] == ["mine"]
    assert views.current_deadlines(db, HANDLER_U2, ["mine"], RULES)["items"] == []
    assert views.current_deadlines(db, SUPERVISOR, [], RULES)["items"] == []


def test_a_cases_reminders_read_back_newest_first_for_those_who_may_see_it(db):
    # given a case of unit u1, chased twice, and an order issued to it
    register(db, "c", 2)
    consume(db, CaseAssigned(unit_id="u1"), "c", NOW - timedelta(days=1))
    handlers.send_reminder(db, SUPERVISOR, SendReminder("c", "请加快办理"))
    handlers.send_reminder(db, SUPERVISOR, SendReminder("c", "请于本周内答复"))
    today = NOW.astimezone(timezone(timedelta(hours=8))).date()
    handlers.issue_order(db, SUPERVISOR, IssueSupervisionOrder("c", "三日内答复", today + timedelta(days=3)))
    # then the supervisor and the unit's handler read the reminders, newest first, with who and when
    for reader in (SUPERVISOR, HANDLER_U1):
        got = views.list_reminders(db, reader, "c")
        assert [(r["text"], r["sent_by"], r["unit_id"]) for r in got["items"]] == [
            ("请于本周内答复", "sup", "u1"), ("请加快办理", "sup", "u1")]
        assert got["items"][0]["sent_at"] >= got["items"][1]["sent_at"]
    # and the unit's handler reads the order with its requirement and status; another unit's does not
    assert [(o["requirement"], o["status"]) for o in views.list_orders(db, HANDLER_U1, case_id="c")["items"]] == [
        ("三日内答复", "open")]
    assert views.list_orders(db, HANDLER_U2, case_id="c")["items"] == []
    # another unit's handler, or another county's supervisor, is told the case does not exist
    for stranger in (HANDLER_U2, Principal("sup2", "supervisor", OTHER_OFFICE)):
        with pytest.raises(NotFound):
            views.list_reminders(db, stranger, "c")
    with pytest.raises(NotFound):
        views.list_reminders(db, SUPERVISOR, "no-such-case")
