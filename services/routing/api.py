"""Routing's HTTP surface: assignments, the organisation, sign-in."""
from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from services.routing import handlers, organisation
from xinfang.auth import RateLimiter, Unauthenticated, client_key
from xinfang.security import Principal


class SignInRequest(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=200)


class DivisionIn(BaseModel):
    code: str = Field(pattern=r"^\d{12}$")
    name: str = Field(min_length=1, max_length=100)
    level: Literal["province", "city", "county", "township", "village"]
    parent: str | None = Field(default=None, pattern=r"^\d{12}$")


class UnitIn(BaseModel):
    unit_id: str = Field(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z_-]+$")
    name: str = Field(min_length=1, max_length=100)
    kind: Literal["petition_office", "department", "township_government", "joint_conference_office"]
    division_code: str = Field(pattern=r"^\d{12}$")


def router(runtime, issuer) -> APIRouter:
    r = APIRouter(prefix="/api/v1")
    user = Depends(runtime.current_user)
    sign_in_limit = RateLimiter(limit=10, window_s=60)

    @r.post("/auth/sign-in", tags=["identity"])
    async def sign_in(body: SignInRequest, request: Request):
        """Sign in with user name and password; answers a bearer token every service accepts."""
        sign_in_limit.hit(f"{client_key(request)}:{body.username}")
        p = await asyncio.to_thread(organisation.authenticate, runtime.db, body.username, body.password)
        if p is None:
            raise Unauthenticated("wrong user name or password", "用户名或密码错误")
        token, exp = issuer.issue(p)
        return {"access_token": token, "token_type": "bearer",
                "expires_at": datetime.fromtimestamp(exp, timezone.utc), "user": p.me()}

    @r.get("/cases/{case_id}/assignment", tags=["assignment"])
    async def get_assignment(case_id: str, me: Principal = user):
        return await asyncio.to_thread(handlers.get_assignment, runtime.db, me, case_id)

    @r.get("/divisions", tags=["organisation"])
    async def list_divisions(me: Principal = user):
        """Divisions in the caller's jurisdiction (12-digit code, name, level, parent)."""
        return await asyncio.to_thread(organisation.list_divisions, runtime.db, me)

    @r.post("/divisions", status_code=201, tags=["organisation"])
    async def add_division(body: DivisionIn, me: Principal = user):
        return await asyncio.to_thread(organisation.add_division, runtime.db, me, body.code, body.name,
                                       body.level, body.parent)

    @r.get("/units", tags=["organisation"])
    async def list_units(me: Principal = user):
        return await asyncio.to_thread(organisation.list_units, runtime.db, me)

    @r.post("/units", status_code=201, tags=["organisation"])
    async def add_unit(body: UnitIn, me: Principal = user):
        return await asyncio.to_thread(organisation.add_unit, runtime.db, me, body.unit_id, body.name,
                                       body.kind, body.division_code)

    return r
