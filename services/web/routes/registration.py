"""登记: the clerk registers a petition and is shown its receipt."""
from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from services.web import forms
from services.web.client import Api, ApiError, part, parts
from services.web.console import BEIJING, Console
from services.web.deps import Me, Site, UserApi

router = APIRouter()


async def registration_page(site: Console, request: Request, a: Api, me: dict, *, values, errors, status=200):
    cats, divs = await parts(site.categories(a), site.divisions(a, me))
    return site.render(request, "register.html", status=status, me=me, cats=cats, divs=divs, values=values,
                       errors=errors, reps=forms.MAX_REPRESENTATIVES)


@router.get("/register", response_class=HTMLResponse)
async def register_form(request: Request, site: Site, a: UserApi, me: Me):
    now = datetime.now(BEIJING).strftime("%Y-%m-%dT%H:%M")
    return await registration_page(site, request, a, me, errors={},
                                   values={"channel": "visit", "received_at": now, "headcount": "1",
                                           "purpose": "appeal"})


@router.post("/register", response_class=HTMLResponse)
async def register(request: Request, site: Site, a: UserApi, me: Me):
    values = dict(await request.form())
    try:
        result = await a.post("intake", "/api/v1/petitions", forms.petition(values))
    except ApiError as exc:
        errors = exc.field_messages()
        errors["_"] = exc.summary_zh()
        return await registration_page(site, request, a, me, values=values, errors=errors, status=exc.status)
    nm = await part(site.names(a, me))
    return site.render(request, "registered.html", me=me, r=result, names=nm.data or {})
