"""待办（含协办）: a handling unit's inbox, each case marked with its deadline warning or overdue
(signing, acceptance, extension and the reply are actions on the case file,
services/web/routes/cases.py)."""
from __future__ import annotations

from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from services.web.client import Part, parts
from services.web.deps import RoleMe, Site, UserApi

router = APIRouter()


@router.get("/inbox", response_class=HTMLResponse)
async def inbox(request: Request, site: Site, a: UserApi, me: RoleMe, state: str = "", unit_id: str = "", page: int = 1):
    page = max(1, page)
    page_size = site.cfg.page_size
    unit = unit_id or me.get("unit_id") or ""
    if not unit:  # an administrator picks the unit whose inbox to read
        us, nm = await parts(site.units(a, me), site.names(a, me))
        return site.render(request, "inbox.html", me=me, result=Part(error="请选择单位"), levels={},
                           names=nm.data or {}, unit="", state=state, page=page, query="", unit_choices=us.data or [])
    result, warnings, overdue, nm = await parts(
        a.get("routing", f"/api/v1/units/{quote(unit, safe='')}/inbox", state=state, limit=page_size,
              offset=(page - 1) * page_size),
        a.get("supervision", "/api/v1/warnings", unit_id=unit, limit=500),
        a.get("supervision", "/api/v1/overdue", unit_id=unit, limit=500), site.names(a, me))
    levels = {}
    for p in (warnings, overdue):
        for w in (p.data or {}).get("items", []) if p.ok else []:
            levels.setdefault(w["case_id"], w.get("level") or "overdue")
    return site.render(request, "inbox.html", me=me, result=result, levels=levels, names=nm.data or {},
                       unit=unit, state=state, page=page, unit_choices=[],
                       query=urlencode({k: v for k, v in {"state": state, "unit_id": unit_id}.items() if v}))
