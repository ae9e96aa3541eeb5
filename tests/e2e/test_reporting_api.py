"""Reporting through the running system: a case accepted, replied and evaluated shows in the rates;
``as_of`` before those acts does not show them; the XLSX export's totals are the API's."""
from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from openpyxl import load_workbook

from tests.e2e.access_common import add_user
from tests.e2e.conftest import BEIJING, RECEIVED, another_petitioner

pytestmark = pytest.mark.e2e
# from the fixture letter's day to tomorrow: the cases came in then and are accepted and replied
# now, which is tomorrow already if the run crosses midnight after this module was imported
SPAN = f"from={RECEIVED.date().isoformat()}&to={(datetime.now(BEIJING) + timedelta(days=1)).date().isoformat()}"
# the month the fixture letters came in, as the monthly export names it
MONTH = RECEIVED.strftime("%Y-%m")
_next = (RECEIVED.replace(day=28) + timedelta(days=4)).replace(day=1)
IN_MONTH = f"from={RECEIVED.replace(day=1).date().isoformat()}&to={(_next - timedelta(days=1)).date().isoformat()}"


def test_rates_follow_the_case_and_as_of_turns_the_clock_back(system):
    add_user(system, "handler-cgz", "handler", "999901001000", "999901001-gov")
    system.token("handler-cgz", "pass-for-tests")
    before = system.get("reporting", "/api/v1/stats/summary").json()["registered"]
    case = system.register(channel="visit", headcount=3)
    cid = case["case_id"]
    system.wait_for(lambda: system.get("intake", f"/api/v1/cases/{cid}", user="handler-cgz").status_code == 200,
                    timeout=20, what="the case in the handler's view")
    system.wait_for(lambda: system.get("reporting", "/api/v1/stats/summary").json()["registered"] == before + 1,
                    timeout=20, what="reporting to count the case")
    registered_only = datetime.now(UTC).isoformat()

    def act(path, body):
        r = system.post("intake", f"/api/v1/cases/{cid}/{path}", body, user="handler-cgz")
        assert r.status_code == 200, r.text

    system.sign(cid, "handler-cgz")
    act("acceptance", {"decision": "accepted", "procedure": "normal", "notice": "受理"})
    act("reply", {"outcome": "supported", "text": "已解决"})
    assert system.http.post(f"{system.url['intake']}/api/v1/track/{case['tracking_code']}/evaluation",
                            json={"rating": "satisfied"}).status_code == 200

    def rates(extra=""):
        return system.get("reporting", f"/api/v1/stats/rates?{SPAN}&unit_id=999901001-gov{extra}").json()

    now = system.wait_for(lambda: (r := rates()) and r["satisfaction"]["denominator"] >= 1
                          and r["evaluation"]["numerator"] >= 1 and r, timeout=20, what="the rates to show the case")
    then = rates(f"&as_of={quote(registered_only)}")
    # as it stood before the acceptance, the reply and the evaluation: exactly one less of each
    for key in ("evaluation", "satisfaction"):
        assert now[key]["numerator"] - then[key]["numerator"] == 1, key
    assert now["on_time_reply"]["denominator"] - then["on_time_reply"]["denominator"] == 1
    assert set(now) >= {"timely_acceptance", "on_time_reply", "evaluation", "satisfaction", "first_time_resolution",
                        "period", "scope", "as_of"}
    ranking = system.get("reporting", f"/api/v1/stats/rankings?rate=satisfaction&{SPAN}").json()
    assert "999901001-gov" in {r["unit_id"] for r in ranking["rows"]}


def test_the_xlsx_export_opens_and_its_totals_are_the_apis(system):
    system.wait_for(lambda: system.get("reporting", "/api/v1/stats/summary").json()["registered"] >= 1,
                    timeout=20, what="something to count")
    as_of = quote(datetime.now(UTC).isoformat())
    r = system.get("reporting", f"/api/v1/exports/monthly.xlsx?month={MONTH}&as_of={as_of}")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.openxmlformats")
    wb = load_workbook(io.BytesIO(r.content))
    assert f"{RECEIVED.year}年{RECEIVED.month}月" in wb["五率"]["A1"].value
    api_rates = system.get("reporting", f"/api/v1/stats/rates?{IN_MONTH}&as_of={as_of}").json()
    sheet = {row[0]: row[1:] for row in wb["五率"].iter_rows(min_row=4, values_only=True)}
    assert sheet["及时受理率"] == (api_rates["timely_acceptance"]["numerator"],
                                api_rates["timely_acceptance"]["denominator"], api_rates["timely_acceptance"]["rate"])
    assert sheet["按期答复率"][:2] == (api_rates["on_time_reply"]["numerator"], api_rates["on_time_reply"]["denominator"])
    summary = system.get("reporting", f"/api/v1/stats/summary?{IN_MONTH}&as_of={as_of}").json()
    overview = {row[0]: row[1] for row in wb["概况"].iter_rows(min_row=4, values_only=True)}
    assert overview["登记件数（批次）"] == summary["registered"] >= 1
    assert overview["人次"] == summary["person_times"]
    assert overview["补录（倒签）办理环节"] == api_rates["backdated"]
    for sheet_name, by in (("按渠道", "channel"), ("按责任单位", "unit"), ("按月份", "month")):
        ws = wb[sheet_name]
        header = [c.value for c in ws[3]]
        rows = list(ws.iter_rows(min_row=4, values_only=True))
        api = system.get("reporting", f"/api/v1/stats/breakdown?by={by}&{IN_MONTH}&as_of={as_of}").json()["rows"]
        col = header.index("登记件数（批次）")
        assert rows[-1][0] == "合计" and rows[-1][col] == sum(x["registered"] for x in api) == summary["registered"]
        # as a leader hands it on: the header stays in view, every column fits its content, shares are
        # percentages, and no internal English code shows
        assert ws.freeze_panes == "A4" and ws.auto_filter.ref.startswith("A3:")
        for i, name in enumerate(header):
            letter = ws.cell(row=3, column=i + 1).column_letter
            assert ws.column_dimensions[letter].width >= len(name) * 2, (sheet_name, name)
        assert ws.cell(row=4, column=header.index("网信占比") + 1).number_format == "0.0%"
        shown = " ".join(str(v) for row in rows for v in row if isinstance(v, str))
        assert not any(code in shown for code in ("letter", "visit", "online", "phone")), shown
    rates_sheet = wb["五率"]
    assert all(rates_sheet.cell(row=r, column=4).number_format == "0.0%" for r in range(4, rates_sheet.max_row + 1))
    csv = system.get("reporting", f"/api/v1/exports/monthly.csv?month={MONTH}&as_of={as_of}")
    assert csv.status_code == 200 and "及时受理率" in csv.text


@pytest.mark.parametrize("path, field", [
    ("/api/v1/exports/monthly.xlsx?month=2026-13", "month"),
    ("/api/v1/exports/quarterly.csv?quarter=2026-Q5", "quarter"),
    ("/api/v1/stats/rates?as_of=2026-11-01T00:00:00", "as_of"),
    ("/api/v1/stats/rates?from=2026-11-31", "from"),
    ("/api/v1/stats/breakdown?by=colour", "by"),
    ("/api/v1/stats/rankings?rate=happiness", "rate"),
])
def test_bad_parameters_answer_422_naming_the_field(system, path, field):
    r = system.get("reporting", path)
    assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == field


def test_the_backlog_a_leader_hands_on_is_the_supervisors_backlog_ledger(system):
    """积案: the yearly export's count and supervision's 积案台账 hold the same cases: one whose reply
    is 40 days past its 60-day limit, not one only 10 days past it (overdue, not yet backlog)."""
    villages = [d["code"] for d in system.get("routing", "/api/v1/divisions", user="demo-admin").json()
                if d["level"] == "village" and d["code"].startswith("999901")]
    village = villages[-1]  # no other test of this module registers there
    now = datetime.now(BEIJING)
    old, recent = (system.register(division_code=village, received_at=(now - timedelta(days=days)).isoformat(),
                                   petitioners=another_petitioner(60 + days))["case_id"] for days in (100, 70))
    overdue = lambda: {i["case_id"] for i in system.get(  # noqa: E731
        "supervision", f"/api/v1/overdue?division_code={village}&limit=500", user="demo-supervisor").json()["items"]}
    system.wait_for(lambda: {old, recent} <= overdue(), timeout=30, what="both cases overdue in supervision")
    ledger = {i["case_id"] for i in system.get(
        "supervision", f"/api/v1/backlog?division_code={village}&limit=500", user="demo-supervisor").json()["items"]}
    assert old in ledger and recent not in ledger
    year = (now - timedelta(days=100)).year

    def counted() -> int:
        r = system.get("reporting", f"/api/v1/exports/yearly.xlsx?year={year}&division_code={village}")
        assert r.status_code == 200, r.text
        sheet = {row[0]: row[1] for row in load_workbook(io.BytesIO(r.content))["概况"].iter_rows(min_row=4,
                                                                                                 values_only=True)}
        return sheet["积案"]
    # reporting hears the handling deadlines from supervision's topic a moment later
    system.wait_for(lambda: counted() == len(ledger), timeout=30, what="the yearly export's 积案 to be the ledger's")
