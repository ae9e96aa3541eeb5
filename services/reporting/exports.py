"""Exports a leader can hand on: one report (rates, counts, every breakdown) for a month, a quarter
or a year, as XLSX (one sheet per breakdown, Chinese headers, period and scope in the title) or CSV
(the same tables one after another, UTF-8 with BOM so spreadsheet programs read the Chinese)."""
from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime, timedelta

from services.reporting import rates, views
from xinfang import labels
from xinfang.bounds import in_range
from xinfang.errors import InvalidInput
from xinfang.reference.divisions import division as _division
from xinfang.storage import Database

COUNT_HEADERS = [("registered", "登记件数（批次）"), ("person_times", "人次"), ("visit_batches", "来访批次"),
                 ("visit_person_times", "来访人次"), ("online", "网上信访件数"), ("online_share", "网信占比"),
                 ("first_petition", "初信初访"), ("repeat", "重复信访"), ("skip_level", "越级信访"),
                 ("collective", "集体信访"), ("law_related", "涉法涉诉"), ("assigned", "已交办"), ("open", "未办结"),
                 ("overdue", "超期"), ("backlog", "积案")]
BREAKDOWN_ZH = {"channel": "按渠道", "category": "按问题类别", "purpose": "按信访目的", "division": "按区划",
                "township": "按乡镇", "unit": "按责任单位", "month": "按月份"}


def period(kind: str, value: str | None) -> tuple[date, date, str]:
    """(first day, last day, Chinese name) of ``month=YYYY-MM``, ``quarter=YYYY-Qn``, ``year=YYYY``."""
    patterns = {"monthly": (r"^(\d{4})-(0[1-9]|1[0-2])$", "month", "YYYY-MM"),
                "quarterly": (r"^(\d{4})-Q([1-4])$", "quarter", "YYYY-Qn"),
                "yearly": (r"^(\d{4})$", "year", "YYYY")}
    pattern, field, shape = patterns[kind]
    m = re.match(pattern, value or "")
    if not m:
        raise InvalidInput(f"{field}: expected {shape}", f"{field}：格式应为 {shape}", field=field)
    y = int(m.group(1))
    in_range(date(y, 1, 1) if y else date.min, field)  # year 0000 or 9999 would overflow the period's end
    if kind == "monthly":
        mo = int(m.group(2))
        first, months, name = date(y, mo, 1), 1, f"{y}年{mo}月"
    elif kind == "quarterly":
        q = int(m.group(2))
        first, months, name = date(y, 3 * q - 2, 1), 3, f"{y}年第{q}季度"
    else:
        first, months, name = date(y, 1, 1), 12, f"{y}年"
    nm = first.month - 1 + months
    last = date(first.year + nm // 12, nm % 12 + 1, 1) - timedelta(days=1)
    return first, last, name


def scope_name(sc: views.Scope) -> str:
    parts = []
    prefix = sc.division_prefix or sc.office_prefix
    if prefix:
        code = prefix.ljust(12, "0")
        d = _division(code)
        parts.append(d.name if d else code)
    if sc.unit_id:
        parts.append(views.unit_name(sc.unit_id) or sc.unit_id)
    return "·".join(parts) or "全部"


def build(db: Database, kind: str, value: str | None, sc: views.Scope, as_of: datetime) -> dict:
    first, last, name = period(kind, value)
    r = rates.rules()
    w = rates.period_of(first, last, as_of, r.timezone)
    # one statement, so every sheet is read from the same snapshot of the facts
    found = views.statistics(db, w, sc, ["rates", "summary", *(f"by_{by}" for by in views.BREAKDOWNS)], r=r)
    return {
        "title": f"{scope_name(sc)} {name}信访统计（数据截至 {as_of.astimezone(rates.ZoneInfo(r.timezone)):%Y-%m-%d %H:%M}）",
        "period": {"from": first.isoformat(), "to": last.isoformat(), "name": name},
        "rates": found["rates"],
        "summary": found["summary"],
        "breakdowns": {by: found[f"by_{by}"]["rows"] for by in views.BREAKDOWNS},
    }


# breakdowns whose keys are the system's own English codes: the sheet shows their Chinese names only
NAMED_ONLY = frozenset({"channel", "purpose"})
SHARE_COLUMNS = frozenset({"比率", "网信占比"})  # fractions: shown as percentages


def _tables(report: dict):
    """(sheet name, header, rows) of every table of the report; the last row of a breakdown is its total."""
    rate_rows = [[labels.RATES[k], report["rates"][k]["numerator"], report["rates"][k]["denominator"],
                  report["rates"][k]["rate"]] for k in rates.RATES]
    yield "五率", ["指标", "分子", "分母", "比率"], rate_rows
    s = report["summary"]
    # beside the rates: how many of the period's acts were recorded late (补录), docs/rates.md
    late = [["补录（倒签）办理环节", report["rates"]["backdated"]]] if "backdated" in report["rates"] else []
    yield "概况", ["项目", "数值"], [[zh, s[k]] for k, zh in COUNT_HEADERS] + late
    for by, rows in report["breakdowns"].items():
        lead = ["名称"] if by in NAMED_ONLY else ["代码", "名称"]
        header = lead + [zh for _, zh in COUNT_HEADERS]
        body = [([] if by in NAMED_ONLY else [row["key"]]) + [row["label"]] + [row[k] for k, _ in COUNT_HEADERS]
                for row in rows]
        total = ["合计"] + ([] if by in NAMED_ONLY else [""]) + [
            sum(row[k] or 0 for row in rows) if k != "online_share" else s["online_share"] for k, _ in COUNT_HEADERS]
        yield BREAKDOWN_ZH[by], header, body + [total]


def _display_width(value) -> int:
    """Columns as a spreadsheet measures them: a Chinese character is two wide."""
    text = "" if value is None else (f"{value:.1%}" if isinstance(value, float) else str(value))
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def xlsx(report: dict) -> bytes:
    """One sheet per table: the title and period above, a bold header row that stays in view
    (frozen, with filters), percentages as percentages, every column as wide as its content,
    the total row bold."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    wb.remove(wb.active)
    head_fill = PatternFill("solid", fgColor="DDE4EE")
    for name, header, rows in _tables(report):
        ws = wb.create_sheet(name)
        ws.append([report["title"]])
        ws["A1"].font = Font(bold=True, size=13)
        ws.append([f"统计期间 {report['period']['from']} 至 {report['period']['to']}"])
        ws.append(header)
        for cell in ws[3]:
            cell.font, cell.fill = Font(bold=True), head_fill
            cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        for row in rows:
            ws.append(row)
        has_total = bool(rows and rows[-1] and rows[-1][0] == "合计")
        if has_total:
            for cell in ws[ws.max_row]:
                cell.font = Font(bold=True)
        shares = [i for i, h in enumerate(header, start=1) if h in SHARE_COLUMNS]
        for r in ws.iter_rows(min_row=4, max_row=ws.max_row):
            for i in shares:
                r[i - 1].number_format = "0.0%"
        for i, h in enumerate(header, start=1):
            widest = max([_display_width(h), *(_display_width(row[i - 1]) for row in rows if len(row) >= i)])
            ws.column_dimensions[get_column_letter(i)].width = min(max(widest + 2, 8), 60)
        ws.freeze_panes = "A4"
        # sorting or filtering leaves the total row where it is, below the rows it sums
        ws.auto_filter.ref = f"A3:{get_column_letter(len(header))}{ws.max_row - (1 if has_total else 0)}"
        ws.print_title_rows = "3:3"
        ws.page_setup.orientation = "landscape"
        ws.sheet_properties.pageSetUpPr.fitToPage = True
        ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def csv_text(report: dict) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow([report["title"]])
    w.writerow([f"统计期间 {report['period']['from']} 至 {report['period']['to']}"])
    for name, header, rows in _tables(report):
        w.writerow([])
        w.writerow([name])
        w.writerow(header)
        w.writerows(rows)
    return "\ufeff" + buf.getvalue()
