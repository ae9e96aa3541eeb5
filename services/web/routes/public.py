"""Pages without signing in: the console's health, and tracking by the petitioner's code with
their rating of the reply."""
from __future__ import annotations

from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from services.web import forms
from services.web.client import ApiError, SignedOut
from services.web.deps import AnonymousApi, Site, VisitorApi

router = APIRouter()


@router.get("/health")
async def health(site: Site):
    return JSONResponse({"status": "ok", "service": "web", "services": site.cfg.urls})


@router.get("/livez")
async def livez():
    """The console's process answers."""
    return {"status": "ok", "service": "web"}


@router.get("/readyz")
async def readyz(site: Site):
    """The console holds no database and no broker: it is ready once it serves. The services it
    calls have their own /readyz (a console that went unready with them would only add a page
    saying so to every outage)."""
    return JSONResponse({"status": "ready", "service": "web", "failing": [], "services": site.cfg.urls})


@router.get("/track", response_class=HTMLResponse)
async def track(request: Request, site: Site, a: VisitorApi, code: str = "", done: str | None = None):
    result = None
    error = None
    if code.strip():
        try:
            result = await a.get("intake", f"/api/v1/track/{quote(code.strip(), safe='')}")
        except ApiError as exc:
            error = exc.message_zh
        except SignedOut:
            error = "查询失败"
    return site.render(request, "track.html", me=None, code=code.strip(), result=result, error=error, done=done)


@router.post("/track", response_class=HTMLResponse)
async def evaluate(request: Request, site: Site, a: AnonymousApi):
    form = await request.form()
    code = (form.get("code") or "").strip()
    # the comment goes to intake as typed (it judges its length) and is never logged here
    values = {"rating": forms.text(form.get("rating")), "comment": forms.text(form.get("comment"))}
    try:
        await a.post("intake", f"/api/v1/track/{quote(code, safe='')}/evaluation", forms.drop_empty(values))
    except ApiError as exc:
        result = None
        try:
            result = await a.get("intake", f"/api/v1/track/{quote(code, safe='')}")
        except (ApiError, SignedOut):
            pass
        return site.render(request, "track.html", status=exc.status, me=None, code=code, result=result,
                           error=None, eval_errors={**exc.field_messages(), "_": exc.summary_zh()}, done=None,
                           values=values)
    return RedirectResponse(f"/track?{urlencode({'code': code, 'done': 'evaluation'})}", status_code=303)
