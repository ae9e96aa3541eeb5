"""Chinese names for the codes the APIs answer."""
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
LEVELS = {"normal": "正常", "notice": "提示", "warning": "预警", "serious_warning": "严重预警", "overdue": "超期"}
STAGES = {"acceptance": "受理", "handling": "办理", "assignment": "交转办", "objection": "异议期", "review": "复查",
          "re_review": "复核", "sign": "签收", "evaluation": "评价"}
ASSIGN_STATES = {"unassigned": "待交办", "to_sign": "待签收", "signed": "已签收", "objected": "已退回（异议）",
                 "returned": "已退回", "to_accept": "待受理", "in_hand": "办理中", "co_handling": "协办"}
ROLES = {"admin": "管理员", "clerk": "登记员", "dispatcher": "交办员", "handler": "承办人",
         "supervisor": "督办员", "leader": "领导"}
EVENTS = {
    "CaseRegistered": "登记", "CaseAssigned": "交办", "CaseForwarded": "转送", "CaseSigned": "签收", "CaseSignedFor": "签收",
    "CaseObjected": "提出异议（退回）", "CaseAccepted": "受理", "CaseNotAccepted": "不予受理",
    "HandlingExtended": "延期", "CaseReplied": "答复", "CaseEvaluated": "满意度评价", "CaseClosed": "办结",
    "ReviewRequested": "申请复查/复核", "CaseOwnedByLeader": "领导包案", "SupervisionOrderIssued": "督办",
    "ReminderSent": "催办", "SupervisionOrderAnswered": "督办答复", "SupervisionOrderEscalated": "督办升级",
    "DeadlineSet": "设定期限", "DeadlineWarned": "期限预警", "DeadlineExpired": "超期", "DeadlineMet": "按期完成",
    "RoutingRuleAdded": "新增交办规则", "assigned": "交办", "forwarded": "转送", "signed": "签收", "objected": "退回",
    "reassigned": "重新交办", "owned": "领导包案",
}
RATES = {"timely_acceptance": "及时受理率", "on_time_reply": "按期答复率", "evaluation": "参评率",
         "satisfaction": "满意率", "first_time_resolution": "一次性化解率"}
ORDER_STATUS = {"open": "待答复", "answered": "已答复", "escalated": "已升级", "overdue": "逾期"}


def label(table: dict, key) -> str:
    return table.get(key, key if key is not None else "")
NOTICES = {"acceptance_notice": "受理告知书", "non_acceptance_notice": "不予受理 / 不再受理告知书",
           "extension_notice": "延长办理期限告知书", "reply": "答复意见书（信访事项处理意见书）",
           "review_opinion": "复查意见书", "re_review_opinion": "复核意见书"}
FIELDS = {"channel": "信访形式", "received_at": "收信/接访时间", "purpose": "信访目的", "headcount": "人数",
          "category_code": "内容分类", "division_code": "问题属地", "summary": "主要内容", "request": "诉求",
          "petitioners": "信访人", "name": "姓名", "id_type": "证件类型", "id_number": "证件号码", "phone": "联系电话",
          "address": "住址", "username": "用户名", "password": "密码", "unit_id": "承办单位", "reason": "理由",
          "mode": "方式", "notice": "告知书内容", "decision": "决定", "procedure": "程序", "days": "延长天数",
          "approver": "批准人", "outcome": "处理意见", "text": "内容", "level": "级别", "requirement": "督办要求",
          "reply_by": "限期", "rating": "评价", "occurred_at": "办理时间", "note": "说明"}


def field_name(path: str) -> str:
    """petitioners.1.id_number → 代表1 证件号码; summary → 主要内容."""
    parts = path.split(".")
    if parts[0] == "petitioners" and len(parts) == 3 and parts[1].isdigit():
        who = "信访人" if parts[1] == "0" else f"代表{parts[1]}"
        return f"{who}{FIELDS.get(parts[2], parts[2])}"
    return FIELDS.get(parts[-1], path)
