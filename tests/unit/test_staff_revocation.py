"""Which tokens a revocation ends, and how every service comes to hear of it."""
from datetime import UTC, datetime

from xinfang.auth import issued_before
from xinfang.contracts import topic_for
from xinfang.messaging.streams import Subscription
from xinfang.staff import EVENT, with_revocations

AT = datetime(2026, 11, 24, 5, 0, 0, 400_000, tzinfo=UTC)


def test_tokens_issued_before_the_revocation_or_in_its_second_are_ended():
    ts = int(AT.timestamp())
    assert issued_before(ts - 3600, AT)
    assert issued_before(ts, AT)  # the same second: cannot tell, refused
    assert not issued_before(ts + 1, AT)
    assert not issued_before(ts - 3600, None)  # never revoked


def test_a_service_reading_routings_topic_hears_of_revocations_on_the_same_agent():
    seen = []
    own = Subscription(topic_for("routing"), lambda uow, env: seen.append(("own", env.event_type)),
                       frozenset({"CaseAssigned"}), lambda uow, envs: seen.append(("batch", [e.event_type for e in envs])))
    other = Subscription(topic_for("intake"), lambda uow, env: None, frozenset({"CaseRegistered"}))
    subs = with_revocations([own, other], handler=lambda uow, env: seen.append(("revoked", env.payload["username"])))
    assert [s.topic for s in subs] == [topic_for("routing"), topic_for("intake")]
    merged = subs[0]
    assert merged.event_types == {"CaseAssigned", EVENT}

    class Env:
        def __init__(self, t, payload=None):
            self.event_type, self.payload = t, payload or {}
    merged.handler(None, Env(EVENT, {"username": "u1"}))
    merged.handler(None, Env("CaseAssigned"))
    merged.batch_handler(None, [Env("CaseAssigned"), Env(EVENT, {"username": "u2"})])
    assert seen == [("revoked", "u1"), ("own", "CaseAssigned"), ("revoked", "u2"), ("batch", ["CaseAssigned"])]


def test_a_service_not_reading_routings_topic_gets_a_subscription_for_revocations_alone():
    subs = with_revocations([Subscription(topic_for("intake"), lambda uow, env: None)])
    assert subs[-1].topic == topic_for("routing") and subs[-1].event_types == {EVENT}
