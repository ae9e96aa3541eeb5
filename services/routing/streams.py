"""Routing's Kafka wiring."""
from services.routing import handlers
from xinfang.contracts import topic_for
from xinfang.messaging.streams import Subscription


def subscriptions() -> list[Subscription]:
    return [Subscription(topic_for("intake"), handlers.on_case_registered, frozenset({"CaseRegistered"}))]
