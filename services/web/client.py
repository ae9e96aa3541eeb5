"""How the console talks to the four services: HTTP with the user's bearer token.

A missing endpoint (a service that does not offer it yet) or an unreachable service is
``Unavailable``: the page says 该功能暂不可用 instead of failing. Errors the services answer in
their own shape become ``ApiError`` with the fields and the Chinese messages to show."""
from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

import httpx

from xinfang.config import DEFAULT_PORTS, SERVICES
from xinfang.tracing import current_traceparent


@dataclass
class ConsoleSettings:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORTS["web"]
    urls: dict[str, str] = field(default_factory=dict)
    secure_cookie: bool = False
    page_size: int = 20
    # where the public reaches the console (the receipt prints its tracking address and QR code);
    # empty: the address the request came to
    public_url: str = ""

    @classmethod
    def from_env(cls) -> ConsoleSettings:
        env = os.environ
        urls = {n: env.get(f"{n.upper()}_URL") or f"http://127.0.0.1:{env.get(f'{n.upper()}_PORT', DEFAULT_PORTS[n])}"
                for n in SERVICES}
        return cls(host=env.get("WEB_HOST", "127.0.0.1"), port=int(env.get("WEB_PORT", DEFAULT_PORTS["web"])),
                   urls={n: u.rstrip("/") for n, u in urls.items()},
                   secure_cookie=env.get("WEB_SECURE_COOKIE", "0") == "1",
                   public_url=env.get("WEB_PUBLIC_URL", "").strip().rstrip("/"))


class Unavailable(Exception):
    """The service does not offer this yet, or does not answer."""

    def __init__(self, service: str, path: str, why: str) -> None:
        super().__init__(f"{service} {path}: {why}")
        self.service, self.path, self.why = service, path, why


class SignedOut(Exception):
    """No token, or the services refuse it (expired): sign in again."""


class ApiError(Exception):
    def __init__(self, status: int, body: dict) -> None:
        err = body.get("error") or {}
        self.status = status
        self.code = err.get("code", "")
        self.message_zh = err.get("message_zh") or err.get("message") or "操作失败"
        self.rule = err.get("rule")
        self.fields = err.get("fields") or []
        super().__init__(f"{status} {self.code}: {err.get('message', '')}")

    def summary_zh(self) -> str:
        """The message above the form: Chinese field names, not API paths."""
        if self.code == "validation_error" and self.fields:
            from services.web.labels import field_name
            return "输入有误，请按提示修改：" + "、".join(dict.fromkeys(field_name(f.get("field", "")) for f in self.fields))
        return self.message_zh

    def field_messages(self, prefix: str = "") -> dict[str, str]:
        """{form field name: Chinese message}; the form's fields are named as the API's."""
        out: dict[str, str] = {}
        for f in self.fields:
            name = f"{prefix}{f.get('field', '')}"
            out.setdefault(name, f.get("message_zh") or f.get("message") or "输入不正确")
        return out


class Api:
    """One user's view of the four services."""

    def __init__(self, http: httpx.AsyncClient, urls: dict[str, str], token: str | None,
                 client: str | None = None) -> None:
        self.http, self.urls, self.token, self.client = http, urls, token, client

    def _headers(self) -> dict:
        h = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        if self.client:  # the services' rate limits count each visitor, not the console (xinfang.auth.client_key)
            h["X-Forwarded-For"] = self.client
        traceparent = current_traceparent()  # the page's span: the services continue its trace
        if traceparent:
            h["traceparent"] = traceparent
        return h

    async def request(self, method: str, service: str, path: str, *, params: dict | None = None,
                      json: Any = None, headers: dict | None = None) -> httpx.Response:
        params = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        try:
            r = await self.http.request(method, f"{self.urls[service]}{path}", params=params, json=json,
                                        headers={**self._headers(), **(headers or {})})
        except httpx.HTTPError as exc:
            raise Unavailable(service, path, f"no answer: {exc.__class__.__name__}") from exc
        if r.status_code < 400:
            return r
        try:
            body = r.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict) or "error" not in body:
            # FastAPI's own 404/405 for a route the service does not have (yet)
            if r.status_code in (404, 405, 501, 502, 503, 504):
                raise Unavailable(service, path, f"HTTP {r.status_code}")
            body = {"error": {"code": "http_error", "message": r.text[:200], "message_zh": f"服务返回错误（{r.status_code}）"}}
        if r.status_code == 401:
            raise SignedOut()
        raise ApiError(r.status_code, body)

    async def get(self, service: str, path: str, **params) -> Any:
        return (await self.request("GET", service, path, params=params)).json()

    async def post(self, service: str, path: str, body: Any = None, headers: dict | None = None) -> Any:
        r = await self.request("POST", service, path, json=body if body is not None else {}, headers=headers)
        return r.json() if r.content else {}


@dataclass
class Part:
    """One section of a page: its data, or why it cannot be shown."""

    data: Any = None
    missing: bool = False
    error: str | None = None

    @property
    def ok(self) -> bool:
        return not self.missing and self.error is None


async def part(aw: Awaitable) -> Part:
    try:
        return Part(await aw)
    except Unavailable:
        return Part(missing=True)
    except ApiError as exc:
        if exc.code == "validation_error" and exc.fields:
            from services.web.labels import field_name
            return Part(error="输入有误：" + "；".join(f"{field_name(f.get('field', ''))}{f.get('message_zh') or ''}"
                                                 for f in exc.fields))
        return Part(error=exc.message_zh)


async def parts(*aws: Awaitable) -> list[Part]:
    return list(await asyncio.gather(*(part(a) for a in aws)))
