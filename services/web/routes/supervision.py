"""督查督办: the supervisor's lists (warnings, overdue, backlog, supervision orders, alerts) and a
unit's answer to a supervision order (orders and reminders are issued from the case file,
services/web/routes/cases.py)."""
from __future__ import annotations

import asyncio
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from services.web import forms, labels
from services.web.client import ApiError, Unavailable, parts
from services.web.deps import RoleMe, Site, UserApi

router = APIRouter()
LISTS = {"warnings": "/api/v1/warnings", "overdue": "/api/v1/overdue", "backlog": "/api/v1/backlog",
         "orders": "/api/v1/supervision-orders", "alerts": "/api/v1/alerts"}


@router.get("/supervision", response_class=HTMLResponse)
async def supervision(request: Request, site: Site, a: UserApi, me: RoleMe, view: str = "warnings", unit_id: str = "",
                      division_code: str = "", level: str = "", status: str = "", page: int = 1,
                      done: str | None = None):
    page = max(1, page)
    page_size = site.cfg.page_size
    view = view if view in LISTS else "warnings"
    filters = {"unit_id": unit_id, "division_code": division_code}
    if view == "warnings":
        filters["level"] = level
    if view == "orders":
        filters = {"status": status}
    result, us, divs, nm = await parts(
        a.get("supervision", LISTS[view], **filters, limit=page_size, offset=(page - 1) * page_size),
        site.units(a, me), site.divisions(a, me), site.names(a, me))
    items = (result.data or {}).get("items", []) if result.ok else []
    # the clock lists carry their clock; an order or an alert names a case, whose clock supervision tells.
    # Every row names its case by intake's tracking code, and a backlog's leader by name
    async def no_clocks() -> dict:
        return {}
    deadlines, titles, (_, staff) = await asyncio.gather(
        site.deadlines(a, items) if view in ("orders", "alerts") else no_clocks(), site.case_titles(a, items),
        site.mentioned(a, [{"actor": it.get("owner_leader")} for it in items], {}))
    by_unit, by_town = {}, {}
    for it in items:
        if it.get("unit_id"):
            by_unit[it["unit_id"]] = by_unit.get(it["unit_id"], 0) + 1
        if it.get("division_code"):
            town = it["division_code"][:9] + "000"
            by_town[town] = by_town.get(town, 0) + 1
    query = urlencode({k: v for k, v in {"view": view, "unit_id": unit_id, "division_code": division_code,
                                         "level": level, "status": status}.items() if v})
    return site.render(request, "supervision.html", me=me, view=view, done=done, result=result,
                       unit_choices=us.data or [], townships=[d for d in divs.data or [] if d.get("level") == "township"],
                       names=nm.data or {}, by_unit=by_unit, by_town=by_town, page=page, query=query, deadlines=deadlines,
                       titles=titles, staff=staff,
                       f={"unit_id": unit_id, "division_code": division_code, "level": level, "status": status})


@router.post("/supervision/orders/{order_id}/answer", response_class=HTMLResponse)
async def answer_order(request: Request, site: Site, a: UserApi, me: RoleMe, order_id: str):
    form = await request.form()
    try:
        await a.post("supervision", f"/api/v1/supervision-orders/{quote(order_id, safe='')}/answer",
                     forms.drop_empty({"text": forms.text(form.get("text"))}))
    except Unavailable:
        return site.render(request, "unavailable.html", status=503, me=me, what=labels.SERVICES["supervision"])
    except ApiError as exc:
        return site.render(request, "not_found.html", status=exc.status, me=me, message=exc.summary_zh())
    return RedirectResponse("/supervision?view=orders&done=answer", status_code=303)
