"""The console's pages: each handler gathers what it shows from the services, concurrently, and
renders one template. Pages that change something post a form, then redirect (303) on success
or re-render the form with the user's input and the services' Chinese messages on failure."""
from __future__ import annotations

import hashlib
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote, urlencode

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from services.web import charts, forms, labels
from services.web.client import Api, ApiError, ConsoleSettings, Part, SignedOut, Unavailable, part, parts
from xinfang.auth import client_key

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
INTAKE_COMMANDS = {"acceptance", "extension", "reply", "closure", "review-request"}


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


def _sort_key(value) -> float:
    try:
        dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        return (dt if dt.tzinfo else dt.replace(tzinfo=BEIJING)).timestamp()
    except ValueError:
        return 0.0


def _safe_next(value: str | None) -> str:
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


def short_id(value: str | None) -> str:
    """An id as lists show it: its last eight characters, the random part. New ids are
    time-ordered (xinfang/ids.py) and begin with their time, so cases registered the same minute
    share their first eight."""
    return (value or "")[-8:]


def create_app(cfg: ConsoleSettings | None = None) -> FastAPI:
    cfg = cfg or ConsoleSettings.from_env()
    app = FastAPI(title="Xinfang web console 信访网页工作台", docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.globals.update(L=labels, charts=charts, NAV=NAV)
    templates.env.filters["bj"] = beijing
    templates.env.filters["lab"] = labels.label
    templates.env.filters["short"] = short_id
    templates.env.filters["last_day"] = last_day
    templates.env.globals["office"] = lambda code, names: (f"{names[code]}信访工作机构" if code in names else code or "")
    http = httpx.AsyncClient(timeout=httpx.Timeout(15.0, connect=3.0))
    ref = Reference()
    identities: dict[str, tuple[float, dict]] = {}

    def api(request: Request, token: bool = True) -> Api:
        return Api(http, cfg.urls, request.cookies.get(COOKIE) if token else None, client_key(request))

    async def signed_in(request: Request) -> tuple[Api, dict]:
        a = api(request)
        if not a.token:
            raise SignedOut()
        key = hashlib.sha256(a.token.encode()).hexdigest()
        hit = identities.get(key)
        if hit and hit[0] > time.monotonic():  # who the token names; the services still check it on every call
            return a, hit[1]
        try:
            me = await a.get("routing", "/api/v1/me")
        except Unavailable:
            raise SignedOut() from None
        if len(identities) > 10_000:
            identities.clear()
        identities[key] = (time.monotonic() + 60, me)
        return a, me

    def render(request: Request, name: str, status: int = 200, **ctx) -> HTMLResponse:
        return templates.TemplateResponse(request, name, {"page_size": cfg.page_size, **ctx}, status_code=status)

    async def categories(a: Api) -> list[dict]:
        return await ref.get("categories", lambda: a.get("intake", "/api/v1/categories"))

    async def divisions(a: Api, me: dict) -> list[dict]:
        return await ref.get(("divisions", me["jurisdiction"]), lambda: a.get("routing", "/api/v1/divisions"))

    async def units(a: Api, me: dict) -> list[dict]:
        key = ("units", me["role"], me["jurisdiction"], me.get("unit_id"))
        return await ref.get(key, lambda: a.get("routing", "/api/v1/units"))

    async def names(a: Api, me: dict) -> dict:
        """code → name for categories, divisions and units (what the lists show)."""
        cats, divs, us = await parts(categories(a), divisions(a, me), units(a, me))
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

    @app.on_event("shutdown")
    async def _close():
        await http.aclose()

    @app.exception_handler(SignedOut)
    async def _signed_out(request: Request, _exc: SignedOut):
        target = "/login?" + urlencode({"next": request.url.path})
        resp = RedirectResponse(target, status_code=303)
        resp.delete_cookie(COOKIE)
        return resp

    @app.exception_handler(Unavailable)
    async def _unavailable(request: Request, exc: Unavailable):
        return render(request, "unavailable.html", status=503, me=None, what=f"{exc.service} {exc.path}")

    @app.get("/health")
    async def health():
        return JSONResponse({"status": "ok", "service": "web", "services": cfg.urls})

    # ------------------------------------------------------------------ sign-in

    @app.get("/login", response_class=HTMLResponse)
    async def login_form(request: Request, next: str = "/"):
        return render(request, "login.html", me=None, next=_safe_next(next), errors={}, values={})

    @app.post("/login", response_class=HTMLResponse)
    async def login(request: Request):
        form = dict(await request.form())
        values = {"username": form.get("username", "")}
        nxt = _safe_next(form.get("next"))
        try:
            r = await api(request, token=False).post("routing", "/api/v1/auth/sign-in",
                                                     {"username": form.get("username", ""),
                                                      "password": form.get("password", "")})
        except SignedOut:
            return render(request, "login.html", status=401, me=None, next=nxt, values=values,
                          errors={"_": "用户名或密码错误"})
        except ApiError as exc:
            return render(request, "login.html", status=exc.status, me=None, next=nxt, values=values,
                          errors={**exc.field_messages(), "_": exc.summary_zh()})
        user = r.get("user") or {}
        resp = RedirectResponse(nxt if nxt != "/" else HOME.get(user.get("role"), "/cases"), status_code=303)
        try:
            max_age = int(datetime.fromisoformat(r["expires_at"].replace("Z", "+00:00")).timestamp() - time.time())
        except (KeyError, ValueError, AttributeError):
            max_age = None
        resp.set_cookie(COOKIE, r["access_token"], max_age=max_age, httponly=True, samesite="strict",
                        secure=cfg.secure_cookie, path="/")
        return resp

    @app.post("/logout")
    async def logout():
        resp = RedirectResponse("/login", status_code=303)
        resp.delete_cookie(COOKIE, path="/")
        return resp

    @app.get("/")
    async def home(request: Request):
        _a, me = await signed_in(request)
        return RedirectResponse(HOME.get(me["role"], "/cases"), status_code=303)

    # ------------------------------------------------------------------ clerk: registration

    async def registration_page(request, a, me, *, values, errors, status=200):
        cats, divs = await parts(categories(a), divisions(a, me))
        return render(request, "register.html", status=status, me=me, cats=cats, divs=divs, values=values,
                      errors=errors, reps=forms.MAX_REPRESENTATIVES)

    @app.get("/register", response_class=HTMLResponse)
    async def register_form(request: Request):
        a, me = await signed_in(request)
        now = datetime.now(BEIJING).strftime("%Y-%m-%dT%H:%M")
        return await registration_page(request, a, me, errors={},
                                       values={"channel": "visit", "received_at": now, "headcount": "1",
                                               "purpose": "appeal"})

    @app.post("/register", response_class=HTMLResponse)
    async def register(request: Request):
        a, me = await signed_in(request)
        values = dict(await request.form())
        try:
            result = await a.post("intake", "/api/v1/petitions", forms.petition(values))
        except ApiError as exc:
            errors = exc.field_messages()
            errors["_"] = exc.summary_zh()
            return await registration_page(request, a, me, values=values, errors=errors, status=exc.status)
        nm = await part(names(a, me))
        return render(request, "registered.html", me=me, r=result, names=nm.data or {})

    # ------------------------------------------------------------------ case list and case file

    @app.get("/cases", response_class=HTMLResponse)
    async def case_list(request: Request, status: str = "", channel: str = "", division_code: str = "",
                        category_code: str = "", purpose: str = "", flag: str = "", unit_id: str = "",
                        received_from: str = "", received_to: str = "", q: str = "", page: int = 1):
        a, me = await signed_in(request)
        page = max(1, page)
        filters = {"status": status, "channel": channel, "division_code": division_code,
                   "category_code": category_code, "purpose": purpose, "flag": flag, "unit_id": unit_id,
                   "received_from": received_from, "received_to": received_to, "q": q}
        api_filters = {**filters, "received_from": forms.instant(received_from and received_from + "T00:00"),
                       "received_to": forms.instant(received_to and received_to + "T23:59:59")}
        result, nm = await parts(a.get("intake", "/api/v1/cases", **api_filters, limit=cfg.page_size,
                                       offset=(page - 1) * cfg.page_size), names(a, me))
        divs, us = await parts(divisions(a, me), units(a, me))
        return render(request, "cases.html", me=me, result=result, names=nm.data or {}, filters=filters,
                      page=page, divs=divs, unit_choices=us.data or [],
                      query=urlencode({k: v for k, v in filters.items() if v}))

    async def case_page(request, a, me, case_id, *, errors=None, values=None, status=200, done=None):
        path = f"/api/v1/cases/{quote(case_id, safe='')}"
        case, assignment, deadlines, nm = await parts(
            a.get("intake", path), a.get("routing", f"{path}/assignment"), a.get("supervision", f"{path}/deadlines"),
            names(a, me))
        if case.missing:
            raise Unavailable("intake", "/api/v1/cases", "down")
        if not case.ok:
            return render(request, "not_found.html", status=404, me=me, message=case.error)
        c = case.data
        suggestion = None
        unit_choices = []
        if me["role"] in ("dispatcher", "admin"):
            sug, us = await parts(a.post("routing", "/api/v1/rules/preview",
                                         {"division_code": c["division_code"], "category_code": c["category_code"]}),
                                  units(a, me))
            suggestion, unit_choices = sug, us.data or []
        timeline = [{"at": h["occurred_at"], "what": labels.label(labels.EVENTS, h["event_type"]),
                     "who": h.get("actor"), "detail": _detail(h)} for h in c.get("history", [])]
        if assignment.ok:
            seen = {(t["what"], beijing(t["at"])) for t in timeline}
            for h in assignment.data.get("history", []):
                at, event = h.get("at") or h.get("occurred_at"), h.get("event") or h.get("event_type")
                if not (at and event):
                    continue
                item = {"at": at, "what": labels.label(labels.EVENTS, event), "who": h.get("by") or h.get("actor"),
                        "detail": "；".join(x for x in (nm.data.get(h.get("unit_id"), h.get("unit_id") or ""),
                                                       h.get("rule") or "", h.get("reason") or "") if x)}
                if (item["what"], beijing(item["at"])) not in seen:
                    timeline.append(item)
        timeline.sort(key=lambda t: _sort_key(t["at"]))
        return render(request, "case.html", status=status, me=me, c=c, assignment=assignment,
                      deadlines=deadlines, names=nm.data or {}, timeline=timeline, errors=errors or {},
                      values=values or {}, suggestion=suggestion, unit_choices=unit_choices, done=done)

    @app.get("/cases/{case_id}", response_class=HTMLResponse)
    async def case_file(request: Request, case_id: str, done: str | None = None):
        a, me = await signed_in(request)
        return await case_page(request, a, me, case_id, done=done)

    @app.post("/cases/{case_id}/act/{action}", response_class=HTMLResponse)
    async def act(request: Request, case_id: str, action: str):
        a, me = await signed_in(request)
        form = await request.form()
        values = {k: v for k, v in form.items()}
        service, path, body = _command(action, case_id, form, me)
        if service is None:
            return render(request, "not_found.html", status=404, me=me, message="没有这项操作")
        headers = {"If-Match": f'"{form["version"]}"'} if action in INTAKE_COMMANDS and form.get("version") else None
        try:
            await a.post(service, path, body, headers=headers)
        except Unavailable:
            errors = {f"{action}._": "该功能暂不可用"}
            return await case_page(request, a, me, case_id, errors=errors, values={action: values}, status=503)
        except ApiError as exc:
            errors = exc.field_messages(prefix=f"{action}.")
            errors[f"{action}._"] = exc.summary_zh() + (f"（{exc.rule}）" if exc.rule and exc.rule not in exc.message_zh else "")
            return await case_page(request, a, me, case_id, errors=errors, values={action: values}, status=exc.status)
        nxt = form.get("next")
        target = _safe_next(nxt) if nxt else f"/cases/{case_id}"
        sep = "&" if "?" in target else "?"
        return RedirectResponse(f"{target}{sep}done={quote(action)}", status_code=303)

    @app.get("/cases/{case_id}/receipt", response_class=HTMLResponse)
    async def receipt(request: Request, case_id: str):
        a, me = await signed_in(request)
        case, nm = await parts(a.get("intake", f"/api/v1/cases/{quote(case_id, safe='')}"), names(a, me))
        if not case.ok:
            return render(request, "not_found.html", status=404, me=me, message=case.error or "该功能暂不可用")
        return render(request, "receipt.html", me=me, c=case.data, names=nm.data or {},
                      printed=datetime.now(BEIJING))

    @app.get("/cases/{case_id}/notices/{index}", response_class=HTMLResponse)
    async def notice(request: Request, case_id: str, index: int):
        a, me = await signed_in(request)
        case, nm = await parts(a.get("intake", f"/api/v1/cases/{quote(case_id, safe='')}"), names(a, me))
        if not case.ok or not (0 <= index < len(case.data.get("notices", []))):
            return render(request, "not_found.html", status=404, me=me, message=case.error or "没有这份文书")
        return render(request, "notice.html", me=me, c=case.data, n=case.data["notices"][index], names=nm.data or {})

    # ------------------------------------------------------------------ dispatcher, handler

    @app.get("/queue", response_class=HTMLResponse)
    async def queue(request: Request, state: str = "", page: int = 1, done: str | None = None):
        a, me = await signed_in(request)
        page = max(1, page)
        result, us, nm = await parts(a.get("routing", "/api/v1/queue", state=state, limit=cfg.page_size,
                                           offset=(page - 1) * cfg.page_size), units(a, me), names(a, me))
        if result.ok:  # the queue names cases; the page shows what they are about
            items = result.data.get("items", [])
            files = await parts(*(a.get("intake", f"/api/v1/cases/{it['case_id']}") for it in items
                                  if not it.get("summary")))
            about = {f.data["case_id"]: f.data for f in files if f.ok}
            for it in items:
                c = about.get(it["case_id"]) or {}
                for k in ("summary", "division_code", "category_code", "tracking_code"):
                    it.setdefault(k, c.get(k))
        return render(request, "queue.html", me=me, result=result, unit_choices=us.data or [], names=nm.data or {},
                      state=state, page=page, done=done, query=urlencode({"state": state} if state else {}))

    @app.get("/inbox", response_class=HTMLResponse)
    async def inbox(request: Request, state: str = "", unit_id: str = "", page: int = 1):
        a, me = await signed_in(request)
        page = max(1, page)
        unit = unit_id or me.get("unit_id") or ""
        if not unit:  # an administrator picks the unit whose inbox to read
            us, nm = await parts(units(a, me), names(a, me))
            return render(request, "inbox.html", me=me, result=Part(error="请选择单位"), levels={}, names=nm.data or {},
                          unit="", state=state, page=page, query="", unit_choices=us.data or [])
        result, warnings, overdue, nm = await parts(
            a.get("routing", f"/api/v1/units/{quote(unit, safe='')}/inbox", state=state, limit=cfg.page_size,
                  offset=(page - 1) * cfg.page_size),
            a.get("supervision", "/api/v1/warnings", unit_id=unit, limit=500),
            a.get("supervision", "/api/v1/overdue", unit_id=unit, limit=500), names(a, me))
        levels = {}
        for p in (warnings, overdue):
            for w in (p.data or {}).get("items", []) if p.ok else []:
                levels.setdefault(w["case_id"], w.get("level") or "overdue")
        return render(request, "inbox.html", me=me, result=result, levels=levels, names=nm.data or {},
                      unit=unit, state=state, page=page, unit_choices=[],
                      query=urlencode({k: v for k, v in {"state": state, "unit_id": unit_id}.items() if v}))

    # ------------------------------------------------------------------ supervisor

    @app.get("/supervision", response_class=HTMLResponse)
    async def supervision(request: Request, view: str = "warnings", unit_id: str = "", division_code: str = "",
                          level: str = "", status: str = "", page: int = 1, done: str | None = None):
        a, me = await signed_in(request)
        page = max(1, page)
        paths = {"warnings": "/api/v1/warnings", "overdue": "/api/v1/overdue", "backlog": "/api/v1/backlog",
                 "orders": "/api/v1/supervision-orders", "alerts": "/api/v1/alerts"}
        view = view if view in paths else "warnings"
        filters = {"unit_id": unit_id, "division_code": division_code}
        if view == "warnings":
            filters["level"] = level
        if view == "orders":
            filters = {"status": status}
        result, us, divs, nm = await parts(
            a.get("supervision", paths[view], **filters, limit=cfg.page_size, offset=(page - 1) * cfg.page_size),
            units(a, me), divisions(a, me), names(a, me))
        by_unit, by_town = {}, {}
        for it in (result.data or {}).get("items", []) if result.ok else []:
            if it.get("unit_id"):
                by_unit[it["unit_id"]] = by_unit.get(it["unit_id"], 0) + 1
            if it.get("division_code"):
                town = it["division_code"][:9] + "000"
                by_town[town] = by_town.get(town, 0) + 1
        query = urlencode({k: v for k, v in {"view": view, "unit_id": unit_id, "division_code": division_code,
                                             "level": level, "status": status}.items() if v})
        return render(request, "supervision.html", me=me, view=view, done=done, result=result, unit_choices=us.data or [],
                      townships=[d for d in divs.data or [] if d.get("level") == "township"],
                      names=nm.data or {}, by_unit=by_unit, by_town=by_town, page=page, query=query,
                      f={"unit_id": unit_id, "division_code": division_code, "level": level, "status": status})

    @app.post("/supervision/orders/{order_id}/answer", response_class=HTMLResponse)
    async def answer_order(request: Request, order_id: str):
        a, me = await signed_in(request)
        form = await request.form()
        try:
            await a.post("supervision", f"/api/v1/supervision-orders/{quote(order_id, safe='')}/answer",
                         forms.drop_empty({"text": forms.text(form.get("text"))}))
        except Unavailable:
            return render(request, "unavailable.html", status=503, me=me, what="supervision-orders answer")
        except ApiError as exc:
            return render(request, "not_found.html", status=exc.status, me=me, message=exc.summary_zh())
        return RedirectResponse("/supervision?view=orders&done=answer", status_code=303)

    # ------------------------------------------------------------------ leader

    @app.get("/dashboard", response_class=HTMLResponse)
    async def dashboard(request: Request, date_from: str = "", date_to: str = "", as_of: str = "",
                        unit_id: str = "", division_code: str = ""):
        a, me = await signed_in(request)
        today = datetime.now(BEIJING).date()
        if not request.query_params:
            # opened as such: the assessment year to date. All time is a choice (a five-year county
            # folds five times the cases: 1 s and more at 100,000 cases on SQLite)
            date_from = f"{today.year}-01-01"
        q = {"from": date_from, "to": date_to, "as_of": forms.instant(as_of), "unit_id": unit_id,
             "division_code": division_code}
        # one request: reporting folds the cases once for all the sections (six requests had
        # folded them six times: 15 s at 100,000 cases)
        leader = me["role"] == "leader"

        async def nothing():
            return None
        # a leader's own cases (包案) from routing, and which of them are backlog from supervision,
        # each asked by owner: the first page of the whole backlog had hidden them at scale
        stats, owned, backlog, us, divs = await parts(
            a.get("reporting", "/api/v1/stats/dashboard", rate="on_time_reply", **q),
            a.get("routing", "/api/v1/owned-cases", limit=50) if leader else nothing(),
            a.get("supervision", "/api/v1/backlog", owner_leader=me["username"], limit=500) if leader else nothing(),
            units(a, me), divisions(a, me))
        rates, summary, ranking, months, cats, towns = (
            Part(stats.data[k] if k in stats.data else stats.data["breakdowns"][k]) if stats.ok else stats
            for k in ("rates", "summary", "ranking", "month", "category", "township"))
        yoy = stats.data.get("year_on_year") if stats.ok else None
        overdue_days = {}
        for b in (backlog.data or {}).get("items", []) if backlog.ok else []:
            overdue_days[b["case_id"]] = max(overdue_days.get(b["case_id"], 0), b["days_overdue"])
        month = today.strftime("%Y-%m")
        keep = {"as_of": as_of, "unit_id": unit_id, "division_code": division_code}
        quarter_start = today.replace(month=(today.month - 1) // 3 * 3 + 1, day=1)
        periods = [(name, "/dashboard?" + urlencode({"date_from": frm, "date_to": to, **keep}), (frm, to) == (date_from, date_to))
                   for name, frm, to in (("本月", f"{month}-01", ""), ("本季度", quarter_start.isoformat(), ""),
                                         ("本年度", f"{today.year}-01-01", ""),
                                         ("上年度", f"{today.year - 1}-01-01", f"{today.year - 1}-12-31"),
                                         ("全部时间", "", ""))]
        return render(request, "dashboard.html", me=me, rates=rates, summary=summary, months=months, cats=cats,
                      towns=towns, ranking=ranking, owned=owned, backlog=backlog, overdue_days=overdue_days,
                      unit_names={u["unit_id"]: u["name"] for u in us.data or []}, unit_choices=us.data or [],
                      yoy=yoy, periods=periods,
                      townships=[d for d in divs.data or [] if d.get("level") == "township"],
                      f={"date_from": date_from, "date_to": date_to, "as_of": as_of, "unit_id": unit_id,
                         "division_code": division_code}, month=month, year=month[:4],
                      quarter=f"{month[:4]}-Q{(int(month[5:]) - 1) // 3 + 1}")

    @app.get("/export/{name}")
    async def export(request: Request, name: str):
        a, _me = await signed_in(request)
        if name not in ("monthly.xlsx", "monthly.csv", "quarterly.xlsx", "yearly.xlsx"):
            return render(request, "not_found.html", status=404, me=_me, message="没有这种报表")
        try:
            r = await a.request("GET", "reporting", f"/api/v1/exports/{name}", params=dict(request.query_params))
        except ApiError as exc:
            return render(request, "not_found.html", status=exc.status, me=_me, message=exc.message_zh)
        keep = {k: v for k, v in r.headers.items() if k.lower() in ("content-type", "content-disposition")}
        return Response(r.content, headers=keep)

    # ------------------------------------------------------------------ public tracking

    @app.get("/track", response_class=HTMLResponse)
    async def track(request: Request, code: str = "", done: str | None = None):
        result = None
        error = None
        if code.strip():
            try:
                result = await api(request).get("intake", f"/api/v1/track/{quote(code.strip(), safe='')}")
            except ApiError as exc:
                error = exc.message_zh
            except SignedOut:
                error = "查询失败"
        return render(request, "track.html", me=None, code=code.strip(), result=result, error=error, done=done)

    @app.post("/track", response_class=HTMLResponse)
    async def evaluate(request: Request):
        form = await request.form()
        code = (form.get("code") or "").strip()
        try:
            await api(request, token=False).post("intake", f"/api/v1/track/{quote(code, safe='')}/evaluation",
                                                 forms.drop_empty({"rating": form.get("rating")}))
        except ApiError as exc:
            result = None
            try:
                result = await api(request, token=False).get("intake", f"/api/v1/track/{quote(code, safe='')}")
            except (ApiError, SignedOut):
                pass
            return render(request, "track.html", status=exc.status, me=None, code=code, result=result,
                          error=None, eval_errors={**exc.field_messages(), "_": exc.summary_zh()}, done=None)
        return RedirectResponse(f"/track?{urlencode({'code': code, 'done': 'evaluation'})}", status_code=303)

    return app


def _detail(h: dict) -> str:
    d = h.get("data") or {}
    bits = []
    for key, table in (("channel", labels.CHANNELS), ("decision", labels.DECISIONS), ("procedure", labels.PROCEDURES),
                       ("outcome", labels.OUTCOMES), ("rating", labels.RATINGS), ("level", labels.STAGES)):
        if d.get(key):
            bits.append(labels.label(table, d[key]))
    if d.get("days"):
        bits.append(f"延长{d['days']}日")
    if d.get("reason"):
        bits.append(str(d["reason"])[:60])
    return "，".join(bits)


def _command(action: str, case_id: str, form, me: dict):
    """(service, path, body) of one case action from its form."""
    t = forms.text
    base = f"/api/v1/cases/{quote(case_id, safe='')}"
    if action == "assignment":
        return "routing", f"{base}/assignment", forms.drop_empty({
            "unit_id": t(form.get("unit_id")), "reason": t(form.get("reason")), "mode": t(form.get("mode")) or "assign",
            "co_unit_ids": [u for u in form.getlist("co_unit_ids") if u]})
    if action == "sign":
        return "routing", f"{base}/sign", {}
    if action == "objection":
        return "routing", f"{base}/objection", forms.drop_empty({"reason": t(form.get("reason"))})
    if action == "ownership":
        return "routing", f"{base}/ownership", forms.drop_empty({"leader": me["username"], "note": t(form.get("note"))})
    if action == "acceptance":
        return "intake", f"{base}/acceptance", forms.drop_empty({
            "decision": t(form.get("decision")), "procedure": t(form.get("procedure")), "notice": t(form.get("notice"))})
    if action == "extension":
        return "intake", f"{base}/extension", forms.drop_empty({
            "days": forms.number(form.get("days")), "reason": t(form.get("reason")), "approver": t(form.get("approver"))})
    if action == "reply":
        return "intake", f"{base}/reply", forms.drop_empty({"outcome": t(form.get("outcome")), "text": t(form.get("text"))})
    if action == "closure":
        return "intake", f"{base}/closure", {}
    if action == "review-request":
        return "intake", f"{base}/review-request", forms.drop_empty({"level": t(form.get("level")),
                                                                      "reason": t(form.get("reason"))})
    if action == "supervision-order":
        return "supervision", f"{base}/supervision-orders", forms.drop_empty({
            "requirement": t(form.get("requirement")), "reply_by": t(form.get("reply_by"))})
    if action == "reminder":
        return "supervision", f"{base}/reminders", forms.drop_empty({"text": t(form.get("text"))})
    return None, None, None
