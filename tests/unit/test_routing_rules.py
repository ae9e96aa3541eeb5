"""Routing's domain: rules with precedence and fallback, review routing, the cross-region rule
(三跨三分离) and who leads then, who may own a case (包案) and see it, and a case's assignment given
its events (sign once, object within 5 working days, reassign)."""
from datetime import UTC, datetime, timedelta

import pytest

from services.routing import domain
from services.routing.domain import Assignment, RoutingRules, Rule, UnitInfo
from xinfang.contracts import new_envelope
from xinfang.contracts.events import CaseAssigned, CaseObjected, CaseOwnedByLeader, CaseSignedFor
from xinfang.errors import Conflict, Forbidden, InvalidInput
from xinfang.security import Principal
from xinfang.workdays import CHINA, WorkCalendar

COUNTY = "999901000000"


class Org:
    def __init__(self, units: list[UnitInfo], divisions=()):
        self.units = {u.unit_id: u for u in units}
        self.divisions = set(divisions)

    def unit_of_kind(self, kind, division_code):
        return next((u.unit_id for u in sorted(self.units.values(), key=lambda u: u.unit_id)
                     if u.kind == kind and u.division_code == division_code and u.active), None)

    def division_exists(self, code):
        return code in self.divisions

    def unit_exists(self, unit_id):
        return unit_id in self.units

    def unit(self, unit_id):
        return self.units.get(unit_id)


XFJ = UnitInfo("999901-xfj", "petition_office", COUNTY)
LXB = UnitInfo("999901-lxb", "joint_conference_office", COUNTY)
D01 = UnitInfo("999901-d01", "department", COUNTY)
D02 = UnitInfo("999901-d02", "department", COUNTY)
D03 = UnitInfo("999901-d03", "department", COUNTY)
GOV1 = UnitInfo("999901001-gov", "township_government", "999901001000")
GOV2 = UnitInfo("999901002-gov", "township_government", "999901002000")
ORG = Org([XFJ, LXB, D01, D02, D03, GOV1, GOV2],
          {"999900000000", COUNTY, "999901001000", "999901001001", "999901002000", "999901002004"})

RULES = [
    Rule("county-land", "999901", "05", "999901-d03"),
    Rule("county-labour", "999901", "07", "999901-d02"),
    Rule("county-police", "999901", "01", "999901-d01"),
    Rule("t1-land", "999901001", "05", "999901001-gov"),
    Rule("t1-land-contract", "999901001", "0503", "999901-d03"),
    Rule("t1-any", "999901001", "", "999901-xfj"),
]


def choose(division, category, rules=RULES, org=ORG):
    return domain.choose_unit(division, category, rules, org)


# ------------------------------------------------------------------ rules


def test_given_a_township_land_rule_when_a_village_land_case_arrives_then_the_township_gets_it_by_that_rule():
    d = choose("999901001001", "0501")
    assert (d.unit_id, d.rule_id) == ("999901001-gov", "t1-land") and "t1-land" in d.rule


def test_the_longest_division_prefix_wins_over_a_longer_category_prefix():
    # county rule for 07 (category 2 long) loses to township rule for any category (division 9 long)
    assert choose("999901001001", "0702").rule_id == "t1-any"


def test_with_the_same_division_prefix_the_longer_category_prefix_wins():
    assert choose("999901001001", "0503").rule_id == "t1-land-contract"


def test_a_county_level_category_in_another_township_goes_to_the_county_department():
    d = choose("999901002004", "0702")
    assert (d.unit_id, d.rule_id) == ("999901-d02", "county-labour")


def test_no_matching_rule_falls_back_to_the_nearest_petition_office_and_says_so():
    d = choose("999901002004", "1701")
    assert d.unit_id == "999901-xfj" and d.rule_id is None
    assert d.rule == "fallback: petition office of 999901000000"


def test_a_rule_whose_unit_is_inactive_is_passed_over():
    org = Org([XFJ, D01, D02, D03, UnitInfo("999901001-gov", "township_government", "999901001000", active=False)],
              ORG.divisions)
    assert choose("999901001001", "0501", org=org).rule_id == "t1-any"


def test_without_any_petition_office_nobody_is_chosen_and_the_reason_is_given():
    d = choose("999901002004", "1701", rules=[], org=Org([GOV2], ORG.divisions))
    assert d.unit_id is None and "no rule and no petition office" in d.rule


def test_a_new_rule_must_name_a_known_prefix_category_and_unit_of_its_county_and_not_duplicate_one():
    domain.check_new_rule(Rule("x", "999901002", "0501", "999901002-gov"), RULES, ORG)
    for bad, field in [(Rule("x", "99990", "05", "999901-d03"), "division_prefix"),
                       (Rule("x", "999901003", "05", "999901-d03"), "division_prefix"),
                       (Rule("x", "999901", "0599", "999901-d03"), "category_prefix"),
                       (Rule("x", "999901", "05", "nobody"), "unit_id")]:
        with pytest.raises(InvalidInput) as e:
            domain.check_new_rule(bad, RULES, ORG)
        assert e.value.field == field
    with pytest.raises(Conflict):
        domain.check_new_rule(Rule("x", "999901", "05", "999901-d01"), RULES, ORG)


# ------------------------------------------------------------------ review and cross-region routing


def test_a_review_of_a_township_reply_goes_to_the_county_petition_office():
    d = domain.review_office(GOV1, "review", ORG)
    assert d.unit_id == "999901-xfj" and "999901000000" in d.rule


def test_a_re_review_of_a_county_reply_without_a_city_petition_office_waits_for_the_dispatcher():
    d = domain.review_office(XFJ, "re_review", ORG)
    assert d.unit_id is None and "999900000000" in d.rule
    city = UnitInfo("9999-xfj", "petition_office", "999900000000")
    assert domain.review_office(XFJ, "re_review", Org([*ORG.units.values(), city])).unit_id == "9999-xfj"


def test_units_in_two_divisions_or_two_departments_span_regions_or_departments():
    assert domain.spans_regions_or_departments(GOV1, [GOV2])
    assert domain.spans_regions_or_departments(D01, [D02])
    assert domain.spans_regions_or_departments(GOV1, [D01])
    assert not domain.spans_regions_or_departments(D01, [])
    assert not domain.spans_regions_or_departments(D01, [XFJ])


# ------------------------------------------------------------------ who leads: 三跨三分离


def test_given_units_in_two_townships_when_the_dispatcher_assigns_then_the_joint_conference_office_leads():
    h = domain.cross_region_lead(GOV1, [GOV2], "999901001004", ORG)
    assert (h.unit_id, h.co_unit_ids) == ("999901-lxb", ("999901001-gov", "999901002-gov"))
    assert h.rule.startswith(f"{domain.CROSS_RULE}: ") and "999901-lxb" in h.rule and "三跨三分离" in h.rule


def test_given_two_county_departments_when_assigned_together_then_the_joint_office_leads_and_both_help():
    h = domain.cross_region_lead(D03, [D01], COUNTY, ORG)
    assert (h.unit_id, h.co_unit_ids) == ("999901-lxb", ("999901-d03", "999901-d01"))


def test_given_one_department_and_the_petition_office_then_the_dispatchers_lead_stands_without_a_rule():
    assert domain.cross_region_lead(D01, [XFJ], COUNTY, ORG) == domain.Handling("999901-d01", ("999901-xfj",))
    assert domain.cross_region_lead(D01, [], COUNTY, ORG) == domain.Handling("999901-d01")


def test_given_a_county_without_a_joint_conference_office_then_the_dispatchers_lead_stands():
    org = Org([XFJ, D01, D02, GOV1, GOV2], ORG.divisions)
    assert domain.cross_region_lead(GOV1, [GOV2], "999901001004", org) == \
        domain.Handling("999901001-gov", ("999901002-gov",))


def test_the_joint_conference_office_of_the_cases_county_leads_not_that_of_another():
    other = UnitInfo("999902-lxb", "joint_conference_office", "999902000000")
    org = Org([*ORG.units.values(), other], ORG.divisions)
    assert domain.cross_region_lead(GOV1, [GOV2], "999901001004", org).unit_id == "999901-lxb"
    assert domain.cross_region_lead(GOV1, [GOV2], "999902001001", org).unit_id == "999902-lxb"


def test_given_the_joint_office_named_among_the_units_then_it_leads_once_and_is_not_asked_to_help():
    h = domain.cross_region_lead(GOV1, [LXB, D01, D02], "999901001004", ORG)
    assert (h.unit_id, h.co_unit_ids) == ("999901-lxb", ("999901001-gov", "999901-d01", "999901-d02"))


def test_every_unit_the_dispatcher_names_must_exist_and_be_active():
    inactive = UnitInfo("999901-d09", "department", COUNTY, active=False)
    org = Org([*ORG.units.values(), inactive], ORG.divisions)
    for lead, co, field in [("nobody", [], "unit_id"), ("999901-d09", [], "unit_id"),
                            ("999901-d01", ["999901-d09"], "co_unit_ids"), ("999901-d01", ["nobody"], "co_unit_ids")]:
        with pytest.raises(InvalidInput) as e:
            domain.handling_units(lead, co, COUNTY, org)
        assert e.value.field == field and "does not exist or is inactive" in e.value.message
    assert domain.handling_units("999901001-gov", ["999901002-gov"], "999901001004", org).unit_id == "999901-lxb"


# ------------------------------------------------------------------ who may own a case (包案), and see it

LEADER = domain.Account("county-leader", "leader", COUNTY)
TOWNSHIP_OFFICE = "999901001000"


def test_given_an_active_leader_of_the_county_then_they_may_own_a_township_case():
    domain.check_may_own("county-leader", LEADER, TOWNSHIP_OFFICE)


@pytest.mark.parametrize("account", [
    None,                                                         # no such account
    domain.Account("county-leader", "leader", COUNTY, active=False),
    domain.Account("county-leader", "dispatcher", COUNTY),        # not a leader
    domain.Account("county-leader", "leader", "999901002000"),    # another township's leader
    domain.Account("county-leader", "leader", "999902000000"),    # another county's
])
def test_only_an_active_leader_with_jurisdiction_over_the_case_may_own_it(account):
    with pytest.raises(InvalidInput) as e:
        domain.check_may_own("county-leader", account, TOWNSHIP_OFFICE)
    assert e.value.field == "leader"
    assert e.value.message == "county-leader is not an active leader with jurisdiction over the case"
    assert e.value.message_zh == "county-leader 不是对该事项有管辖权的在职领导"


def test_a_leader_takes_a_case_for_themself_and_a_dispatcher_or_admin_names_the_leader():
    domain.check_may_record_ownership(Principal("county-leader", "leader", COUNTY), "county-leader")
    for role in ("dispatcher", "admin"):
        domain.check_may_record_ownership(Principal("someone", role, COUNTY), "county-leader")
    with pytest.raises(InvalidInput) as e:
        domain.check_may_record_ownership(Principal("other-leader", "leader", COUNTY), "county-leader")
    assert e.value.message_zh == "领导只能本人包案"
    for role in ("clerk", "handler", "supervisor"):
        with pytest.raises(Forbidden) as f:
            domain.check_may_record_ownership(Principal("someone", role, COUNTY), "county-leader")
        assert f.value.message.endswith("(needs one of: leader, dispatcher, admin)")


def test_a_leader_lists_their_own_cases_and_a_supervisor_names_the_leader():
    me = Principal("county-leader", "leader", COUNTY)
    assert domain.owned_cases_leader(me, None) == domain.owned_cases_leader(me, "") == "county-leader"
    with pytest.raises(Forbidden):
        domain.owned_cases_leader(me, "other-leader")
    supervisor = Principal("s", "supervisor", COUNTY)
    assert domain.owned_cases_leader(supervisor, "county-leader") == "county-leader"
    with pytest.raises(InvalidInput) as e:
        domain.owned_cases_leader(supervisor, None)
    assert e.value.field == "leader"
    with pytest.raises(Forbidden):
        domain.owned_cases_leader(Principal("c", "clerk", COUNTY), "county-leader")


def test_a_units_staff_see_the_cases_their_unit_leads_or_helps_with_anyone_else_their_jurisdictions():
    handler = Principal("h", "handler", COUNTY, unit_id="999901-d01")
    assert domain.may_see(handler, TOWNSHIP_OFFICE, "999901-d01", [])
    assert domain.may_see(handler, TOWNSHIP_OFFICE, "999901-lxb", ["999901-d01"])
    assert not domain.may_see(handler, TOWNSHIP_OFFICE, "999901-d02", ["999901-d03"])
    assert not domain.may_see(Principal("h", "handler", COUNTY), TOWNSHIP_OFFICE, None, [])
    assert domain.may_see(Principal("d", "dispatcher", COUNTY), TOWNSHIP_OFFICE, None, [])
    assert not domain.may_see(Principal("d", "dispatcher", "999901002000"), TOWNSHIP_OFFICE, None, [])


# ------------------------------------------------------------------ a case's assignment, given its events

CAL = WorkCalendar()  # the published schedule: 2026 National Day 1–7 October, Saturday 10 October worked
MONDAY = datetime(2026, 9, 28, 10, 0, tzinfo=CHINA)   # assigned on Monday 28 September 2026


def given(*payloads, actor="system:routing", start=MONDAY):
    envs = [new_envelope(p, case_id="c1", office=COUNTY, actor=actor, producer="routing",
                         occurred_at=start + timedelta(minutes=i)).model_copy(update={"stream_version": i + 1})
            for i, p in enumerate(payloads)]
    return Assignment.from_events("c1", envs)


ASSIGNED = CaseAssigned(unit_id="999901001-gov", rule="rule t1-land: …")


def local(y, m, d, h=16):
    return datetime(y, m, d, h, 0, tzinfo=CHINA)


def test_given_an_assignment_when_the_unit_signs_then_it_is_signed_for_once():
    a = given(ASSIGNED)
    assert a.sign("999901001-gov") == CaseSignedFor(unit_id="999901001-gov")
    with pytest.raises(Conflict) as e:
        given(ASSIGNED, CaseSignedFor(unit_id="999901001-gov")).sign("999901001-gov")
    assert e.value.rule == "sign_once"


def test_only_the_assigned_unit_signs_or_objects():
    for act in (lambda a: a.sign("999901002-gov"),
                lambda a: a.object("999901002-gov", "不属本单位职责", local(2026, 9, 29), CAL, RoutingRules())):
        with pytest.raises(Conflict) as e:
            act(given(ASSIGNED))
        assert e.value.rule == "assigned_unit_only"


def test_an_objection_on_the_5th_working_day_after_a_holiday_is_accepted():
    # working days after Mon 28 Sep: 29, 30 Sep, 8, 9 Oct, Sat 10 Oct (make-up day) = the 5th
    a = given(ASSIGNED)
    assert a.objection_deadline(CAL, RoutingRules()).isoformat() == "2026-10-10"
    event = a.object("999901001-gov", "不属本单位职责", local(2026, 10, 10, 23), CAL, RoutingRules())
    assert event == CaseObjected(unit_id="999901001-gov", reason="不属本单位职责")


def test_an_objection_on_the_6th_working_day_is_refused_with_the_rule():
    with pytest.raises(Conflict) as e:
        given(ASSIGNED).object("999901001-gov", "不属本单位职责", local(2026, 10, 12, 9), CAL, RoutingRules())
    assert e.value.rule == "objection_window" and "2026-10-10" in e.value.message


def test_the_objection_window_is_configuration():
    rules = RoutingRules(objection_window_working_days=6)
    assert given(ASSIGNED).object("999901001-gov", "x", local(2026, 10, 12), CAL, rules).unit_id == "999901001-gov"


def test_the_window_is_counted_in_china_time():
    # 23:30 UTC on 9 October is 07:30 on 10 October in China: still the 5th working day
    late = datetime(2026, 10, 9, 23, 30, tzinfo=UTC)
    assert given(ASSIGNED).object("999901001-gov", "x", late, CAL, RoutingRules())
    with pytest.raises(Conflict):
        given(ASSIGNED).object("999901001-gov", "x", datetime(2026, 10, 11, 16, 30, tzinfo=UTC), CAL,
                               RoutingRules())


def test_given_an_objection_when_the_dispatcher_reassigns_then_the_new_unit_gets_it_with_the_reason():
    a = given(ASSIGNED, CaseObjected(unit_id="999901001-gov", reason="不属本单位职责"))
    assert a.state == "objected"
    e = a.reassign("999901-d03", reason="土地承包由县自然资源局办理")
    assert (e.unit_id, e.previous_unit_id, e.reason, e.stage) == ("999901-d03", "999901001-gov",
                                                                  "土地承包由县自然资源局办理", "handling")


def test_reassigning_to_the_unit_that_holds_it_is_a_conflict():
    with pytest.raises(Conflict) as e:
        given(ASSIGNED).reassign("999901001-gov", reason="again")
    assert e.value.rule == "already_assigned"
    with pytest.raises(InvalidInput):
        given(ASSIGNED).reassign("999901-d01", reason="x", co_unit_ids=["999901-d01"])


def test_an_objection_after_a_reassignment_counts_from_the_new_assignment():
    a = given(ASSIGNED, CaseObjected(unit_id="999901001-gov", reason="x"),
              CaseAssigned(unit_id="999901-d03", reason="改派", previous_unit_id="999901001-gov"),
              start=local(2026, 10, 9, 9))
    # Fri 9 Oct: Sat 10 (worked), 12, 13, 14, 15 October
    assert a.objection_deadline(CAL, RoutingRules()).isoformat() == "2026-10-15"


def test_a_step_cannot_be_dated_before_the_previous_one_or_in_the_future():
    a = given(ASSIGNED)
    now = datetime(2026, 11, 23, tzinfo=UTC)
    with pytest.raises(InvalidInput):
        a.check_time(MONDAY - timedelta(days=1), now, RoutingRules())
    with pytest.raises(InvalidInput):
        a.check_time(now + timedelta(hours=1), now, RoutingRules())
    a.check_time(now, now, RoutingRules())


def test_a_leader_takes_a_case_once():
    a = given(ASSIGNED, CaseOwnedByLeader(leader="demo-leader"))
    assert a.owner_leader == "demo-leader"
    with pytest.raises(Conflict):
        a.take_ownership("demo-leader", None)
    assert a.take_ownership("other-leader", "换人包案").leader == "other-leader"


@pytest.mark.parametrize("state, stage, intake, expected", [
    ("to_sign", "handling", "open", "to_sign"), ("signed", "handling", "open", "to_accept"),
    ("signed", "handling", "accepted", "in_hand"), ("signed", "review", "open", "in_hand"),
    ("signed", "handling", "done", None), ("objected", "handling", "open", "objected"),
    ("unassigned", "handling", "open", None)])
def test_where_a_case_sits_in_its_units_inbox(state, stage, intake, expected):
    assert domain.inbox_state(state, stage, intake) == expected


# ------------------------------------------------------------------ the organisation


def test_a_new_village_needs_an_existing_township_parent_with_its_prefix():
    domain.check_new_division("999901001009", "village", "999901001000", ORG)
    with pytest.raises(InvalidInput):
        domain.check_new_division("999901002009", "village", "999901001000", ORG)
    with pytest.raises(InvalidInput):
        domain.check_new_division("999901001009", "township", "999901000000", ORG)
    with pytest.raises(Conflict):
        domain.check_new_division("999901001001", "village", "999901001000", ORG)


# ------------------------------------------------------------------ staff accounts


def test_a_new_account_needs_a_known_role_a_valid_username_and_a_long_enough_password():
    domain.check_new_account("zhang.san", "long-enough", "clerk")
    for username, password, role, field in [("zhang", "long-enough", "boss", "role"),
                                            ("z", "long-enough", "clerk", "username"),
                                            ("-zhang", "long-enough", "clerk", "username"),
                                            ("zhang", "short", "clerk", "password")]:
        with pytest.raises(InvalidInput) as e:
            domain.check_new_account(username, password, role)
        assert e.value.field == field


def test_a_handler_belongs_to_an_existing_unit_and_every_account_to_a_known_division():
    domain.check_account_place("handler", COUNTY, "999901-d01", ORG)
    domain.check_account_place("clerk", COUNTY, None, ORG)
    for role, jurisdiction, unit, field in [("clerk", "999909000000", None, "jurisdiction"),
                                            ("handler", COUNTY, None, "unit_id"),
                                            ("clerk", COUNTY, "nobody", "unit_id")]:
        with pytest.raises(InvalidInput) as e:
            domain.check_account_place(role, jurisdiction, unit, ORG)
        assert e.value.field == field
