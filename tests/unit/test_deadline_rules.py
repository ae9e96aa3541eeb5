"""Deadline rules, given events / when an event / then the clocks, over real holidays."""
from __future__ import annotations

import logging
from datetime import date, datetime
from types import SimpleNamespace as P

import pytest

from services.supervision.domain import AlertRules, CaseClocks, Clock, DeadlineRules, Started, Stopped, parent_division
from xinfang.contracts import registry
from xinfang.workdays import CHINA, WorkCalendar, end_of_day

RULES = DeadlineRules()


def cst(y, m, d, hh=10, mm=0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=CHINA)


def given(*events, rules=RULES, cal=None) -> tuple[CaseClocks, list]:
    """Replay events (type, the payload fields the clocks read, at); return the state and the
    decisions of the last one. Each payload is its event class, holding only those fields."""
    cal = cal or WorkCalendar()
    state, last = CaseClocks("c-1"), []
    for event_type, payload, at in events:
        last = state.handle(registry.spec(event_type).model.model_construct(**vars(payload)), at, rules, cal)
    return state, last


REGISTERED = ("CaseRegistered", P(received_at=cst(2026, 9, 1)), cst(2026, 9, 1))
ASSIGNED = ("CaseAssigned", P(unit_id="u1", stage="handling"), cst(2026, 9, 3))


def test_registration_starts_the_15_day_assignment_clock_and_a_provisional_handling_clock():
    state, out = given(REGISTERED)
    clocks = {d.clock.stage: d.clock for d in out}
    assert clocks["assignment"].due_at == end_of_day(date(2026, 9, 16))
    assert clocks["handling"].due_at == end_of_day(date(2026, 10, 31))  # 60 days after 1 September
    assert clocks["handling"].basis.startswith("received_at")


def test_assignment_stops_the_assignment_clock_and_starts_acceptance_and_the_objection_window():
    state, out = given(REGISTERED, ASSIGNED)
    assert Stopped("assignment", cst(2026, 9, 3), True, True, end_of_day(date(2026, 9, 16))) in out
    started = {d.clock.stage: d.clock for d in out if isinstance(d, Started)}
    assert started["acceptance"].due_at == end_of_day(date(2026, 9, 18))
    # 5 working days from Thursday 3 September 2026: 4, 7, 8, 9, 10 September
    assert started["objection"].due_at == end_of_day(date(2026, 9, 10))
    assert started["objection"].checkpoints(RULES.level_shares) == []  # informational window


def test_acceptance_rebases_handling_to_60_days_from_acceptance():
    state, out = given(REGISTERED, ASSIGNED, ("CaseAccepted", P(procedure="normal"), cst(2026, 9, 10)))
    assert any(isinstance(d, Stopped) and d.stage == "acceptance" and d.met and d.on_time for d in out)
    handling = next(d.clock for d in out if isinstance(d, Started))
    assert (handling.stage, handling.due_at, handling.basis) == ("handling", end_of_day(date(2026, 11, 9)),
                                                                 "accepted_at")


def test_simplified_case_accepted_on_29_september_2026_replies_by_19_october():
    """Hand-checked on the 2026 schedule: 30 Sep; 8, 9, 10 (Saturday, made up), 12–16, 19 Oct."""
    state, out = given(REGISTERED, ("CaseAssigned", P(unit_id="u1", stage="handling"), cst(2026, 9, 24)),
                       ("CaseAccepted", P(procedure="simplified"), cst(2026, 9, 29, 15)))
    handling = next(d.clock for d in out if isinstance(d, Started))
    assert handling.due_at == datetime(2026, 10, 20, 0, 0, tzinfo=CHINA)  # the end of 19 October, China time
    assert (handling.limit_days, handling.day_kind, handling.warning) == (10, "working", None)
    # accepted within 3 working days of 24 September (25th is Mid-Autumn: 28, 29, 30 Sep)
    assert any(isinstance(d, Stopped) and d.stage == "acceptance" and d.on_time for d in out)


def test_simplified_acceptance_later_than_3_working_days_is_late_although_within_15_days():
    _, out = given(REGISTERED, ("CaseAssigned", P(unit_id="u1", stage="handling"), cst(2026, 9, 21)),
                   ("CaseAccepted", P(procedure="simplified"), cst(2026, 9, 29)))
    accepted = next(d for d in out if isinstance(d, Stopped) and d.stage == "acceptance")
    assert accepted.on_time is False


def test_a_60_working_day_limit_into_2027_uses_the_monday_to_friday_fallback_and_says_so(caplog):
    rules = DeadlineRules(handling_day_kind="working")
    with caplog.at_level(logging.WARNING, logger="xinfang.workdays"):
        _, out = given(REGISTERED, ASSIGNED, ("CaseAccepted", P(procedure="normal"), cst(2026, 12, 1)), rules=rules)
    handling = next(d.clock for d in out if isinstance(d, Started))
    # December 2026 from the 2026 schedule: 2–4, 7–11, 14–18, 21–25, 28–31 = 22 working days.
    # 2027 unpublished: Monday to Friday, 38 more: 1 Jan (a Friday), 4–8, 11–15, 18–22, 25–29 Jan,
    # 1–5, 8–12, 15–19 Feb (36), 22, 23 Feb: Tuesday 23 February 2027.
    assert handling.due_at == end_of_day(date(2027, 2, 23))
    assert "2027" in handling.warning and "Monday to Friday" in handling.warning
    assert handling.event().warning == handling.warning
    assert any("2027" in r.getMessage() for r in caplog.records)


def test_a_60_calendar_day_limit_across_new_year_needs_no_schedule():
    _, out = given(REGISTERED, ASSIGNED, ("CaseAccepted", P(procedure="normal"), cst(2026, 12, 1)))
    handling = next(d.clock for d in out if isinstance(d, Started))
    assert handling.due_at == end_of_day(date(2027, 1, 30)) and handling.warning is None


def test_an_extension_moves_handling_once_and_by_at_most_30_days():
    base = (REGISTERED, ASSIGNED, ("CaseAccepted", P(procedure="normal"), cst(2026, 9, 10)))
    _, out = given(*base, ("HandlingExtended", P(days=45), cst(2026, 10, 20)))
    moved = next(d.clock for d in out if isinstance(d, Started))
    assert moved.due_at == end_of_day(date(2026, 12, 9)) and moved.limit_days == 90
    _, out = given(*base, ("HandlingExtended", P(days=10), cst(2026, 10, 20)),
                   ("HandlingExtended", P(days=10), cst(2026, 10, 21)))
    assert out == []


def test_reply_meets_handling_and_review_runs_30_days_from_the_request():
    base = (REGISTERED, ASSIGNED, ("CaseAccepted", P(procedure="normal"), cst(2026, 9, 10)))
    _, out = given(*base, ("CaseReplied", P(stage="handling"), cst(2026, 12, 1)))
    assert out == [Stopped("handling", cst(2026, 12, 1), True, False, end_of_day(date(2026, 11, 9)))]  # late
    state, out = given(*base, ("CaseReplied", P(stage="handling"), cst(2026, 10, 1)),
                       ("ReviewRequested", P(level="review"), cst(2026, 10, 20)))
    assert out[0].clock.stage == "review" and out[0].clock.due_at == end_of_day(date(2026, 11, 19))
    _, out = given(*base, ("CaseReplied", P(stage="handling"), cst(2026, 10, 1)),
                   ("ReviewRequested", P(level="review"), cst(2026, 10, 20)),
                   ("CaseReplied", P(stage="review"), cst(2026, 11, 1)))
    assert out == [Stopped("review", cst(2026, 11, 1), True, True, end_of_day(date(2026, 11, 19)))]


def test_closure_stops_every_running_clock_without_meeting_it():
    _, out = given(REGISTERED, ASSIGNED, ("CaseClosed", P(), cst(2026, 9, 5)))
    assert {d.stage for d in out} == {"handling", "acceptance", "objection"}
    assert not any(d.met for d in out)


def test_routing_before_intake_still_meets_the_assignment_clock():
    _, out = given(ASSIGNED, REGISTERED)
    assert any(isinstance(d, Stopped) and d.stage == "assignment" and d.met for d in out)


def test_levels_at_50_75_85_99_percent_then_overdue():
    c = Clock.start("acceptance", cst(2026, 11, 1, 0, 0), 10, "calendar", "assigned_at", WorkCalendar())
    points = c.checkpoints(RULES.level_shares)
    assert [lv for lv, _, _ in points] == ["notice", "warning", "serious_warning", "overdue"]
    span = c.due_at - c.starts_at
    assert c.level_at(c.starts_at + span * 0.6, RULES.level_shares) == "normal"   # past 50 %: still 正常
    assert c.level_at(c.starts_at + span * 0.8, RULES.level_shares) == "notice"   # 预警
    assert c.level_at(c.starts_at + span * 0.9, RULES.level_shares) == "warning"  # 警告
    assert c.level_at(c.starts_at + span * 0.995, RULES.level_shares) == "serious_warning"
    assert c.level_at(c.due_at, RULES.level_shares) == "overdue"


@pytest.mark.parametrize("office,level,threshold", [
    ("999901000000", "county", 50), ("999901001000", "county", 50), ("999900000000", "city", 30),
    ("990000000000", "province", 10), ("000000000000", "national", 3)])
def test_collective_visit_thresholds_by_the_registering_level(office, level, threshold):
    assert AlertRules().threshold(office) == (level, threshold)


def test_an_order_escalates_one_level_up():
    assert parent_division("999901001000") == "999901000000"
    assert parent_division("999901000000") == "999900000000"
    assert parent_division("999900000000") == "990000000000"
    assert parent_division("990000000000") == "000000000000"
