"""Intake's HTTP surface: parse, call the service layer, map errors. Nothing else."""
from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Literal

from fastapi import APIRouter
from pydantic import AwareDatetime, BaseModel, Field

from services.intake import domain, handlers
from xinfang.reference import CATEGORIES


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

    @r.post("/petitions", status_code=201, response_model=RegisteredResponse, tags=["registration"])
    async def register_petition(body: RegisterPetitionRequest):
        reg = domain.Registration(
            channel=body.channel, received_at=body.received_at,
            petitioners=[domain.PetitionerDetails(str(uuid.uuid4()), p.name, p.id_type, p.id_number, p.phone, p.address)
                         for p in body.petitioners],
            headcount=body.headcount, purpose=body.purpose, category_code=body.category_code,
            division_code=body.division_code, summary=body.summary, request=body.request,
        )
        return await asyncio.to_thread(handlers.register_petition, runtime.db, vault, reg, body.request,
                                       actor="anonymous", occurred_at=body.occurred_at)

    @r.get("/cases/{case_id}", tags=["case file"])
    async def get_case(case_id: str):
        return await asyncio.to_thread(handlers.get_case, runtime.db, case_id)

    @r.get("/categories", tags=["reference"])
    async def categories():
        return CATEGORIES

    return r
