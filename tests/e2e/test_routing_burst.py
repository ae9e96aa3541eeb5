"""Routing keeps up with a burst: 5,000 cases registered at once (through intake's import, in
batches of 500, the fastest way in on a small machine) are each assigned exactly once.

Runs in `make test` (marker e2e, like the other system tests). XINFANG_BURST_CASES changes the
number; the figures (registration and catch-up time) are printed, not asserted."""
import os
import random
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from tests.e2e.conftest import PETITION
from xinfang.privacy import resident_id_check_char

pytestmark = pytest.mark.e2e
N = int(os.environ.get("XINFANG_BURST_CASES", "5000"))
BATCH = 500


def resident_id(rng: random.Random) -> str:
    body = f"999901{rng.randint(1950, 2004)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(0, 999):03d}"
    return body + resident_id_check_char(body)


def _engine(system, service):
    return sa.create_engine(system.db_urls[service].replace("postgresql://", "postgresql+psycopg://"))


def test_routing_keeps_up_with_5000_cases_in_a_burst_and_assigns_each_once(system):
    marker = f"burst-{uuid.uuid4().hex[:8]}"
    rng = random.Random(5)
    categories = ["0501", "0702", "0101", "0601", "1701", "0901", "1101", "0401"]
    cases = [{"legacy_id": f"{marker}-{i:05d}", "registration": {
        **PETITION, "summary": marker, "category_code": rng.choice(categories),
        "division_code": f"999901{rng.randint(1, 10):03d}{rng.randint(1, 10):03d}",
        "received_at": f"2026-11-{rng.randint(2, 19):02d}T{rng.randint(8, 17):02d}:00:00+08:00",
        "petitioners": [{**PETITION["petitioners"][0], "id_number": resident_id(rng)}]}} for i in range(N)]
    headers = system.auth("demo-admin")

    def post(batch):
        r = system.http.post(f"{system.url['intake']}/api/v1/imports", json={"cases": batch}, headers=headers,
                             timeout=300)
        assert r.status_code == 200, r.text[:500]
        return r.json()["imported"]

    t0 = time.monotonic()
    with ThreadPoolExecutor(2) as pool:
        imported = sum(pool.map(post, [cases[i:i + BATCH] for i in range(0, N, BATCH)]))
    registered_s = time.monotonic() - t0
    assert imported == N

    routing = _engine(system, "routing")
    by_marker = "SELECT case_id FROM assignments WHERE summary = :m"

    def assigned():
        with routing.connect() as c:
            return c.execute(sa.text(f"SELECT count(*) FROM ({by_marker}) x"), {"m": marker}).scalar() == N
    try:
        system.wait_for(assigned, timeout=900, what=f"routing to take all {N} cases")
        caught_up_s = time.monotonic() - t0
        with routing.connect() as c:
            per_case = c.execute(sa.text(
                f"SELECT count(*) AS events, count(DISTINCT case_id) AS cases FROM events "
                f"WHERE event_type = 'CaseAssigned' AND case_id IN ({by_marker})"), {"m": marker}).one()
            unassigned = c.execute(sa.text("SELECT count(*) FROM assignments WHERE summary = :m AND unit_id IS NULL"),
                                   {"m": marker}).scalar()
    finally:
        routing.dispose()
    print(f"\n[burst] {N} cases registered in {registered_s:.1f}s; routing assigned them all "
          f"{caught_up_s:.1f}s after the start ({N / caught_up_s:.0f} cases/s end to end)")
    assert (per_case.events, per_case.cases, unassigned) == (N, N, 0)  # every case assigned, none twice
