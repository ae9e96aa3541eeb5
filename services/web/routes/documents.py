"""文书: the printable documents of a case, each as an A4 page and as its PDF (``….pdf``, made on
the server): the receipt (受理凭证) with the public tracking address and its QR code, the written
notices filled from the case's facts under their document number (文号), and the supervision
order (督办单). Nothing on paper carries an internal id."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.web import documents, labels, timeline
from services.web.client import Api, parts
from services.web.console import Console
from services.web.deps import Me, Site, UserApi

router = APIRouter()


async def _case(site: Console, a: Api, me: dict, case_id: str, *more):
    """The case file, the names of divisions and units, and whatever else the document needs, at once."""
    case, nm, *rest = await parts(a.get("intake", f"/api/v1/cases/{quote(case_id, safe='')}"),
                                  site.names(a, me), *more)
    return case, nm.data or {}, rest


def _deadlines(a: Api, case_id: str):
    return a.get("supervision", f"/api/v1/cases/{quote(case_id, safe='')}/deadlines")


async def _document(request: Request, site: Site, template: str, pdf: bool, filename: str, **ctx) -> Response:
    page = site.render(request, template, **ctx)
    if not pdf:
        return page
    data = await asyncio.to_thread(documents.to_pdf, bytes(page.body).decode("utf-8"))
    return Response(data, media_type="application/pdf",
                    headers={"Content-Disposition": f"inline; filename*=UTF-8''{quote(filename)}.pdf"})


def _missing(request: Request, site: Site, me: dict, message: str | None) -> HTMLResponse:
    return site.render(request, "not_found.html", status=404, me=me, message=message or "没有这份文书")


def _stage(deadlines, stage: str):
    return next((s for s in (deadlines.data or {}).get("stages", []) if s["stage"] == stage), None) \
        if deadlines.ok else None


# ---------------------------------------------------------------- the case's documents

@router.get("/cases/{case_id}/documents", response_class=HTMLResponse)
async def case_documents(request: Request, site: Site, a: UserApi, me: Me, case_id: str):
    """文书: every printable document of the case (receipt, notices, supervision orders), each to
    print or to download as PDF."""
    case, names, [orders] = await _case(site, a, me, case_id, _orders(a, case_id))
    if not case.ok:
        return _missing(request, site, me, case.error)
    return site.render(request, "documents.html", me=me, c=case.data, names=names, orders=orders,
                       order_items=_in_order(orders))


def _orders(a: Api, case_id: str):
    return a.get("supervision", "/api/v1/supervision-orders", case_id=case_id, limit=500)


def _in_order(orders) -> list[dict]:
    """The case's supervision orders, oldest first: an order's number is its place here."""
    return sorted((orders.data or {}).get("items", []) if orders.ok else [], key=lambda o: o.get("issued_at") or "")


# ---------------------------------------------------------------- the receipt

async def _receipt(request: Request, site: Site, a: Api, me: dict, case_id: str, pdf: bool) -> Response:
    case, names, [deadlines] = await _case(site, a, me, case_id, _deadlines(a, case_id))
    if not case.ok:
        return _missing(request, site, me, case.error)
    c = case.data
    url = documents.tracking_url(documents.public_base(site.cfg.public_url, request), c["tracking_code"])
    promise = (deadlines.data or {}).get("acceptance_promise") if deadlines.ok else None
    return await _document(request, site, "receipt.html", pdf, f"受理凭证-{c['tracking_code']}", me=me, c=c,
                           names=names, promise=promise, track_url=url, qr=documents.qr_svg(url))


@router.get("/cases/{case_id}/receipt.pdf")
async def receipt_pdf(request: Request, site: Site, a: UserApi, me: Me, case_id: str):
    return await _receipt(request, site, a, me, case_id, pdf=True)


@router.get("/cases/{case_id}/receipt", response_class=HTMLResponse)
async def receipt(request: Request, site: Site, a: UserApi, me: Me, case_id: str):
    return await _receipt(request, site, a, me, case_id, pdf=False)


# ---------------------------------------------------------------- the notices

async def _notice(request: Request, site: Site, a: Api, me: dict, case_id: str, index: int, pdf: bool) -> Response:
    case, names, [deadlines] = await _case(site, a, me, case_id, _deadlines(a, case_id))
    if not case.ok or not (0 <= index < len(case.data.get("notices", []))):
        return _missing(request, site, me, case.error)
    c = case.data
    n = c["notices"][index]
    title = labels.NOTICES.get(n["kind"]) or n.get("name_zh") or "告知书"
    if n["kind"] == "non_acceptance_notice":
        title = "不再受理告知书" if n.get("decision") == "no_longer_accepted" else "不予受理告知书"
    # the handling deadline as supervision keeps it, re-based on the acceptance and moved by the
    # extension; the acceptance notice states it as it was before the extension, so it never changes
    handling = _stage(deadlines, "handling")
    if handling and not str(handling.get("basis") or "").startswith("accepted_at"):
        handling = None  # still the provisional clock: supervision has not heard the acceptance yet
    extended = sum(x.get("days") or 0 for x in c["notices"] if x["kind"] == "extension_notice")
    accepted_due = accepted_days = None
    if handling and c.get("procedure") != "simplified":
        due = datetime.fromisoformat(str(handling["due_at"]).replace("Z", "+00:00"))
        accepted_due, accepted_days = (due - timedelta(days=extended)).isoformat(), handling["limit_days"] - extended
    elif handling:
        accepted_due, accepted_days = handling["due_at"], handling["limit_days"]
    return await _document(request, site, "notice.html", pdf, f"{title}-{c['tracking_code']}", me=me, c=c, n=n,
                           names=names, title=title, handling_due=handling["due_at"] if handling else None,
                           accepted_due=accepted_due, accepted_days=accepted_days,
                           day_kind=handling["day_kind"] if handling else None)


@router.get("/cases/{case_id}/notices/{index}.pdf")
async def notice_pdf(request: Request, site: Site, a: UserApi, me: Me, case_id: str, index: int):
    return await _notice(request, site, a, me, case_id, index, pdf=True)


@router.get("/cases/{case_id}/notices/{index}", response_class=HTMLResponse)
async def notice(request: Request, site: Site, a: UserApi, me: Me, case_id: str, index: int):
    return await _notice(request, site, a, me, case_id, index, pdf=False)


# ---------------------------------------------------------------- the supervision order (督办单)

async def _order(request: Request, site: Site, a: Api, me: dict, case_id: str, order_id: str, pdf: bool) -> Response:
    case, names, [orders] = await _case(site, a, me, case_id, _orders(a, case_id))
    # its number: the order's place among the case's orders, oldest first (supervision keeps no
    # per-office series of orders)
    found = [(i, o) for i, o in enumerate(_in_order(orders), start=1) if o.get("order_id") == order_id]
    if not case.ok or not found:
        return _missing(request, site, me, case.error or orders.error)
    seq, order = found[0]
    c = case.data
    return await _document(request, site, "order.html", pdf, f"督办单-{c['tracking_code']}-{seq}", me=me, c=c,
                           o=order, seq=seq, names=names)


@router.get("/cases/{case_id}/orders/{order_id}/print.pdf")
async def order_pdf(request: Request, site: Site, a: UserApi, me: Me, case_id: str, order_id: str):
    return await _order(request, site, a, me, case_id, order_id, pdf=True)


@router.get("/cases/{case_id}/orders/{order_id}/print", response_class=HTMLResponse)
async def order_print(request: Request, site: Site, a: UserApi, me: Me, case_id: str, order_id: str):
    return await _order(request, site, a, me, case_id, order_id, pdf=False)


# ---------------------------------------------------------------- the whole history (全流程记录)

async def _history(request: Request, site: Site, a: Api, me: dict, case_id: str, kind: str) -> Response:
    path = f"/api/v1/cases/{quote(case_id, safe='')}/history"
    case, names, [story] = await _case(site, a, me, case_id, a.get("intake", path))
    if not case.ok or not story.ok:
        return _missing(request, site, me, case.error or story.error)
    names, staff = await site.mentioned(a, story.data.get("events", []), names)
    steps = timeline.rows(story.data, names, staff)
    c = case.data
    filename = f"全流程记录-{c['tracking_code']}"
    if kind == "xlsx":
        data = await asyncio.to_thread(timeline.xlsx, f"信访事项全流程记录 {c['tracking_code']}", steps)
        return Response(data, media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}.xlsx"})
    return await _document(request, site, "history.html", kind == "pdf", filename, me=me, c=c, names=names,
                           steps=steps, now=datetime.now().astimezone())


@router.get("/cases/{case_id}/history.pdf")
async def history_pdf(request: Request, site: Site, a: UserApi, me: Me, case_id: str):
    return await _history(request, site, a, me, case_id, "pdf")


@router.get("/cases/{case_id}/history.xlsx")
async def history_xlsx(request: Request, site: Site, a: UserApi, me: Me, case_id: str):
    return await _history(request, site, a, me, case_id, "xlsx")


@router.get("/cases/{case_id}/history", response_class=HTMLResponse)
async def history_page(request: Request, site: Site, a: UserApi, me: Me, case_id: str):
    """全流程记录: the case's whole history across the services, to print, or as PDF or XLSX."""
    return await _history(request, site, a, me, case_id, "page")
