"""The chain checkpoints' journey, as an operator meets it: each producing service signs the head
of its event chain and publishes it; every other service keeps it in its own database; the
newest events of intake's store deleted by a database administrator, with their links, are
invisible to the chain alone and reported by `xinfang audit verify` through the checkpoints the
other services hold; `xinfang audit export` writes them for offline keeping, and verifying
against the file alone finds the deletion too."""
import json
import re

import pytest

from tests.e2e.conftest import running_system
from tests.e2e.test_operations_commands import execute, xinfang
from xinfang.messaging.profiles import BROKERS

pytestmark = pytest.mark.e2e
HOLDERS = ("routing", "supervision", "reporting")


@pytest.fixture(scope="module", params=BROKERS)
def system(pg_server, tmp_path_factory, request):
    with running_system(pg_server, tmp_path_factory.mktemp("xinfang"), request.param,
                        f"test_audit_checkpoints-{request.param}",
                        env={"XINFANG_CHECKPOINT_SECONDS": "1"}) as s:
        yield s


def held_size(system, holder: str, service: str) -> int:
    return system.scalar(holder, f"SELECT coalesce(max(size), 0) FROM chain_checkpoints WHERE service = '{service}'")


def test_the_newest_events_deleted_are_found_through_the_checkpoints_others_hold(system, tmp_path):
    cases = [system.register()["case_id"] for _ in range(3)]
    size = system.scalar("intake", "SELECT max(seq) FROM event_chain")
    for holder in HOLDERS:  # signed within a second or so, heard over the broker by every other service
        system.wait_for(lambda h=holder: held_size(system, h, "intake") >= size, timeout=60,
                        what=f"{holder} holding a checkpoint of intake's {size} events")
    system.wait_for(lambda: held_size(system, "intake", "routing") > 0, timeout=60,
                    what="intake holding a checkpoint of routing's chain")
    r = xinfang(system, "audit", "verify")
    assert "FAILED" not in r.stdout
    out = tmp_path / "checkpoints.json"
    xinfang(system, "audit", "export", "--out", str(out))
    doc = json.loads(out.read_text())
    assert {"intake", "routing"} <= set(doc["keys"])
    assert max(c["size"] for c in doc["checkpoints"] if c["service"] == "intake") >= size

    # the administrator removes the newest case's events and their links, around the triggers
    first = system.scalar("intake", f"SELECT min(c.seq) FROM event_chain c JOIN events e ON e.position = c.position "
                                    f"WHERE e.case_id = '{cases[-1]}'")
    execute(system, "intake", "SET session_replication_role = replica; "
                              f"DELETE FROM events WHERE position IN (SELECT position FROM event_chain WHERE seq >= {first}); "
                              f"DELETE FROM event_chain WHERE seq >= {first}; "
                              "DELETE FROM chain_checkpoints WHERE service = 'intake'")
    r = xinfang(system, "audit", "verify", "intake", ok=False)
    said = r.stdout + r.stderr
    assert r.returncode == 1, said
    gone = re.search(r"links (\d+)–(\d+) are missing: the newest events were deleted \(([^)]*)\)", said)
    assert gone, said
    assert int(gone[1]) == first and int(gone[2]) >= size
    assert all(h in gone[3] for h in HOLDERS)  # who holds the proof
    # intake refuses to vouch for the shortened chain: it signs no checkpoint of it, and says why
    system.wait_for(lambda: "newest events were deleted" in (
        system.http.get(f"{system.url['intake']}/health").json().get("checkpoint_error") or ""),
        timeout=10, what="intake's /health saying its chain shrank")
    assert held_size(system, "intake", "intake") == 0  # nothing signed since the deletion

    for holder in HOLDERS:  # and with every service's copy gone too, the file kept offline still shows it
        execute(system, holder, "DELETE FROM chain_checkpoints WHERE service = 'intake'")
    r = xinfang(system, "audit", "verify", "intake", "--checkpoints", str(out), ok=False)
    said = r.stdout + r.stderr
    assert r.returncode == 1 and "the newest events were deleted" in said and "file checkpoints.json" in said, said
