"""Routing's HTTP surface: assignments, the organisation, sign-in."""
from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from services.routing import handlers, staff, views
from xinfang.auth import RateLimiter, Unauthenticated, client_key
from xinfang.bounds import MAX_OFFSET, Instant
from xinfang.business_time import MAX_REASON_CHARS
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


class RuleIn(BaseModel):
    division_prefix: str = Field(pattern=r"^\d{6}(\d{3}){0,2}$", description="6, 9 or 12 digits: county, township, village")
    category_prefix: str = Field(default="", pattern=r"^(\d{2}|\d{4})?$", description="empty (any), 2 or 4 digits")
    unit_id: str = Field(min_length=1, max_length=64)
    note: str | None = Field(default=None, max_length=500)


class PreviewIn(BaseModel):
    division_code: str = Field(pattern=r"^\d{12}$")
    category_code: str = Field(pattern=r"^\d{4}$")


class Dated(BaseModel):
    """A case act's business time (``xinfang.business_time``)."""

    occurred_at: Instant | None = Field(default=None, description="when it happened, if not now: a late record "
                                              "(补录), with backdate_reason, at most XINFANG_BACKDATE_DAYS back "
                                              "(further by an administrator); never before the previous step")
    backdate_reason: str | None = Field(default=None, max_length=MAX_REASON_CHARS,
                                        description="why it is recorded later than it happened (补录理由); "
                                                    "required when occurred_at lies before now")


class AssignmentIn(Dated):
    unit_id: str = Field(min_length=1, max_length=64)
    reason: str = Field(min_length=1, max_length=2000)
    mode: Literal["assign", "forward"] = "assign"
    co_unit_ids: list[str] = Field(default_factory=list, max_length=20)


class SignIn(Dated):
    pass


class ObjectionIn(Dated):
    reason: str = Field(min_length=1, max_length=2000)


class OwnershipIn(BaseModel):
    leader: str = Field(min_length=1, max_length=64)
    note: str | None = Field(default=None, max_length=500)


def router(runtime, issuer) -> APIRouter:
    r = APIRouter(prefix="/api/v1")
    user = Depends(runtime.current_user)
    sign_in_limit = RateLimiter(limit=10, window_s=60)

    @r.post("/auth/sign-in", tags=["identity"])
    async def sign_in(body: SignInRequest, request: Request):
        """Sign in with user name and password; answers a bearer token every service accepts."""
        sign_in_limit.hit(f"{client_key(request)}:{body.username}")
        p = await asyncio.to_thread(staff.authenticate, runtime.db, body.username, body.password)
        if p is None:
            raise Unauthenticated("wrong user name or password", "用户名或密码错误")
        token, exp = issuer.issue(p)
        return {"access_token": token, "token_type": "bearer",
                "expires_at": datetime.fromtimestamp(exp, UTC), "user": p.me()}

    @r.get("/cases/{case_id}/assignment", tags=["assignment"])
    async def get_assignment(case_id: str, me: Principal = user):
        """The unit handling the case, co-handling units, state, who or which rule chose it, the
        leader who owns it, and the history."""
        return await asyncio.to_thread(views.get_assignment, runtime.db, me, case_id)

    @r.post("/cases/{case_id}/assignment", tags=["assignment"])
    async def assign(case_id: str, body: AssignmentIn, me: Principal = user):
        """Assign (交办), forward (转送) or reassign (改派) by hand (dispatcher, admin). Units in more
        than one division or department go to the joint-conference office (三跨三分离)."""
        cmd = handlers.AssignCase(case_id, body.unit_id, body.reason, body.mode, tuple(body.co_unit_ids),
                                  body.occurred_at, body.backdate_reason)
        return await asyncio.to_thread(handlers.assign, runtime.db, me, cmd)

    @r.post("/cases/{case_id}/sign", tags=["assignment"])
    async def sign(case_id: str, body: SignIn, me: Principal = user):
        """签收: the assigned unit takes the case, once."""
        cmd = handlers.SignForCase(case_id, body.occurred_at, body.backdate_reason)
        return await asyncio.to_thread(handlers.sign, runtime.db, me, cmd)

    @r.post("/cases/{case_id}/objection", tags=["assignment"])
    async def objection(case_id: str, body: ObjectionIn, me: Principal = user):
        """异议: the assigned unit says the case is not its remit, within 5 working days
        (409 with rule ``objection_window`` after); the case returns to the dispatcher."""
        cmd = handlers.ObjectToAssignment(case_id, body.reason, body.occurred_at, body.backdate_reason)
        return await asyncio.to_thread(handlers.object_to, runtime.db, me, cmd)

    @r.post("/cases/{case_id}/ownership", tags=["assignment"])
    async def ownership(case_id: str, body: OwnershipIn, me: Principal = user):
        """包案: a leader takes personal charge of the case."""
        cmd = handlers.TakeOwnership(case_id, body.leader, body.note)
        return await asyncio.to_thread(handlers.take_ownership, runtime.db, me, cmd)

    @r.get("/units/{unit_id}/inbox", tags=["assignment"])
    async def unit_inbox(unit_id: str, me: Principal = user,
                         state: Literal["to_sign", "to_accept", "in_hand", "objected", "co_handling"] | None = None,
                         limit: int = Query(default=50, ge=1, le=500), offset: int = Query(default=0, ge=0, le=MAX_OFFSET)):
        """A unit's cases: to sign, to accept, in hand, objected; with counts; and apart, ``co_handling``:
        the open cases it helps with (协办), each with its lead unit."""
        return await asyncio.to_thread(views.inbox, runtime.db, me, unit_id, state, limit, offset)

    @r.get("/owned-cases", tags=["assignment"])
    async def owned_cases(me: Principal = user, leader: str | None = Query(None, description="whose (a leader: themself)"),
                          limit: int = Query(default=50, ge=1, le=500), offset: int = Query(default=0, ge=0, le=MAX_OFFSET)):
        """包案: the cases a leader has taken charge of, open ones first, with counts."""
        return await asyncio.to_thread(views.owned_cases, runtime.db, me, leader, limit, offset)

    @r.get("/queue", tags=["assignment"])
    async def dispatcher_queue(me: Principal = user, state: Literal["unassigned", "returned", "review"] | None = None,
                               limit: int = Query(default=50, ge=1, le=500), offset: int = Query(default=0, ge=0, le=MAX_OFFSET)):
        """The dispatcher's queue by kind: new cases no rule routes, cases their unit returned,
        reviews arriving at a petition office of the caller's; each with a suggested unit."""
        return await asyncio.to_thread(views.queue, runtime.db, me, state, limit, offset)

    @r.get("/rules", tags=["rules"])
    async def list_rules(me: Principal = user, include_retired: bool = False):
        """Routing rules that concern the caller's jurisdiction."""
        return await asyncio.to_thread(views.list_rules, runtime.db, me, include_retired)

    @r.post("/rules", status_code=201, tags=["rules"])
    async def add_rule(body: RuleIn, me: Principal = user):
        """A new routing rule (admin). The longest matching division prefix wins, then the longest
        category prefix; no rule: the petition office of the division or its nearest ancestor."""
        cmd = handlers.AddRule(body.division_prefix, body.category_prefix, body.unit_id, body.note)
        return await asyncio.to_thread(handlers.add_rule, runtime.db, me, cmd)

    @r.delete("/rules/{rule_id}", tags=["rules"])
    async def retire_rule(rule_id: str, me: Principal = user):
        """Retire a rule (admin). Cases already assigned keep their unit."""
        return await asyncio.to_thread(handlers.retire_rule, runtime.db, me, handlers.RetireRule(rule_id))

    @r.post("/rules/preview", tags=["rules"])
    async def preview(body: PreviewIn, me: Principal = user):
        """Which unit a case of this division and category would get now, and by which rule."""
        return await asyncio.to_thread(views.preview, runtime.db, me, body.division_code, body.category_code)

    @r.get("/divisions", tags=["organisation"])
    async def list_divisions(me: Principal = user):
        """Divisions in the caller's jurisdiction (12-digit code, name, level, parent)."""
        return await asyncio.to_thread(views.list_divisions, runtime.db, me)

    @r.post("/divisions", status_code=201, tags=["organisation"])
    async def add_division(body: DivisionIn, me: Principal = user):
        cmd = handlers.AddDivision(body.code, body.name, body.level, body.parent)
        return await asyncio.to_thread(handlers.add_division, runtime.db, me, cmd)

    @r.get("/units", tags=["organisation"])
    async def list_units(me: Principal = user):
        return await asyncio.to_thread(views.list_units, runtime.db, me)

    @r.get("/names", tags=["organisation"])
    async def names(unit_id: list[str] = Query(default=[], max_length=100, description="units (repeat the parameter)"),
                    username: list[str] = Query(default=[], max_length=100, description="staff (repeat the parameter)"),
                    me: Principal = user):
        """The names of units and staff a case's history mentions, within the caller's jurisdiction
        and the levels above it: ``{"units": {unit_id: name}, "staff": {username: display name}}``."""
        return await asyncio.to_thread(views.names, runtime.db, me, unit_id, username)

    @r.post("/units", status_code=201, tags=["organisation"])
    async def add_unit(body: UnitIn, me: Principal = user):
        cmd = handlers.AddUnit(body.unit_id, body.name, body.kind, body.division_code)
        return await asyncio.to_thread(handlers.add_unit, runtime.db, me, cmd)

    return r
