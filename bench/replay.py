"""Replay benchmark for reporting's read model: how fast a history of events is folded in, and
how fast the year's rates are answered from it.

1. Generates a realistic history (not timed): by default a county's five years, 2021-2025: about
   12,000 visit batches, online petitions at 70 % of all cases, letters and calls, and every
   lifecycle step (registration, assignment and reassignment, acceptance deadline, acceptance or
   not, handling deadline, extension with its re-issued deadline, reply, evaluation, review with
   its own reply, closure); about 15 % repeat petitions naming their earlier case. The first year
   is "imported": recorded on 2022-01-10 with its real dates. ``--province`` spreads the cases
   over 100 counties and 10,000,000 events (``--events N`` for a shorter run). Event ids are
   time-ordered, made from each event's recorded time as producers make them (``xinfang/ids.py``);
   ``--random-ids`` makes them random, as events recorded before that change have them.
2. Baseline: the live handler one event per transaction (``projections.on_event`` in its own
   UnitOfWork), over the first ``--baseline`` events. Then the live consumer's apply step (the
   stream runtime's, inbox included) on batches as the broker delivers them, over ``--live``
   events: one event at a time in savepoints, and the whole batch through the bulk path.
3. Replay: ``projections.replay``, ``--batch`` events per transaction with two bulk inserts (log
   rows, fact rows; the next batch's rows built while the last is written), the touched cases
   folded once at the end of each group of ten batches, over the whole history. Only the replay
   is timed; generating the history is not.
4. The rates for 2025 as known on 2026-02-01, for the county, one township and one unit: the
   median of 5 runs each, plus the counts (summary).

Targets: >= 20,000 events/s replayed; <= 200 ms for a year's rates. Printed as PASS/MISS; nothing
asserts. On a shared 2-core machine the figures depend on everything else running there: the
load average is printed beside them.

    .venv/bin/python bench/replay.py                        # county, SQLite in a temporary file
    .venv/bin/python bench/replay.py --postgres             # a fresh database on XINFANG_TEST_POSTGRES_URL's
                                                            # server, else on a cluster of the run
    .venv/bin/python bench/replay.py --province --events 1000000 --postgres
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.reporting import projections, rates, streams, views  # noqa: E402
from services.reporting.bootstrap import MIGRATIONS  # noqa: E402
from xinfang.contracts import Envelope, topic_for  # noqa: E402
from xinfang.ids import new_id  # noqa: E402
from xinfang.messaging.streams import BATCH_MAX as LIVE_BATCH  # noqa: E402
from xinfang.messaging.streams import Message, StreamProcessor, Subscription
from xinfang.storage import Database, UnitOfWork  # noqa: E402

CST = timezone(timedelta(hours=8))
START = datetime(2021, 1, 1, tzinfo=CST)
IMPORTED_AT = datetime(2022, 1, 10, 9, tzinfo=CST)
CATEGORIES = [f"{i:02d}{j:02d}" for i in range(1, 12) for j in range(1, 4)]


RANDOM_IDS = False  # --random-ids: version-4 event ids, as producers made them before xinfang/ids.py


def env(kind, case, office, at, payload, recorded=None, producer="intake"):
    recorded_at = (recorded or at + timedelta(seconds=1)).astimezone(UTC)
    return Envelope.model_construct(
        event_id=str(uuid.uuid4()) if RANDOM_IDS else new_id(recorded_at),
        event_type=kind, schema_version=2 if kind == "CaseRegistered" else 1,
        case_id=case, office=office, actor="bench", producer=producer, stream_version=0,
        occurred_at=at.astimezone(UTC),
        recorded_at=recorded_at,
        correlation_id=case, causation_id=None, payload=payload)


def case_events(rnd: random.Random, i: int, county: str, received: datetime, channel: str, earlier: list[str]):
    """Every event of one case's life, in the order they happened."""
    township = rnd.randint(1, 10)
    division = f"{county}{township:03d}{rnd.randint(1, 10):03d}"
    office = f"{county}000000" if channel in ("visit", "phone") or rnd.random() < 0.5 else f"{county}{township:03d}000"
    case = f"{county}-{i:07d}"
    recorded = IMPORTED_AT if received < datetime(2022, 1, 1, tzinfo=CST) else None
    out = []

    def add(kind, at, payload, producer="intake"):
        out.append(env(kind, case, office, at, payload, recorded, producer))

    headcount = rnd.choice((1, 1, 1, 2, 3, 6, 8)) if channel == "visit" else 1
    repeat_of = rnd.choice(earlier[-2000:]) if earlier and rnd.random() < 0.15 else None
    flags = ["repeat"] if repeat_of else ["first_petition"]
    if headcount >= 5:
        flags.append("collective")
    if rnd.random() < 0.03:
        flags.append("skip_level")
    category = rnd.choice(CATEGORIES)
    if category.startswith("0105"):
        flags.append("law_related")
    add("CaseRegistered", received, {
        "tracking_code_hint": "ABCD", "channel": channel, "received_at": received.isoformat(),
        "petitioners": [], "headcount": headcount, "purpose": rnd.choice(("suggestion", "accusation", "appeal")),
        "category_code": category, "division_code": division, "summary": "", "flags": flags, "repeat_of": repeat_of})
    unit = rnd.choice([f"{county}{township:03d}-gov"] * 3 + [f"{county}-d{d:02d}" for d in range(1, 21)])
    t = received + timedelta(hours=rnd.randint(1, 48))
    add("CaseAssigned", t, {"unit_id": unit, "mode": "assign"}, "routing")
    add("DeadlineSet", t, {"stage": "acceptance", "starts_at": received.isoformat(),
                           "due_at": (received + timedelta(days=15)).isoformat(), "limit_days": 15,
                           "day_kind": "calendar", "basis": "received_at"}, "supervision")
    if rnd.random() < 0.05:
        unit = f"{county}-d{rnd.randint(1, 20):02d}"
        t += timedelta(days=rnd.randint(1, 4))
        add("CaseAssigned", t, {"unit_id": unit, "mode": "forward"}, "routing")
    decided = received + timedelta(days=rnd.randint(1, 14) if rnd.random() < 0.95 else rnd.randint(16, 30))
    decided = max(decided, t + timedelta(hours=1))
    if rnd.random() < 0.08:
        add("CaseNotAccepted", decided, {"decision": "not_accepted", "notice": "", "unit_id": unit})
        add("CaseClosed", decided + timedelta(days=1), {})
        return case, out
    add("CaseAccepted", decided, {"procedure": "normal", "notice": "", "unit_id": unit})
    due = decided + timedelta(days=60)
    add("DeadlineSet", decided, {"stage": "handling", "starts_at": decided.isoformat(), "due_at": due.isoformat(),
                                 "limit_days": 60, "day_kind": "calendar", "basis": "accepted_at"}, "supervision")
    if rnd.random() < 0.10:
        at = decided + timedelta(days=rnd.randint(30, 55))
        add("HandlingExtended", at, {"days": 30, "reason": "", "approver": "leader"})
        due += timedelta(days=30)
        add("DeadlineSet", at, {"stage": "handling", "starts_at": decided.isoformat(), "due_at": due.isoformat(),
                                "limit_days": 90, "day_kind": "calendar", "basis": "extension"}, "supervision")
    replied = due - timedelta(days=rnd.randint(1, 50)) if rnd.random() < 0.93 else due + timedelta(days=rnd.randint(1, 20))
    add("CaseReplied", replied, {"outcome": rnd.choice(("supported", "explained", "not_supported")), "text": "",
                                 "stage": "handling"})
    if rnd.random() < 0.65:
        add("CaseEvaluated", replied + timedelta(days=rnd.randint(1, 10)),
            {"rating": rnd.choices(("satisfied", "basically_satisfied", "dissatisfied"), (70, 20, 10))[0]})
    if rnd.random() < 0.05:
        at = replied + timedelta(days=rnd.randint(5, 29))
        add("ReviewRequested", at, {"level": "review", "reason": ""})
        add("DeadlineSet", at, {"stage": "review", "starts_at": at.isoformat(),
                                "due_at": (at + timedelta(days=30)).isoformat(), "limit_days": 30,
                                "day_kind": "calendar", "basis": "review_requested"}, "supervision")
        add("CaseReplied", at + timedelta(days=rnd.randint(5, 30)), {"outcome": "explained", "text": "", "stage": "review"})
    add("CaseClosed", replied + timedelta(days=rnd.randint(31, 40)), {})
    return case, out


def history(province: bool, events: int | None, seed: int = 1, cases: int = 54_500):
    """Yields events; a county's five years (``cases`` cases), or a province's 100 counties up to
    ``events`` events."""
    rnd = random.Random(seed)
    # six-digit county codes (a division code is 12 digits): five cities of 20 counties, 999901 among them
    counties = [f"99{95 + c // 20:02d}{c % 20 + 1:02d}" for c in range(100)][::-1] if province else ["999901"]
    n_cases = (events or 10_000_000) * 10 // 78 + 1 if province else cases  # ~7.8 events a case
    span = (datetime(2026, 1, 1, tzinfo=CST) - START).total_seconds()
    earlier: dict[str, list[str]] = {c: [] for c in counties}
    made = 0
    for i in range(n_cases):
        county = counties[i % len(counties)]
        received = START + timedelta(seconds=span * i / n_cases + rnd.randint(0, 3600))
        r = rnd.random()
        channel = "online" if r < 0.70 else "visit" if r < 0.92 else "letter" if r < 0.98 else "phone"
        case, evs = case_events(rnd, i, county, received, channel, earlier[county])
        earlier[county].append(case)
        for e in evs:
            yield e
            made += 1
            if events and made >= events:
                return


GROUP = 10  # batches generated, then replayed, at a time


def chunks(it, size):
    buf = []
    for x in it:
        buf.append(x)
        if len(buf) >= size:
            yield buf
            buf = []
    if buf:
        yield buf


def fresh_db(postgres: bool, migrations=MIGRATIONS, service: str = "reporting"):
    """A new, migrated database (SQLite in a temporary folder, or PostgreSQL: XINFANG_TEST_POSTGRES_URL's
    server, else a cluster of this run) and a
    function that drops it."""
    if postgres:
        import psycopg

        from xinfang.storage.local_postgres import shared_server

        admin = shared_server()
        name = f"xf_bench_{service}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(admin, autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        url = admin.rsplit("/", 1)[0] + f"/{name}"

        def drop():
            with psycopg.connect(admin, autocommit=True) as c:
                c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        d = tempfile.mkdtemp(prefix=f"xf-bench-{service}-")
        url = f"sqlite:///{d}/{service}.db"

        def drop():
            import shutil
            shutil.rmtree(d, ignore_errors=True)
    db = Database(url)
    db.migrate(migrations)
    return db, drop


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--postgres", action="store_true")
    ap.add_argument("--province", action="store_true", help="100 counties, 10,000,000 events")
    ap.add_argument("--events", type=int, default=None, help="stop after this many events")
    ap.add_argument("--cases", type=int, default=54_500, help="the county's cases over its five years")
    ap.add_argument("--batch", type=int, default=20_000, help="events per transaction on the batched path")
    ap.add_argument("--baseline", type=int, default=2_000, help="events through the one-per-transaction path")
    ap.add_argument("--live", type=int, default=6_000, help="events through the live consumer's apply step")
    ap.add_argument("--keep", action="store_true", help="keep the database")
    ap.add_argument("--random-ids", action="store_true",
                    help="version-4 event ids (events recorded before ids became time-ordered)")
    a = ap.parse_args()
    global RANDOM_IDS
    RANDOM_IDS = a.random_ids

    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; database "
          f"{'PostgreSQL' if a.postgres else 'SQLite'}; history {'province' if a.province else 'county'}; "
          f"event ids {'random (version 4)' if a.random_ids else 'time-ordered (version 7)'}")
    base_db, base_drop = fresh_db(a.postgres)
    try:
        sample = list(history(a.province, a.baseline, seed=2))
        t = time.perf_counter()
        for e in sample:
            with UnitOfWork(base_db) as uow:
                projections.on_event(uow, e)
        base_rate = len(sample) / (time.perf_counter() - t)
    finally:
        base_db.dispose()
        base_drop()
    print(f"baseline  one event per transaction: {len(sample):>10,} events  {base_rate:>10,.0f} events/s")

    # the live consumer: what reporting does with a batch the broker delivered (inbox included)
    live_rates = {}
    for whole in (False, True):
        live_db, live_drop = fresh_db(a.postgres)
        try:
            subs = streams.subscriptions()
            if not whole:
                subs = [Subscription(s.topic, s.handler, s.event_types) for s in subs]
            by_topic = {s.topic: s for s in subs}
            with tempfile.TemporaryDirectory() as faust_dir:
                sp = StreamProcessor("reporting", live_db, "127.0.0.1:9", subs, datadir=faust_dir)
                todo: dict[str, list] = {}
                for i, e in enumerate(history(a.province, a.live, seed=3)):
                    topic = topic_for(e.producer)
                    todo.setdefault(topic, []).append((Message(topic, 0, i, None, b""), e))
                t, n = time.perf_counter(), 0
                for topic, items in todo.items():
                    for i in range(0, len(items), LIVE_BATCH):
                        n += sp._apply_batch(by_topic[topic], items[i:i + LIVE_BATCH])[0]
                live_rates[whole] = n / (time.perf_counter() - t)
        finally:
            live_db.dispose()
            live_drop()
    print(f"live consumer, batches of {LIVE_BATCH}, inbox included: {a.live:,} events  "
          f"one by one {live_rates[False]:,.0f} events/s, whole batch {live_rates[True]:,.0f} events/s "
          f"({live_rates[True] / live_rates[False]:.1f}×)")

    db, drop = fresh_db(a.postgres)
    try:
        n, spent, gen_t, shown = 0, 0.0, 0.0, 0
        # generated a group of batches at a time, outside the timed part; each group is replayed
        # through projections.replay, which builds one batch's rows while the last is written
        it = chunks(history(a.province, a.events, cases=a.cases), a.batch * GROUP)
        while True:
            g = time.perf_counter()
            group = next(it, None)
            gen_t += time.perf_counter() - g
            if group is None:
                break
            t = time.perf_counter()
            n += sum(projections.replay(db.engine, chunks(group, a.batch), generation=1))
            if a.postgres:
                # a bulk load outruns autovacuum: refresh the planner's statistics as it would
                with db.engine.begin() as c:
                    c.exec_driver_sql("ANALYZE report_facts")
                    c.exec_driver_sql("ANALYZE report_log")
                    c.exec_driver_sql("ANALYZE report_cases")
            spent += time.perf_counter() - t
            if n - shown >= 1_000_000 or (n - shown >= 200_000 and n < 1_000_000):
                shown = n
                print(f"  … {n:,} events, {n / spent:,.0f} events/s", flush=True)
        rate = n / spent
        print(f"replay    {a.batch:,} per transaction:   {n:>10,} events  {rate:>10,.0f} events/s  "
              f"({rate / base_rate:.1f}× baseline; generating took {gen_t:.0f} s more)  "
              f"{'PASS' if rate >= 20_000 else 'MISS'} (target ≥ 20,000/s)")

        w = rates.period_of(date(2025, 1, 1), date(2025, 12, 31), datetime(2026, 2, 1, tzinfo=CST), "Asia/Shanghai")
        for name, sc in (("county", views.Scope(office_prefix="999901")),
                         ("township", views.Scope(office_prefix="999901", division_prefix="999901003")),
                         ("unit", views.Scope(office_prefix="999901", unit_id="999901-d02")),
                         *([("province", views.Scope(office_prefix="99"))] if a.province else [])):
            times, out = [], None
            for _ in range(5):
                t = time.perf_counter()
                out = views.rate_figures(db, w, sc)
                times.append(time.perf_counter() - t)
            ms = statistics.median(times) * 1000
            figs = " ".join(f"{k}={out[k]['numerator']}/{out[k]['denominator']}" for k in rates.RATES)
            print(f"rates 2025 {name:<9} median {ms:7.1f} ms  {'PASS' if ms <= 200 else 'MISS'} (≤ 200 ms)  {figs}")
        t = time.perf_counter()
        s = views.summary(db, w, views.Scope(office_prefix="999901"))
        print(f"summary 2025 county {1000 * (time.perf_counter() - t):7.1f} ms  registered={s['registered']} "
              f"visit_batches={s['visit_batches']} person_times={s['person_times']} online_share={s['online_share']}")
        print(f"load average now {os.getloadavg()[0]:.1f}")
    finally:
        db.dispose()
        if a.keep:
            print(f"kept: {db.engine.url.render_as_string(hide_password=False)}")
        else:
            drop()


if __name__ == "__main__":
    main()
