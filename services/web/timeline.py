"""A case's whole history (intake's ``GET /api/v1/cases/{id}/history``) as the console shows it:
one timeline on the case file, the printable page and its PDF, and the XLSX a leader hands on.
Each step says what, who, for which unit, when it happened and when it was recorded, which
service's chain holds it at which link, and whether a signed checkpoint covers that link."""
from __future__ import annotations

from datetime import datetime
from io import BytesIO

from services.web import labels
from services.web.console import beijing, cn_date

SERVICE_SHORT = {"intake": "登记", "routing": "交办", "supervision": "督办"}
COLUMNS = ("发生时间", "记录时间", "环节", "经办人", "单位", "说明", "记录服务", "链位置", "检查点", "补录")


def late_entry(mark: dict | None, staff: dict) -> str:
    """A step recorded late (补录): why, by whom, when it was entered; "" for a live one."""
    if not mark:
        return ""
    kind = "更正记录" if mark.get("correction") else "补录"
    return (f"{kind}：{mark.get('reason', '')}（{labels.actor(mark.get('entered_by'), staff)}"
            f"于{beijing(mark.get('recorded_at'))}录入）")


def detail(e: dict, names: dict) -> str:
    """What a step says beyond its kind: its decision, outcome, limit, reason and such (one line)."""
    d = e.get("data") or {}
    t = e["event_type"]
    bits: list[str] = []
    for key, table in (("channel", labels.CHANNELS), ("decision", labels.DECISIONS), ("procedure", labels.PROCEDURES),
                       ("outcome", labels.OUTCOMES), ("rating", labels.RATINGS)):
        if d.get(key):
            bits.append(labels.label(table, d[key]))
    if t.startswith("Deadline") and d.get("stage"):
        bits.append(labels.label(labels.STAGES, d["stage"]) + "期限")
    if t == "DeadlineSet" and d.get("due_at"):
        bits.append(f"{d.get('limit_days')}日，{cn_date(d['due_at'], end=True)}到期")
    if t == "DeadlineWarned" and d.get("level"):
        bits.append(labels.label(labels.LEVELS, d["level"]))
    if t == "DeadlineMet":
        bits.append("按期" if d.get("on_time") else "超期完成")
    if t == "CaseAssigned" and d.get("rule"):
        bits.append(labels.basis(d["rule"], names))
    if t == "ReviewRequested" and d.get("level"):
        bits.append(labels.label(labels.STAGES, d["level"]))
    if d.get("days"):
        bits.append(f"延长{d['days']}日")
    if t == "SupervisionOrderIssued":
        bits.append(f"{(d.get('requirement') or '')[:60]}；限{cn_date(d.get('reply_by'))}前答复")
    if t == "SupervisionOrderEscalated":
        above = names.get(d.get("escalated_to") or "")
        bits.append(f"逾期未答复，提交{above + '信访工作机构' if above else '上一级信访工作机构'}督办")
    for key in ("reason", "text", "note"):
        if d.get(key) and t != "CaseReplied":  # a reply's text is in its notice, not the timeline
            bits.append(str(d[key])[:60])
    if d.get("comment"):  # the petitioner's own words with their rating (满意度评价), whole: it is short
        bits.append(f"评价意见：{d['comment']}")
    return "，".join(bits)


def rows(history: dict, names: dict, staff: dict) -> list[dict]:
    """The steps of ``history`` in its order (the service's: time order), as the console shows them."""
    out = []
    for e in history.get("events", []):
        cp = e.get("checkpoint")
        seq = (e.get("position") or {}).get("seq")
        back = e.get("backdated")
        unit = e.get("unit_name") or names.get(e.get("unit_id") or "") or ""
        out.append({
            "at": e["occurred_at"], "recorded": e["recorded_at"], "what": e.get("label") or e["event_type"],
            "who": labels.actor(e.get("actor"), staff), "unit": unit, "detail": detail(e, names),
            "service": SERVICE_SHORT.get(e["service"], e["service"]),
            "link": f"{e['service']}#{seq}" if seq else "",
            "checkpoint": f"已签（至第{cp['size']}条，{beijing(cp['signed_at'])}）" if cp else "待签",
            "backdated": late_entry(back if isinstance(back, dict) else {}, staff) if back else "",
            "late": bool(back) or _recorded_late(e),
        })
    return out


def _recorded_late(e: dict) -> bool:
    """Recorded more than an hour after it happened: the timeline shows both times."""
    try:
        at = datetime.fromisoformat(str(e["occurred_at"]).replace("Z", "+00:00"))
        rec = datetime.fromisoformat(str(e["recorded_at"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return False
    return (rec - at).total_seconds() > 3600


def xlsx(title: str, steps: list[dict]) -> bytes:
    """The timeline as a workbook: a title row, the column names, one row per step (Beijing times)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = "办理过程"
    ws.append([title])
    ws["A1"].font = Font(bold=True, size=13)
    ws.append(list(COLUMNS))
    for c in ws[2]:
        c.font = Font(bold=True)
    for s in steps:
        ws.append([beijing(s["at"]), beijing(s["recorded"]), s["what"], s["who"], s["unit"], s["detail"],
                   s["service"], s["link"], s["checkpoint"], s["backdated"]])
    for col, width in zip("ABCDEFGHIJ", (17, 17, 14, 14, 22, 48, 8, 16, 30, 20), strict=True):
        ws.column_dimensions[col].width = width
    ws.freeze_panes = "A3"
    buf = BytesIO()
    wb.save(buf)
    return buf.getvalue()
