"""The console's words: the kernel's labels (xinfang.labels, one source for every service) and the
names of the console's form fields."""
from __future__ import annotations

import re

from xinfang.labels import (  # noqa: F401  (the console's templates and routes read them from here)
    ASSIGN_STATES,
    CHANNELS,
    DECISIONS,
    EVENTS,
    EXPECTED_STEPS,
    FLAGS,
    ID_TYPES,
    LEVELS,
    ORDER_STATUS,
    OUTCOMES,
    PROCEDURES,
    PURPOSES,
    QUEUE_KINDS,
    RATES,
    RATINGS,
    ROLES,
    STAGES,
    STATUS,
    label,
)

# the level of the office a collective visit reached (its alert threshold: DOMAIN.md)
OFFICE_LEVELS = {"township": "乡级", "county": "县级", "city": "市级", "province": "省级", "national": "国家级"}
# the services as a page names one that does not answer
SERVICES = {"intake": "登记受理服务", "routing": "交办服务", "supervision": "督查督办服务", "reporting": "统计分析服务"}
NOTICES = {"acceptance_notice": "受理告知书", "non_acceptance_notice": "不予受理 / 不再受理告知书",
           "extension_notice": "延长办理期限告知书", "reply": "答复意见书（信访事项处理意见书）",
           "review_opinion": "复查意见书", "re_review_opinion": "复核意见书"}
FIELDS = {"channel": "信访形式", "received_at": "收信/接访时间", "purpose": "信访目的", "headcount": "人数",
          "category_code": "内容分类", "division_code": "问题属地", "summary": "主要内容", "request": "诉求",
          "petitioners": "信访人", "name": "姓名", "id_type": "证件类型", "id_number": "证件号码", "phone": "联系电话",
          "address": "住址", "username": "用户名", "password": "密码", "unit_id": "承办单位", "reason": "理由",
          "mode": "方式", "notice": "告知书内容", "decision": "决定", "procedure": "程序", "days": "延长天数",
          "approver": "批准人", "outcome": "处理意见", "text": "内容", "level": "级别", "requirement": "督办要求",
          "reply_by": "限期", "rating": "评价", "comment": "评价意见", "occurred_at": "办理时间", "note": "说明",
          "backdate_reason": "补录理由"}


def field_name(path: str) -> str:
    """petitioners.1.id_number → 代表1 证件号码; summary → 主要内容."""
    parts = path.split(".")
    if parts[0] == "petitioners" and len(parts) == 3 and parts[1].isdigit():
        who = "信访人" if parts[1] == "0" else f"代表{parts[1]}"
        return f"{who}{FIELDS.get(parts[2], parts[2])}"
    return FIELDS.get(parts[-1], path)


# ------------------------------------------------------------------ why routing chose a unit (or none)

_RULE = re.compile(r"^rule (?P<id>\S+): division (?P<div>\d+)\* × category (?P<cat>.+?) → (?P<unit>\S+)(?: \((?P<note>.*)\))?$")
_FALLBACK = re.compile(r"^fallback: petition office of (?P<div>\d+)(?P<objected>, which objected)?$")
_LEVEL = re.compile(r"^(?P<stage>review|re_review): petition office of (?P<div>\d+), the level above (?P<unit>\S+)$")
_LEVEL_NONE = re.compile(r"^(?P<stage>review|re_review): ")
_STAGES_ZH = {"review": "复查", "re_review": "复核"}


def basis(text: str | None, names: dict | None = None) -> str:
    """Routing's reason for a unit (a rule, the fallback, the level above, or why none) in Chinese,
    with names for codes; what it does not know, as it came."""
    if not text:
        return ""
    n = names or {}
    if m := _RULE.match(text):
        cat = "任何类别" if m["cat"] == "any category" else n.get(m["cat"], m["cat"])
        div = n.get(m["div"].ljust(12, "0"), n.get(m["div"], m["div"]))
        note = f"（{m['note']}）" if m["note"] else ""
        return f"交办规则：{div} · {cat} → {n.get(m['unit'], m['unit'])}{note}"
    if m := _FALLBACK.match(text):
        said = f"没有匹配的交办规则：由{n.get(m['div'], m['div'])}信访工作机构办理"
        return said + ("（该单位已提出异议）" if m["objected"] else "")
    if text.startswith("no_rule"):
        return "没有匹配的交办规则：待信访工作机构交办"
    if text.startswith("no rule and no petition office"):
        return "没有匹配的交办规则，也没有可兜底的信访工作机构"
    if text.startswith("cross_region_or_department"):
        return "跨地区、跨部门（三跨三分离）：由联席会议办公室牵头"
    if m := _LEVEL.match(text):
        return f"{_STAGES_ZH[m['stage']]}：由上一级（{n.get(m['div'], m['div'])}）信访工作机构受理"
    if m := _LEVEL_NONE.match(text):
        return f"{_STAGES_ZH[m['stage']]}：没有可受理的上一级信访工作机构"
    return text


def actor(who: str | None, staff: dict) -> str:
    """Who acted, as a page names them: a member of staff by display name, the services as
    系统自动, the petitioner (the public page's evaluation) as 信访人."""
    if not who:
        return ""
    if who.startswith("system:"):
        return "系统自动"
    if who == "petitioner":
        return "信访人"
    return staff.get(who, who)
