"""SIGKILL a consumer service in the middle of a stream: nothing lost, nothing counted twice."""
import signal
import time

import pytest

pytestmark = pytest.mark.e2e

N = 500


def test_killing_routing_and_reporting_mid_stream_loses_and_duplicates_nothing(system):
    case_ids = []
    for i in range(N):
        case_ids.append(system.register(summary=f"批量登记 {i}")["case_id"])
        if i == 150:
            system.stack.kill("routing", signal.SIGKILL)
        if i == 300:
            system.stack.kill("reporting", signal.SIGKILL)
            system.stack.restart("routing", timeout=90)
    system.stack.restart("reporting", timeout=90)

    def settled():
        s = system.get("reporting", "/api/v1/stats/summary").json()
        a = system.scalar("routing", "SELECT count(*) FROM assignments")
        d = system.scalar("supervision", "SELECT count(DISTINCT case_id) FROM deadlines")
        # four clocks per assigned case: assignment, handling, and from the assignment objection, acceptance
        c = system.scalar("supervision", "SELECT count(*) FROM deadlines")
        got = (s["registered"], s["assigned"], a, d, c)
        return got == (N, N, N, N, 4 * N) or got

    result = system.wait_for(lambda: settled() is True, timeout=120, what="every read model to reach 500")
    assert result is True
    time.sleep(2)  # anything still redelivered must not change the counts
    assert settled() is True
    # exactly one assignment event per case, one per stage of deadlines: nothing applied twice
    # (reporting hears supervision's four DeadlineSet per case: two at registration, two at assignment)
    assert system.scalar("routing", "SELECT count(*) FROM events WHERE event_type='CaseAssigned'") == N
    assert system.scalar("supervision", "SELECT count(*) FROM deadlines") == 4 * N
    assert system.scalar("supervision", "SELECT count(*) FROM events WHERE event_type='DeadlineSet'") == 4 * N
    # besides the cases' events, reporting's inbox holds the chain checkpoints the producing
    # services signed meanwhile (every XINFANG_CHECKPOINT_SECONDS), each kept once
    case_events = ("SELECT count(*) FROM inbox WHERE consumer='reporting' "
                   "AND event_id NOT IN (SELECT event_id FROM chain_checkpoints)")
    heard = lambda: system.scalar("reporting", case_events)  # noqa: E731
    system.wait_for(lambda: heard() >= N + N + 4 * N, timeout=180, what="reporting to hear all")
    assert system.scalar("reporting", case_events) == N + N + 4 * N
    assert system.scalar("reporting", "SELECT count(*) FROM inbox WHERE consumer='reporting'") == \
        N + N + 4 * N + system.scalar("reporting", "SELECT count(*) FROM chain_checkpoints")
    sample = case_ids[151]  # registered while routing was dead
    assert system.get("routing", f"/api/v1/cases/{sample}/assignment").status_code == 200
