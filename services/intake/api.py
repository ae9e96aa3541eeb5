"""Intake's HTTP surface: parse, call the service layer, map errors. Nothing else."""
from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AwareDatetime, BaseModel, Field

from services.intake import domain, handlers
from xinfang.auth import RateLimiter, client_key
from xinfang.reference import CATEGORIES
from xinfang.security import Principal


class PetitionerIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    id_type: Literal["resident_id", "passport", "other"] = "resident_id"
    id_number: str = Field(min_length=1, max_length=32)
    phone: str | None = Field(default=None, max_length=32)
    address: str = Field(default="", max_length=200)


class RegisterPetitionRequest(BaseModel):
    channel: Literal["letter", "visit", "online", "phone"]
    received_at: AwareDatetime = Field(description="when the letter arrived or the visit happened")
    petitioners: list[PetitionerIn] = Field(min_length=1)
    headcount: int = Field(default=1, ge=1, le=100000)
    purpose: Literal["suggestion", "accusation", "appeal"]
    category_code: str
    division_code: str = Field(pattern=r"^\d{12}$")
    summary: str = Field(min_length=1, max_length=2000)
    request: str = Field(min_length=1, max_length=4000)
    occurred_at: AwareDatetime | None = Field(default=None, description="when the registration happened, if not now")


class RegisteredResponse(BaseModel):
    case_id: str
    tracking_code: str
    office: str
    flags: list[str]
    registered_at: datetime


def router(runtime, vault) -> APIRouter:
    r = APIRouter(prefix="/api/v1")
    user = Depends(runtime.current_user)
    tracking_limit = RateLimiter(limit=30, window_s=60)

    @r.post("/petitions", status_code=201, response_model=RegisteredResponse, tags=["registration"])
    async def register_petition(body: RegisterPetitionRequest, me: Principal = user):
        """Register a petition (登记). Clerks, dispatchers and administrators, within their jurisdiction."""
        reg = domain.Registration(
            channel=body.channel, received_at=body.received_at,
            petitioners=[domain.PetitionerDetails(str(uuid.uuid4()), p.name, p.id_type, p.id_number, p.phone, p.address)
                         for p in body.petitioners],
            headcount=body.headcount, purpose=body.purpose, category_code=body.category_code,
            division_code=body.division_code, summary=body.summary, request=body.request,
        )
        return await asyncio.to_thread(handlers.register_petition, runtime.db, vault, me, reg,
                                       occurred_at=body.occurred_at)

    @r.get("/cases", tags=["case file"])
    async def list_cases(me: Principal = user,
                         status: str | None = Query(default=None, max_length=32),
                         channel: Literal["letter", "visit", "online", "phone"] | None = None,
                         division_code: str | None = Query(default=None, pattern=r"^\d{12}$"),
                         limit: int = Query(default=50, ge=1, le=500),
                         offset: int = Query(default=0, ge=0)):
        """The cases the caller may see, newest first, with filters and paging."""
        return await asyncio.to_thread(handlers.list_cases, runtime.db, me, status=status, channel=channel,
                                       division_code=division_code, limit=limit, offset=offset)

    @r.get("/cases/{case_id}", tags=["case file"])
    async def get_case(case_id: str, me: Principal = user):
        """The case file with its history. ID and phone numbers in clear only for clerks and handlers."""
        return await asyncio.to_thread(handlers.get_case, runtime.db, vault, me, case_id)

    @r.get("/categories", tags=["reference"])
    async def categories(me: Principal = user):
        return CATEGORIES

    @r.get("/track/{tracking_code}", tags=["public tracking"])
    async def track(tracking_code: str, request: Request):
        """Public: the status of a case by its tracking code (查询码). No sign-in; rate-limited."""
        tracking_limit.hit(client_key(request))
        return await asyncio.to_thread(handlers.track, runtime.db, tracking_code)

    return r
