"""Reporting's HTTP surface."""
from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends

from services.reporting import queries
from xinfang.security import Principal


def router(runtime) -> APIRouter:
    r = APIRouter(prefix="/api/v1")

    @r.get("/stats/summary", tags=["statistics"])
    async def stats_summary(me: Principal = Depends(runtime.current_user)):
        """Counts of the cases in the caller's scope."""
        return await asyncio.to_thread(queries.summary, runtime.db, me)

    return r
