"""Supervision's HTTP surface."""
from __future__ import annotations

import asyncio

from fastapi import APIRouter

from services.supervision import handlers


def router(runtime) -> APIRouter:
    r = APIRouter(prefix="/api/v1")

    @r.get("/cases/{case_id}/deadlines", tags=["deadlines"])
    async def get_deadlines(case_id: str):
        return await asyncio.to_thread(handlers.get_deadlines, runtime.db, case_id)

    return r
