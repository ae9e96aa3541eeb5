"""Repeat detection against a petitioner's history: what one registration costs when the same person
has brought N earlier cases (a frequent petitioner, or a county's history imported).

For each N, the intake database holds N earlier cases of one petitioner (two thirds of them the
same category, a few final and open, written in bulk, not timed), then ANALYZE (``--stale``: none,
as right after an import). Timed, median of ``--runs``:

- the query repeat detection runs (``adapters.cases_of_petitioners``: every earlier case of the person);
- for comparison in the same run, the narrower shape that was tried and left: the same join with
  the category in SQL (on stale statistics PostgreSQL loops over every case, probing the
  petitioners: seconds at 10,000);
- a whole registration of that person (``handlers.register_petition``); the row N=0 is the baseline.

    .venv/bin/python bench/repeat_detection.py [--postgres] [--stale] [--sizes 0,100,1000,10000] [--runs 30]

Nothing asserts; the figures go to docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.intake import adapters, domain, handlers, projections  # noqa: E402
from xinfang.contracts import new_envelope  # noqa: E402
from xinfang.contracts.events import DivisionAdded  # noqa: E402
from xinfang.privacy import PiiVault  # noqa: E402
from xinfang.security import Principal  # noqa: E402
from xinfang.storage import Database, UnitOfWork  # noqa: E402

MIGRATIONS = ROOT / "services" / "intake" / "migrations"
VAULT = PiiVault("the benchmark's PII key, 32 characters or more")
CLERK = Principal("bench-clerk", "clerk", "999901000000")
ID_NUMBER = "110101199003071233"
T0 = datetime(2021, 1, 4, 1, tzinfo=UTC)
ANALYZE = True  # --stale: leave the statistics as they are right after the bulk load


def same_category(conn, id_number_hashes, category_code: str):
    """The narrower shape tried and left: the same join, the category in SQL."""
    c, p = adapters.cases.c, adapters.petitioners.c
    return conn.execute(sa.select(c.case_id, c.category_code, c.registered_at, c.final, c.status)
                        .select_from(adapters.petitioners.join(adapters.cases, c.case_id == p.case_id))
                        .where(p.id_number_hash.in_(list(id_number_hashes)), c.category_code == category_code)
                        .distinct()).all()


def database(postgres: bool):
    """A new, migrated intake database (bench/replay.py's), with the village the cases arise in."""
    from bench.replay import fresh_db

    db, drop = fresh_db(postgres, MIGRATIONS, "intake")
    env = new_envelope(DivisionAdded(code="999901001001", name="村", level="village"), case_id="",
                       office="999901001000", actor="admin", producer="routing", occurred_at=T0)
    with UnitOfWork(db) as uow:
        projections.on_routing_event(uow, env)
    return db, drop


def add_history(db: Database, n: int, start: int) -> None:
    """Cases start..n-1 of the one petitioner, in bulk: mostly closed, every 50th final, every 20th open."""
    h = VAULT.blind_index(ID_NUMBER)
    enc = VAULT.encrypt(ID_NUMBER)
    case_rows, people = [], []
    for i in range(start, n):
        at = T0 + timedelta(hours=i)
        cid = f"hist-{i:07d}"
        status = "registered" if i % 20 == 0 else "closed"
        case_rows.append(dict(case_id=cid, tracking_code=f"H{i:011d}", status=status, office="999901001000",
                              division_code="999901001001", category_code="0702" if i % 3 else "0301",
                              channel="letter", purpose="appeal", headcount=1, summary="旧事项", request="",
                              received_at=at, registered_at=at, unit_id=None, version=1, flags="repeat",
                              repeat_of=None, final=i % 50 == 1, updated_at=None, owner_leader=None, co_unit_ids=""))
        people.append(dict(petitioner_id=f"p-{cid}", case_id=cid, name="张三", id_type="resident_id",
                           id_number_enc=enc, id_number_hash=h, id_number_masked="1101**********1233",
                           phone_enc=None, phone_masked=None, address_enc=None, pii_key_id=VAULT.key_id))
    with db.engine.begin() as c:
        for i in range(0, len(case_rows), 5000):
            c.execute(adapters.cases.insert(), case_rows[i:i + 5000])
            c.execute(adapters.petitioners.insert(), people[i:i + 5000])
    if ANALYZE:
        with db.engine.connect() as c:  # the statistics a live database has once autovacuum has run
            c.execute(sa.text("ANALYZE"))
            c.commit()


def timed(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def registration() -> domain.RegisterPetition:
    return domain.RegisterPetition(domain.Registration(
        channel="visit", received_at=datetime.now(UTC) - timedelta(hours=1), headcount=1, purpose="appeal",
        category_code="0702", division_code="999901001001", summary="又来反映拖欠工资", request="请求支付",
        petitioners=[domain.PetitionerDetails(str(uuid.uuid4()), "张三", "resident_id", ID_NUMBER, None, "")]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--postgres", action="store_true")
    ap.add_argument("--sizes", default="0,100,1000,10000")
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--stale", action="store_true", help="no ANALYZE after the bulk load (as right after an import)")
    a = ap.parse_args()
    global ANALYZE
    ANALYZE = not a.stale
    sizes = sorted(int(x) for x in a.sizes.split(","))
    db, drop = database(a.postgres)
    hashes = VAULT.blind_indexes(ID_NUMBER)
    print(f"repeat detection, {'PostgreSQL' if a.postgres else 'SQLite'}; median of {a.runs} runs, ms")
    print(f"  {'earlier cases':>13} {'query':>9} {'category in SQL':>16} {'registration':>13} {'flags'}")
    try:
        hist = registered = 0
        for n in sizes:
            add_history(db, n, hist)
            hist = max(hist, n)
            earlier = hist + registered  # the bulk history and the registrations timed before
            with db.read() as c:
                old = timed(lambda c=c: adapters.cases_of_petitioners(c, hashes).all(), a.runs)
                new = timed(lambda c=c: same_category(c, hashes, "0702"), a.runs)
            outcome: list = []
            reg = timed(lambda out=outcome: out.append(handlers.register_petition(db, VAULT, CLERK, registration())),
                        a.runs)
            flags = " ".join(outcome[-1]["flags"]) if outcome else ""
            print(f"  {earlier:>13,} {old:>9.2f} {new:>16.2f} {reg:>13.2f} {flags}")
            registered += a.runs  # each timed registration is one more case of the person
    finally:
        db.dispose()
        drop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
