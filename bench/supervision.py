"""Supervision's consumer: how fast its apply step (the stream runtime's, inbox included) takes
the case events of a county's history, the events a large import or a catch-up brings.

The history is the replay benchmark's (``bench/replay.py``): registrations, assignments,
acceptances, extensions, replies, evaluations, reviews and closures, with supervision's own
DeadlineSet left out (it makes those). They are delivered per topic in the order they were
made, as the broker would: first one event per transaction (the baseline), then in batches of
the consumer's BATCH_MAX, each into a fresh database. Nothing asserts.

    .venv/bin/python bench/supervision.py                 # SQLite in a temporary file
    .venv/bin/python bench/supervision.py --postgres --events 20000
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import replay  # noqa: E402

from services.supervision import streams  # noqa: E402
from services.supervision.projections import Context  # noqa: E402
from xinfang.contracts import topic_for  # noqa: E402
from xinfang.messaging.streams import BATCH_MAX, Message, StreamProcessor  # noqa: E402

MIGRATIONS = Path(__file__).resolve().parents[1] / "services" / "supervision" / "migrations"


def run(postgres: bool, events: list, batch: int) -> float:
    db, drop = replay.fresh_db(postgres, MIGRATIONS, "supervision")
    try:
        with tempfile.TemporaryDirectory() as faust_dir:
            subs = streams.subscriptions(Context())
            by_topic = {s.topic: s for s in subs}
            sp = StreamProcessor("supervision", db, "127.0.0.1:9", subs, datadir=faust_dir)
            pending: dict[str, list] = {}
            n, t = 0, time.perf_counter()
            for i, e in enumerate(events):
                topic = topic_for(e.producer)
                pending.setdefault(topic, []).append((Message(topic, 0, i, None, b""), e))
                if len(pending[topic]) == batch:
                    n += sp._apply_batch(by_topic[topic], pending.pop(topic))[0]
            for topic, items in pending.items():
                n += sp._apply_batch(by_topic[topic], items)[0]
            return n / (time.perf_counter() - t)
    finally:
        db.dispose()
        drop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--postgres", action="store_true")
    ap.add_argument("--events", type=int, default=10_000, help="events of the history (supervision's own left out)")
    a = ap.parse_args()
    events = [e for e in replay.history(False, a.events, seed=3) if e.producer != "supervision"]
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; database "
          f"{'PostgreSQL' if a.postgres else 'SQLite'}; {len(events):,} case events")
    one = run(a.postgres, events, 1)
    print(f"baseline  one event per transaction: {one:8,.0f} events/s")
    many = run(a.postgres, events, BATCH_MAX)
    print(f"batches of {BATCH_MAX}, inbox included:     {many:8,.0f} events/s  ({many / one:.1f}× baseline)")


if __name__ == "__main__":
    main()
