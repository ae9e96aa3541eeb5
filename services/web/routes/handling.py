"""待办（含协办）: a handling unit's inbox, each case with the deadline it waits on and its level
(signing, acceptance, extension and the reply are actions on the case file,
services/web/routes/cases.py)."""
from __future__ import annotations

import asyncio
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
        return site.render(request, "inbox.html", me=me, result=Part(error="请选择单位"), deadlines={},
                           names=nm.data or {}, unit="", state=state, page=page, query="", unit_choices=us.data or [], staff={})
    result, nm = await parts(
        a.get("routing", f"/api/v1/units/{quote(unit, safe='')}/inbox", state=state, limit=page_size,
              offset=(page - 1) * page_size), site.names(a, me))
    # the page's clocks in one call to supervision (a co-handled case's clock is its lead unit's)
    items = [it for it in (result.data.get("items", []) if result.ok else []) if it.get("state") != "co_handling"]
    listed = result.data.get("items", []) if result.ok else []
    deadlines, (_, staff) = await asyncio.gather(site.deadlines(a, items), site.mentioned(
        a, [{"actor": it.get("owner_leader")} for it in listed], {}))  # 包案领导 by name
    return site.render(request, "inbox.html", me=me, result=result, deadlines=deadlines, names=nm.data or {},
                       unit=unit, state=state, page=page, unit_choices=[], staff=staff,
                       query=urlencode({k: v for k, v in {"state": state, "unit_id": unit_id}.items() if v}))
