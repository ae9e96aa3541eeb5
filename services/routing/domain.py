"""Routing's domain rules: which unit must handle a case (属地管理、分级负责；谁主管、谁负责),
and what a valid organisation looks like.

The default rule of the platform: a case goes to the government of the township where the
problem arose; a case that arose at county level goes to the county petition office, which holds
the first right to assign (第一交办权). The rule engine of the routing issue replaces this.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from xinfang.errors import Conflict, InvalidInput
from xinfang.security import division_level, division_prefix


@dataclass(frozen=True)
class Decision:
    unit_id: str
    rule: str


class Directory(Protocol):
    """What routing knows of the organisation (its own projection)."""

    def unit_of_kind(self, kind: str, division_code: str) -> str | None: ...

    def division_exists(self, code: str) -> bool: ...

    def unit_exists(self, unit_id: str) -> bool: ...


def township_code(division_code: str) -> str | None:
    if division_level(division_code) in ("township", "village"):
        return division_code[:9] + "000"
    return None


def county_code(division_code: str) -> str:
    return division_code[:6] + "000000"


def default_unit(division_code: str, directory: Directory) -> Decision:
    t = township_code(division_code)
    if t is not None:
        unit = directory.unit_of_kind("township_government", t)
        if unit is not None:
            return Decision(unit, "default: township where the problem arose (属地管理)")
    office = directory.unit_of_kind("petition_office", county_code(division_code))
    if office is None:
        raise LookupError(f"no petition office for county {county_code(division_code)}")
    return Decision(office, "default: county petition office (第一交办权)")


LEVEL_PARENT = {"city": "province", "county": "city", "township": "county", "village": "township"}


def check_new_division(code: str, level: str, parent: str | None, directory: Directory) -> None:
    if directory.division_exists(code):
        raise Conflict(f"division {code} exists already", f"行政区划 {code} 已存在", field="code")
    if division_level(code) != level:
        raise InvalidInput(f"code {code} is not a {level} code", f"代码 {code} 不是{level}级代码", field="code")
    if level != "province":
        if not parent or not directory.division_exists(parent):
            raise InvalidInput("parent must be an existing division", "上级区划必须已存在", field="parent")
        if division_level(parent) != LEVEL_PARENT[level] or not code.startswith(division_prefix(parent)):
            raise InvalidInput(f"{parent} cannot be the parent of {code}", f"{parent} 不能作为 {code} 的上级",
                               field="parent")


def check_new_unit(unit_id: str, division_code: str, directory: Directory) -> None:
    if directory.unit_exists(unit_id):
        raise Conflict(f"unit {unit_id} exists already", f"单位 {unit_id} 已存在", field="unit_id")
    if not directory.division_exists(division_code):
        raise InvalidInput("division_code must be an existing division", "所属区划必须已存在",
                           field="division_code")
