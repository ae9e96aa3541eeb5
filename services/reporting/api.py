"""Reporting's HTTP surface: rates, counts, breakdowns, rankings and exports, for any period, scope
and ``as_of`` instant."""
from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

from fastapi import APIRouter, Depends, Query, Response

from services.reporting import exports, rates, views
from xinfang.bounds import in_range
from xinfang.errors import InvalidInput
from xinfang.security import Principal

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _date(value: str | None, field: str) -> date | None:
    if value is None or value == "":
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{field}: expected a date YYYY-MM-DD", f"{field}：应为日期 YYYY-MM-DD", field=field) from None
    in_range(day, field)
    return day


def _known_rate(rate: str) -> None:
    if rate not in rates.RATES:
        raise InvalidInput(f"rate: one of {', '.join(rates.RATES)}", f"rate：应为 {'、'.join(rates.RATES)} 之一", field="rate")


def _as_of(value: str | None) -> datetime:
    if not value:
        return datetime.now(UTC)
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        t = None
    if t is None or t.tzinfo is None:
        raise InvalidInput("as_of: expected an ISO-8601 instant with its offset",
                           "as_of：应为带时区的 ISO-8601 时刻", field="as_of")
    in_range(t, "as_of")
    return t.astimezone(UTC)


class Params:
    """The query parameters every statistic takes."""

    def __init__(self, frm: str | None = Query(None, alias="from", description="first day (YYYY-MM-DD)"),
                 to: str | None = Query(None, description="last day, included (YYYY-MM-DD)"),
                 unit_id: str | None = None, division_code: str | None = None,
                 as_of: str | None = Query(None, description="an instant: the statistic as it stood then")):
        self.frm, self.to = _date(frm, "from"), _date(to, "to")
        if self.frm and self.to and self.to < self.frm:
            raise InvalidInput("to: before from", "to：早于 from", field="to")
        self.unit_id, self.division_code, self.as_of = unit_id or None, division_code or None, _as_of(as_of)

    def resolve(self, me: Principal):
        sc = views.scope(me, unit_id=self.unit_id, division_code=self.division_code)
        return rates.period_of(self.frm, self.to, self.as_of, rates.rules().timezone), sc



def router(runtime) -> APIRouter:
    r = APIRouter(prefix="/api/v1")
    db = runtime.db

    @r.get("/stats/rates", tags=["statistics"])
    async def stats_rates(p: Params = Depends(), me: Principal = Depends(runtime.current_user)):
        """The five rates (五率), each with its numerator and denominator (docs/rates.md)."""
        w, sc = p.resolve(me)
        return await asyncio.to_thread(views.rate_figures, db, w, sc)

    @r.get("/stats/summary", tags=["statistics"])
    async def stats_summary(p: Params = Depends(), me: Principal = Depends(runtime.current_user)):
        """Counts of the cases received in the period (default: all) in the caller's scope."""
        w, sc = p.resolve(me)
        return await asyncio.to_thread(views.summary, db, w, sc)

    @r.get("/stats/breakdown", tags=["statistics"])
    async def stats_breakdown(by: str = Query(..., description="|".join(views.BREAKDOWNS)), p: Params = Depends(),
                              me: Principal = Depends(runtime.current_user)):
        if by not in views.BREAKDOWNS:
            raise InvalidInput(f"by: one of {', '.join(views.BREAKDOWNS)}",
                               f"by：应为 {'、'.join(views.BREAKDOWNS)} 之一", field="by")
        w, sc = p.resolve(me)
        return await asyncio.to_thread(views.breakdown, db, w, sc, by)

    @r.get("/stats/rankings", tags=["statistics"])
    async def stats_rankings(rate: str = Query("on_time_reply", description="|".join(rates.RATES)),
                             p: Params = Depends(), me: Principal = Depends(runtime.current_user)):
        """Units ranked by one rate (五率排名)."""
        _known_rate(rate)
        w, sc = p.resolve(me)
        return await asyncio.to_thread(views.rankings, db, w, sc, rate)

    @r.get("/stats/dashboard", tags=["statistics"])
    async def stats_dashboard(rate: str = Query("on_time_reply", description="the rate units are ranked by"),
                              p: Params = Depends(), me: Principal = Depends(runtime.current_user)):
        """What the leader's page shows, from one snapshot and one fold of the cases: ``rates``,
        ``summary``, ``ranking`` (units by ``rate``) and ``breakdowns`` by month, category and
        township, each as its own endpoint answers it; and ``year_on_year`` (同比), from a second
        statement at the same ``as_of``: first petitions and all cases received against the same
        period a year before (null for a period with no start)."""
        _known_rate(rate)
        w, sc = p.resolve(me)
        return await asyncio.to_thread(views.dashboard, db, w, sc, rate)

    def export(kind: str, field: str, fmt: str):
        async def endpoint(value: str | None = Query(None, alias=field), unit_id: str | None = None,
                           division_code: str | None = None, as_of: str | None = None,
                           me: Principal = Depends(runtime.current_user)):
            sc = views.scope(me, unit_id=unit_id or None, division_code=division_code or None)
            report = await asyncio.to_thread(exports.build, db, kind, value, sc, _as_of(as_of))
            name = f"xinfang-{kind}-{value}.{fmt}"
            if fmt == "xlsx":
                body, media = exports.xlsx(report), XLSX
            else:
                body, media = exports.csv_text(report).encode("utf-8"), "text/csv; charset=utf-8"
            return Response(body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})
        endpoint.__name__ = f"export_{kind}_{fmt}"
        return endpoint

    for kind, field in (("monthly", "month"), ("quarterly", "quarter"), ("yearly", "year")):
        for fmt in ("xlsx", "csv"):
            media = XLSX if fmt == "xlsx" else "text/csv"
            r.add_api_route(f"/exports/{kind}.{fmt}", export(kind, field, fmt), methods=["GET"], tags=["exports"],
                            summary=f"{kind} report as {fmt.upper()} ({field}=…)", response_class=Response,
                            responses={200: {"description": f"the report as {fmt.upper()}",
                                             "content": {media: {"schema": {"type": "string", "format": "binary"}}}}})
    return r
