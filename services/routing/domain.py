"""Routing's domain rules: which unit must handle a case (属地管理、分级负责；谁主管、谁负责).

The default rule of the platform: a case goes to the government of the township where the problem
arose; a case that arose at county level goes to the county petition office, which holds the
first right to assign (第一交办权). The rule engine of the routing issue replaces this.
"""
from __future__ import annotations

from dataclasses import dataclass

from xinfang.reference.divisions import COUNTY, county_of, township_of, unit


@dataclass(frozen=True)
class Decision:
    unit_id: str
    rule: str


def default_unit(division_code: str) -> Decision:
    t = township_of(division_code)
    if t is not None:
        u = unit(f"{t.code[:9]}-gov")
        if u is not None:
            return Decision(u.unit_id, "default: township where the problem arose (属地管理)")
    c = county_of(division_code) or county_of(COUNTY)
    return Decision(f"{c.code[:6]}-xfj", "default: county petition office (第一交办权)")
