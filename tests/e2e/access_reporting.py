"""Access rows for reporting: a user of township A against township B's case."""
from __future__ import annotations

import io

from tests.e2e.access_common import ID_B, PHONE_B, TOWNSHIP_A, TOWNSHIP_B, VILLAGE_A, VILLAGE_B, _as, _count  # noqa: F401
from tests.e2e.conftest import RECEIVED

# the periods that hold the fixture letters (they came in four days before the run)
YEAR = f"from={RECEIVED.year}-01-01&to={RECEIVED.year}-12-31"
QUARTER = f"{RECEIVED.year}-Q{(RECEIVED.month - 1) // 3 + 1}"


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
                return _as(system, user, "GET", "reporting", f"/api/v1/stats/summary?{YEAR}{extra}"
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
    ("reporting", "GET", "/api/v1/stats/breakdown"): statistic(f"/api/v1/stats/breakdown?by=channel&{YEAR}", _BREAKDOWN),
    ("reporting", "GET", "/api/v1/stats/dashboard"): statistic(f"/api/v1/stats/dashboard?{YEAR}",
                                                               lambda r: r.json()["summary"]["registered"]),
    ("reporting", "GET", "/api/v1/stats/rankings"): statistic("/api/v1/stats/rankings?rate=timely_acceptance", None),
    ("reporting", "GET", "/api/v1/exports/monthly.xlsx"): statistic(f"/api/v1/exports/monthly.xlsx?month={RECEIVED:%Y-%m}", None),
    ("reporting", "GET", "/api/v1/exports/monthly.csv"): statistic(f"/api/v1/exports/monthly.csv?month={RECEIVED:%Y-%m}", None),
    ("reporting", "GET", "/api/v1/exports/quarterly.xlsx"): statistic(f"/api/v1/exports/quarterly.xlsx?quarter={QUARTER}", None),
    ("reporting", "GET", "/api/v1/exports/quarterly.csv"): statistic(f"/api/v1/exports/quarterly.csv?quarter={QUARTER}", None),
    ("reporting", "GET", "/api/v1/exports/yearly.xlsx"): statistic(
        f"/api/v1/exports/yearly.xlsx?year={RECEIVED.year}", _registered_in_sheet),
    ("reporting", "GET", "/api/v1/exports/yearly.csv"): statistic(f"/api/v1/exports/yearly.csv?year={RECEIVED.year}", None),
}
