"""统计分析: the leader's dashboard (rates, ranking, breakdowns, first petitions year on year, the
leader's own cases 包案) and the monthly, quarterly and yearly exports."""
from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.web import forms
from services.web.client import ApiError, Part, parts
from services.web.console import BEIJING
from services.web.deps import RoleMe, Site, UserApi

router = APIRouter()
EXPORTS = ("monthly.xlsx", "monthly.csv", "quarterly.xlsx", "yearly.xlsx")


@router.get("/dashboard", response_class=HTMLResponse)
async def dashboard(request: Request, site: Site, a: UserApi, me: RoleMe, date_from: str = "", date_to: str = "",
                    as_of: str = "", unit_id: str = "", division_code: str = ""):
    today = datetime.now(BEIJING).date()
    if not request.query_params:
        # opened as such: the assessment year to date. All time is a choice (a five-year county
        # folds five times the cases: 1 s and more at 100,000 cases on SQLite)
        date_from = f"{today.year}-01-01"
    q = {"from": date_from, "to": date_to, "as_of": forms.instant(as_of), "unit_id": unit_id,
         "division_code": division_code}
    # one request: reporting folds the cases once for all the sections (six requests had
    # folded them six times: 15 s at 100,000 cases)
    leader = me["role"] == "leader"

    async def nothing():
        return None
    # a leader's own cases (包案) from routing, and which of them are backlog from supervision,
    # each asked by owner: the first page of the whole backlog had hidden them at scale
    stats, owned, backlog, us, divs = await parts(
        a.get("reporting", "/api/v1/stats/dashboard", rate="on_time_reply", **q),
        a.get("routing", "/api/v1/owned-cases", limit=50) if leader else nothing(),
        a.get("supervision", "/api/v1/backlog", owner_leader=me["username"], limit=500) if leader else nothing(),
        site.units(a, me), site.divisions(a, me))
    rates, summary, ranking, months, cats, towns = (
        Part(stats.data[k] if k in stats.data else stats.data["breakdowns"][k]) if stats.ok else stats
        for k in ("rates", "summary", "ranking", "month", "category", "township"))
    yoy = stats.data.get("year_on_year") if stats.ok else None
    titles = await site.case_titles(a, owned.data["items"]) if leader and owned.ok else {}
    overdue_days = {}
    for b in (backlog.data or {}).get("items", []) if backlog.ok else []:
        overdue_days[b["case_id"]] = max(overdue_days.get(b["case_id"], 0), b["days_overdue"])
    month = today.strftime("%Y-%m")
    keep = {"as_of": as_of, "unit_id": unit_id, "division_code": division_code}
    quarter_start = today.replace(month=(today.month - 1) // 3 * 3 + 1, day=1)
    periods = [(name, "/dashboard?" + urlencode({"date_from": frm, "date_to": to, **keep}), (frm, to) == (date_from, date_to))
               for name, frm, to in (("本月", f"{month}-01", ""), ("本季度", quarter_start.isoformat(), ""),
                                     ("本年度", f"{today.year}-01-01", ""),
                                     ("上年度", f"{today.year - 1}-01-01", f"{today.year - 1}-12-31"),
                                     ("全部时间", "", ""))]
    return site.render(request, "dashboard.html", me=me, rates=rates, summary=summary, months=months, cats=cats,
                       towns=towns, ranking=ranking, owned=owned, backlog=backlog, overdue_days=overdue_days, titles=titles,
                       unit_names={u["unit_id"]: u["name"] for u in us.data or []}, unit_choices=us.data or [],
                       yoy=yoy, periods=periods,
                       townships=[d for d in divs.data or [] if d.get("level") == "township"],
                       f={"date_from": date_from, "date_to": date_to, "as_of": as_of, "unit_id": unit_id,
                          "division_code": division_code}, month=month, year=month[:4],
                       quarter=f"{month[:4]}-Q{(int(month[5:]) - 1) // 3 + 1}")


@router.get("/export/{name}")
async def export(request: Request, site: Site, a: UserApi, me: RoleMe, name: str):
    if name not in EXPORTS:
        return site.render(request, "not_found.html", status=404, me=me, message="没有这种报表")
    try:
        r = await a.request("GET", "reporting", f"/api/v1/exports/{name}", params=dict(request.query_params))
    except ApiError as exc:
        return site.render(request, "not_found.html", status=exc.status, me=me, message=exc.message_zh)
    keep = {k: v for k, v in r.headers.items() if k.lower() in ("content-type", "content-disposition")}
    return Response(r.content, headers=keep)
