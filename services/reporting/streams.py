"""Reporting's Kafka wiring: every stream."""
from services.reporting import projections
from xinfang.contracts import topic_for
from xinfang.messaging.streams import Subscription




def subscriptions() -> list[Subscription]:
    return [
        Subscription(topic_for("intake"), projections.on_case_registered, frozenset({"CaseRegistered"})),
        Subscription(topic_for("routing"), projections.on_case_assigned, frozenset({"CaseAssigned"})),
        Subscription(topic_for("supervision"), projections.on_deadline_set, frozenset({"DeadlineSet"})),
    ]
