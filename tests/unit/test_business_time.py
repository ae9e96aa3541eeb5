"""Business time that cannot be gamed: given a command's occurred_at and reason, when now is this
and the user may or may not correct records, then the act's time and mark, or the field refused."""
from datetime import UTC, datetime, timedelta

import pytest

from services.intake import domain
from xinfang import business_time
from xinfang.business_time import BackdatingRules, BusinessTime
from xinfang.contracts.events import Backdated, CaseClosed, CaseReplied
from xinfang.errors import InvalidInput

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
RULES = BackdatingRules(window=timedelta(days=3))


def decide(asked, reason=None, *, may_correct=False, previous_steps=None):
    return business_time.decide(asked, reason, now=NOW, entered_by="handler-cg", may_correct=may_correct,
                                rules=RULES, previous_steps=previous_steps)


def refused(asked, reason=None, **kw) -> InvalidInput:
    with pytest.raises(InvalidInput) as err:
        decide(asked, reason, **kw)
    assert err.value.message and err.value.message_zh
    return err.value


# ---- a live act takes the time it is recorded

@pytest.mark.parametrize("asked", [None, NOW, NOW - timedelta(minutes=5), NOW + timedelta(minutes=5),
                                   NOW - timedelta(minutes=4, seconds=59)])
def test_no_time_or_one_within_the_clock_skew_is_now_and_unmarked(asked):
    assert decide(asked) == BusinessTime(NOW, None)


def test_a_future_time_beyond_the_skew_names_occurred_at():
    assert refused(NOW + timedelta(minutes=6), "理由").field == "occurred_at"


# ---- a late record (补录): within the window, with its reason

def test_an_earlier_time_without_a_reason_names_backdate_reason():
    assert refused(NOW - timedelta(hours=20)).field == "backdate_reason"
    assert refused(NOW - timedelta(hours=20), "   ").field == "backdate_reason"


def test_within_the_window_with_a_reason_it_is_taken_and_marked_with_who_when_and_why():
    at = NOW - timedelta(days=2, hours=23)
    when = decide(at, "  纸质答复意见书当日已送达，次日补录  ")
    assert when.at == at
    assert when.backdated == Backdated(reason="纸质答复意见书当日已送达，次日补录", entered_by="handler-cg",
                                       recorded_at=NOW, correction=False)


def test_beyond_the_window_a_handler_is_refused_naming_occurred_at_even_with_a_reason():
    err = refused(NOW - timedelta(days=3, minutes=1), "纸质文书")
    assert err.field == "occurred_at" and "3" in err.message_zh


def test_beyond_the_window_a_role_permitted_to_correct_records_is_taken_marked_as_a_correction():
    at = NOW - timedelta(days=40)
    when = decide(at, "更正：原办理人录入错误", may_correct=True)
    assert when.at == at and when.backdated is not None and when.backdated.correction


def test_the_permitted_role_still_states_a_reason():
    assert refused(NOW - timedelta(days=40), may_correct=True).field == "backdate_reason"


def test_the_correcting_role_is_the_administrator_only():
    assert business_time.may_correct_records("admin")
    for role in ("clerk", "dispatcher", "handler", "supervisor", "leader", None):
        assert not business_time.may_correct_records(role)


def test_the_window_is_configurable():
    wide = BackdatingRules(window=timedelta(days=10))
    when = business_time.decide(NOW - timedelta(days=9), "纸质", now=NOW, entered_by="u", may_correct=False, rules=wide)
    assert when.backdated is not None and not when.backdated.correction


def test_the_window_comes_from_xinfang_backdate_days(monkeypatch):
    from xinfang import config

    monkeypatch.setenv("XINFANG_BACKDATE_DAYS", "7")
    config.settings.cache_clear()
    try:
        assert BackdatingRules.from_settings().window == timedelta(days=7)
    finally:
        monkeypatch.delenv("XINFANG_BACKDATE_DAYS")
        config.settings.cache_clear()
    assert BackdatingRules.from_settings().window == timedelta(days=3)


# ---- never before the case's previous step: checked first, since no reason makes it true

def test_the_previous_step_is_checked_before_the_window_and_the_reason():
    def after_signing(at):
        domain.check_handover(domain.DecideAcceptance("accepted", "normal", "受理", "u"), at,
                              domain.Handover("u", NOW - timedelta(days=2), NOW - timedelta(days=1)))
    assert refused(NOW - timedelta(days=1, hours=1), previous_steps=after_signing).field == "occurred_at"
    assert decide(NOW - timedelta(hours=23), "纸质受理告知书", previous_steps=after_signing).backdated is not None


def test_the_previous_step_check_sees_now_for_a_live_act():
    seen = []
    decide(None, previous_steps=seen.append)
    assert seen == [NOW]


# ---- the mark goes into the act's event

def test_the_mark_goes_into_the_event_and_a_live_act_is_left_as_it_is():
    reply = CaseReplied(outcome="explained", text="答复")
    assert BusinessTime(NOW).mark(reply) is reply
    when = decide(NOW - timedelta(days=1), "纸质")
    assert when.mark(reply).backdated == when.backdated and when.mark(CaseClosed()).backdated == when.backdated
