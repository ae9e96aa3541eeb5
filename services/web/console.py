"""What every page of the console shares: the settings, one HTTP client to the services, the
templates, the reference data (categories, divisions, units) kept a few minutes, and who each
token names; with the formatting the templates use (Beijing time, short ids)."""
from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Awaitable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote

import httpx
from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from services.web import charts, labels
from services.web.client import Api, ConsoleSettings, SignedOut, Unavailable, parts
from xinfang.auth import client_key
from xinfang.config import settings

HERE = Path(__file__).parent
COOKIE = "xf_token"
BEIJING = timezone(timedelta(hours=8))
HOME = {"clerk": "/register", "dispatcher": "/queue", "handler": "/inbox", "supervisor": "/supervision",
        "leader": "/dashboard", "admin": "/cases"}
NAV = [  # (path, title, roles or None for everyone)
    ("/register", "登记", {"clerk", "dispatcher", "admin"}),
    ("/queue", "交办队列", {"dispatcher", "admin"}),
    ("/inbox", "本单位待办", {"handler", "admin"}),
    ("/supervision", "督查督办", {"supervisor", "leader", "handler", "admin"}),
    ("/dashboard", "统计分析", {"leader", "supervisor", "admin"}),
    ("/cases", "信访事项", None),
]


def beijing(value) -> str:
    """An instant as Beijing time, e.g. 2026-11-20 09:30."""
    if not value:
        return ""
    try:
        dt = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    if dt.tzinfo is None:
        return dt.strftime("%Y-%m-%d %H:%M")
    return dt.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")


def last_day(end) -> str:
    """The last day (Beijing) of a period the services answer with an exclusive end instant: a
    period "to 31 December" ends at 1 January 00:00, and the leader chose the 31st."""
    if not end:
        return "不限"
    dt = datetime.fromisoformat(str(end).replace("Z", "+00:00"))
    return (dt.astimezone(BEIJING) - timedelta(microseconds=1)).strftime("%Y-%m-%d")


def cn_date(value, end: bool = False) -> str:
    """A day as documents print it (Beijing), e.g. 2026年12月1日; ``end``: the last day of a period
    given by its exclusive end instant, as the deadlines are."""
    if not value:
        return ""
    try:
        dt = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    if dt.tzinfo is not None:
        dt = dt.astimezone(BEIJING)
    if end:
        dt -= timedelta(microseconds=1)
    return f"{dt.year}年{dt.month}月{dt.day}日"


def sort_key(value) -> float:
    try:
        dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        return (dt if dt.tzinfo else dt.replace(tzinfo=BEIJING)).timestamp()
    except ValueError:
        return 0.0


def safe_next(value: str | None) -> str:
    return value if value and value.startswith("/") and not value.startswith("//") else "/"


class Reference:
    """Categories, divisions and units change rarely: kept a few minutes per scope."""

    def __init__(self, ttl: float = 300.0) -> None:
        self.ttl, self._data = ttl, {}

    async def get(self, key, load):
        hit = self._data.get(key)
        if hit and hit[0] > time.monotonic():
            return hit[1]
        value = await load()
        self._data[key] = (time.monotonic() + self.ttl, value)
        return value


class Console:
    """One console app's shared state; the pages reach it through the ``Site`` dependency
    (services/web/deps.py)."""

    def __init__(self, cfg: ConsoleSettings) -> None:
        self.cfg = cfg
        self.templates = templates = Jinja2Templates(directory=str(HERE / "templates"))
        templates.env.globals.update(L=labels, charts=charts, NAV=NAV, new_key=lambda: str(uuid.uuid4()))
        templates.env.filters["bj"] = beijing
        templates.env.filters["lab"] = labels.label
        templates.env.filters["basis"] = labels.basis
        templates.env.filters["cn_date"] = cn_date
        templates.env.filters["last_day"] = last_day
        templates.env.globals["office"] = lambda code, names: (f"{names[code]}信访工作机构" if code in names else code or "")
        # how far back a late record (补录) may be dated: the services' setting, said beside the form
        templates.env.globals["backdate_days"] = settings().backdate_days
        self.http = httpx.AsyncClient(timeout=httpx.Timeout(15.0, connect=3.0))
        self.ref = Reference()
        self.identities: dict[str, tuple[float, dict]] = {}

    async def aclose(self) -> None:
        await self.http.aclose()

    def api(self, request: Request, token: bool = True) -> Api:
        """The services as this visitor: with the token of their cookie, or none."""
        return Api(self.http, self.cfg.urls, request.cookies.get(COOKIE) if token else None, client_key(request))

    async def identify(self, a: Api) -> dict:
        """Who the token names (routing's /api/v1/me), kept a minute; the services still check the
        token on every call. No token, or one the services refuse: ``SignedOut``."""
        if not a.token:
            raise SignedOut()
        key = hashlib.sha256(a.token.encode()).hexdigest()
        hit = self.identities.get(key)
        if hit and hit[0] > time.monotonic():
            return hit[1]
        try:
            me = await a.get("routing", "/api/v1/me")
        except Unavailable:
            raise SignedOut() from None
        if len(self.identities) > 10_000:
            self.identities.clear()
        self.identities[key] = (time.monotonic() + 60, me)
        return me

    async def todo(self, a: Api, me: dict) -> dict[str, int]:
        """待办: per navigation entry, how many items its list holds for this user now (the queue,
        the unit's inbox, the warnings); asked afresh on every page, so the counts are the lists'.
        An entry whose service does not answer gets no count."""
        role, unit = me.get("role"), me.get("unit_id")
        asks: dict[str, Awaitable] = {}
        if role in ("dispatcher", "admin"):
            asks["/queue"] = a.get("routing", "/api/v1/queue", limit=1)
        if role in ("handler", "admin") and unit:
            asks["/inbox"] = a.get("routing", f"/api/v1/units/{quote(unit, safe='')}/inbox", limit=1)
        if role in ("supervisor", "leader"):
            asks["/supervision"] = a.get("supervision", "/api/v1/warnings", limit=1)
        if not asks:
            return {}
        got = await parts(*asks.values())
        return {path: int(r.data["total"]) for path, r in zip(asks, got, strict=True)
                if r.ok and isinstance(r.data, dict) and isinstance(r.data.get("total"), int)}

    def render(self, request: Request, name: str, status: int = 200, **ctx) -> HTMLResponse:
        return self.templates.TemplateResponse(request, name, {"page_size": self.cfg.page_size, **ctx},
                                               status_code=status)

    async def categories(self, a: Api) -> list[dict]:
        return await self.ref.get("categories", lambda: a.get("intake", "/api/v1/categories"))

    async def divisions(self, a: Api, me: dict) -> list[dict]:
        return await self.ref.get(("divisions", me["jurisdiction"]), lambda: a.get("routing", "/api/v1/divisions"))

    async def units(self, a: Api, me: dict) -> list[dict]:
        key = ("units", me["role"], me["jurisdiction"], me.get("unit_id"))
        return await self.ref.get(key, lambda: a.get("routing", "/api/v1/units"))

    async def case_titles(self, a: Api, items) -> dict[str, dict]:
        """case id → its tracking code and summary, from intake, for the lists of routing and
        supervision, which hold neither: a user reads a case by its code, never by its id. A case
        intake does not show this user (or intake down) gets no title."""
        ids = list(dict.fromkeys(i["case_id"] for i in items if i.get("case_id")))[:100]
        if not ids:
            return {}
        [found] = await parts(a.get("intake", "/api/v1/cases", case_id=ids, limit=len(ids)))
        return {c["case_id"]: c for c in (found.data or {}).get("items", [])} if found.ok else {}

    async def mentioned(self, a: Api, history: list[dict], names: dict) -> tuple[dict, dict]:
        """(names with the units a case's history mentions that ``names`` lacks, username → display
        name of the staff who acted): a handler's own name lists hold its unit only, and events
        carry user names."""
        unit_ids = sorted({h["unit_id"] for h in history if h.get("unit_id") and h["unit_id"] not in names})[:100]
        users = sorted({w for h in history for w in (h.get("actor"), h.get("by"))
                        if w and ":" not in w and w != "petitioner"})[:100]
        if not (unit_ids or users):
            return names, {}
        [found] = await parts(a.get("routing", "/api/v1/names", unit_id=unit_ids, username=users))
        if not found.ok:
            return names, {}
        return {**names, **found.data["units"]}, found.data["staff"]

    async def deadlines(self, a: Api, items) -> dict[str, dict]:
        """case id → the clock it waits on now (stage, due_at, level), from supervision, which owns
        the clocks: one call for a page of a list. A case with no running clock, outside the
        user's scope, or supervision down, gets none (the list shows —)."""
        ids = list(dict.fromkeys(i["case_id"] for i in items if i.get("case_id")))[:100]
        if not ids:
            return {}
        [found] = await parts(a.get("supervision", "/api/v1/deadlines", case_id=ids))
        return {d["case_id"]: d for d in (found.data or {}).get("items", [])} if found.ok else {}

    async def names(self, a: Api, me: dict) -> dict:
        """code → name for categories, divisions and units (what the lists show)."""
        cats, divs, us = await parts(self.categories(a), self.divisions(a, me), self.units(a, me))
        out = {}
        for top in cats.data or []:
            out[top["code"]] = top["name"]
            for leaf in top.get("children", []):
                out[leaf["code"]] = f'{top["name"]}/{leaf["name"]}'
        for d in divs.data or []:
            out[d["code"]] = d["name"]
        for u in us.data or []:
            out[u["unit_id"]] = u["name"]
        return out
