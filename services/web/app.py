"""The console's app: its pages by group (services/web/routes/), each handler given the signed-in
user and the services with their token as FastAPI dependencies (services/web/deps.py), gathering
what it shows from the services concurrently and rendering one template. Pages that change
something post a form, then redirect (303) on success or re-render the form with the user's input
and the services' Chinese messages on failure."""
from __future__ import annotations

import logging
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.web import labels
from services.web.client import ConsoleSettings, SignedOut, Unavailable
from services.web.console import COOKIE, HERE, Console, beijing, last_day
from services.web.deps import WrongRole
from services.web.routes import ROUTERS
from xinfang import metrics
from xinfang.tracing import TracingMiddleware
from xinfang.web import without_native_telemetry

__all__ = ["create_app", "beijing", "last_day"]

log = logging.getLogger("xinfang.web")
ERROR_PAGES = {405: ("不支持的操作", "此页面不支持这种操作，请从页面上的按钮或链接进入。"),
               413: ("内容过大", "提交的内容过大，请精简后重试。")}


def create_app(cfg: ConsoleSettings | None = None) -> FastAPI:
    console = Console(cfg or ConsoleSettings.from_env())
    app = FastAPI(title="Xinfang web console 信访网页工作台", docs_url=None, redoc_url=None, openapi_url=None,
                  **without_native_telemetry())
    app.state.console = console
    app.add_middleware(TracingMiddleware, service="web")  # a span per page; its client sends the traceparent on
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.on_event("shutdown")
    async def _close():
        await console.aclose()

    @app.exception_handler(SignedOut)
    async def _signed_out(request: Request, _exc: SignedOut):
        # no cookie, a token routing does not know (the Me dependency), or one a service refused
        # mid-page (401): sign in again, then come back to this page
        target = "/login?" + urlencode({"next": request.url.path})
        resp = RedirectResponse(target, status_code=303)
        resp.delete_cookie(COOKIE)
        return resp

    @app.exception_handler(WrongRole)
    async def _wrong_role(request: Request, exc: WrongRole):
        role = exc.me.get("role_zh") or "您的岗位"
        return console.render(request, "forbidden.html", status=403, me=exc.me,
                              message=f"“{exc.title}”不属于{role}的工作范围，无权访问。")

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        # an unknown address or method answers a page in Chinese, not FastAPI's {"detail": "Not Found"}
        if exc.status_code == 404:
            return console.render(request, "not_found.html", status=404, me=None,
                                  message="没有这个页面，请检查网址，或从首页进入。")
        title, message = ERROR_PAGES.get(exc.status_code, ("请求有误", "请求未能处理，请返回重试。"))
        return console.render(request, "error.html", status=exc.status_code, me=None, title=title, message=message)

    @app.exception_handler(RequestValidationError)
    async def _bad_address(request: Request, exc: RequestValidationError):
        names = "、".join(sorted({str(e.get("loc", ("", ""))[-1]) for e in exc.errors()}))
        return console.render(request, "error.html", status=422, me=None, title="网址参数有误",
                              message=f"网址中的参数 {names} 不正确，请从页面上的链接进入。")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.exception("page %s failed", request.url.path)
        return console.render(request, "error.html", status=500, me=None, title="系统出错",
                              message="页面暂时无法显示，已记录此错误。请稍后重试；如一再出现，请联系系统管理员。")

    @app.exception_handler(Unavailable)
    async def _unavailable(request: Request, exc: Unavailable):
        return console.render(request, "unavailable.html", status=503, me=None, what=labels.SERVICES.get(exc.service, "后台服务"))

    for router in ROUTERS:
        app.include_router(router)
    metrics.install(app, "web")  # /metrics, and each page counted and timed by its route template
    return app
