"""What every service's HTTP surface shares: health, error bodies, the runtime lifecycle."""
from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from xinfang.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound, TooManyRequests, Unauthenticated
from xinfang.storage import ConcurrencyConflict, idempotency

log = logging.getLogger("xinfang.web")

_ZH = {
    "missing": "必填项缺失",
    "string_too_short": "内容过短或为空",
    "string_too_long": "内容过长",
    "literal_error": "取值不在允许范围内",
    "enum": "取值不在允许范围内",
    "datetime_parsing": "日期时间格式不正确（应为 ISO-8601，如 2026-11-20T09:30:00+08:00）",
    "datetime_from_date_parsing": "日期时间格式不正确（应为 ISO-8601）",
    "datetime_type": "日期时间格式不正确",
    "timezone_aware": "日期时间必须带时区",
    "int_parsing": "应为整数",
    "int_type": "应为整数",
    "greater_than_equal": "数值过小",
    "less_than_equal": "数值过大",
    "too_short": "至少需要一项",
    "too_long": "项数过多",
    "extra_forbidden": "不允许的字段",
    "json_invalid": "请求体不是合法的 JSON",
    "model_attributes_type": "格式不正确",
    "dict_type": "应为对象",
    "list_type": "应为列表",
    "string_type": "应为文本",
    "string_pattern_mismatch": "格式不正确",
}


def _field(loc: tuple) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or "body"


def validation_body(errors: list[dict[str, Any]]) -> dict:
    fields = []
    for e in errors:
        msg = str(e.get("msg", ""))
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        zh = _ZH.get(e.get("type", ""), "")
        if " | " in msg:  # our validators give "english | 中文"
            msg, zh = msg.split(" | ", 1)
        fields.append({"field": _field(tuple(e.get("loc", ()))), "message": msg, "message_zh": zh or "输入不正确"})
    names = ", ".join(f["field"] for f in fields)
    return {"error": {"code": "validation_error", "message": f"invalid input: {names}",
                      "message_zh": f"输入有误：{names}", "fields": fields}}


# the one place a rule's refusal becomes an HTTP status; a subclass answers as its nearest listed base
HTTP_STATUS: dict[type[DomainError], int] = {
    DomainError: 400,
    InvalidInput: 422,
    Unauthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    TooManyRequests: 429,
}


def http_status(exc: DomainError) -> int:
    for cls in type(exc).__mro__:
        if cls in HTTP_STATUS:
            return HTTP_STATUS[cls]
    return 400


# what an HTTP error of the framework (an unknown path, a method a path does not take) says, in the envelope
_HTTP_ERRORS = {
    404: ("not_found", "no such resource", "没有该资源"),
    405: ("method_not_allowed", "this path does not take that method", "该地址不支持此请求方法"),
    413: ("too_large", "the request body is too large", "请求内容过大"),
}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(_req: Request, exc: RequestValidationError):
        errors = list(exc.errors())
        if any(e.get("type") == "json_invalid" for e in errors):
            # not input to judge field by field: the body could not be read at all
            return JSONResponse({"error": {"code": "bad_request", "message": "the request body is not valid JSON",
                                           "message_zh": "请求体不是合法的 JSON"}}, status_code=400)
        return JSONResponse(validation_body(errors), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_req: Request, exc: StarletteHTTPException):
        code, en, zh = _HTTP_ERRORS.get(exc.status_code, ("bad_request", str(exc.detail), "请求有误"))
        return JSONResponse({"error": {"code": code, "message": en, "message_zh": zh}}, status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(DomainError)
    async def _domain(_req: Request, exc: DomainError):
        return JSONResponse(exc.body(), status_code=http_status(exc))

    @app.exception_handler(ConcurrencyConflict)
    async def _conflict(_req: Request, exc: ConcurrencyConflict):
        return JSONResponse({"error": {
            "code": "concurrency_conflict",
            "message": "the case was changed by someone else meanwhile; reload and try again",
            "message_zh": "该信访事项已被他人修改，请刷新后重试",
            "expected_version": exc.expected, "actual_version": exc.actual}}, status_code=409)


# ------------------------------------------------------------------ the error envelope in the OpenAPI documents

class FieldError(BaseModel):
    field: str
    message: str
    message_zh: str


class ErrorBody(BaseModel):
    code: str = Field(description="validation_error | bad_request | unauthenticated | forbidden | not_found | "
                                  "conflict | concurrency_conflict | too_many_requests | method_not_allowed")
    message: str
    message_zh: str
    fields: list[FieldError] | None = Field(default=None, description="each field refused, with why")
    rule: str | None = Field(default=None, description="the rule (and its legal source) a refusal names")


class ErrorEnvelope(BaseModel):
    """Every error any service answers: ``{"error": {…}}``, in English and Chinese."""

    error: ErrorBody


ERROR_RESPONSES = {
    400: "the body is not valid JSON / 请求体不是合法的 JSON",
    401: "no valid token / 未登录或令牌无效",
    403: "the role may not do this / 无权执行此操作",
    404: "not found, or outside the caller's jurisdiction / 不存在或不在管辖范围内",
    405: "the path does not take this method / 不支持此请求方法",
    409: "conflicts with the case's state or a concurrent write / 与当前状态或他人修改冲突",
    422: "a field refused, named in fields / 输入有误（见 fields）",
    429: "too many requests / 请求过于频繁",
}


# the API paths anyone may call without a token (sign-in, the petitioner's tracking)
PUBLIC_API = ("/api/v1/auth/sign-in", "/api/v1/track/")


def _error_statuses(path: str) -> list[int]:
    if not path.startswith("/api/v1/"):
        return [404, 405]  # probes, metrics: no input, no token
    if path.startswith(PUBLIC_API):
        return [s for s in ERROR_RESPONSES if s not in (401, 403)]
    return list(ERROR_RESPONSES)


def declare_errors(app: FastAPI) -> None:
    """The app's OpenAPI document declares, on every operation, the statuses errors answer, each
    with the one envelope (in place of FastAPI's own 422 schema, which is not what we send)."""
    from fastapi.openapi.utils import get_openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        defs = ErrorEnvelope.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        schemas.update(defs.pop("$defs", {}))
        schemas["ErrorEnvelope"] = defs
        for key in ("HTTPValidationError", "ValidationError"):
            schemas.pop(key, None)
        ref = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}}
        for path, ops in schema.get("paths", {}).items():
            for op in ops.values():
                responses = op.setdefault("responses", {})
                for status in _error_statuses(path):
                    responses[str(status)] = {"description": ERROR_RESPONSES[status], "content": ref}
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def without_native_telemetry() -> dict[str, Any]:
    """FastAPI's own OpenTelemetry (0.16x and later, on by default once a tracer provider is set)
    turned off: ``xinfang.tracing.TracingMiddleware`` is the one server span of a request.
    Left on, every request had a second server span and spans for its dependencies, endpoint and
    serialization, exported with ours. An older FastAPI has none and takes no ``telemetry``."""
    import inspect

    if "telemetry" not in inspect.signature(FastAPI.__init__).parameters:
        return {}
    return {"telemetry": {"tracing": False, "operation_spans": False, "metrics": False, "logs": False}}


def create_app(runtime, *, title: str, description: str = "") -> FastAPI:
    """A FastAPI app whose lifespan starts and stops the service's relay and stream processor."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(title=title, description=description, version="1", lifespan=lifespan,
                  openapi_url="/openapi.json", **without_native_telemetry())
    install_error_handlers(app)
    declare_errors(app)
    from xinfang.tracing import TracingMiddleware  # a span per request; X-Correlation-Id into the logs

    app.add_middleware(TracingMiddleware, service=getattr(runtime, "name", "service"))

    @app.get("/health", tags=["operations"])
    async def health():
        report = await asyncio.to_thread(runtime.health)
        return JSONResponse(report, status_code=200 if report["status"] == "ok" else 503)

    @app.get("/livez", tags=["operations"])
    async def livez():
        """The process answers. Never asks the database or the broker: their outage must not
        restart every pod."""
        return {"status": "ok", "service": runtime.name}

    @app.get("/readyz", tags=["operations"])
    async def readyz():
        """Database reachable, broker reachable (the relay publishes), consumer running: 200 when
        all hold, 503 naming the failing parts otherwise."""
        report = await asyncio.to_thread(runtime.readiness)
        return JSONResponse(report, status_code=200 if report["status"] == "ready" else 503)

    from xinfang import metrics

    metrics.install(app, runtime.name)

    @app.get("/api/v1/me", tags=["identity"])
    async def me(user=Depends(runtime.current_user)):
        """The caller: user name, role, unit and jurisdiction, from the token alone."""
        return user.me()

    return app


# ------------------------------------------------------------------ Idempotency-Key on creating POSTs

def idempotency_key_header() -> Any:
    """The ``Idempotency-Key`` header parameter of a POST that creates something."""
    return Header(default=None, alias=idempotency.HEADER, max_length=idempotency.MAX_KEY_LENGTH,
                  description="a key of the client's choosing (a UUID), the same on every retry of this request: "
                              "a retry answers the first result and creates nothing twice")


def idempotency_of(key: str | None, request: Request, body: Any) -> tuple[str, str] | None:
    """(key, the request's hash) for ``idempotency.run_once``; None without a key. The request's
    method and path are hashed with the body: the same key sent to another case or endpoint
    cannot be a retry either."""
    key = idempotency.checked_key(key)
    if key is None:
        return None
    plain = body.model_dump(mode="json") if hasattr(body, "model_dump") else body
    return key, idempotency.request_hash({"target": f"{request.method} {request.url.path}", "body": plain})


def answered_once(out: dict, response: Any) -> dict:
    """The answer of ``run_once``: a replayed one says so in ``Idempotent-Replayed: true``."""
    if out.pop("replayed", False):
        response.headers[idempotency.REPLAYED_HEADER] = "true"
    return out
