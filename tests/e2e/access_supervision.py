"""Access rows for supervision: a user of township A against township B's case."""
from __future__ import annotations

from tests.e2e.access_common import (ID_B, PHONE_B, TOWNSHIP_A, TOWNSHIP_B, VILLAGE_A, VILLAGE_B,  # noqa: F401
                                     _as, _count)


def deadlines(system, w):
    cid = w["case"]["case_id"]
    assert _as(system, "clerk-a", "GET", "supervision", f"/api/v1/cases/{cid}/deadlines").status_code == 404
    assert _as(system, "clerk-b", "GET", "supervision", f"/api/v1/cases/{cid}/deadlines").status_code == 200


ROWS = {
    ("supervision", "GET", "/api/v1/cases/{case_id}/deadlines"): deadlines,
}
