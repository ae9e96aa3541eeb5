"""Supervision orders (督办单) and reminders, given events / when a command / then an event or the rule
that forbids it; and the rule that an imported case's past crossings are not news."""
from datetime import UTC, date, datetime, timedelta

import pytest

from services.supervision.domain import (
    SupervisedCase,
    SupervisionOrder,
    check_issuer,
    check_reminder,
    split_at_import,
)
from xinfang.contracts import new_envelope
from xinfang.contracts.events import (
    ReminderSent,
    SupervisionOrderAnswered,
    SupervisionOrderEscalated,
    SupervisionOrderIssued,
)
from xinfang.errors import Conflict, Forbidden, InvalidInput
from xinfang.security import Principal

T0 = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)
COUNTY, CITY = "999901000000", "999900000000"
CASE = SupervisedCase("c", COUNTY, "u1", closed=False)
SUPERVISOR = Principal("sup", "supervisor", COUNTY)
HANDLER = Principal("h", "handler", "999901001000", unit_id="u1")
ADMIN = Principal("root", "admin", "000000000000")
ISSUED = SupervisionOrderIssued(order_id="o-1", requirement="三日内答复", reply_by=date(2026, 3, 5))


def given(*steps, case: SupervisedCase = CASE, issuer: Principal = SUPERVISOR) -> SupervisionOrder:
    """steps: (payload, days after T0), on the case's stream"""
    order = SupervisionOrder.draft("o-1", case, issuer)
    for i, (payload, day) in enumerate(steps, start=1):
        env = new_envelope(payload, case_id=case.case_id, office=case.office, actor="t", producer="supervision",
                           occurred_at=T0 + timedelta(days=day))
        order.apply(env.model_copy(update={"stream_version": i}))
    return order


ANSWERED = SupervisionOrderAnswered(order_id="o-1", text="已办", unit_id="u1")
ESCALATED = SupervisionOrderEscalated(order_id="o-1", reply_by=date(2026, 3, 5), escalated_to=CITY)


# ------------------------------------------------------------------ issuing


def test_an_order_on_an_open_case_is_issued_to_its_handling_unit():
    order = given()
    assert order.issue(CASE, "三日内答复", date(2026, 3, 5)) == ISSUED
    issued = given((ISSUED, 0))
    assert (issued.status, issued.unit_id, issued.reply_by, issued.issued_at) == ("open", "u1", date(2026, 3, 5), T0)


def test_no_order_on_a_closed_case():
    closed = SupervisedCase("c", COUNTY, "u1", closed=True)
    with pytest.raises(Conflict, match="the case is closed") as err:
        given(case=closed).issue(closed, "三日内答复", date(2026, 3, 5))
    assert (err.value.message_zh, err.value.rule) == ("该信访事项已办结", "case_closed")


def test_an_order_is_issued_once():
    with pytest.raises(Conflict) as err:
        given((ISSUED, 0)).issue(CASE, "again", date(2026, 3, 6))
    assert err.value.rule == "order_issued"


@pytest.mark.parametrize("role", ["clerk", "dispatcher", "handler"])
def test_only_a_supervisor_leader_or_admin_issues_an_order(role):
    with pytest.raises(Forbidden, match="needs one of: supervisor, leader, admin"):
        check_issuer(Principal("x", role, COUNTY, unit_id="u1"), date(2026, 3, 5), date(2026, 3, 2))
    for allowed in ("supervisor", "leader", "admin"):
        check_issuer(Principal("x", allowed, COUNTY), date(2026, 3, 2), date(2026, 3, 2))  # today is still in time


def test_a_reply_date_already_past_is_refused():
    with pytest.raises(InvalidInput, match="reply_by lies in the past") as err:
        check_issuer(SUPERVISOR, date(2026, 3, 1), date(2026, 3, 2))
    assert (err.value.field, err.value.message_zh) == ("reply_by", "答复期限不能早于今天")


# ------------------------------------------------------------------ answering


def test_the_handling_unit_answers_its_order():
    assert given((ISSUED, 0)).answer(HANDLER, "已办") == ANSWERED
    answered = given((ISSUED, 0), (ANSWERED, 1))
    assert (answered.status, answered.answer_text, answered.answered_at) == ("answered", "已办", T0 + timedelta(days=1))


@pytest.mark.parametrize("who", [
    Principal("h2", "handler", "999901002000", unit_id="u2"),   # another unit
    Principal("h3", "handler", "999901001000"),                 # no unit at all
    SUPERVISOR,                                                 # the issuer is not the unit
])
def test_only_the_handling_unit_answers(who):
    with pytest.raises(Forbidden, match="only the handling unit answers") as err:
        given((ISSUED, 0)).answer(who, "已办")
    assert err.value.message_zh == "督办单须由承办单位答复"


def test_an_admin_answers_in_the_units_stead():
    assert given((ISSUED, 0)).answer(ADMIN, "代为答复") == SupervisionOrderAnswered(order_id="o-1", text="代为答复")


def test_an_order_is_answered_once():
    with pytest.raises(Conflict, match="answered already") as err:
        given((ISSUED, 0), (ANSWERED, 1)).answer(HANDLER, "again")
    assert (err.value.message_zh, err.value.rule) == ("该督办单已答复", "order_answered")


def test_an_escalated_order_may_still_be_answered():
    assert given((ISSUED, 0), (ESCALATED, 4)).answer(HANDLER, "已办") == ANSWERED


def test_another_orders_events_on_the_same_case_leave_this_one_alone():
    other = SupervisionOrderAnswered(order_id="o-2", text="x", unit_id="u1")
    assert given((ISSUED, 0), (other, 1)).status == "open"


# ------------------------------------------------------------------ escalation


def test_an_unanswered_order_escalates_to_the_level_above_its_issuer():
    assert given((ISSUED, 0)).escalate() == ESCALATED   # a county's supervisor: to the city
    township = Principal("t", "supervisor", "999901001000")
    assert given((ISSUED, 0), issuer=township).escalate().escalated_to == COUNTY
    escalated = given((ISSUED, 0), (ESCALATED, 4))
    assert (escalated.status, escalated.escalated_to) == ("escalated", CITY)


def test_an_answered_or_escalated_order_does_not_escalate():
    assert given((ISSUED, 0), (ANSWERED, 1)).escalate() is None
    assert given((ISSUED, 0), (ESCALATED, 4)).escalate() is None
    assert given().escalate() is None  # never issued


# ------------------------------------------------------------------ reminders


def test_a_reminder_chases_the_unit_handling_the_case_now():
    check_reminder(SUPERVISOR)
    assert CASE.remind("请抓紧办理") == ReminderSent(text="请抓紧办理", unit_id="u1")


def test_only_a_supervisor_leader_or_admin_sends_a_reminder():
    with pytest.raises(Forbidden, match="needs one of: supervisor, leader, admin"):
        check_reminder(HANDLER)


# ------------------------------------------------------------------ imported cases


CROSSINGS = [("notice", 0.75, T0), ("warning", 0.85, T0 + timedelta(days=6)),
             ("serious_warning", 0.99, T0 + timedelta(days=8)), ("overdue", 1.0, T0 + timedelta(days=9))]


def test_an_imported_cases_crossings_before_its_import_set_the_level_and_are_not_news():
    assert split_at_import(CROSSINGS, T0 + timedelta(days=7)) == ("warning", CROSSINGS[2:])
    assert split_at_import(CROSSINGS, T0 + timedelta(days=6)) == ("warning", CROSSINGS[2:])  # at the instant: past
    assert split_at_import(CROSSINGS, T0 + timedelta(days=30)) == ("overdue", [])


def test_crossings_after_the_import_and_every_crossing_of_a_live_case_are_news():
    assert split_at_import(CROSSINGS, T0 - timedelta(days=1)) == (None, CROSSINGS)
    assert split_at_import(CROSSINGS, None) == (None, CROSSINGS)
