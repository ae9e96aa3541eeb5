"""Random command sequences never drive a case into a state the rules forbid.

Hypothesis generates sequences of commands at random times; the case accepts some and refuses
others. An independent reading of the resulting event trace then checks every rule."""
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from services.intake.domain import Case, IntakeRules
from tests.unit.test_case_life import T0, registered
from xinfang.contracts import new_envelope
from xinfang.errors import DomainError

RULES = IntakeRules()

commands = st.one_of(
    st.tuples(st.just("accept"), st.sampled_from(["accepted", "not_accepted", "no_longer_accepted"]),
              st.sampled_from(["normal", "simplified"])),
    st.tuples(st.just("extend"), st.integers(min_value=1, max_value=60)),
    st.tuples(st.just("reply"), st.sampled_from(["supported", "explained", "not_supported"])),
    st.tuples(st.just("close")),
    st.tuples(st.just("review"), st.sampled_from(["review", "re_review"])),
    st.tuples(st.just("evaluate"), st.sampled_from(["satisfied", "basically_satisfied", "dissatisfied"])),
)
steps = st.lists(st.tuples(commands, st.integers(min_value=-5, max_value=45)), max_size=14)
flag_sets = st.sampled_from([["first_petition"], ["repeat"], ["first_petition", "collective"],
                             ["first_petition", "law_related"], ["repeat", "final_matter"]])


def decide(case: Case, cmd, at):
    name, *args = cmd
    if name == "accept":
        return case.accept(args[0], args[1], "notice", "u", RULES)
    if name == "extend":
        return case.extend(args[0], "reason", "approver", RULES)
    if name == "reply":
        return case.reply(args[0], "text")
    if name == "close":
        return case.close()
    if name == "review":
        return case.request_review(args[0], "reason", at, RULES)
    return case.evaluate(args[0], at, RULES)


def run(flags, seq) -> list:
    case = Case.from_events("c", [new_envelope(registered(flags), case_id="c", office="999901001000", actor="t",
                                               producer="intake", occurred_at=T0).model_copy(
        update={"stream_version": 1})])
    clock = T0
    now = T0 + timedelta(days=3650)
    for cmd, delta in seq:
        at = clock + timedelta(days=delta)
        try:
            case.check_time(at, now, RULES)
            payload = decide(case, cmd, at)
        except DomainError:
            continue
        env = new_envelope(payload, case_id="c", office="999901001000", actor="t", producer="intake",
                           occurred_at=at).model_copy(update={"stream_version": case.version + 1})
        case.apply(env)
        clock = at
    return case.history


def check_trace(flags, trace) -> None:
    types = [e.event_type for e in trace]
    times = [e.occurred_at for e in trace]
    assert times == sorted(times), "steps happen in order"
    decisions = [e for e in trace if e.event_type in ("CaseAccepted", "CaseNotAccepted")]
    assert len(decisions) <= 1, "one acceptance decision"
    accepted = decisions and decisions[0].event_type == "CaseAccepted"
    if accepted:
        assert "law_related" not in flags and "final_matter" not in flags
        if decisions[0].payload["procedure"] == "simplified":
            assert flags == ["first_petition"]
    ext = [e for e in trace if e.event_type == "HandlingExtended"]
    assert len(ext) <= 1 and all(e.payload["days"] <= RULES.extension_max_days for e in ext)
    replies = [e for e in trace if e.event_type == "CaseReplied"]
    if replies:
        assert accepted, "no reply without acceptance"
    assert [r.payload["stage"] for r in replies] == ["handling", "review", "re_review"][:len(replies)]
    reviews = [e for e in trace if e.event_type == "ReviewRequested"]
    assert [r.payload["level"] for r in reviews] == ["review", "re_review"][:len(reviews)]
    for req, reply in zip(reviews, replies, strict=False):
        assert req.occurred_at - reply.occurred_at <= timedelta(days=RULES.review_window_days)
        assert trace.index(reply) < trace.index(req), "a review follows the reply it contests"
    evals = [e for e in trace if e.event_type == "CaseEvaluated"]
    assert len(evals) <= 1
    if evals:
        assert replies and evals[0].occurred_at - replies[0].occurred_at <= timedelta(days=RULES.evaluation_window_days)
    for i, e in enumerate(trace):
        if e.event_type == "CaseClosed":
            assert {"CaseReplied", "CaseNotAccepted"} & set(types[:i]), "closed only after a reply or refusal"
            assert types[i - 1] != "CaseClosed", "closed once at a time"
    if len(replies) == 3:
        after = types[trace.index(replies[2]) + 1:]
        assert "ReviewRequested" not in after, "nothing is reviewed after re-review"


@settings(max_examples=400, deadline=None)
@given(flags=flag_sets, seq=steps)
def test_no_command_sequence_breaks_a_rule(flags, seq):
    check_trace(flags, run(flags, seq))


def test_the_generator_reaches_the_deep_states():
    """The property above means something only if random sequences get far: a full life does."""
    seq = [(("accept", "accepted", "normal"), 2), (("extend", 30), 1), (("reply", "explained"), 50),
           (("review", "review"), 10), (("reply", "not_supported"), 20), (("review", "re_review"), 10),
           (("reply", "not_supported"), 20), (("evaluate", "dissatisfied"), 0), (("close",), 1)]
    trace = run(["first_petition"], seq)
    assert [e.event_type for e in trace] == ["CaseRegistered", "CaseAccepted", "HandlingExtended", "CaseReplied",
                                             "ReviewRequested", "CaseReplied", "ReviewRequested", "CaseReplied",
                                             "CaseClosed"]
    check_trace(["first_petition"], trace)
