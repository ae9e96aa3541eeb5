"""Access rows for reporting: a user of township A against township B's case."""
from __future__ import annotations

import io

from tests.e2e.access_common import (ID_B, PHONE_B, TOWNSHIP_A, TOWNSHIP_B, VILLAGE_A, VILLAGE_B,  # noqa: F401
                                     _as, _count)


def summary(system, w):
    def reg(user):
        return _as(system, user, "GET", "reporting", "/api/v1/stats/summary").json()["registered"]
    def in_intake(office):
        return _count(system, "intake", f"SELECT count(*) FROM cases WHERE office = '{office}'")
    # reporting catches up with intake within moments; then each scope counts its own cases
    system.wait_for(lambda: reg("clerk-a") == in_intake(TOWNSHIP_A) and reg("clerk-b") == in_intake(TOWNSHIP_B),
                    timeout=15, what="reporting to count what intake holds, per township")
    a, b, county = reg("clerk-a"), reg("clerk-b"), reg("demo-leader")
    assert b >= 1 and a >= 1 and county >= a + b
    assert county == _count(system, "intake", "SELECT count(*) FROM cases")


def statistic(path: str, key):
    """Township A may not ask about township B (404 naming the field) nor about B's unit; B may."""
    def check(system, w):
        sep = "&" if "?" in path else "?"
        r = _as(system, "clerk-a", "GET", "reporting", f"{path}{sep}division_code={TOWNSHIP_B}")
        assert r.status_code == 404 and r.json()["error"]["fields"][0]["field"] == "division_code"
        r = _as(system, "handler-a", "GET", "reporting", f"{path}{sep}unit_id=999901002-gov")
        assert r.status_code == 404 and r.json()["error"]["fields"][0]["field"] == "unit_id"
        mine = _as(system, "clerk-b", "GET", "reporting", f"{path}{sep}division_code={TOWNSHIP_B}")
        assert mine.status_code == 200
        a = _as(system, "clerk-a", "GET", "reporting", path)
        assert a.status_code == 200
        if key:  # each counts the cases of their own scope, as the summary does
            def counted(user, extra=""):
                return _as(system, user, "GET", "reporting", f"/api/v1/stats/summary?from=2026-01-01&to=2026-12-31{extra}"
                           ).json()["registered"]
            assert key(mine) == counted("clerk-b", f"&division_code={TOWNSHIP_B}") >= 1
            assert key(a) == counted("clerk-a")
    return check


def _registered_in_sheet(r) -> int:
    from openpyxl import load_workbook

    ws = load_workbook(io.BytesIO(r.content))["按渠道"]
    return int(list(ws.iter_rows(values_only=True))[-1][2])


_BREAKDOWN = lambda r: sum(row["registered"] for row in r.json()["rows"])  # noqa: E731
ROWS = {
    ("reporting", "GET", "/api/v1/stats/summary"): summary,
    ("reporting", "GET", "/api/v1/stats/rates"): statistic("/api/v1/stats/rates", None),
    ("reporting", "GET", "/api/v1/stats/breakdown"): statistic("/api/v1/stats/breakdown?by=channel&from=2026-01-01&to=2026-12-31", _BREAKDOWN),
    ("reporting", "GET", "/api/v1/stats/dashboard"): statistic("/api/v1/stats/dashboard?from=2026-01-01&to=2026-12-31",
                                                               lambda r: r.json()["summary"]["registered"]),
    ("reporting", "GET", "/api/v1/stats/rankings"): statistic("/api/v1/stats/rankings?rate=timely_acceptance", None),
    ("reporting", "GET", "/api/v1/exports/monthly.xlsx"): statistic("/api/v1/exports/monthly.xlsx?month=2026-11", None),
    ("reporting", "GET", "/api/v1/exports/monthly.csv"): statistic("/api/v1/exports/monthly.csv?month=2026-11", None),
    ("reporting", "GET", "/api/v1/exports/quarterly.xlsx"): statistic("/api/v1/exports/quarterly.xlsx?quarter=2026-Q4", None),
    ("reporting", "GET", "/api/v1/exports/quarterly.csv"): statistic("/api/v1/exports/quarterly.csv?quarter=2026-Q4", None),
    ("reporting", "GET", "/api/v1/exports/yearly.xlsx"): statistic("/api/v1/exports/yearly.xlsx?year=2026", _registered_in_sheet),
    ("reporting", "GET", "/api/v1/exports/yearly.csv"): statistic("/api/v1/exports/yearly.csv?year=2026", None),
}
