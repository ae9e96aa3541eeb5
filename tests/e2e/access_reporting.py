"""Access rows for reporting: a user of township A against township B's case."""
from __future__ import annotations

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


ROWS = {
    ("reporting", "GET", "/api/v1/stats/summary"): summary,
}
