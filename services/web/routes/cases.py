"""信访事项, every role's: the case list, the case file with its history and the actions the
user's role may take on it (its printable documents: routes/documents.py)."""
from __future__ import annotations

from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from services.web import actions, forms, labels
from services.web.client import Api, ApiError, Part, Unavailable, parts
from services.web.console import Console, beijing, cn_date, safe_next, sort_key
from services.web.deps import Me, Site, UserApi
from services.web.timeline import detail, late_entry
from services.web.timeline import rows as timeline_rows

router = APIRouter()
INTAKE_COMMANDS = {"acceptance", "extension", "reply", "closure", "review-request"}


@router.get("/cases", response_class=HTMLResponse)
async def case_list(request: Request, site: Site, a: UserApi, me: Me, status: str = "", channel: str = "",
                    division_code: str = "", category_code: str = "", purpose: str = "", flag: str = "",
                    unit_id: str = "", received_from: str = "", received_to: str = "", q: str = "", page: int = 1):
    page = max(1, page)
    page_size = site.cfg.page_size
    filters = {"status": status, "channel": channel, "division_code": division_code,
               "category_code": category_code, "purpose": purpose, "flag": flag, "unit_id": unit_id,
               "received_from": received_from, "received_to": received_to, "q": q}
    api_filters = {**filters, "received_from": forms.instant(received_from and received_from + "T00:00"),
                   "received_to": forms.instant(received_to and received_to + "T23:59:59")}
    result, nm = await parts(a.get("intake", "/api/v1/cases", **api_filters, limit=page_size,
                                   offset=(page - 1) * page_size), site.names(a, me))
    # the page's clocks, from supervision, together with the (cached) choices of the filters
    items = result.data.get("items", []) if result.ok else []
    divs, us, due = await parts(site.divisions(a, me), site.units(a, me), site.deadlines(a, items))
    return site.render(request, "cases.html", me=me, result=result, names=nm.data or {}, filters=filters,
                       page=page, divs=divs, unit_choices=us.data or [], deadlines=due.data or {},
                       query=urlencode({k: v for k, v in filters.items() if v}))


async def case_page(site: Console, request: Request, a: Api, me: dict, case_id: str, *, errors=None, values=None,
                    status=200, done=None, chosen=None):
    path = f"/api/v1/cases/{quote(case_id, safe='')}"
    case, assignment, deadlines, orders, reminders, nm, story = await parts(
        a.get("intake", path), a.get("routing", f"{path}/assignment"), a.get("supervision", f"{path}/deadlines"),
        a.get("supervision", "/api/v1/supervision-orders", case_id=case_id, limit=100),
        a.get("supervision", f"{path}/reminders"), site.names(a, me), a.get("intake", f"{path}/history"))
    if case.missing:
        raise Unavailable("intake", "/api/v1/cases", "down")
    if not case.ok:
        return site.render(request, "not_found.html", status=404, me=me, message=case.error)
    c = case.data
    suggestion = None
    unit_choices = []
    if me["role"] in ("dispatcher", "admin"):
        sug, us = await parts(a.post("routing", "/api/v1/rules/preview",
                                     {"division_code": c["division_code"], "category_code": c["category_code"]}),
                              site.units(a, me))
        suggestion, unit_choices = sug, us.data or []
    supervised = _supervision(orders, reminders)
    names, staff = await site.mentioned(
        a, c.get("history", []) + (assignment.data.get("history", []) if assignment.ok else [])
        + ((story.data or {}).get("events", []) if story.ok else [])
        + [{"actor": assignment.data.get("owner_leader") if assignment.ok else None}]
        + [{"actor": w} for o in supervised["orders"] for w in (o.get("issued_by"), o.get("answered_by"))]
        + [{"actor": r.get("sent_by")} for r in supervised["reminders"]], nm.data or {})
    # the whole history as intake gathered it from every service; pieced together from each
    # service's own reads when intake cannot answer it
    timeline = timeline_rows(story.data, names, staff) if story.ok else _pieced(c, assignment, supervised, names, staff)
    a_state = assignment.data.get("state") if assignment.ok else None
    answerable = [o for o in supervised["orders"] if o.get("status") in ("open", "escalated")
                  and (me["role"] == "admin" or (me.get("unit_id") and o.get("unit_id") == me.get("unit_id")))]
    offered = list(actions.offered(me["role"], c["status"], a_state, extended=bool(c.get("extended")),
                                   owned=bool(c.get("owner_leader")), orders_to_answer=bool(answerable)))
    offered += [k.split(".", 1)[0] for k in (errors or {}) if k.split(".", 1)[0] not in offered]  # its error shows
    return site.render(request, "case.html", status=status, me=me, c=c, assignment=assignment,
                       deadlines=deadlines, names=names, timeline=timeline, errors=errors or {},
                       values=values or {}, suggestion=suggestion, unit_choices=unit_choices, done=done,
                       offered=offered, confirm=actions.CONFIRM, done_text=actions.DONE.get(done or "", "操作成功。"),
                       chosen=chosen, supervised=supervised, answerable=answerable, staff=staff)


def _pieced(c: dict, assignment: Part, supervised: dict, names: dict, staff: dict) -> list[dict]:
    """The timeline from intake's, routing's and supervision's own reads of the case."""
    timeline = [{"at": h["occurred_at"], "what": labels.label(labels.EVENTS, h["event_type"]),
                 "who": labels.actor(h.get("actor"), staff),
                 "detail": "，".join(x for x in (detail(h, names), late_entry(h.get("backdated"), staff)) if x)}
                for h in c.get("history", [])]
    if assignment.ok:
        seen = {(t["what"], beijing(t["at"])) for t in timeline}
        for h in assignment.data.get("history", []):
            at, event = h.get("at") or h.get("occurred_at"), h.get("event") or h.get("event_type")
            if not (at and event):
                continue
            item = {"at": at, "what": labels.label(labels.EVENTS, event),
                    "who": labels.actor(h.get("by") or h.get("actor"), staff),
                    "detail": "；".join(x for x in (names.get(h.get("unit_id"), "其他单位" if h.get("unit_id") else ""),
                                                   labels.basis(h.get("rule"), names),
                                                   h.get("reason") or "", late_entry(h.get("backdated"), staff))
                                        if x)}
            if (item["what"], beijing(item["at"])) not in seen:
                timeline.append(item)
    seen = {(t["what"], beijing(t["at"])) for t in timeline}
    timeline += [t for t in _supervision_steps(supervised, names, staff) if (t["what"], beijing(t["at"])) not in seen]
    timeline.sort(key=lambda t: sort_key(t["at"]))
    return timeline


def _supervision(orders: Part, reminders: Part) -> dict:
    """The case's supervision orders and reminders as the page lists them. Supervision answers a
    case it has not heard of yet with not-found: then there are none to show."""
    return {"orders": (orders.data or {}).get("items", []) if orders.ok else [],
            "reminders": (reminders.data or {}).get("items", []) if reminders.ok else [],
            "missing": orders.missing or reminders.missing}


def _supervision_steps(supervised: dict, names: dict, staff: dict) -> list[dict]:
    """督办 issued, answered and escalated, and 催办, as steps of the case's timeline."""
    ev = labels.EVENTS
    steps = []
    for o in supervised["orders"]:
        steps.append({"at": o["issued_at"], "what": ev["SupervisionOrderIssued"],
                      "who": labels.actor(o.get("issued_by"), staff),
                      "detail": f"{o.get('requirement', '')[:60]}；限{cn_date(o.get('reply_by'))}前答复"})
        if o.get("answered_at"):
            steps.append({"at": o["answered_at"], "what": ev["SupervisionOrderAnswered"],
                          "who": labels.actor(o.get("answered_by"), staff), "detail": (o.get("answer") or "")[:60]})
        if o.get("escalated_at"):
            above = names.get(o.get("escalated_to") or "")
            steps.append({"at": o["escalated_at"], "what": ev["SupervisionOrderEscalated"],
                          "who": labels.actor("system:supervision", staff),
                          "detail": f"逾期未答复，提交{above + '信访工作机构' if above else '上一级信访工作机构'}督办"})
    for r in supervised["reminders"]:
        steps.append({"at": r["sent_at"], "what": ev["ReminderSent"], "who": labels.actor(r.get("sent_by"), staff),
                      "detail": (r.get("text") or "")[:60]})
    return steps


@router.get("/cases/{case_id}", response_class=HTMLResponse)
async def case_file(request: Request, site: Site, a: UserApi, me: Me, case_id: str, done: str | None = None,
                    chosen: str | None = None):
    """``chosen``: the unit the dispatcher picked, after an assignment: the page says so if the
    rules made another unit lead."""
    return await case_page(site, request, a, me, case_id, done=done, chosen=chosen)


@router.post("/cases/{case_id}/act/{action}", response_class=HTMLResponse)
async def act(request: Request, site: Site, a: UserApi, me: Me, case_id: str, action: str):
    form = await request.form()
    values = {k: v for k, v in form.items()}
    service, path, body = _command(action, case_id, form, me)
    if service is None:
        return site.render(request, "not_found.html", status=404, me=me, message="没有这项操作")
    headers = {"If-Match": f'"{form["version"]}"'} if action in INTAKE_COMMANDS and form.get("version") else {}
    if action in ONCE_ONLY and form.get("idempotency_key"):
        headers["Idempotency-Key"] = str(form["idempotency_key"])
    try:
        await a.post(service, path, body, headers=headers or None)
    except Unavailable:
        errors = {f"{action}._": "该功能暂不可用"}
        return await case_page(site, request, a, me, case_id, errors=errors, values={action: values}, status=503)
    except ApiError as exc:
        errors = exc.field_messages(prefix=f"{action}.")
        errors[f"{action}._"] = exc.summary_zh() + (f"（{exc.rule}）" if exc.rule and exc.rule not in exc.message_zh else "")
        return await case_page(site, request, a, me, case_id, errors=errors, values={action: values},
                               status=exc.status)
    nxt = form.get("next")
    target = safe_next(nxt) if nxt else f"/cases/{case_id}"
    sep = "&" if "?" in target else "?"
    chosen = f"&chosen={quote(str(form['unit_id']))}" if action == "assignment" and form.get("unit_id") else ""
    return RedirectResponse(f"{target}{sep}done={quote(action)}{chosen}", status_code=303)


async def _case_file(site: Console, a: Api, me: dict, case_id: str) -> tuple[Part, dict]:
    """The case file from intake and the names of divisions and units, fetched together."""
    case, nm = await parts(a.get("intake", f"/api/v1/cases/{quote(case_id, safe='')}"), site.names(a, me))
    return case, nm.data or {}


@router.get("/cases/{case_id}/registered", response_class=HTMLResponse)
async def registered(request: Request, site: Site, a: UserApi, me: Me, case_id: str):
    """登记成功 (where registering redirects): the new case's tracking code and what the clerk is
    told, read back from the case file."""
    case, names = await _case_file(site, a, me, case_id)
    if not case.ok:
        return site.render(request, "not_found.html", status=404, me=me, message=case.error or "该功能暂不可用")
    return site.render(request, "registered.html", me=me, r=case.data, names=names)


# the actions that create something new each time they are sent (the others are state changes a
# second send finds done, or stale by If-Match)
ONCE_ONLY = frozenset({"supervision-order", "reminder"})


# the actions that may be entered late (补录): the form sends the act's real time and the reason
LATE_ACTIONS = frozenset({"assignment", "sign", "objection", "acceptance", "extension", "reply", "closure",
                          "review-request"})


def _command(action: str, case_id: str, form, me: dict):
    """(service, path, body) of one case action from its form."""
    service, path, body = _command_body(action, case_id, form, me)
    if service is not None and action in LATE_ACTIONS:
        body = {**body, **forms.drop_empty({"occurred_at": forms.instant(form.get("occurred_at")),
                                            "backdate_reason": forms.text(form.get("backdate_reason"))})}
    return service, path, body


def _command_body(action: str, case_id: str, form, me: dict):
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
    if action == "order-answer" and t(form.get("order_id")):
        return "supervision", f"/api/v1/supervision-orders/{quote(str(t(form.get('order_id'))), safe='')}/answer", \
            forms.drop_empty({"text": t(form.get("text"))})
    return None, None, None
