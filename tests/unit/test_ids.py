"""New event and case ids are version-7 UUIDs: time-ordered, so the stores' id indexes take them
near their end (see xinfang/ids.py)."""
import uuid
from datetime import UTC, datetime, timedelta

from xinfang.contracts import new_envelope
from xinfang.contracts.events import CaseClosed
from xinfang.ids import new_id, uuid7


def test_an_id_is_an_rfc_9562_version_7_uuid_carrying_its_millisecond():
    at = datetime(2026, 11, 24, 9, 30, 15, 123000, tzinfo=UTC)
    u = uuid7(at)
    assert u.version == 7 and u.variant == uuid.RFC_4122
    assert u.int >> 80 == int(at.timestamp() * 1000)
    assert uuid.UUID(str(u)) == u


def test_ids_made_later_sort_after_earlier_ones_and_a_burst_repeats_none():
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    ids = [new_id(t0 + timedelta(milliseconds=i)) for i in range(2000)]
    assert ids == sorted(ids)
    burst = [new_id() for _ in range(10_000)]  # many in one millisecond: the random part tells them apart
    assert len(set(burst)) == len(burst)


def test_a_new_envelope_gets_a_time_ordered_event_id():
    before = new_id()
    env = new_envelope(CaseClosed(), case_id="c-1", office="999901000000", actor="t", producer="intake")
    assert uuid.UUID(env.event_id).version == 7
    assert env.event_id[:8] >= before[:8]  # the first 32 bits: the same or a later millisecond
