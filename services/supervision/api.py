"""Supervision's HTTP surface."""
from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends

from services.supervision import handlers
from xinfang.security import Principal


def router(runtime) -> APIRouter:
    r = APIRouter(prefix="/api/v1")

    @r.get("/cases/{case_id}/deadlines", tags=["deadlines"])
    async def get_deadlines(case_id: str, me: Principal = Depends(runtime.current_user)):
        """The legal clock of each stage of a case: a list of {stage, due_at, …}."""
        return await asyncio.to_thread(handlers.get_deadlines, runtime.db, me, case_id)

    return r
