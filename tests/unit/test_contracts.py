"""The event contracts: one envelope, versioned schemas, old events stay readable."""
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from xinfang.contracts import DecodeError, decode, encode, new_envelope, registry
from xinfang.contracts.events import Backdated, CaseAssigned, CaseEvaluated, CaseRegistered, CaseReplied

FIXTURES = Path(__file__).parent.parent / "fixtures"


def test_a_stored_v1_registration_reads_as_the_current_version():
    raw = (FIXTURES / "case_registered_v1.json").read_bytes()
    env = decode(raw)
    assert env.schema_version == registry.spec("CaseRegistered").version == 3
    payload = registry.payload(env)
    assert isinstance(payload, CaseRegistered) and payload.backdated is None
    assert [p.petitioner_id for p in payload.petitioners] == ["p-1"]
    assert payload.headcount == 1
    # everything else survives the upcast unchanged
    assert payload.channel == "visit" and payload.division_code == "999901001001"
    assert env.event_id == json.loads(raw)["event_id"]


def test_a_stored_v1_evaluation_reads_as_the_current_version_without_a_comment():
    raw = (FIXTURES / "case_evaluated_v1.json").read_bytes()
    env = decode(raw)
    assert env.schema_version == registry.spec("CaseEvaluated").version == 3
    assert registry.payload(env) == CaseEvaluated(rating="basically_satisfied", comment=None)
    assert env.payload == {"rating": "basically_satisfied", "comment": None, "backdated": None}
    assert env.event_id == json.loads(raw)["event_id"] and env.stream_version == 6


def test_a_stored_v1_reply_reads_as_an_act_not_recorded_late():
    """Before the mark of a late record (补录) existed no act carried one: an old reply reads unmarked."""
    raw = (FIXTURES / "case_replied_v1.json").read_bytes()
    env = decode(raw)
    assert env.schema_version == registry.spec("CaseReplied").version == 2
    assert registry.payload(env) == CaseReplied(outcome="explained", text="经核查，已督促支付", stage="handling")
    assert env.payload["backdated"] is None and env.occurred_at == datetime(2026, 4, 10, 2, 0, tzinfo=UTC)


def test_a_reply_recorded_late_carries_its_mark_through_the_wire():
    mark = Backdated(reason="纸质答复意见书当日已送达", entered_by="handler-cg",
                     recorded_at=datetime(2026, 4, 12, 2, 0, tzinfo=UTC))
    env = new_envelope(CaseReplied(outcome="explained", text="答复", backdated=mark), case_id="c", office="o",
                       actor="handler-cg", producer="intake", occurred_at=datetime(2026, 4, 10, 2, 0, tzinfo=UTC))
    back = decode(encode(env))
    assert back == env and registry.payload(back).backdated == mark and not mark.correction


def test_an_envelope_round_trips_and_keeps_ids_and_times():
    p = CaseAssigned(unit_id="999901001-gov", rule="default")
    env = new_envelope(p, case_id="c-1", office="999901001000", actor="system:routing", producer="routing",
                       occurred_at=datetime(2026, 11, 20, 1, 30, tzinfo=UTC))
    back = decode(encode(env))
    assert back == env
    assert back.correlation_id == env.event_id and back.causation_id is None
    assert back.key == b"c-1"


def test_causation_and_correlation_follow_the_triggering_event():
    first = new_envelope(CaseAssigned(unit_id="u1"), case_id="c", office="o", actor="a", producer="routing")
    second = new_envelope(CaseAssigned(unit_id="u2"), case_id="c", office="o", actor="a", producer="routing",
                          causation=first)
    assert second.causation_id == first.event_id
    assert second.correlation_id == first.correlation_id


@pytest.mark.parametrize("raw, reason", [
    (b"not json at all", "not JSON"),
    (b"[1, 2]", "JSON object"),
    (b'{"event_type": "CaseAssigned"}', "invalid envelope"),
])
def test_malformed_messages_are_refused_with_the_reason(raw, reason):
    with pytest.raises(DecodeError, match=reason):
        decode(raw)


def test_unknown_and_future_event_versions_are_refused():
    env = json.loads((FIXTURES / "case_registered_v1.json").read_text())
    with pytest.raises(DecodeError, match="unknown event type"):
        decode({**env, "event_type": "CaseTeleported"})
    with pytest.raises(DecodeError, match="newer than this code knows"):
        decode({**env, "schema_version": 99})


def test_a_payload_that_breaks_its_schema_is_refused():
    env = json.loads((FIXTURES / "case_registered_v1.json").read_text())
    env["schema_version"] = 2
    with pytest.raises(DecodeError, match="invalid payload of CaseRegistered v2"):
        decode(env)  # v2 requires petitioners, the v1 body has none


def test_every_event_type_has_a_schema_version_and_producing_service():
    for spec in registry.specs():
        assert spec.version >= 1
        # "any": the chain checkpoints every producing service signs of its own store
        assert spec.producer in {"intake", "routing", "supervision", "any"}
        assert re.search(r"(ed|Set|Met|Sent)(?=[A-Z]|$)", spec.name), f"{spec.name} is not a past-tense fact"
        assert spec.model.model_json_schema()["type"] == "object"
        for v in range(1, spec.version):
            assert v in spec.upcasters, f"{spec.name} has no upcaster from v{v}"


def test_naive_timestamps_are_refused():
    with pytest.raises(ValueError):
        new_envelope(CaseAssigned(unit_id="u"), case_id="c", office="o", actor="a", producer="routing",
                     occurred_at=datetime(2026, 1, 1))
