"""Routing's default rule, given an organisation."""
import pytest

from services.routing import domain
from xinfang.errors import Conflict, InvalidInput


class Org:
    def __init__(self, units, divisions=()):
        self.units, self.divisions = units, set(divisions)

    def unit_of_kind(self, kind, division_code):
        return self.units.get((kind, division_code))

    def division_exists(self, code):
        return code in self.divisions

    def unit_exists(self, unit_id):
        return unit_id in {u for u in self.units.values()}


ORG = Org({("township_government", "999901001000"): "999901001-gov",
           ("petition_office", "999901000000"): "999901-xfj"},
          {"999901000000", "999901001000", "999901001001"})


def test_a_village_case_goes_to_its_township_government():
    d = domain.default_unit("999901001007", ORG)
    assert d.unit_id == "999901001-gov" and "属地管理" in d.rule


def test_a_county_case_or_a_township_without_government_goes_to_the_petition_office():
    assert domain.default_unit("999901000000", ORG).unit_id == "999901-xfj"
    assert domain.default_unit("999901003002", ORG).unit_id == "999901-xfj"


def test_a_new_village_needs_an_existing_township_parent_with_its_prefix():
    domain.check_new_division("999901001009", "village", "999901001000", ORG)
    with pytest.raises(InvalidInput):
        domain.check_new_division("999901002009", "village", "999901001000", ORG)
    with pytest.raises(InvalidInput):
        domain.check_new_division("999901001009", "township", "999901000000", ORG)
    with pytest.raises(Conflict):
        domain.check_new_division("999901001001", "village", "999901001000", ORG)
