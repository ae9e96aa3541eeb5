"""Supervision's HTTP surface (shapes: docs/interfaces.md, supervision)."""
from __future__ import annotations

import asyncio
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from services.supervision import handlers, views
from services.supervision.handlers import AnswerSupervisionOrder, IssueSupervisionOrder, SendReminder
from xinfang.bounds import MAX_OFFSET, Day
from xinfang.security import Principal
from xinfang.web import answered_once, idempotency_key_header, idempotency_of


class OrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    requirement: str = Field(min_length=1, max_length=4000, description="what the unit must do (督办要求)")
    reply_by: Day = Field(description="the date the unit must answer by (China time)")


class AnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=8000)


class ReminderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=4000)


MAX_CASE_IDS = 100  # one page of a list of the console, named at once
Level = Literal["notice", "warning", "serious_warning"]


def router(runtime) -> APIRouter:
    r = APIRouter(prefix="/api/v1")
    db, ctx = runtime.db, runtime.ctx

    @r.get("/cases/{case_id}/deadlines", tags=["deadlines"])
    async def get_deadlines(case_id: str, me: Principal = Depends(runtime.current_user)):
        """The legal clock of each stage of a case: due, share used, level, status."""
        return await asyncio.to_thread(views.get_deadlines, db, me, case_id, ctx.rules, calendar=ctx.calendar)

    @r.get("/deadlines", tags=["deadlines"])
    async def current_deadlines(case_id: list[str] = Query(default=[], max_length=MAX_CASE_IDS,
                                                           description="the cases (repeat the parameter)"),
                                me: Principal = Depends(runtime.current_user)):
        """For a page of a list: each case's clock that runs now (stage, due, level); a case with
        none, or outside the caller's scope, is left out."""
        return await asyncio.to_thread(views.current_deadlines, db, me, case_id, ctx.rules)

    @r.get("/warnings", tags=["deadlines"])
    async def warnings(unit_id: str | None = None, division_code: str | None = None, level: Level | None = None,
                       limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0, le=MAX_OFFSET),
                       me: Principal = Depends(runtime.current_user)):
        """Running clocks past a warning share (预警 / 警告 / 严重警告), soonest due first."""
        return await asyncio.to_thread(views.list_warnings, db, me, unit_id=unit_id, division_code=division_code,
                                       level=level, limit=limit, offset=offset)

    @r.get("/overdue", tags=["deadlines"])
    async def overdue(unit_id: str | None = None, division_code: str | None = None,
                      limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0, le=MAX_OFFSET),
                      me: Principal = Depends(runtime.current_user)):
        """Running clocks past their due instant (超期)."""
        return await asyncio.to_thread(views.list_overdue, db, me, unit_id=unit_id, division_code=division_code,
                                       limit=limit, offset=offset)

    @r.get("/backlog", tags=["deadlines"])
    async def backlog(unit_id: str | None = None, division_code: str | None = None,
                      owner_leader: str | None = Query(None, description="only the cases this leader owns (包案)"),
                      limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0, le=MAX_OFFSET),
                      me: Principal = Depends(runtime.current_user)):
        """积案 ledger: cases whose reply is more than XINFANG_BACKLOG_AFTER_DAYS (30) days past the
        handling deadline, oldest first, with the leader who owns each (包案)."""
        return await asyncio.to_thread(views.list_backlog, db, me, unit_id=unit_id, division_code=division_code,
                                       owner_leader=owner_leader, limit=limit, offset=offset,
                                       after_days=ctx.rules.backlog_after_days)

    @r.post("/cases/{case_id}/supervision-orders", status_code=201, tags=["supervision orders"])
    async def issue_order(case_id: str, body: OrderIn, request: Request, response: Response,
                          me: Principal = Depends(runtime.current_user),
                          idempotency_key: str | None = idempotency_key_header()):
        """督办单: a supervisor requires the unit to act and answer by a date; unanswered, it escalates."""
        cmd = IssueSupervisionOrder(case_id, body.requirement, body.reply_by)
        once = idempotency_of(idempotency_key, request, body)
        return answered_once(await asyncio.to_thread(handlers.issue_order, db, me, cmd, idempotency=once), response)

    @r.get("/supervision-orders", tags=["supervision orders"])
    async def list_orders(status: Literal["open", "answered", "escalated"] | None = None, case_id: str | None = None,
                          limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0, le=MAX_OFFSET),
                          me: Principal = Depends(runtime.current_user)):
        return await asyncio.to_thread(views.list_orders, db, me, status=status, case_id=case_id, limit=limit,
                                       offset=offset)

    @r.post("/supervision-orders/{order_id}/answer", tags=["supervision orders"])
    async def answer_order(order_id: str, body: AnswerIn, me: Principal = Depends(runtime.current_user)):
        """The handling unit's answer to a supervision order."""
        return await asyncio.to_thread(handlers.answer_order, db, me, AnswerSupervisionOrder(order_id, body.text))

    @r.post("/cases/{case_id}/reminders", status_code=201, tags=["supervision orders"])
    async def remind(case_id: str, body: ReminderIn, request: Request, response: Response,
                     me: Principal = Depends(runtime.current_user),
                     idempotency_key: str | None = idempotency_key_header()):
        """催办: chase the unit; recorded as an event."""
        once = idempotency_of(idempotency_key, request, body)
        out = await asyncio.to_thread(handlers.send_reminder, db, me, SendReminder(case_id, body.text), idempotency=once)
        return answered_once(out, response)

    @r.get("/cases/{case_id}/reminders", tags=["supervision orders"])
    async def list_reminders(case_id: str, me: Principal = Depends(runtime.current_user)):
        """The reminders (催办) of a case, newest first: text, unit, who and when."""
        return await asyncio.to_thread(views.list_reminders, db, me, case_id)

    @r.get("/alerts", tags=["alerts"])
    async def list_alerts(limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0, le=MAX_OFFSET),
                          me: Principal = Depends(runtime.current_user)):
        """Collective-visit alerts (集体访预警) in the caller's scope, newest first."""
        return await asyncio.to_thread(views.list_alerts, db, me, limit=limit, offset=offset)

    return r
