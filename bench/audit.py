"""How fast ``xinfang audit verify`` checks a store's hash chain (xinfang/storage/chain.py).

Fills a fresh routing store with ``--events`` events through the event store itself (``--batch``
per transaction, so every one is linked as in production), then, on one core (this process):

1. baseline: a plain SHA-256 over the same canonical bytes, already in memory (hashlib alone);
2. the rows read from the database, nothing hashed (what reading costs);
3. ``chain.verify``: the rows read, every link recomputed and compared, the unlinked check;
4. the same with a signed checkpoint every ``--checkpoint-every`` events held, each signature
   checked and each checkpointed head compared (``xinfang audit verify`` as it runs now).

Prints events per second for each, the verifier's against the target of 200,000/s, and writes
bench/results/audit-<ts>.json. Nothing asserts.

    .venv/bin/python bench/audit.py                     # SQLite in a temporary folder
    .venv/bin/python bench/audit.py --postgres          # XINFANG_TEST_POSTGRES_URL's server, else a cluster of the run
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import sqlalchemy as sa  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402
from replay import fresh_db  # noqa: E402

from xinfang.contracts import new_envelope  # noqa: E402
from xinfang.contracts.events import CaseAssigned  # noqa: E402
from xinfang.storage import UnitOfWork, chain, checkpoints  # noqa: E402
from xinfang.storage.tables import events  # noqa: E402

MIGRATIONS = ROOT / "services" / "routing" / "migrations"
TARGET = 200_000


def fill(db, n: int, batch: int) -> None:
    made = 0
    while made < n:
        with UnitOfWork(db) as uow:
            for i in range(made, min(n, made + batch)):
                case = f"case-{i // 4:08d}"
                uow.append(case, None, [new_envelope(CaseAssigned(unit_id=f"999901-d{i % 40:02d}"), case_id=case,
                                                     office="999901001000", actor="bench", producer="routing")])
            made = min(n, made + batch)
        if made % (50 * batch) == 0 or made == n:
            print(f"  stored {made:,}/{n:,}", file=sys.stderr)
    print(file=sys.stderr)


def best(fn, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--batch", type=int, default=1000, help="events per transaction while filling")
    ap.add_argument("--rounds", type=int, default=3, help="each figure is the best of this many")
    ap.add_argument("--postgres", action="store_true")
    ap.add_argument("--checkpoint-every", type=int, default=1000, help="one signed checkpoint per this many events")
    a = ap.parse_args()
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as the target says
    db, drop = fresh_db(a.postgres, MIGRATIONS, "routing")
    try:
        t = time.perf_counter()
        fill(db, a.events, a.batch)
        fill_s = time.perf_counter() - t
        with db.engine.connect() as conn:
            q = (sa.select(events.c.event_id, events.c.stream_id, events.c.version, events.c.event_type,
                           events.c.schema_version, events.c.case_id, events.c.body).order_by(events.c.position))
            rows = conn.execute(q).all()
            blobs = [f"{chain.GENESIS}\n{chain.canonical(r)}".encode() for r in rows]
            size = sum(map(len, blobs)) / len(blobs)

            def sha_only():
                for b in blobs:
                    hashlib.sha256(b).digest()

            def read_only():  # the verifier's own read, rows only
                for _ in chain._walk(conn, 5000):
                    pass

            verdicts = []

            def verify():
                verdicts.append(chain.verify(conn))

            # the checkpoints a service would have signed along the way, as the others hold them
            key = Ed25519PrivateKey.generate()
            heads = {}
            last = chain.GENESIS
            for seq, blob in enumerate(blobs, start=1):
                last = hashlib.sha256(blob.replace(chain.GENESIS.encode(), last.encode(), 1)).hexdigest()
                if seq % a.checkpoint_every == 0:
                    heads[seq] = last
            held = [(checkpoints.Checkpoint.signed(key, "routing", n, h), "supervision") for n, h in heads.items()]
            found: list = []

            def verify_with_checkpoints():
                v = chain.verify(conn, heads_at=heads)
                found[:] = v.findings + checkpoints.check("routing", v, v.heads, held, checkpoints.public_bytes(key))

            figures = {name: a.events / best(fn, a.rounds) for name, fn in
                       (("sha256", sha_only), ("read", read_only), ("verify", verify),
                        ("verify_checkpoints", verify_with_checkpoints))}
        v = verdicts[-1]
        print(f"audit verify, {'PostgreSQL' if a.postgres else 'SQLite'}, {a.events:,} events "
              f"(canonical bytes {size:.0f} on average; filled in {fill_s:.1f} s), one core, best of {a.rounds}:")
        print(f"  plain SHA-256 over the same bytes (baseline) {figures['sha256']:>12,.0f} events/s")
        print(f"  rows read, nothing hashed                    {figures['read']:>12,.0f} events/s")
        print(f"  chain.verify                                 {figures['verify']:>12,.0f} events/s   "
              f"target >= {TARGET:,}: {'PASS' if figures['verify'] >= TARGET else 'MISS'}; "
              f"verdict {'ok' if v.ok else v.first}")
        label = f"the same, {len(held):,} signed checkpoints held"
        print(f"  {label:<45}{figures['verify_checkpoints']:>12,.0f} events/s   "
              f"target >= {TARGET:,}: {'PASS' if figures['verify_checkpoints'] >= TARGET else 'MISS'}; "
              f"findings {len(found)}")
        out = ROOT / "bench" / "results"
        out.mkdir(parents=True, exist_ok=True)
        (out / f"audit-{time.strftime('%Y%m%dT%H%M%S')}.json").write_text(json.dumps(
            {"events": a.events, "postgres": a.postgres, "bytes": size, "events_per_s": figures,
             "load": os.getloadavg()}, indent=1))
    finally:
        db.dispose()
        drop()


if __name__ == "__main__":
    main()
