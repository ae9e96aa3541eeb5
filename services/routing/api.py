"""Routing's HTTP surface."""
from __future__ import annotations

import asyncio

from fastapi import APIRouter

from services.routing import handlers
from xinfang.reference import divisions, units


def router(runtime) -> APIRouter:
    r = APIRouter(prefix="/api/v1")

    @r.get("/cases/{case_id}/assignment", tags=["assignment"])
    async def get_assignment(case_id: str):
        return await asyncio.to_thread(handlers.get_assignment, runtime.db, case_id)

    @r.get("/divisions", tags=["reference"])
    async def list_divisions():
        return [d.dict() for d in divisions()]

    @r.get("/units", tags=["reference"])
    async def list_units():
        return [u.dict() for u in units()]

    return r
