"""登记: the clerk registers a petition and is shown its receipt."""
from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from services.web import forms
from services.web.client import Api, ApiError, parts
from services.web.console import BEIJING, Console
from services.web.deps import RoleMe, Site, UserApi

router = APIRouter()


async def registration_page(site: Console, request: Request, a: Api, me: dict, *, values, errors, status=200):
    cats, divs = await parts(site.categories(a), site.divisions(a, me))
    return site.render(request, "register.html", status=status, me=me, cats=cats, divs=divs, values=values,
                       errors=errors, reps=forms.MAX_REPRESENTATIVES)


@router.get("/register", response_class=HTMLResponse)
async def register_form(request: Request, site: Site, a: UserApi, me: RoleMe):
    now = datetime.now(BEIJING).strftime("%Y-%m-%dT%H:%M")
    return await registration_page(site, request, a, me, errors={},
                                   values={"channel": "visit", "received_at": now, "headcount": "1",
                                           "purpose": "appeal"})


@router.post("/register", response_class=HTMLResponse)
async def register(request: Request, site: Site, a: UserApi, me: RoleMe):
    values = dict(await request.form())
    # the form's key goes with every send of it (kept when the form comes back with errors)
    key = str(values.get("idempotency_key") or "") or None
    try:
        result = await a.post("intake", "/api/v1/petitions", forms.petition(values),
                              headers={"Idempotency-Key": key} if key else None)
    except ApiError as exc:
        errors = exc.field_messages()
        errors["_"] = exc.summary_zh()
        if errors.pop("Idempotency-Key", None):
            # this form was registered already and then changed (the browser's back button): a
            # changed form is a new petition, so it gets a key of its own for the next send
            values["idempotency_key"] = ""  # the template makes a fresh one
            errors["_"] = ("此表单已登记过一次，内容已被修改。如确为另一件信访事项，请核对后再次提交；"
                           "如只是重复提交，请到案件列表查看已登记的事项。")
        return await registration_page(site, request, a, me, values=values, errors=errors, status=exc.status)
    # post/redirect/get: the success page is a page of its own, so a refresh shows it again and
    # sends nothing
    return RedirectResponse(f"/cases/{quote(result['case_id'], safe='')}/registered", status_code=303)
