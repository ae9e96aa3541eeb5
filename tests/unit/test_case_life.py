"""The life of a case, given events / when a command / then an event or the rule that forbids it."""
from datetime import UTC, datetime, timedelta

import pytest

from services.intake import domain
from services.intake.domain import Case, IntakeRules, RuleViolation
from xinfang.contracts import new_envelope
from xinfang.contracts.events import (
    CaseAccepted,
    CaseClosed,
    CaseEvaluated,
    CaseNotAccepted,
    CaseRegistered,
    CaseReplied,
    HandlingExtended,
    PetitionerRef,
    ReviewRequested,
)
from xinfang.errors import InvalidInput

T0 = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)
RULES = IntakeRules()


def registered(flags=("first_petition",)):
    return CaseRegistered(tracking_code_hint="JK23", channel="letter", received_at=T0,
                          petitioners=[PetitionerRef(petitioner_id="p", id_type="resident_id",
                                                     id_number_masked="1101**********1233")],
                          headcount=1, purpose="appeal", category_code="0702", division_code="999901001001",
                          summary="拖欠工资", flags=list(flags))


def given(*steps) -> Case:
    """steps: (payload, days after T0)"""
    events = []
    for i, (payload, day) in enumerate(steps, start=1):
        env = new_envelope(payload, case_id="c", office="999901001000", actor="t", producer="intake",
                           occurred_at=T0 + timedelta(days=day))
        events.append(env.model_copy(update={"stream_version": i}))
    return Case.from_events("c", events)


ACCEPTED = [(registered(), 0), (CaseAccepted(procedure="normal", notice="受理"), 3)]
REPLIED = ACCEPTED + [(CaseReplied(outcome="explained", text="答复"), 40)]


def test_acceptance_normal_and_simplified_for_a_first_petition():
    assert given((registered(), 0)).accept("accepted", "normal", "受理", "u") == \
        CaseAccepted(procedure="normal", notice="受理", unit_id="u")
    assert given((registered(), 0)).accept("accepted", "simplified", "简易", "u").procedure == "simplified"


@pytest.mark.parametrize("flag", ["collective", "repeat", "skip_level"])
def test_simplified_procedure_is_refused_when_its_rules_exclude_the_case(flag):
    flags = ["repeat"] if flag == "repeat" else ["first_petition", flag]
    case = given((registered(flags), 0))
    with pytest.raises(RuleViolation, match="simplified") as err:
        case.accept("accepted", "simplified", "x", "u")
    assert "简易办理" in err.value.rule


def test_not_accepted_and_no_longer_accepted_carry_their_notice():
    e = given((registered(), 0)).accept("not_accepted", "normal", "不予受理，请向法院起诉", "u")
    assert e == CaseNotAccepted(decision="not_accepted", notice="不予受理，请向法院起诉", unit_id="u")
    pending = given((registered(["repeat", "pending_elsewhere"]), 0))
    assert pending.accept("no_longer_accepted", "normal", "不再受理", "u").decision == "no_longer_accepted"


def test_no_longer_accepted_needs_its_grounds():
    with pytest.raises(RuleViolation, match="no longer accepted") as err:
        given((registered(), 0)).accept("no_longer_accepted", "normal", "不再受理", "u")
    assert "第十六" in err.value.rule


def test_the_same_matter_still_in_hand_elsewhere_is_not_accepted_again():
    case = given((registered(["repeat", "pending_elsewhere"]), 0))
    with pytest.raises(RuleViolation) as err:
        case.accept("accepted", "normal", "受理", "u")
    assert "第十六条" in err.value.rule


def test_a_law_related_petition_is_not_accepted_but_answered_with_the_legal_channel():
    case = given((registered(["first_petition", "law_related"]), 0))
    with pytest.raises(RuleViolation, match="law-related"):
        case.accept("accepted", "normal", "x", "u")
    assert case.accept("not_accepted", "normal", domain.LEGAL_CHANNEL_ZH, "u").decision == "not_accepted"


def test_a_matter_final_after_re_review_is_only_no_longer_accepted():
    case = given((registered(["repeat", "final_matter"]), 0))
    with pytest.raises(RuleViolation) as err:
        case.accept("accepted", "normal", "x", "u")
    assert "三级终访" in err.value.rule
    assert case.accept("no_longer_accepted", "normal", "不再受理", "u")


def test_a_second_acceptance_decision_is_refused():
    with pytest.raises(RuleViolation, match="acceptance decision was made"):
        given(*ACCEPTED).accept("accepted", "normal", "again", "u")


def test_extension_once_and_at_most_30_days():
    case = given(*ACCEPTED)
    assert case.extend(30, "案情复杂", "局长", RULES) == HandlingExtended(days=30, reason="案情复杂", approver="局长")
    with pytest.raises(InvalidInput) as err:
        case.extend(31, "r", "a", RULES)
    assert err.value.field == "days"
    with pytest.raises(RuleViolation, match="once"):
        given(*ACCEPTED, (HandlingExtended(days=10, reason="r", approver="a"), 50)).extend(5, "r", "a", RULES)


def test_extension_before_acceptance_or_after_reply_is_refused():
    with pytest.raises(RuleViolation):
        given((registered(), 0)).extend(10, "r", "a", RULES)
    with pytest.raises(RuleViolation):
        given(*REPLIED).extend(10, "r", "a", RULES)


def test_reply_before_acceptance_is_refused_with_its_rule():
    with pytest.raises(RuleViolation) as err:
        given((registered(), 0)).reply("supported", "x")
    assert err.value.rule == "受理后方可答复"


def test_reply_after_acceptance_is_a_handling_reply():
    assert given(*ACCEPTED).reply("supported", "予以支持") == CaseReplied(outcome="supported", text="予以支持")
    with pytest.raises(RuleViolation):
        given(*REPLIED).reply("supported", "twice")


def test_closure_after_reply_or_refusal_only():
    assert given(*REPLIED).close() == CaseClosed()
    assert given((registered(), 0), (CaseNotAccepted(decision="not_accepted", notice="n"), 2)).close()
    with pytest.raises(RuleViolation):
        given(*ACCEPTED).close()
    with pytest.raises(RuleViolation):
        given(*REPLIED, (CaseClosed(), 41)).close()


def test_review_within_30_days_of_the_reply_then_re_review_then_final():
    at = T0 + timedelta(days=40 + 30)
    case = given(*REPLIED)
    assert case.request_review("review", "不服", at, RULES) == ReviewRequested(level="review", reason="不服")
    reviewing = given(*REPLIED, (ReviewRequested(level="review", reason="r"), 60))
    opinion = reviewing.reply("not_supported", "复查意见")
    assert opinion.stage == "review"
    reviewed = given(*REPLIED, (ReviewRequested(level="review", reason="r"), 60), (opinion, 80))
    assert reviewed.request_review("re_review", "仍不服", T0 + timedelta(days=100), RULES).level == "re_review"
    final = given(*REPLIED, (ReviewRequested(level="review", reason="r"), 60), (opinion, 80),
                  (ReviewRequested(level="re_review", reason="r"), 90),
                  (CaseReplied(outcome="not_supported", text="复核意见", stage="re_review"), 110))
    assert final.final and final.status == "replied"
    with pytest.raises(RuleViolation, match="final"):
        final.request_review("re_review", "again", T0 + timedelta(days=111), RULES)


def test_review_after_the_window_or_out_of_order_is_refused():
    case = given(*REPLIED)
    with pytest.raises(RuleViolation) as err:
        case.request_review("review", "late", T0 + timedelta(days=40 + 31), RULES)
    assert "第三十四条" in err.value.rule
    with pytest.raises(RuleViolation, match="in order"):
        case.request_review("re_review", "skipping review", T0 + timedelta(days=41), RULES)
    with pytest.raises(RuleViolation):
        given(*ACCEPTED).request_review("review", "before any reply", T0 + timedelta(days=4), RULES)


def test_a_closed_case_may_still_be_reviewed_within_the_window():
    case = given(*REPLIED, (CaseClosed(), 41))
    assert case.request_review("review", "r", T0 + timedelta(days=45), RULES)


def test_evaluation_once_within_the_window_after_the_reply():
    case = given(*REPLIED)
    assert case.evaluate("satisfied", T0 + timedelta(days=45), RULES) == CaseEvaluated(rating="satisfied")
    with pytest.raises(RuleViolation, match="evaluated already"):
        given(*REPLIED, (CaseEvaluated(rating="dissatisfied"), 42)).evaluate("satisfied", T0 + timedelta(days=43), RULES)
    with pytest.raises(RuleViolation, match="window"):
        case.evaluate("satisfied", T0 + timedelta(days=40 + 31), RULES)
    with pytest.raises(RuleViolation, match="once it is replied"):
        given(*ACCEPTED).evaluate("satisfied", T0 + timedelta(days=5), RULES)


def test_occurred_at_is_never_before_the_previous_step_nor_in_the_future():
    case = given(*ACCEPTED)
    now = T0 + timedelta(days=10)
    case.check_time(T0 + timedelta(days=3), now, RULES)
    with pytest.raises(InvalidInput) as err:
        case.check_time(T0 + timedelta(days=2), now, RULES)
    assert err.value.field == "occurred_at"
    with pytest.raises(InvalidInput, match="future"):
        case.check_time(now + timedelta(hours=1), now, RULES)


def test_a_v1_reply_without_stage_reads_as_a_handling_reply():
    case = given(*ACCEPTED, (CaseReplied(outcome="explained", text="x"), 20))
    assert case.first_reply_at == T0 + timedelta(days=20)


# ---------------------------------------------------------------- the status a case answers with

NOT_ACCEPTED = [(registered(), 0), (CaseNotAccepted(decision="not_accepted", notice="n"), 2)]
UNDER_REVIEW = REPLIED + [(ReviewRequested(level="review", reason="不服"), 45)]


@pytest.mark.parametrize("steps, assigned, status", [
    ([(registered(), 0)], False, "registered"),
    ([(registered(), 0)], True, "assigned"),
    (ACCEPTED, True, "accepted"),
    (NOT_ACCEPTED, True, "not_accepted"),
    (REPLIED, True, "replied"),
    (UNDER_REVIEW, True, "under_review"),        # routing assigns the review to the level above
    (REPLIED + [(CaseClosed(), 41)], False, "closed"),
])
def test_a_case_answers_its_own_status_and_assigned_only_while_registered(steps, assigned, status):
    case = given(*steps)
    assert domain.case_status(case.status, assigned=assigned) == status


def test_the_units_decision_replaces_assigned():
    case = given((registered(), 0))
    assert domain.case_status(case.status, assigned=True) == "assigned"
    accepted = case.decide(domain.DecideAcceptance("accepted", "normal", "受理", "u"), T0 + timedelta(days=3))
    assert domain.case_status(given((registered(), 0), (accepted, 3)).status, assigned=True) == "accepted"


@pytest.mark.parametrize("own", ["registered", "accepted", "not_accepted", "no_longer_accepted", "replied",
                                 "under_review", "under_re_review", "closed"])
@pytest.mark.parametrize("assigned_before", [False, True])
def test_the_rule_applied_to_its_own_answer_gives_what_it_gives_the_case(own, assigned_before):
    """Why the read model may apply the rule, on an assignment, to the status it stores."""
    stored = domain.case_status(own, assigned=assigned_before)
    assert domain.case_status(stored, assigned=True) == domain.case_status(own, assigned=True)


# ---------------------------------------------------------------- commands

@pytest.mark.parametrize("steps, command, event", [
    ([(registered(), 0)], domain.DecideAcceptance("not_accepted", "normal", "不予受理", "u"),
     CaseNotAccepted(decision="not_accepted", notice="不予受理", unit_id="u")),
    (ACCEPTED, domain.ExtendHandling(10, "案情复杂", "局长"), HandlingExtended(days=10, reason="案情复杂", approver="局长")),
    (ACCEPTED, domain.ReplyToCase("explained", "答复"), CaseReplied(outcome="explained", text="答复")),
    (REPLIED, domain.CloseCase(), CaseClosed()),
    (REPLIED, domain.RequestReview("review", "不服"), ReviewRequested(level="review", reason="不服")),
    (REPLIED, domain.EvaluateCase("satisfied"), CaseEvaluated(rating="satisfied")),
])
def test_a_command_decides_the_event_its_rule_makes(steps, command, event):
    assert given(*steps).decide(command, T0 + timedelta(days=45), RULES) == event


def test_a_refused_command_names_its_rule():
    with pytest.raises(RuleViolation) as err:
        given((registered(), 0)).decide(domain.CloseCase(), T0, RULES)
    assert err.value.rule == "答复后方可办结"


# ---- the handover: 交办 → 签收 → 受理

ACCEPT = domain.DecideAcceptance("accepted", "normal", "受理", unit_id="u")


def test_an_acceptance_waits_for_the_units_signing():
    assigned = domain.Handover("u", T0 + timedelta(days=1), None)
    with pytest.raises(RuleViolation) as e:
        domain.check_handover(ACCEPT, T0 + timedelta(days=2), assigned)
    assert e.value.rule == "sign_before_acceptance" and "签收" in e.value.message_zh


def test_an_acceptance_needs_a_unit_holding_the_case():
    with pytest.raises(RuleViolation) as e:
        domain.check_handover(ACCEPT, T0 + timedelta(days=2), domain.Handover(None, None, None))
    assert e.value.rule == "assigned_before_acceptance"


def test_an_acceptance_dated_before_the_signing_names_occurred_at():
    signed = domain.Handover("u", T0 + timedelta(days=1), T0 + timedelta(days=2))
    with pytest.raises(InvalidInput) as e:
        domain.check_handover(ACCEPT, T0 + timedelta(days=2) - timedelta(minutes=1), signed)
    assert e.value.field == "occurred_at"
    domain.check_handover(ACCEPT, T0 + timedelta(days=2), signed)  # at the signing or later: taken


def test_an_acceptance_dated_before_the_assignment_names_occurred_at():
    """The issue's 'intake even takes an acceptance dated before routing assigned the case'."""
    handover = domain.Handover("u", T0 + timedelta(days=2), T0 + timedelta(days=3))
    with pytest.raises(InvalidInput) as e:
        domain.check_handover(ACCEPT, T0 + timedelta(days=1), handover)
    assert e.value.field == "occurred_at" and "交办" in e.value.message_zh


@pytest.mark.parametrize("command", [domain.ExtendHandling(10, "复杂", "局长"), domain.ReplyToCase("explained", "答复")])
def test_the_units_later_acts_are_never_dated_before_it_got_the_case_and_signed_for_it(command):
    reassigned = domain.Handover("u2", T0 + timedelta(days=10), T0 + timedelta(days=11))
    for before in (T0 + timedelta(days=9), T0 + timedelta(days=10, hours=12)):
        with pytest.raises(InvalidInput) as e:
            domain.check_handover(command, before, reassigned)
        assert e.value.field == "occurred_at"
    domain.check_handover(command, T0 + timedelta(days=11), reassigned)


def test_a_case_assigned_before_the_signing_was_kept_is_not_held_to_it():
    domain.check_handover(ACCEPT, T0, domain.Handover("u", None, None))


def test_the_other_steps_need_no_unit_holding_the_case():
    reply = domain.ReplyToCase("explained", "答复")
    domain.check_handover(reply, T0, domain.Handover(None, None, None))
    domain.check_handover(domain.CloseCase(), T0, domain.Handover("u", T0 + timedelta(days=1), None))
