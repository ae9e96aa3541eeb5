"""Which actions a case page offers: exactly those the caller's role may take in the case's current
state, in the order the rules allow (交办 → 签收 → 受理 → 延期 → 答复 → 办结 → 复查 / 复核). The
services refuse everything else on their own; the page does not offer it.

The state is intake's status of the case and routing's state of its assignment (None while
routing does not answer: then nothing that needs it is offered)."""
from __future__ import annotations

BEFORE_DECISION = ("registered", "assigned")
UNDER_REVIEW = ("under_review", "under_re_review")
REFUSED = ("not_accepted", "no_longer_accepted")

# what a destructive action asks before it is sent
CONFIRM = {
    "objection": "确认将该事项退回交办机关？",
    "acceptance": "确认作出受理决定？决定作出后不能更改。",
    "closure": "确认办结该信访事项？办结后不能再答复。",
    "order-answer": "确认提交督办答复？每份督办单只能答复一次。",
}


def offered(role: str, status: str, assignment_state: str | None, *, extended: bool = False,
            owned: bool = False, orders_to_answer: bool = False) -> tuple[str, ...]:
    """``orders_to_answer``: a supervision order addressed to the caller's unit (any, for an
    admin) is open or escalated; only that unit answers it, once."""
    out: list[str] = []
    if role in ("dispatcher", "admin") and (status in BEFORE_DECISION or status in UNDER_REVIEW):
        out.append("assignment")
    if role in ("handler", "admin"):
        if assignment_state == "to_sign":
            out.append("sign")
        if assignment_state in ("to_sign", "signed") and status in BEFORE_DECISION:
            out.append("objection")
        if assignment_state == "signed" and status in BEFORE_DECISION:
            out.append("acceptance")
        if status == "accepted" and not extended:
            out.append("extension")
        if status == "accepted" or (status in UNDER_REVIEW and assignment_state == "signed"):
            out.append("reply")
        if status == "replied" or status in REFUSED:
            out.append("closure")
        if orders_to_answer:
            out.append("order-answer")
    if role in ("clerk", "dispatcher", "admin") and status in ("replied", "closed"):
        out.append("review-request")
    if role in ("supervisor", "leader", "admin") and status != "closed" and status not in REFUSED:
        out += ["supervision-order", "reminder"]
    if role == "leader" and status != "closed" and not owned:
        out.append("ownership")
    return tuple(out)

# what the page says once an action went through
DONE = {
    "assignment": "已交办。", "sign": "已签收。", "objection": "已退回交办机关。", "acceptance": "已作出受理决定。",
    "extension": "已延长办理期限。", "reply": "已答复。", "closure": "已办结。", "review-request": "已登记复查 / 复核申请。",
    "supervision-order": "已下发督办单。", "reminder": "已催办。", "ownership": "已包案。",
    "order-answer": "已答复督办单。",
}
