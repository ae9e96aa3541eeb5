"""Intake's Kafka wiring: which topics it reads and which handler applies each event."""
from services.intake import handlers
from xinfang.contracts import topic_for
from xinfang.messaging.streams import Subscription


def subscriptions() -> list[Subscription]:
    return [Subscription(topic_for("routing"), handlers.on_case_assigned, frozenset({"CaseAssigned"}))]
