"""交办: the dispatcher's queue of cases to assign to a unit (the assignment itself is an action on
the case file, services/web/routes/cases.py)."""
from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from services.web.client import parts
from services.web.deps import RoleMe, Site, UserApi

router = APIRouter()


@router.get("/queue", response_class=HTMLResponse)
async def queue(request: Request, site: Site, a: UserApi, me: RoleMe, state: str = "", page: int = 1,
                done: str | None = None):
    page = max(1, page)
    page_size = site.cfg.page_size
    result, us, nm = await parts(a.get("routing", "/api/v1/queue", state=state, limit=page_size,
                                       offset=(page - 1) * page_size), site.units(a, me), site.names(a, me))
    deadlines: dict = {}
    if result.ok:  # the queue names cases; the page shows what they are about, and their clocks
        items = result.data.get("items", [])
        due, *files = await parts(site.deadlines(a, items),
                                  *(a.get("intake", f"/api/v1/cases/{it['case_id']}") for it in items
                                    if not it.get("summary")))
        deadlines = due.data or {}
        about = {f.data["case_id"]: f.data for f in files if f.ok}
        for it in items:
            c = about.get(it["case_id"]) or {}
            for k in ("summary", "division_code", "category_code", "tracking_code"):
                it.setdefault(k, c.get(k))
    return site.render(request, "queue.html", me=me, result=result, unit_choices=us.data or [], names=nm.data or {},
                       deadlines=deadlines,
                       state=state, page=page, done=done, query=urlencode({"state": state} if state else {}))
