"""Reporting's HTTP surface."""
from __future__ import annotations

import asyncio

from fastapi import APIRouter

from services.reporting import queries


def router(runtime) -> APIRouter:
    r = APIRouter(prefix="/api/v1")

    @r.get("/stats/summary", tags=["statistics"])
    async def stats_summary():
        return await asyncio.to_thread(queries.summary, runtime.db)

    return r
