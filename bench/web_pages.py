"""How quickly the web console's pages answer with many cases in the database.

Starts a fresh stack (embedded broker, four services and the web console on free ports; SQLite by
default, ``--postgres`` for fresh databases on XINFANG_TEST_POSTGRES_URL's server, else a cluster of
the run), loads ``--cases`` historical cases through intake's import endpoint (500 per request, as
``xinfang import`` does), waits until reporting has counted them all and routing and supervision
have the last one, then times each page ``--repeat`` times through the console, and beside it the
service API call the page is built on (the baseline in the same run: what the console adds is the
difference). Prints p50/p95 per page and writes bench/results/web-pages-<ts>.json. Nothing asserts.

    .venv/bin/python bench/web_pages.py --cases 100000        # the issue's figure (long: import rate bound)
    .venv/bin/python bench/web_pages.py --cases 2000 --repeat 20
    .venv/bin/python bench/web_pages.py --data-dir /tmp/xinfang-web-bench-XXXX   # an earlier run's
        databases again (SQLite), with today's code: nothing imported, the pages timed at once
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from xinfang.config import SERVICES  # noqa: E402
from xinfang.messaging.broker import free_port  # noqa: E402
from xinfang.privacy import resident_id_check_char  # noqa: E402
from xinfang_cli.supervisor import Stack  # noqa: E402

PASSWORD = "xinfang-demo"
BEIJING = timezone(timedelta(hours=8))


SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"


def name_of(i: int) -> str:
    """A two- or three-character name; many petitioners share a surname, few a whole name."""
    return SURNAMES[i % len(SURNAMES)] + GIVEN[(i // 20) % len(GIVEN)] + ("" if i % 3 else GIVEN[(i // 500) % len(GIVEN)])


def id_number_of(i: int) -> str:
    """A valid resident ID number (GB 11643-1999), one per case."""
    born = date(1950, 1, 1) + timedelta(days=37 * (i // 1000))
    body = f"110101{born:%Y%m%d}{i % 1000:03d}"
    return body + resident_id_check_char(body)


def historical(i: int, villages: list[str]) -> dict:
    at = datetime(2025, 1, 1, 9, tzinfo=timezone(timedelta(hours=8))) + timedelta(minutes=7 * i)
    return {"legacy_id": f"bench-{i}", "registration": {
        "channel": random.choice(["letter", "visit", "online", "phone"]), "received_at": at.isoformat(),
        "occurred_at": at.isoformat(),
        "petitioners": [{"name": name_of(i), "id_type": "resident_id", "id_number": id_number_of(i),
                         "phone": None, "address": "示范县"}],
        "headcount": 1, "purpose": "appeal", "category_code": random.choice(["0702", "0501", "0801", "0901"]),
        "division_code": random.choice(villages), "summary": f"基准测试事项 {i}", "request": "请求处理"}}


def timed(client: httpx.Client, url: str, **kw) -> float:
    t = time.perf_counter()
    r = client.get(url, **kw)
    dt = (time.perf_counter() - t) * 1000
    assert r.status_code == 200, (url, r.status_code, r.text[:300])
    return dt


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--postgres", action="store_true")
    ap.add_argument("--wait", type=float, default=1800, help="seconds to wait for reporting to count every case")
    ap.add_argument("--settle", action="store_true",
                    help="also wait until supervision has a case of every import batch and every consumer is "
                         "idle (nothing applied for 15 s, no outbox pending) before timing the pages")
    ap.add_argument("--data-dir", type=Path, default=None,
                    help="start the stack on the SQLite databases an earlier run left here (its folder is "
                         "printed and kept) and time the pages over them, importing nothing: a change timed "
                         "without the import's quarter of an hour")
    args = ap.parse_args()
    random.seed(7)
    reuse = args.data_dir is not None
    # and timed once every consumer is idle (on a reused folder they are at once: see below)
    args.settle = args.settle or reuse
    if reuse and args.postgres:
        ap.error("--data-dir takes an earlier SQLite run's folder; --postgres makes fresh databases")
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="xinfang-web-bench-"))
    print(f"databases in {data_dir} (kept: --data-dir {data_dir} times the pages over them again)")
    env = {}
    if args.postgres:
        import sqlalchemy as sa

        from xinfang.storage.local_postgres import shared_server

        admin = shared_server()
        eng = sa.create_engine(admin.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
        tag = f"{os.getpid()}"
        with eng.connect() as c:
            for n in SERVICES:
                c.execute(sa.text(f"CREATE DATABASE xf_webbench_{n}_{tag}"))
        base = admin.rsplit("/", 1)[0]
        env = {f"{n.upper()}_DATABASE_URL": f"{base}/xf_webbench_{n}_{tag}" for n in SERVICES}
    if reuse:
        # every consumer had applied every store when the earlier run stopped: the services need
        # not publish their stores again to the embedded broker, which starts empty (that storm
        # of redeliveries, each skipped by an inbox, had kept two cores busy for minutes)
        env["XINFANG_REPUBLISH_ON_START"] = "0"
    stack = Stack(data_dir=data_dir, ports={n: free_port() for n in (*SERVICES, "web")}, env=env)
    results: dict = {"cases": args.cases, "repeat": args.repeat, "postgres": args.postgres, "pages": {}}
    try:
        stack.start([*SERVICES, "web"], timeout=180)
        url = {n: sp.url for n, sp in stack.services.items()}
        api = httpx.Client(timeout=120)
        token = api.post(f"{url['routing']}/api/v1/auth/sign-in",
                         json={"username": "demo-admin", "password": PASSWORD}).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        villages = [d["code"] for d in api.get(f"{url['routing']}/api/v1/divisions", headers=auth).json()
                    if d["level"] == "village"]
        t0 = time.perf_counter()
        sample: list[str] = []  # a case from every batch: supervision has caught up when it has them all
        if reuse:  # the cases are there: the last one routing and supervision must have
            args.cases = api.get(f"{url['intake']}/api/v1/cases", headers=auth, params={"limit": 1}).json()["total"]
            last_case = api.get(f"{url['intake']}/api/v1/cases", headers=auth,
                                params={"limit": 1}).json()["items"][0]["case_id"]
            results["cases"] = args.cases
        for start in range(0, 0 if reuse else args.cases, 500):
            batch = [historical(i, villages) for i in range(start, min(args.cases, start + 500))]
            r = api.post(f"{url['intake']}/api/v1/imports", json={"cases": batch}, headers=auth)
            assert r.status_code == 200, r.text[:300]
            refused = [x for x in r.json()["results"] if x["result"] == "refused"]
            assert not refused, refused[:2]
            last_case = r.json()["results"][-1]["case_id"]
            sample.append(r.json()["results"][len(batch) // 2]["case_id"])
            print(f"\rimported {start + len(batch)}/{args.cases}", end="", flush=True)
        print()
        results["import_seconds"] = round(time.perf_counter() - t0, 1)
        deadline = time.monotonic() + args.wait
        counted, summary_ms, shown = 0, [], 0.0
        while time.monotonic() < deadline:  # the other services catch up through Kafka
            try:  # the summary asked while reporting catches up: timed too, and a slow one is a figure
                t = time.perf_counter()
                counted = api.get(f"{url['reporting']}/api/v1/stats/summary", headers=auth,
                                  params={"from": "2024-01-01", "to": "2030-12-31"}).json().get("registered", 0)
                summary_ms.append((time.perf_counter() - t) * 1000)
            except httpx.HTTPError as exc:
                print(f"\nsummary during catch-up: {type(exc).__name__}")
            if counted >= args.cases:
                break
            if time.perf_counter() - shown > 30:
                shown = time.perf_counter()
                print(f"\rreporting counted {counted}/{args.cases} at {shown - t0:.0f} s", end="", flush=True)
            time.sleep(2)
        print()
        if summary_ms:
            results["summary_during_catch_up_ms"] = {"n": len(summary_ms), "p50": statistics.median(summary_ms),
                                                     "max": max(summary_ms)}
            print(f"summary while reporting caught up: {len(summary_ms)} calls, p50 {statistics.median(summary_ms):.0f} ms, "
                  f"max {max(summary_ms):.0f} ms")
        for svc, path in (("routing", f"/api/v1/cases/{last_case}/assignment"),
                          ("supervision", f"/api/v1/cases/{last_case}/deadlines")):
            while time.monotonic() < deadline:  # and routing and supervision have the last case
                try:
                    if api.get(f"{url[svc]}{path}", headers=auth).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(2)
        results["load_seconds"] = round(time.perf_counter() - t0, 1)
        if args.settle:  # every partition, not only the last case's: the pages timed on a quiet machine
            left = list(sample)
            while left and time.monotonic() < deadline:
                left = [c for c in left
                        if api.get(f"{url['supervision']}/api/v1/cases/{c}/deadlines", headers=auth).status_code != 200]
                if left:
                    time.sleep(5)
            print(f"supervision had a case of every batch after {time.perf_counter() - t0:.0f} s"
                  + (f" ({len(left)} still missing)" if left else ""))
            # and every consumer idle: reporting, say, still folds supervision's DeadlineSets after
            # it has counted every case (each service's /health: events applied, outbox pending)
            last = None
            while time.monotonic() < deadline:
                now = {n: api.get(f"{u}/health").json() for n, u in url.items() if n != "web"}
                seen = {n: (h.get("applied"), h.get("outbox_pending")) for n, h in now.items()}
                if seen == last and all(not pending for _, pending in seen.values()):
                    break
                last = seen
                time.sleep(15)
            results["settled_seconds"] = round(time.perf_counter() - t0, 1)
            print(f"every consumer idle after {results['settled_seconds']} s")
        results["reporting_counted"] = counted
        print(f"imported {args.cases} cases in {results['import_seconds']} s; reporting counted {counted}, "
              f"routing and supervision had the last case, after {results['load_seconds']} s")

        web = httpx.Client(base_url=url["web"], timeout=60)
        r = web.post("/login", data={"username": "demo-admin", "password": PASSWORD})
        assert r.status_code == 303, r.text[:300]
        some = api.get(f"{url['intake']}/api/v1/cases", headers=auth, params={"limit": 1, "offset": 777}).json()
        case_id = some["items"][0]["case_id"]
        code = some["items"][0]["tracking_code"]
        # the 777th newest case's petitioner: found by name, ID number and masked ID number
        person = api.get(f"{url['intake']}/api/v1/cases/{case_id}", headers=auth).json()["petitioners"][0]
        id_number = person["id_number"]
        masked = id_number[:4] + "*" * 10 + id_number[-4:]
        pages = {  # page → the API call it is built on (its baseline)
            "case list, first page": ("/cases", ("intake", "/api/v1/cases", {"limit": 20})),
            "case list, page 2000": ("/cases?page=2000", ("intake", "/api/v1/cases", {"limit": 20, "offset": 39980})),
            "case list, filtered": ("/cases?channel=visit&division_code=999901001000",
                                    ("intake", "/api/v1/cases", {"limit": 20, "channel": "visit",
                                                                 "division_code": "999901001000"})),
            "search, tracking code": (f"/cases?q={code.replace('-', '').lower()}",
                                      ("intake", "/api/v1/cases", {"limit": 20, "q": code})),
            "search, name": (f"/cases?q={person['name']}", ("intake", "/api/v1/cases", {"limit": 20, "q": person["name"]})),
            "search, ID number": (f"/cases?q={id_number}", ("intake", "/api/v1/cases", {"limit": 20, "q": id_number})),
            "search, masked ID number": (f"/cases?q={masked}", ("intake", "/api/v1/cases", {"limit": 20, "q": masked})),
            "case file": (f"/cases/{case_id}", ("intake", f"/api/v1/cases/{case_id}", {})),
            "queue": ("/queue", ("routing", "/api/v1/queue", {"limit": 20})),
            "inbox": ("/inbox?unit_id=999901-d02", ("routing", "/api/v1/units/999901-d02/inbox", {"limit": 20})),
            "supervision, warnings": ("/supervision", ("supervision", "/api/v1/warnings", {"limit": 20})),
            # the page opens on the year to date; all time is one click away
            "dashboard, year to date": ("/dashboard", ("reporting", "/api/v1/stats/dashboard",
                                                       {"from": f"{datetime.now(BEIJING).year}-01-01"})),
            "dashboard, all time": ("/dashboard?date_from=&date_to=", ("reporting", "/api/v1/stats/dashboard", {})),
        }
        print(f"{'page':28} {'page p50':>9} {'page p95':>9} {'API p50':>9} {'API p95':>9}  (ms)")
        for name, (path, (svc, api_path, params)) in pages.items():
            page_t, api_t = [], []
            for _ in range(args.repeat):
                try:
                    page_t.append(timed(web, path))
                    api_t.append(timed(api, f"{url[svc]}{api_path}", headers=auth, params=params))
                except AssertionError as exc:
                    print(f"{name}: {exc}")
                    break
            if not page_t or not api_t:
                continue
            q = lambda xs, p: statistics.quantiles(xs, n=100)[p - 1] if len(xs) > 1 else xs[0]  # noqa: E731
            row = {"page_p50": q(page_t, 50), "page_p95": q(page_t, 95), "api_p50": q(api_t, 50), "api_p95": q(api_t, 95)}
            extra: tuple = ()
            if name == "case file":  # the page also waits for routing and supervision
                extra = (("routing", f"/api/v1/cases/{case_id}/assignment"),
                         ("supervision", f"/api/v1/cases/{case_id}/deadlines"))
            elif name == "case list, first page":  # and for the page's clocks, asked of supervision after it
                ids = [c["case_id"] for c in api.get(f"{url['intake']}/api/v1/cases", headers=auth,
                                                     params={"limit": 20}).json()["items"]]
                extra = (("supervision", "/api/v1/deadlines?" + "&".join(f"case_id={i}" for i in ids)),)
            if extra:
                for svc2, path2 in extra:
                    try:
                        xs = [timed(api, f"{url[svc2]}{path2}", headers=auth) for _ in range(args.repeat)]
                        row[f"{svc2}_p50"] = q(xs, 50)
                    except AssertionError as exc:
                        row[f"{svc2}_p50"] = str(exc)[:80]
            results["pages"][name] = row
            print(f"{name:28} {row['page_p50']:9.1f} {row['page_p95']:9.1f} {row['api_p50']:9.1f} {row['api_p95']:9.1f}"
                  + "".join(f"  {k}={v:.1f}" if isinstance(v, float) else f"  {k}={v}"
                            for k, v in row.items() if k.startswith(("routing", "supervision"))))
    finally:
        stack.stop()
        out = ROOT / "bench" / "results"
        out.mkdir(parents=True, exist_ok=True)
        (out / f"web-pages-{datetime.now():%Y%m%d-%H%M%S}.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
