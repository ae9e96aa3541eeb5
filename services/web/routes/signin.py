"""Signing in and out, and the home page that sends each role to its own first page."""
from __future__ import annotations

import time
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from services.web.client import ApiError, SignedOut
from services.web.console import COOKIE, HOME, safe_next
from services.web.deps import AnonymousApi, Me, Site

router = APIRouter()


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, site: Site, next: str = "/"):
    return site.render(request, "login.html", me=None, next=safe_next(next), errors={}, values={})


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, site: Site, a: AnonymousApi):
    form = dict(await request.form())
    values = {"username": form.get("username", "")}
    nxt = safe_next(form.get("next"))
    try:
        r = await a.post("routing", "/api/v1/auth/sign-in",
                         {"username": form.get("username", ""), "password": form.get("password", "")})
    except SignedOut:
        return site.render(request, "login.html", status=401, me=None, next=nxt, values=values,
                           errors={"_": "用户名或密码错误"})
    except ApiError as exc:
        return site.render(request, "login.html", status=exc.status, me=None, next=nxt, values=values,
                           errors={**exc.field_messages(), "_": exc.summary_zh()})
    user = r.get("user") or {}
    resp = RedirectResponse(nxt if nxt != "/" else HOME.get(user.get("role"), "/cases"), status_code=303)
    try:
        max_age = int(datetime.fromisoformat(r["expires_at"].replace("Z", "+00:00")).timestamp() - time.time())
    except (KeyError, ValueError, AttributeError):
        max_age = None
    resp.set_cookie(COOKIE, r["access_token"], max_age=max_age, httponly=True, samesite="strict",
                    secure=site.cfg.secure_cookie, path="/")
    return resp


@router.post("/logout")
async def logout():
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(COOKIE, path="/")
    return resp


@router.get("/")
async def home(me: Me):
    return RedirectResponse(HOME.get(me["role"], "/cases"), status_code=303)
