"""Intake's registration rules, given / when / then, without I/O."""
from datetime import UTC, datetime, timedelta

import pytest

from services.intake import domain
from xinfang.auth import Forbidden
from xinfang.errors import InvalidInput
from xinfang.security import Principal

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
COUNTY_CLERK = Principal("demo-clerk", "clerk", "999901000000")
KNOWN = {"999901000000", "999901001000", "999901001001", "999901002001"}.__contains__


def registration(**changes) -> domain.Registration:
    base = dict(channel="visit", received_at=NOW - timedelta(days=2),
                petitioners=[domain.PetitionerDetails("p1", "张三", "resident_id", "110101199003071233",
                                                      "13800000000", "城关镇")],
                headcount=1, purpose="appeal", category_code="0702", division_code="999901001001",
                summary="拖欠工资", request="请求支付")
    return domain.Registration(**{**base, **changes})


def when_registered(reg, actor=COUNTY_CLERK):
    return domain.register("case-1", reg, "ABCD-EFGH-JK23", actor=actor, known_division=KNOWN, now=NOW)


def test_a_visit_two_days_ago_registers_with_masked_petitioners_in_the_townships_jurisdiction():
    payload, office = when_registered(registration())
    assert office == "999901001000"
    assert payload.petitioners[0].id_number_masked == "1101**********1233"
    assert "110101199003071233" not in payload.model_dump_json()
    assert payload.tracking_code_hint == "JK23" and payload.flags == ["first_petition"]


def test_a_county_level_problem_stays_with_the_county():
    _, office = when_registered(registration(division_code="999901000000"))
    assert office == "999901000000"


@pytest.mark.parametrize("changes, field", [
    ({"received_at": NOW + timedelta(hours=1)}, "received_at"),
    ({"category_code": "99"}, "category_code"),
    ({"division_code": "999901009009"}, "division_code"),
    ({"headcount": 0}, "headcount"),
    ({"petitioners": [domain.PetitionerDetails("p1", "李四", "resident_id", "110101199003071230", None, "")]},
     "petitioners.0.id_number"),
])
def test_invalid_registrations_are_refused_naming_the_field(changes, field):
    with pytest.raises(InvalidInput) as err:
        when_registered(registration(**changes))
    assert err.value.field == field and err.value.message_zh


def test_a_received_at_within_the_clock_skew_is_not_in_the_future():
    when_registered(registration(received_at=NOW + timedelta(minutes=2)))


def test_a_township_clerk_registers_only_in_its_township():
    clerk_a = Principal("clerk-a", "clerk", "999901001000")
    when_registered(registration(), actor=clerk_a)
    with pytest.raises(Forbidden) as err:
        when_registered(registration(division_code="999901002001"), actor=clerk_a)
    assert err.value.field == "division_code"


def test_only_registering_roles_register():
    with pytest.raises(Forbidden):
        when_registered(registration(), actor=Principal("l", "leader", "999901000000"))


def test_five_or_more_people_are_flagged_collective():
    payload, _ = when_registered(registration(headcount=12))
    assert "collective" in payload.flags


@pytest.mark.parametrize("prior, flags", [
    ([], ["first_petition"]),
    ([domain.PriorCase("earlier", "0702", NOW - timedelta(days=90), final=False, open=False)], ["repeat"]),
    ([domain.PriorCase("earlier", "0702", NOW - timedelta(days=10), final=False, open=True)],
     ["repeat", "pending_elsewhere"]),
    ([domain.PriorCase("earlier", "0702", NOW - timedelta(days=400), final=True)], ["repeat", "final_matter"]),
    ([domain.PriorCase("other-matter", "0301", NOW - timedelta(days=10), final=False, open=True)],
     ["first_petition"]),
])
def test_the_same_person_and_matter_is_a_repeat_linked_to_the_earlier_case(prior, flags):
    payload, _ = domain.register("case-1", registration(), "ABCD-EFGH-JK23", actor=COUNTY_CLERK,
                                 known_division=KNOWN, prior=prior, now=NOW)
    assert payload.flags == flags
    assert payload.repeat_of == ("earlier" if "repeat" in flags else None)
