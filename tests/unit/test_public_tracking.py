"""What the public tracking page tells the petitioner to expect, and the comment they may give with
their rating: given a case's events / when the petitioner looks / then the dates its limits fix,
the same ones supervision's clocks run on."""
from datetime import UTC, datetime, timedelta

import pytest

from services.intake import domain
from services.supervision.domain import CaseClocks, DeadlineRules
from tests.unit.test_case_life import ACCEPTED, REPLIED, RULES, T0, given, registered
from xinfang.contracts.events import CaseAccepted, CaseEvaluated, CaseReplied, HandlingExtended, ReviewRequested
from xinfang.errors import InvalidInput
from xinfang.workdays import CHINA, WorkCalendar

CAL = WorkCalendar()


def day(due: datetime) -> str:
    """The last day an exclusive end instant leaves, as the page prints it (China time)."""
    return (due.astimezone(CHINA) - timedelta(microseconds=1)).date().isoformat()


def expected(steps, days_after_t0: float) -> dict[str, str]:
    return {step: day(due) for step, due in
            given(*steps).expected_dates(T0 + timedelta(days=days_after_t0), CAL, RULES)}


def test_before_the_decision_the_petitioner_is_told_when_they_hear_whether_it_is_accepted():
    # received 2 March 2026 09:30 (China): 15 days, the day of receipt not counted
    assert expected([(registered(), 0)], 1) == {"acceptance": "2026-03-17"}


def test_once_accepted_the_reply_is_due_60_days_after_and_an_extension_moves_it():
    # accepted 5 March: 60 days → 4 May; extended by 10 days → 14 May
    assert expected(ACCEPTED, 4) == {"reply": "2026-05-04"}
    extended = [*ACCEPTED, (HandlingExtended(days=10, reason="案情复杂", approver="局长"), 20)]
    assert expected(extended, 21) == {"reply": "2026-05-14"}


@pytest.mark.parametrize("procedure", ["normal", "simplified"])
def test_the_reply_date_is_the_one_supervision_s_handling_clock_is_due(procedure):
    steps = [(registered(), 0), (CaseAccepted(procedure=procedure, notice="受理"), 3),
             (HandlingExtended(days=7, reason="r", approver="a"), 5)]
    clocks = CaseClocks("c")
    rules = DeadlineRules()
    for payload, offset in (steps if procedure == "normal" else steps[:2]):
        clocks.handle(payload, T0 + timedelta(days=offset), rules, CAL)
    mine = given(*(steps if procedure == "normal" else steps[:2])).expected_dates(T0 + timedelta(days=6), CAL, RULES)
    assert mine == [("reply", clocks.running["handling"].due_at)]


def test_after_the_reply_until_when_they_may_evaluate_and_ask_for_a_review():
    # replied 11 April 09:30: both windows are 30 days from the reply
    assert expected(REPLIED, 41) == {"evaluation": "2026-05-11", "review_request": "2026-05-11"}
    evaluated = [*REPLIED, (CaseEvaluated(rating="satisfied"), 42)]
    assert expected(evaluated, 43) == {"review_request": "2026-05-11"}
    assert expected(REPLIED, 71) == {}  # both windows passed: nothing is promised any more


def test_during_a_review_its_opinion_is_due_30_days_after_the_request_then_the_re_review_window_opens():
    under_review = [*REPLIED, (ReviewRequested(level="review", reason="不服"), 45)]
    assert expected(under_review, 46) == {"review_opinion": "2026-05-16"}
    reviewed = [*under_review, (CaseReplied(outcome="explained", text="复查意见", stage="review"), 50)]
    assert expected(reviewed, 51)["re_review_request"] == "2026-05-21"


def test_the_evaluation_keeps_a_short_comment_and_refuses_a_long_one_naming_the_field():
    case = given(*REPLIED)
    at = T0 + timedelta(days=45)
    assert case.evaluate("basically_satisfied", at, RULES, comment="  答复及时  ") == \
        CaseEvaluated(rating="basically_satisfied", comment="答复及时")
    assert case.evaluate("satisfied", at, RULES, comment="   ").comment is None
    with pytest.raises(InvalidInput) as err:
        case.evaluate("satisfied", at, RULES, comment="长" * (RULES.evaluation_comment_max_chars + 1))
    assert err.value.field == "comment"
    assert case.decide(domain.EvaluateCase("dissatisfied", comment="没解决"), at, RULES).comment == "没解决"


def test_the_limits_are_the_kernel_s_so_a_configured_limit_moves_both():
    limits = RULES.limits.model_copy(update={"acceptance_days": 10})
    rules = domain.IntakeRules(limits=limits)
    [(_, due)] = given((registered(), 0)).expected_dates(T0, CAL, rules)
    assert day(due) == "2026-03-12"
    assert due == datetime(2026, 3, 12, 16, 0, tzinfo=UTC)  # 13 March 00:00 China time: the 12th is the last day
    assert rules.extension_max_days == limits.extension_max_days == 30
