"""The Chinese names of the codes Xinfang answers, written once: the console, reporting's answers
and exports, and the error messages take them from here; docs/glossary.md is checked against them
(tests/unit/test_labels.py). The keys are the API's and the events' codes."""
from __future__ import annotations

CHANNELS = {"letter": "来信", "visit": "来访", "online": "网上信访", "phone": "电话"}
PURPOSES = {"suggestion": "建议", "accusation": "检举控告", "appeal": "申诉求决"}
ID_TYPES = {"resident_id": "居民身份证", "passport": "护照", "other": "其他证件"}
STATUS = {"registered": "已登记", "assigned": "已交办", "accepted": "已受理", "not_accepted": "不予受理",
          "no_longer_accepted": "不再受理", "replied": "已答复", "under_review": "复查中",
          "under_re_review": "复核中", "closed": "已办结"}
FLAGS = {"first_petition": "初信初访", "repeat": "重复信访", "final_matter": "终结事项", "skip_level": "越级信访",
         "collective": "集体访", "law_related": "涉法涉诉",
         "pending_elsewhere": "他机关在办"}
DECISIONS = {"accepted": "受理", "not_accepted": "不予受理", "no_longer_accepted": "不再受理"}
PROCEDURES = {"normal": "普通程序", "simplified": "简易程序"}
OUTCOMES = {"supported": "支持", "explained": "解释说明", "not_supported": "不支持"}
RATINGS = {"satisfied": "满意", "basically_satisfied": "基本满意", "dissatisfied": "不满意"}
LEVELS = {"normal": "正常", "notice": "预警", "warning": "警告", "serious_warning": "严重警告", "overdue": "超期"}
STAGES = {"acceptance": "受理", "handling": "办理", "assignment": "交转办", "objection": "异议期", "review": "复查",
          "re_review": "复核", "sign": "签收", "evaluation": "评价"}
ASSIGN_STATES = {"unassigned": "待交办", "to_sign": "待签收", "signed": "已签收", "objected": "已退回（异议）",
                 "returned": "已退回", "to_accept": "待受理", "in_hand": "办理中", "co_handling": "协办"}
ROLES = {"admin": "管理员", "clerk": "登记员", "dispatcher": "交办员", "handler": "承办人",
         "supervisor": "督办员", "leader": "领导"}
EVENTS = {
    "CaseRegistered": "登记", "CaseAssigned": "交办", "CaseSignedFor": "签收",
    "CaseObjected": "提出异议（退回）", "CaseAccepted": "受理", "CaseNotAccepted": "不予受理",
    "HandlingExtended": "延期", "CaseReplied": "答复", "CaseEvaluated": "满意度评价", "CaseClosed": "办结",
    "ReviewRequested": "申请复查/复核", "CaseOwnedByLeader": "领导包案", "SupervisionOrderIssued": "督办",
    "ReminderSent": "催办", "SupervisionOrderAnswered": "督办答复", "SupervisionOrderEscalated": "督办升级",
    "DeadlineSet": "设定期限", "DeadlineWarned": "期限预警", "DeadlineExpired": "超期", "DeadlineMet": "按期完成",
    "RoutingRuleAdded": "新增交办规则", "RoutingRuleRetired": "停用交办规则", "CollectiveVisitAlerted": "集体访预警",
    "DivisionAdded": "新增行政区划", "UnitAdded": "新增单位", "UnitUpdated": "单位变更", "StaffAccessRevoked": "撤销登录权限",
    "ChainCheckpointSigned": "签署事件链检查点",
}
RATES = {"timely_acceptance": "及时受理率", "on_time_reply": "按期答复率", "evaluation": "群众参评率",
         "satisfaction": "参评群众满意率", "first_time_resolution": "一次性化解率"}
ORDER_STATUS = {"open": "待答复", "answered": "已答复", "escalated": "已升级", "overdue": "逾期"}
# the dispatcher's queue (routing's GET /api/v1/queue): what kind of work each case is
QUEUE_KINDS = {"unassigned": "无规则待交办", "returned": "异议退回", "review": "复查/复核申请"}
# the next step the public tracking page names, each with the one date it is due by
EXPECTED_STEPS = {"acceptance": "受理告知期限", "reply": "答复期限", "review_opinion": "复查意见期限",
                  "re_review_opinion": "复核意见期限", "evaluation": "评价截止", "review_request": "申请复查截止",
                  "re_review_request": "申请复核截止"}


def label(table: dict, key) -> str:
    """The Chinese name of ``key`` in ``table``; the code itself where there is none."""
    return table.get(key, key if key is not None else "")


# the groups docs/glossary.md lists, in its order: (title, table)
GLOSSARY = (
    ("channel 信访形式", CHANNELS), ("purpose 信访目的", PURPOSES), ("status 事项状态", STATUS),
    ("flag 标记", FLAGS), ("acceptance decision 受理决定", DECISIONS), ("procedure 办理程序", PROCEDURES),
    ("reply outcome 处理意见", OUTCOMES), ("evaluation 评价", RATINGS), ("deadline level 期限状态", LEVELS),
    ("stage 环节", STAGES), ("assignment state 交办状态", ASSIGN_STATES), ("supervision order 督办单状态", ORDER_STATUS),
    ("queue kind 交办队列类别", QUEUE_KINDS), ("expected step 下一步骤期限", EXPECTED_STEPS),
    ("rate 考核指标", RATES), ("role 角色", ROLES), ("event 事件", EVENTS),
)
BEGIN, END = "<!-- labels:begin (python -m xinfang.labels) -->", "<!-- labels:end -->"


def glossary_section() -> str:
    """The glossary's list of every code and its Chinese name, as docs/glossary.md holds it."""
    lines = [BEGIN, "", "Every code the API and the events use, with the Chinese name the console, reporting and the",
             "exports show (`xinfang/labels.py`; `python -m xinfang.labels` prints this section).", ""]
    for title, table in GLOSSARY:
        lines += [f"**{title}**: " + "; ".join(f"`{code}` {name}" for code, name in table.items()), ""]
    return "\n".join([*lines, END])


if __name__ == "__main__":
    print(glossary_section())
